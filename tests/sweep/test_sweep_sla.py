"""The SLA ladder, table-driven; the clock counts people only."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from sweep_fakes import (
    ALICE,
    BOB,
    BOT,
    BOT_LOGIN,
    OTHER_BOT,
    FakeWorld,
    at,
    comment,
    config,
    labeled,
    pull,
    work_item,
    workflow,
)

from issueops.approvals.activity import stamp
from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import (
    Action,
    AddLabels,
    Comment,
    ItemContext,
    LabelEvent,
    Plan,
    PullRequest,
    RemoveLabel,
    Unassign,
    UpsertComment,
)
from issueops.stages.sweep import needs_label_events, plan_sweep

WF = "workflow::incident"
BASE = ["state::in-progress", WF]
ENTERED = [labeled("state::in-progress", BOT, 0)]


def reminder_for(start_hours: float) -> str:
    return f"sla-reminder-{stamp(at(start_hours))}"


def bot_reminder(start_hours: float, posted: float, cid: int = 900) -> Comment:
    return comment(cid, BOT, f"<!-- issueops:{reminder_for(start_hours)} -->\nReminder", posted)


@dataclass
class Case:
    name: str
    now: float
    expect: set[str]  # rungs planned: reminder, escalation, breach-label, clear-label
    labels: list[str] = field(default_factory=lambda: list(BASE))
    comments: list[Comment] = field(default_factory=list)
    events: list[LabelEvent] = field(default_factory=lambda: list(ENTERED))
    pr: PullRequest | None = None
    workflow: WorkflowSchema | None = None
    config: Config = field(default_factory=config)
    cycle_from: float | None = None  # the expected cycle start (hours) in the comment key


def rungs(actions: list[Action]) -> set[str]:
    found: set[str] = set()
    for action in actions:
        if isinstance(action, UpsertComment):
            found.add(action.key.split("-20")[0].removeprefix("sla-"))
        elif isinstance(action, AddLabels) and "sla::breached" in action.labels:
            found.add("breach-label")
        elif isinstance(action, RemoveLabel) and action.label == "sla::breached":
            found.add("clear-label")
        else:
            found.add(type(action).__name__)
    return found


CASES = [
    Case("quiet: nothing due yet", 10, set()),
    Case("reminder due", 50, {"reminder"}, cycle_from=0),
    Case(
        "escalation due after the reminder was sent",
        100,
        {"escalation", "breach-label"},
        comments=[bot_reminder(0, 50)],
        cycle_from=0,
    ),
    Case("both due on one sweep: escalation supersedes reminder", 100, {"escalation", "breach-label"}),
    Case("held item gets none", 100, set(), labels=[*BASE, "issueops::hold"]),
    Case(
        "exempt label",
        100,
        set(),
        labels=[*BASE, "blocked-external"],
        config=config(exempt_labels=["blocked-external"]),
    ),
    Case("open PR with recent activity is exempt", 100, set(), pr=pull(updated=90)),
    Case("an idle open PR is no exemption", 100, {"escalation", "breach-label"}, pr=pull(updated=10)),
    Case(
        "bot comments do not reset the clock",
        55,
        {"reminder"},
        comments=[
            comment(1, ALICE, "looking", 5),
            comment(2, BOT, "status update", 40),
            comment(3, OTHER_BOT, "CI passed", 45),
        ],
        cycle_from=5,
    ),
    Case(
        "human comment after the reminder starts a new cycle",
        110,
        {"reminder"},
        comments=[bot_reminder(0, 50), comment(4, ALICE, "still on it", 60)],
        cycle_from=60,
    ),
    Case(
        "human comment after the reminder: the new cycle is not due yet",
        70,
        set(),
        comments=[bot_reminder(0, 50), comment(4, ALICE, "still on it", 60)],
    ),
    Case(
        "a person's label change resets the clock",
        60,
        set(),
        events=[*ENTERED, labeled("priority", ALICE, 30)],
    ),
    Case(
        "the pipeline's own label change does not",
        60,
        {"reminder"},
        events=[*ENTERED, labeled("risk::high", BOT, 30)],
        cycle_from=0,
    ),
    Case(
        "entering a new state restarts the clock",
        60,
        set(),
        labels=["state::awaiting-approval", WF],
        events=[*ENTERED, labeled("state::awaiting-approval", BOT, 40)],
    ),
    Case(
        "an edited comment counts at its edit time",
        60,
        set(),
        comments=[comment(5, ALICE, "update", 5, edited=30)],
    ),
    Case(
        "a marker typed by a person does not count as sent",
        50,
        {"reminder"},
        comments=[comment(6, ALICE, f"<!-- issueops:{reminder_for(0)} -->", -1)],
        cycle_from=0,
    ),
    Case(
        "terminal items have no SLA",
        500,
        set(),
        labels=["state::done", WF],
        events=[labeled("state::done", BOT, 0)],
    ),
    Case("the workflow's SLA overrides the defaults", 5, {"reminder"}, workflow=workflow(reminder_hours=4)),
    Case(
        "breach cleared by a person's activity",
        110,
        {"clear-label"},
        labels=[*BASE, "sla::breached"],
        comments=[comment(7, ALICE, "on it now", 100)],
    ),
    Case(
        "escalation already sent and labelled: nothing more",
        120,
        set(),
        labels=[*BASE, "sla::breached"],
        comments=[comment(8, BOT, f"<!-- issueops:sla-escalation-{stamp(at(0))} -->", 97)],
    ),
]


def _ctx(case: Case) -> ItemContext:
    return ItemContext(work_item(case.labels), tuple(case.comments), tuple(case.events), case.pr)


def _plan(ctx: ItemContext, case: Case, now: float) -> Plan:
    return plan_sweep(ctx, workflow=case.workflow, config=case.config, now=at(now), bot_login=BOT_LOGIN)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sla_case(case: Case) -> None:
    ctx = _ctx(case)
    plan = _plan(ctx, case, case.now)
    assert rungs(plan.actions) == case.expect, plan.reasons
    if case.cycle_from is not None:
        keys = [a.key for a in plan.actions if isinstance(a, UpsertComment)]
        assert keys and all(k.endswith(stamp(at(case.cycle_from))) for k in keys)
    names = {e["event"] for e in plan.events}
    assert ("sla.reminder" in names) is ("reminder" in case.expect)
    assert ("sla.escalation" in names) is ("escalation" in case.expect)
    # idempotent: apply, then a second sweep right after writes nothing
    world = FakeWorld(ctx)
    world.apply(plan.actions, at(case.now))
    assert _plan(world.context(), case, case.now + 0.1).actions == []


def test_escalation_mentions_people_and_teams() -> None:
    case = Case("x", 100, set(), config=config(escalate_to=["@acme/oncall", "bob"]))
    plan = _plan(_ctx(case), case, 100)
    body = next(a.body for a in plan.actions if isinstance(a, UpsertComment))
    assert "@acme/oncall" in body and "@bob" in body and "@alice" in body
    event = next(e for e in plan.events if e["event"] == "sla.escalation")
    assert event["escalate_to"] == ["@acme/oncall", "bob"] and event["workflow"] is None


def test_workflow_escalate_to_wins_over_the_default() -> None:
    case = Case("x", 100, set(), workflow=workflow(escalate_to=["carol"]), config=config(escalate_to=["bob"]))
    body = next(a.body for a in _plan(_ctx(case), case, 100).actions if isinstance(a, UpsertComment))
    assert "@carol" in body and "@bob" not in body


def test_reminder_then_escalation_then_new_cycle() -> None:
    """The whole ladder over several sweeps, through the fake applier."""
    case = Case("ladder", 0, set())
    world = FakeWorld(_ctx(case))
    seen: list[set[str]] = []
    for hours in (10, 50, 60, 100, 101):
        plan = _plan(world.context(), case, hours)
        seen.append(rungs(plan.actions))
        world.apply(plan.actions, at(hours))
    assert seen == [set(), {"reminder"}, set(), {"escalation", "breach-label"}, set()]
    world.comments.append(comment(50, BOB, "taking over", 102))
    plan = _plan(world.context(), case, 110)
    assert rungs(plan.actions) == {"clear-label"}
    world.apply(plan.actions, at(110))
    plan = _plan(world.context(), case, 160)
    assert rungs(plan.actions) == {"reminder"}
    key = next(a.key for a in plan.actions if isinstance(a, UpsertComment))
    assert key == reminder_for(102)


UNASSIGN = config(unassign_after_hours=72)


def test_unassign_is_announced_then_done_on_a_later_sweep() -> None:
    case = Case("unassign", 0, set(), config=UNASSIGN)
    world = FakeWorld(_ctx(case))
    plan = _plan(world.context(), case, 75)
    assert {"reminder", "unassign"} == rungs(plan.actions)
    assert any(e["event"] == "sla.unassign_announced" for e in plan.events)
    world.apply(plan.actions, at(75))
    assert world.item.assignees == ("alice",)

    plan = _plan(world.context(), case, 80)  # inside the grace period
    assert plan.actions == []

    plan = _plan(world.context(), case, 100)
    assert Unassign(1, ("alice",)) in plan.actions
    assert any(e["event"] == "sla.unassigned" for e in plan.events)
    world.apply(plan.actions, at(100))
    assert not world.item.assignees
    announcement = world.bot_comment("sla-unassign")
    assert len(announcement) == 1 and "Unassigned @alice" in announcement[0].body

    assert _plan(world.context(), case, 100.1).actions == []


def test_activity_during_the_grace_period_cancels_the_unassignment() -> None:
    case = Case("unassign", 0, set(), config=UNASSIGN)
    world = FakeWorld(_ctx(case))
    world.apply(_plan(world.context(), case, 75).actions, at(75))
    world.comments.append(comment(60, ALICE, "back from leave, on it", 80))
    plan = _plan(world.context(), case, 100)
    assert not any(isinstance(a, Unassign) for a in plan.actions)


def test_only_announced_people_are_unassigned() -> None:
    case = Case("unassign", 0, set(), config=UNASSIGN)
    world = FakeWorld(_ctx(case))
    world.apply(_plan(world.context(), case, 75).actions, at(75))
    world.item = replace(world.item, assignees=("alice", "bob"))
    plan = _plan(world.context(), case, 100)
    assert Unassign(1, ("alice",)) in plan.actions


def test_no_unassignment_while_approvers_decide() -> None:
    case = Case(
        "awaiting",
        0,
        set(),
        labels=["state::awaiting-approval", WF],
        events=[labeled("state::awaiting-approval", BOT, 0)],
        config=UNASSIGN,
    )
    plan = _plan(_ctx(case), case, 75)
    assert "unassign" not in rungs(plan.actions)


def test_closed_pr_leaves_the_item_to_the_orphan_pass() -> None:
    case = Case("pr closed", 100, set(), pr=pull(state="closed", updated=10))
    plan = _plan(_ctx(case), case, 100)
    assert plan.actions == []
    assert any("closed unmerged" in r for r in plan.reasons)


NEEDS = [
    ("recently active: no history needed", BASE, [], 10, False),
    ("idle enough for a rung: needed", BASE, [], 50, True),
    ("breach label to maybe clear: needed", [*BASE, "sla::breached"], [], 10, True),
    ("drift suspected: needed", ["state::in-progress", "state::approved", WF], [], 10, True),
    ("open but done: needed to trust the label", ["state::done", WF], [], 10, True),
    ("held: never", [*BASE, "issueops::hold"], [], 500, False),
    ("not managed: never", ["bug"], [], 500, False),
    (
        "unassignment announced: needed",
        BASE,
        [comment(9, BOT, f"<!-- issueops:sla-unassign-{stamp(at(0))} -->", 75)],
        80,
        True,
    ),
]


@pytest.mark.parametrize(("name", "labels", "comments", "now", "needed"), NEEDS, ids=[n[0] for n in NEEDS])
def test_needs_label_events(
    name: str, labels: list[str], comments: list[Comment], now: float, needed: bool
) -> None:
    ctx = ItemContext(work_item(labels), tuple(comments))
    assert needs_label_events(ctx, workflow=None, config=config(), now=at(now), bot_login=BOT_LOGIN) is needed


def test_skipping_the_history_never_hides_a_rung() -> None:
    """Property over a grid: whenever the full plan acts, the cheap check asked for the history."""
    for entered in (0, 20, 45):
        for human in (None, 10, 30):
            for now in (30, 49, 60, 97, 120):
                comments = (comment(1, ALICE, "x", human),) if human is not None else ()
                events = (labeled("state::in-progress", BOT, entered),)
                full = ItemContext(work_item(BASE), comments, events)
                plan = plan_sweep(full, workflow=None, config=config(), now=at(now), bot_login=BOT_LOGIN)
                if plan.actions:
                    assert needs_label_events(
                        full, workflow=None, config=config(), now=at(now), bot_login=BOT_LOGIN
                    ), (entered, human, now)


def test_retried_item_with_an_old_closed_pr_keeps_its_sla() -> None:
    case = Case(
        "retried",
        100,
        set(),
        pr=pull(state="closed", updated=5),
        events=[*ENTERED, labeled("state::failed", BOT, 6), labeled("state::in-progress", BOT, 8)],
    )
    plan = _plan(_ctx(case), case, 100)
    assert rungs(plan.actions) == {"reminder"}


def test_closed_pr_needs_the_history_to_rule_out_a_retry() -> None:
    ctx = ItemContext(work_item(BASE), (), (), pull(state="closed", updated=5))
    assert needs_label_events(ctx, workflow=None, config=config(), now=at(6), bot_login=BOT_LOGIN)
