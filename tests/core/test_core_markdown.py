"""The one Markdown table-cell rule, case by case."""

from __future__ import annotations

import pytest

from issueops.core.markdown import table_cell


@pytest.mark.parametrize(
    ("name", "value", "limit", "expected"),
    [
        ("plain text", "all good", None, "all good"),
        ("a pipe would end the cell", "a|b", None, "a\\|b"),
        ("a pipe inside a code span too", "`a|b`", None, "`a\\|b`"),
        ("line breaks would end the row", "one\ntwo\r\nthree", None, "one two three"),
        ("runs of spaces collapse", "a   b\t c", None, "a b c"),
        ("an HTML comment cannot swallow the table", "<!-- x", None, "&lt;!-- x"),
        ("ampersands first, so entities stay literal", "&lt;", None, "&amp;lt;"),
        ("numbers and other objects", 42, None, "42"),
        ("cut to the limit with an ellipsis", "abcdefghij", 5, "abcd…"),
        ("at the limit nothing is cut", "abcde", 5, "abcde"),
    ],
)
def test_table_cell(name: str, value: object, limit: int | None, expected: str) -> None:
    assert table_cell(value, limit) == expected, name
