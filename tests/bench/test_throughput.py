"""The throughput ceilings `make bench` prints: table-driven, from made-up costs per item."""

from __future__ import annotations

import pytest
from throughput import CONTENT_PER_HOUR, ceilings, table


@pytest.mark.parametrize(
    ("counted", "creates", "expected"),
    [
        # 10 requests and 2 content writes an item: GITHUB_TOKEN is request-bound (100/h), the others
        # meet the content limit (250/h) first.
        (10.0, 2.0, {"GITHUB_TOKEN": (100, "requests"), "GitHub App (ceiling)": (250, "content limit")}),
        # 50 requests an item: a PAT is request-bound too (5,000 / 50).
        (50.0, 1.0, {"personal access token": (100, "requests"), "GitHub App (ceiling)": (250, "requests")}),
        # nothing created: only the primary budget binds.
        (4.0, 0.0, {"GitHub App (floor)": (1_250, "requests")}),
    ],
    ids=["content-bound-apps", "request-bound", "no-content"],
)
def test_the_ceiling_is_the_smaller_limit(
    counted: float, creates: float, expected: dict[str, tuple[int, str]]
) -> None:
    found = {c.kind.name: (round(c.items_per_hour), c.bound_by) for c in ceilings(counted, creates)}
    for name, want in expected.items():
        assert found[name] == want, name


def test_the_content_limit_is_githubs_500_an_hour() -> None:
    assert CONTENT_PER_HOUR == 500
    assert {round(c.by_content) for c in ceilings(3.0, 5.0)} == {100}


def test_negative_costs_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        ceilings(-1.0, 0.0)


def test_the_table_names_every_token_kind() -> None:
    text = "\n".join(table(7.5, 2.0))
    for name in ("GITHUB_TOKEN", "GitHub App (floor)", "GitHub App (ceiling)", "personal access token"):
        assert name in text
