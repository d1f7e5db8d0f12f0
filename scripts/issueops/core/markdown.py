"""Markdown table cells: one escaping rule for every table the project writes.

GitHub-flavoured Markdown ends a cell at every `|`, even inside a code span, and a line break ends
the row, so a cell's text is put on one line with its pipes escaped. `&`, `<` and `>` become
entities so a value can never open an HTML tag or comment that swallows the rest of the table.
"""

from __future__ import annotations


def table_cell(value: object, limit: int | None = None) -> str:
    """`value` as the text of one table cell, cut to `limit` characters (with an ellipsis)."""
    text = " ".join(str(value).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
