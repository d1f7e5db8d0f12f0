"""Issue-form bodies parsed back into fields."""

from __future__ import annotations

import pytest

from issueops.config.forms import field_key, parse_form, parse_form_sections

FORM = """### Severity

sev1

### Affected service(s)

api, billing

### What happened?

The API returned 503 for ten minutes.

Second paragraph.

### Logs

```text
### not a heading
ERROR 503
```

### Contact

_No response_

### Checks

- [X] I searched for duplicates
- [ ] I attached logs
- [x] I am on call
"""


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("severity", "sev1"),
        ("affected_service_s", "api, billing"),
        ("what_happened", "The API returned 503 for ten minutes.\n\nSecond paragraph."),
        ("logs", "```text\n### not a heading\nERROR 503\n```"),
        ("contact", ""),
        ("checks", "I searched for duplicates, I am on call"),
    ],
    ids=["dropdown", "punctuated-label", "textarea", "fenced-heading-is-data", "no-response", "checkboxes"],
)
def test_parse_form_fields(key: str, expected: str) -> None:
    assert parse_form(FORM)[key] == expected


def test_no_field_from_inside_a_fence() -> None:
    assert "not_a_heading" not in parse_form(FORM)
    assert [label for label, _ in parse_form_sections(FORM)] == [
        "Severity",
        "Affected service(s)",
        "What happened?",
        "Logs",
        "Contact",
        "Checks",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", {}),
        ("just text, no form", {}),
        ("### A\r\n\r\nx\r\n### A\r\n\r\ny", {"a": "x"}),
        ("### Trailing ###\n\nv", {"trailing": "v"}),
        ("#### Deeper\n\nv", {}),
    ],
    ids=["empty", "no-sections", "crlf-and-first-wins", "closing-hashes", "h4-is-not-a-field"],
)
def test_parse_form_edge_cases(body: str, expected: dict[str, str]) -> None:
    assert parse_form(body) == expected


@pytest.mark.parametrize(
    ("label", "key"),
    [("Severity", "severity"), ("Affected service(s)", "affected_service_s"), ("  Two  words ", "two_words")],
    ids=["simple", "punctuation", "blanks"],
)
def test_field_key(label: str, key: str) -> None:
    assert field_key(label) == key
