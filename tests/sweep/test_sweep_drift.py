"""Drift repair, table-driven: each case is planned, applied to a fake, and re-planned."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sweep_fakes import (
    ALICE,
    BOT,
    BOT_LOGIN,
    FakeWorld,
    at,
    comment,
    config,
    labeled,
    pull,
    unlabeled,
    work_item,
    workflow,
)

from issueops.config.workflows import WorkflowSchema
from issueops.core.model import (
    AddLabels,
    CloseItem,
    ItemContext,
    LabelEvent,
    Plan,
    PullRequest,
    RemoveLabel,
    Transition,
    UpsertComment,
)
from issueops.stages.sweep import plan_sweep
from issueops.stages.sweep_drift import OWN_FAMILIES

NEEDS_HUMAN = "issueops::needs-human"
WF = "workflow::incident"


@dataclass
class Case:
    name: str
    labels: list[str]
    expect: str | None  # the only state label afterwards; None: unchanged, because flagged
    flagged: bool = False
    held: bool = False  # parked: put on hold in triage for a person
    events: list[LabelEvent] = field(default_factory=list)
    state: str = "open"
    reason: str | None = None
    pr: PullRequest | None = None
    workflow: WorkflowSchema | None = None
    closes: bool = False
    cause: str | None = None  # the Transition's cause, when one is expected
    comment: str | None = None  # a phrase the drift comment must contain


CASES = [
    Case(
        "no state, no history: starts in triage",
        ["source::feed"],
        "state::triage",
        cause="sweep:repair:no-state",
        comment="new work items start in triage",
    ),
    Case(
        "no state: the pipeline's last state is restored",
        [WF],
        "state::in-progress",
        events=[
            labeled("state::assigned", BOT, 1),
            labeled(WF, BOT, 1),
            labeled("state::in-progress", BOT, 2),
            unlabeled("state::assigned", BOT, 2),
            unlabeled("state::in-progress", ALICE, 3),
        ],
        cause="sweep:repair:no-state",
        comment="last state the pipeline set",
    ),
    Case(
        "no state but a workflow label, no history: parked in triage on hold, flagged",
        [WF],
        "state::triage",
        flagged=True,
        held=True,
        cause="sweep:repair:no-state",
        comment="put on hold",
    ),
    Case(
        "two states: the pipeline's label beats a person's",
        ["state::in-progress", "state::approved", WF],
        "state::in-progress",
        events=[labeled("state::in-progress", BOT, 2), labeled("state::approved", ALICE, 3)],
        comment="applied `state::in-progress` most recently",
    ),
    Case(
        "two states: a transition cut half-way is finished",
        ["state::assigned", "state::in-progress", WF],
        "state::in-progress",
        comment="cut half-way",
    ),
    Case(
        "two states, no history to choose between: parked in triage on hold, flagged",
        ["state::in-progress", "state::awaiting-approval", WF],
        "state::triage",
        flagged=True,
        held=True,
        cause="sweep:repair:several-states",
        comment="The state is unclear",
    ),
    Case(
        "unknown state label next to a known one is removed",
        ["state::in-progress", "state::doing", WF, "bug"],
        "state::in-progress",
        comment="unknown state label",
    ),
    Case(
        "unknown state label alone, no history: parked in triage on hold, flagged",
        ["state::doing", WF],
        "state::triage",
        flagged=True,
        held=True,
        cause="sweep:repair:unknown-state",
    ),
    Case(
        "unknown state label alone: history restores",
        ["state::wip", WF],
        "state::in-progress",
        events=[labeled("state::in-progress", BOT, 2), unlabeled("state::in-progress", ALICE, 3)],
        cause="sweep:repair:unknown-state",
    ),
    Case(
        "closed as completed but in progress: done",
        ["state::in-progress", WF],
        "state::done",
        state="closed",
        reason="completed",
        cause="sweep:repair:closed-not-terminal",
        comment="closed as completed",
    ),
    Case(
        "closed as not planned but assigned: rejected",
        ["state::assigned", WF],
        "state::rejected",
        state="closed",
        reason="not_planned",
        cause="sweep:repair:closed-not-terminal",
    ),
    Case(
        "closed without a reason, PR merged: done",
        ["state::approved", WF],
        "state::done",
        state="closed",
        pr=pull(merged=True, state="closed"),
    ),
    Case(
        "closed without a reason and no evidence: flagged",
        ["state::in-progress", WF],
        None,
        flagged=True,
        state="closed",
        events=[labeled("state::in-progress", BOT, 2)],
    ),
    Case(
        "open but labelled done by a person while the PR is open: back to in-progress",
        ["state::done", WF],
        "state::in-progress",
        events=[
            labeled("state::in-progress", BOT, 2),
            labeled("state::done", ALICE, 3),
            unlabeled("state::in-progress", ALICE, 3),
        ],
        pr=pull(updated=2),
        cause="sweep:repair:open-terminal",
    ),
    Case("open but labelled done, no history: flagged", ["state::done", WF], None, flagged=True),
    Case(
        "done by the pipeline but still open: the close step is finished",
        ["state::done", WF],
        "state::done",
        events=[labeled("state::done", BOT, 3)],
        workflow=workflow(),
        closes=True,
        comment="closes finished items",
    ),
    Case(
        "PR merged while awaiting approval: done and closed",
        ["state::awaiting-approval", WF],
        "state::done",
        pr=pull(merged=True, state="closed"),
        workflow=workflow(),
        closes=True,
        cause="sweep:repair:pr-merged",
    ),
    Case(
        "reopened after done: flagged, not guessed",
        ["state::done", WF],
        None,
        flagged=True,
        reason="reopened",
        events=[labeled("state::in-progress", BOT, 1), labeled("state::done", BOT, 3)],
    ),
    Case(
        "reopened after done, a person added triage: triage",
        ["state::done", "state::triage", WF],
        "state::triage",
        reason="reopened",
        events=[labeled("state::done", BOT, 3), labeled("state::triage", ALICE, 4)],
    ),
    Case(
        "in progress without its workflow label: restored from history",
        ["state::in-progress"],
        "state::in-progress",
        events=[labeled(WF, BOT, 1), labeled("state::in-progress", BOT, 2), unlabeled(WF, ALICE, 3)],
        comment=f"restored `{WF}`",
    ),
    Case(
        "approved without a workflow label and no history: flagged",
        ["state::approved"],
        "state::approved",
        flagged=True,
        comment="needs a `workflow::` label",
    ),
    Case(
        "two workflow labels on an active item: flagged",
        ["state::in-progress", WF, "workflow::change"],
        "state::in-progress",
        flagged=True,
    ),
]


def _context(case: Case) -> ItemContext:
    item = work_item(case.labels, state=case.state, reason=case.reason)
    return ItemContext(item, (), tuple(case.events), case.pr)


def _plan(ctx: ItemContext, case: Case, hours: float = 5) -> Plan:
    return plan_sweep(ctx, workflow=case.workflow, config=config(), now=at(hours), bot_login=BOT_LOGIN)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_drift_case(case: Case) -> None:
    ctx = _context(case)
    plan = _plan(ctx, case)
    before = sorted(x for x in case.labels if x.startswith("state::"))

    # never remove a label outside the bot's families
    for action in plan.actions:
        if isinstance(action, RemoveLabel):
            assert action.label.startswith(OWN_FAMILIES)
    transitions = [a for a in plan.actions if isinstance(a, Transition)]
    if case.cause is not None:
        assert [t.cause for t in transitions] == [case.cause]
    for t in transitions:
        assert t.cause.startswith("sweep")

    world = FakeWorld(ctx)
    world.apply(plan.actions, at(5))
    if case.expect is None:
        assert world.state_labels() == before
    else:
        assert world.state_labels() == [case.expect]
    assert (NEEDS_HUMAN in world.item.labels) is case.flagged
    assert ("issueops::hold" in world.item.labels) is case.held
    assert any(isinstance(a, CloseItem) for a in plan.actions) is case.closes
    drift = world.bot_comment("drift")
    assert len(drift) == 1
    if case.comment:
        assert case.comment in drift[0].body
    assert "bug" in world.item.labels or "bug" not in case.labels
    assert plan.events and all(e["event"] in {"drift.repaired", "drift.flagged"} for e in plan.events)

    # idempotent: a second sweep right after writes nothing
    again = _plan(world.context(), case, hours=5.1)
    assert again.actions == [], again.reasons


CONSISTENT = [
    Case("consistent open item", ["state::in-progress", WF], "state::in-progress"),
    Case(
        "done by the pipeline, workflow keeps items open",
        ["state::done", WF],
        "state::done",
        events=[labeled("state::done", BOT, 3)],
        workflow=workflow(close_item=False),
    ),
    Case("closed and done", ["state::done", WF], "state::done", state="closed", reason="completed"),
    Case(
        "closed as completed but rejected: any terminal label is accepted",
        ["state::rejected"],
        "state::rejected",
        state="closed",
        reason="completed",
    ),
    Case("not managed: a plain issue", ["bug"], None),
    Case("failed needs no workflow label", ["state::failed"], "state::failed"),
]


@pytest.mark.parametrize("case", CONSISTENT, ids=[c.name for c in CONSISTENT])
def test_no_drift(case: Case) -> None:
    plan = _plan(_context(case), case)
    assert plan.actions == []


def test_held_item_is_inspected_not_repaired() -> None:
    case = Case("held", ["state::in-progress", "state::awaiting-approval", WF, "issueops::hold"], None)
    plan = _plan(_context(case), case)
    assert plan.actions == []
    assert any("held" in reason for reason in plan.reasons)
    assert any("not repaired while held" in reason for reason in plan.reasons)


def test_bot_authored_item_without_labels_is_managed() -> None:
    item = work_item((), author=BOT)
    plan = plan_sweep(ItemContext(item), workflow=None, config=config(), now=at(1), bot_login=BOT_LOGIN)
    assert any(isinstance(a, Transition) and a.to_state == "triage" for a in plan.actions)


def test_flag_comment_is_not_rewritten_when_unchanged() -> None:
    case = CASES[5]  # two states, no history
    ctx = _context(case)
    world = FakeWorld(ctx)
    world.apply(_plan(ctx, case).actions, at(5))
    writes = world.writes
    plan = _plan(world.context(), case, hours=30)
    world.apply(plan.actions, at(30))
    assert plan.actions == [] and world.writes == writes


def test_marker_in_a_persons_comment_is_ignored() -> None:
    case = CASES[5]
    forged = ItemContext(
        _context(case).item,
        (comment(5, ALICE, "<!-- issueops:drift -->\n**issueops needs a person**", 1),),
    )
    plan = _plan(forged, case)
    assert any(isinstance(a, UpsertComment) and a.key == "drift" for a in plan.actions)
    assert AddLabels(1, (NEEDS_HUMAN,)) in plan.actions
