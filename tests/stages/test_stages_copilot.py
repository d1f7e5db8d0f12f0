"""The Copilot hand-off's pure parts: which PR is Copilot's, the status record, the SLA rungs,
the drift repair, and the KPIs from its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.comments import marked
from issueops.core.model import (
    Actor,
    AddLabels,
    Assign,
    AssignAgent,
    Comment,
    CrossReference,
    ItemContext,
    Unassign,
    UpsertComment,
    WorkItem,
)
from issueops.stages.copilot import (
    STATUS_KEY,
    HandOff,
    agent_assignment,
    closes,
    copilot_pr,
    handed,
    is_copilot,
    read_hand_off,
    refused,
    status_body,
)
from issueops.stages.copilot_sla import plan_copilot_sla
from issueops.telemetry.copilot_kpi import HOUR, CopilotCounts

BOT = "issueops-bot"
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
WF = WorkflowSchema.model_validate(
    {
        "name": "content-review",
        "description": "Review content.",
        "risk": "low",
        "match": {"labels": ["docs"]},
        "owners": {"pool": ["carol"]},
        "hand_off": {"mode": "copilot"},
    }
)
CONFIG = Config.model_validate({"sla": {"escalate_to": ["@acme/ops-leads"]}})


def ref(number: int, *, author: str = "Copilot", state: str = "open", merged: bool = False, body: str = "",
        hours: float = 1) -> CrossReference:  # fmt: skip
    return CrossReference(number, author, state, merged, False, body, T0 + timedelta(hours=hours))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        pytest.param([], None, id="nothing references the item"),
        pytest.param([ref(5, author="carol", body="Fixes #1")], None, id="a person's PR is not Copilot's"),
        pytest.param([ref(5, body="Fixes #1")], 5, id="Copilot's PR with a closing keyword"),
        pytest.param([ref(5), ref(6, body="Resolves: #1")], 6, id="the closing keyword wins"),
        pytest.param(
            [ref(5, body="Fixes #1", state="closed"), ref(6, body="Fixes #1")], 6, id="open over closed"
        ),
        pytest.param(
            [ref(5, body="Fixes #1", state="closed", merged=True), ref(6, body="Fixes #1", state="closed")],
            5,
            id="merged over closed unmerged",
        ),
        pytest.param([ref(5, author="copilot-swe-agent[bot]", body="fixes #1")], 5, id="the REST login"),
        pytest.param([ref(5, body="Fixes #12")], 5, id="#12 is not #1, but Copilot's only PR"),
    ],
)
def test_copilots_pr_among_the_cross_references(refs: list[CrossReference], expected: int | None) -> None:
    found = copilot_pr(refs, 1)
    assert (found.number if found else None) == expected


@pytest.mark.parametrize(
    ("body", "number", "expected"),
    [("Fixes #1", 1, True), ("closes #1.", 1, True), ("Fixes #12", 1, False), ("See #1", 1, False)],
)
def test_closing_keywords(body: str, number: int, expected: bool) -> None:
    assert closes(body, number) is expected


@pytest.mark.parametrize("login", ["Copilot", "copilot-swe-agent[bot]", "copilot-swe-agent"])
def test_copilot_logins(login: str) -> None:
    assert is_copilot(login) and not is_copilot("copilot-fan")


def action(owner: str | None = "carol") -> AssignAgent:
    return AssignAgent(
        1, "copilot-swe-agent[bot]", "acme/ops", "main", "Do it.", "reviewer", owner, "content-review"
    )


def test_agent_assignment_object_as_documented() -> None:
    assert agent_assignment(action()) == {
        "target_repo": "acme/ops",
        "base_branch": "main",
        "custom_instructions": "Do it.",
        "custom_agent": "reviewer",
    }
    plain = AssignAgent(1, "copilot-swe-agent[bot]", "acme/ops", "dev", "x")
    assert "custom_agent" not in agent_assignment(plain)


def ctx_with(
    body: str | None, assignees: tuple[str, ...] = ("carol", "Copilot"), labels: tuple[str, ...] = ()
) -> ItemContext:
    item = WorkItem(1, "t", "", Actor("paul"), labels=("state::in-progress", *labels), assignees=assignees)
    comments = (Comment(9, 1, Actor(BOT), marked(STATUS_KEY, body), T0, T0),) if body else ()
    return ItemContext(item, comments)


def test_the_status_comment_round_trips() -> None:
    state = HandOff("pr-open", handed_at=T0, owner="carol", pr=7, pr_opened_at=T0 + timedelta(hours=2))
    assert read_hand_off(ctx_with(status_body(state, "text")), BOT) == state
    forged = ItemContext(
        ctx_with(None).item,
        (Comment(9, 1, Actor("mallory"), marked(STATUS_KEY, status_body(state, "x")), T0, T0),),
    )
    assert read_hand_off(forged, BOT) is None, "a marker typed by a person is not the record"


def test_handed_and_refused_record_and_report() -> None:
    steps, event = handed(action(), T0)
    assert isinstance(steps[0], UpsertComment) and "Handed to Copilot" in steps[0].body
    assert event == {"event": "copilot.handed_off", "item": 1, "workflow": "content-review"}
    steps, event = refused(action(), "dropped.", "dropped", "MY_TOKEN", T0)
    assert "`MY_TOKEN`" in steps[0].body and "installation token" in steps[0].body  # type: ignore[union-attr]
    assert Assign(1, ("carol",)) in steps and event["reason"] == "dropped"
    steps, _ = refused(action(owner=None), "x", "refused", "T", T0)
    assert not [s for s in steps if isinstance(s, Assign)]


HANDED = status_body(HandOff("handed", handed_at=T0, owner="carol"), "handed")


@pytest.mark.parametrize(
    ("hours", "posted", "expected"),
    [
        pytest.param(71.9, (), [], id="before day 3: nothing"),
        pytest.param(72, (), ["reminder"], id="day 3: a reminder"),
        pytest.param(100, ("copilot-reminder",), [], id="the reminder was posted: nothing new"),
        pytest.param(168, ("copilot-reminder",), ["escalation"], id="day 7: the escalation"),
        pytest.param(
            400, (), ["reminder", "escalation", "manual_review"], id="a late sweep posts every rung due"
        ),
    ],
)
def test_copilot_sla_rungs(hours: float, posted: tuple[str, ...], expected: list[str]) -> None:
    ctx = ctx_with(HANDED)
    extra = tuple(Comment(20 + i, 1, Actor(BOT), marked(key, "x"), T0, T0) for i, key in enumerate(posted))
    ctx = ItemContext(ctx.item, (*ctx.comments, *extra))
    out = plan_copilot_sla(
        ctx,
        read_hand_off(ctx, BOT),
        workflow=WF,
        config=CONFIG,
        now=T0 + timedelta(hours=hours),
        bot_login=BOT,
    )  # type: ignore[arg-type]
    assert [e["rung"] for e in out.events] == expected
    if "escalation" in expected:
        assert any("@acme/ops-leads" in a.body for a in out.actions if isinstance(a, UpsertComment))
    flagged = AddLabels(1, ("issueops::needs-human",)) in out.actions
    assert flagged is ("manual_review" in expected)


def test_drift_handed_without_copilot_goes_back_to_the_owner() -> None:
    ctx = ctx_with(HANDED, assignees=())
    out = plan_copilot_sla(
        ctx, read_hand_off(ctx, BOT), workflow=WF, config=CONFIG, now=T0 + timedelta(hours=1), bot_login=BOT
    )  # type: ignore[arg-type]
    assert Assign(1, ("carol",)) in out.actions
    assert not [a for a in out.actions if isinstance(a, Unassign)]
    assert [e["reason"] for e in out.events] == ["no_assignee"]


def _events(*records: dict[str, Any]) -> CopilotCounts:
    counts = CopilotCounts()
    for record in records:
        counts.add(record)
    return counts


def test_kpis_count_each_item_once_and_measure_from_the_hand_off() -> None:
    usage = _events(
        {"event": "copilot.handed_off", "item": 1, "workflow": "a"},
        {"event": "copilot.handed_off", "item": 2, "workflow": "a"},
        {"event": "copilot.handed_off", "item": 3, "workflow": "b"},
        {"event": "copilot.refused", "item": 4, "workflow": "b", "reason": "no_token"},
        {"event": "copilot.pr_opened", "item": 1, "hours_to_pr": 1},
        {"event": "copilot.pr_opened", "item": 1, "hours_to_pr": 9},  # a replay: the first counts
        {"event": "copilot.pr_merged", "item": 1, "hours_to_merge": 20},
        {"event": "copilot.pr_merged", "item": 2, "hours_to_merge": 100},
        {"event": "copilot.overdue", "item": 3, "rung": "manual_review"},
        {"event": "sla.reminder", "item": 3},
    ).usage()
    assert (usage.hand_offs, usage.refused, usage.refused_by_reason) == (3, 1, {"no_token": 1})
    assert usage.time_to_pr.n == 1 and usage.time_to_pr.p50 == 1 * HOUR
    assert usage.time_to_merge.p95 == 100 * HOUR
    assert (usage.within_48h, usage.within_7d) == (1, 2)
    assert usage.completion_48h == 0.333 and usage.completion_7d == 0.667
    assert usage.by_workflow["a"] == {"hand_offs": 2, "merged": 2, "rate": 1.0}
    assert usage.by_workflow["b"]["rate"] == 0.0
    assert (usage.blocked, usage.abandoned) == (1, 0)
