"""The item's card (issue #16): one bot comment, edited in place, its sections in a fixed order;
read back by key, merged when two overlapping runs each made one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from issueops.core.comments import CARD_KEY, FOLDED, bot_text, card_sections, marked, render_card
from issueops.core.model import Actor, Comment, DeleteComment, UpsertComment, marker
from issueops.stages.duplicates import plan_duplicate_comments

BOT = "issueops-bot"
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _comment(cid: int, body: str, login: str = BOT, minutes: int = 0) -> Comment:
    at = T0 + timedelta(minutes=minutes)
    return Comment(cid, 7, Actor(login, "Bot" if login == BOT else "User"), body, at, at)


def _section(key: str, text: str) -> str:
    return marked(key, text)


CASES = [
    ("one section", {"assessment": _section("assessment", "Workflow `x`")}),
    (
        "every section, given out of order, rendered in FOLDED order",
        {key: _section(key, f"text of {key}") for key in reversed(FOLDED)},
    ),
    ("the status with its record", {"status": _section("status", "ok\n<!-- issueops:status-record {} -->")}),
    ("gate and status only", {"gate": _section("gate", "Waiting"), "status": _section("status", "waiting")}),
]


@pytest.mark.parametrize(("name", "sections"), CASES, ids=[c[0] for c in CASES])
def test_a_card_reads_back_the_sections_it_was_rendered_from(name: str, sections: dict[str, str]) -> None:
    body = render_card(sections)
    assert body.startswith(marker(CARD_KEY))
    assert card_sections(body) == {k: v.strip() for k, v in sections.items()}
    order = [body.index(marker(k)) for k in FOLDED if k in sections]
    assert order == sorted(order), name
    if "status" in sections:  # the approval record ends the comment
        assert body.rstrip().endswith(sections["status"].strip())


BOT_TEXT = [
    (
        "a section of the card",
        [_comment(1, render_card({"gate": _section("gate", "Waiting")}))],
        "gate",
        "Waiting",
    ),
    (
        "a separate comment from before the card",
        [_comment(1, _section("gate", "Old note"))],
        "gate",
        "Old note",
    ),
    ("a key the card lacks", [_comment(1, render_card({"gate": _section("gate", "W")}))], "status", None),
    (
        "a person's look-alike counts for nothing",
        [_comment(1, _section("gate", "fake"), "mallory")],
        "gate",
        None,
    ),
    ("an unfolded key is the whole comment", [_comment(1, _section("guidance", "Next"))], "guidance", "Next"),
]


@pytest.mark.parametrize(("name", "comments", "key", "expected"), BOT_TEXT, ids=[c[0] for c in BOT_TEXT])
def test_bot_text_is_the_section_or_the_comment(
    name: str, comments: list[Comment], key: str, expected: str | None
) -> None:
    found = bot_text(comments, key, BOT)
    if expected is None:
        assert found is None, name
    else:
        assert found is not None and found.startswith(marker(key)) and expected in found, name


def test_of_two_cards_the_newer_ones_sections_move_to_the_older_before_it_goes() -> None:
    older = _comment(1, render_card({"assessment": _section("assessment", "A")}))
    newer = _comment(
        2, render_card({"assessment": _section("assessment", "A2"), "gate": _section("gate", "G")}), minutes=1
    )
    plan = plan_duplicate_comments(7, [newer, older], BOT)
    assert plan is not None
    assert plan.actions == [UpsertComment(7, "gate", _section("gate", "G")), DeleteComment(7, 2, CARD_KEY)]
