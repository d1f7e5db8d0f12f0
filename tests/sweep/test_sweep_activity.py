"""Who counts as a person, and when they last acted."""

from __future__ import annotations

import pytest
from sweep_fakes import ALICE, BOT, BOT_LOGIN, OTHER_BOT, at, comment, labeled, work_item

from issueops.approvals.activity import (
    data_field,
    is_pipeline,
    last_human_activity,
    own_comment,
    read_data_field,
    stamp,
)
from issueops.core.model import Actor, ItemContext


@pytest.mark.parametrize(
    ("actor", "pipeline"),
    [
        (BOT, True),
        (Actor("IssueOps-Bot"), True),
        (OTHER_BOT, True),
        (Actor("renovate[bot]"), True),
        (ALICE, False),
    ],
    ids=["the bot", "the bot, other case", "another Bot", "a [bot] login", "a person"],
)
def test_is_pipeline(actor: Actor, pipeline: bool) -> None:
    assert is_pipeline(actor, BOT_LOGIN) is pipeline


def test_last_human_activity_ignores_bots() -> None:
    ctx = ItemContext(
        work_item(["state::triage"]),
        (comment(1, ALICE, "hi", 3), comment(2, BOT, "status", 9)),
        (labeled("risk::low", BOT, 8), labeled("urgent", ALICE, 4)),
    )
    assert last_human_activity(ctx, bot_login=BOT_LOGIN) == at(4)


def test_bot_opened_item_without_replies_has_no_human_activity() -> None:
    ctx = ItemContext(work_item(["state::triage"], author=BOT))
    assert last_human_activity(ctx, bot_login=BOT_LOGIN) is None


def test_own_comment_prefers_the_oldest_and_ignores_forgeries() -> None:
    forged = comment(1, ALICE, "<!-- issueops:drift -->", 1)
    first = comment(2, BOT, "<!-- issueops:drift -->\na", 2)
    second = comment(3, BOT, "<!-- issueops:drift -->\nb", 3)
    assert own_comment([second, forged, first], "drift", bot_login=BOT_LOGIN) == first
    assert own_comment([forged], "drift", bot_login=BOT_LOGIN) is None


def test_data_field_round_trip_and_stamp() -> None:
    body = f"text\n{data_field('unassign', 'alice,bob')}\n"
    assert read_data_field(body, "unassign") == "alice,bob"
    assert read_data_field(body, "other") is None
    assert stamp(at(0)) == "20250301T090000Z"
