"""Fields of a GitHub issue form, read back from the issue body.

GitHub renders a submitted issue form as Markdown: one `### <field label>` heading per field,
a blank line, then the answer (`_No response_` when left empty; checkboxes as `- [X] option`
lines; textareas with `render:` inside a code fence). Headings inside code fences are answers,
not fields.
"""

from __future__ import annotations

import re

NO_RESPONSE = "_No response_"
_HEADING = re.compile(r"^###[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")
_CHECKED = re.compile(r"^\s*[-*][ \t]+\[[xX]\][ \t]+(.*)$")
_UNCHECKED = re.compile(r"^\s*[-*][ \t]+\[ \][ \t]+(.*)$")


def field_key(label: str) -> str:
    """`Affected service(s)` -> `affected_service_s`: usable as `form.affected_service_s` in a
    template and as a key in a workflow's `match.form_fields`."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_")


def parse_form_sections(body: str) -> list[tuple[str, str]]:
    """(label, raw answer) for every `### ` section, in order; answers keep their Markdown."""
    sections: list[tuple[str, list[str]]] = []
    fence: str | None = None
    for line in body.replace("\r\n", "\n").split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            if sections:
                sections[-1][1].append(line)
            continue
        if opener:
            fence = opener.group(1)
        heading = _HEADING.match(line) if fence is None else None
        if heading:
            sections.append((heading.group(1), []))
        elif sections:
            sections[-1][1].append(line)
    return [(label, "\n".join(lines).strip()) for label, lines in sections]


def answer_value(raw: str) -> str:
    """The answer as a plain value: empty for `_No response_`; checked boxes joined by `, `."""
    if raw == NO_RESPONSE:
        return ""
    lines = [line for line in raw.split("\n") if line.strip()]
    checked = [_CHECKED.match(line) for line in lines]
    unchecked = [_UNCHECKED.match(line) for line in lines]
    if lines and all(c or u for c, u in zip(checked, unchecked, strict=True)):
        return ", ".join(c.group(1).strip() for c in checked if c)
    return raw


def parse_form(body: str) -> dict[str, str]:
    """Issue-form answers by `field_key(label)`; the first section of a label wins."""
    fields: dict[str, str] = {}
    for label, raw in parse_form_sections(body):
        key = field_key(label)
        if key and key not in fields:
            fields[key] = answer_value(raw)
    return fields
