"""Assign planner: scoring, threshold, ties, human choice, owners, idempotency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from stages_world import BOT, World, item

from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import AddLabels, Assign, ItemContext, Plan, RemoveLabel, Transition, UpsertComment
from issueops.stages.assign import (
    ASSESSMENT_KEY,
    NEEDS_HUMAN_KEY,
    MatchResult,
    RuleMatcher,
    choose,
    choose_owner,
    plan_assign,
)


def wf(
    name: str, *, risk: str = "medium", pool: Sequence[str] = ("ann", "ben", "cat"), **match: Any
) -> WorkflowSchema:
    strategy = match.pop("strategy", "least_loaded")
    return WorkflowSchema.model_validate(
        {
            "name": name,
            "description": f"The {name} workflow",
            "risk": risk,
            "match": match,
            "owners": {"pool": list(pool), "strategy": strategy},
        }
    )


INCIDENT = wf(
    "incident",
    risk="high",
    labels=["incident"],
    keywords=["outage", "c++"],
    title_patterns=[r"(?i)\b(outage|sev[12])\b"],
    body_patterns=[r"(?i)^root cause"],
    form_fields={"Severity": r"(?i)^sev[12]$"},
    sources=["api"],
    min_score=3,
)
DOCS = wf("docs", risk="low", labels=["docs"], keywords=["typo", "docs"], min_score=2)
WORKFLOWS = [INCIDENT, DOCS]
FORM = "### Severity\n\nsev1\n\n### Details\n\n_No response_\n"


@pytest.mark.parametrize(
    ("work_item", "score", "reason_part"),
    [
        (item(1, "Disk full"), 0, None),
        (item(1, labels=("state::triage", "incident")), 3, "label `incident`"),
        (item(1, labels=("state::triage", "INCIDENT")), 3, "label `incident`"),
        (item(1, "outage"), 1 + 2, "keyword `outage`"),
        (item(1, "outages everywhere"), 0, None),
        (item(1, "c++ build"), 1, "keyword `c++`"),
        (item(1, "SEV1 now"), 2, "title matches"),
        (item(1, "x", "Summary\nRoot cause: disk"), 1, "body matches"),
        (item(1, "x", "no root cause here"), 0, None),
        (item(1, "x", FORM), 3, "form field `Severity`"),
        (item(1, "x", "### Severity\n\nsev3\n"), 0, None),
        (item(1, labels=("state::triage", "source::api")), 3, "source `api`"),
    ],
    ids=[
        "nothing",
        "label",
        "label-case-insensitive",
        "keyword-and-title",
        "keyword-whole-word-only",
        "keyword-punctuation",
        "title-pattern",
        "body-pattern-multiline",
        "body-pattern-anchored",
        "form-field",
        "form-field-no-match",
        "source",
    ],
)
def test_rule_matcher_scores(work_item: Any, score: int, reason_part: str | None) -> None:
    result = RuleMatcher().score(ItemContext(work_item), INCIDENT)
    assert result.score == score
    if reason_part:
        assert any(reason_part in r for r in result.reasons)
    else:
        assert result.reasons == ()


@pytest.mark.parametrize(
    ("results", "winner"),
    [
        ([MatchResult("a", 5, 3, 4), MatchResult("b", 4, 3, 1)], "a"),
        ([MatchResult("a", 4, 3, 4), MatchResult("b", 4, 3, 2)], "b"),
        ([MatchResult("b", 4, 3, 2), MatchResult("a", 4, 3, 2)], "a"),
        ([MatchResult("a", 2, 3, 1), MatchResult("b", 1, 1, 9)], "b"),
        ([MatchResult("a", 2, 3, 1)], None),
    ],
    ids=["higher-score", "tie-fewer-rules", "tie-name", "threshold-per-workflow", "below-threshold"],
)
def test_choose(results: list[MatchResult], winner: str | None) -> None:
    chosen = choose(results)
    assert (chosen.workflow if chosen else None) == winner


def plan_for(
    *items: Any,
    workflows: Sequence[WorkflowSchema] = WORKFLOWS,
    config: Config | None = None,
    load: dict[str, int] | None = None,
    world: World | None = None,
) -> list[Plan]:
    contexts = world.contexts() if world is not None else [ItemContext(i) for i in items]
    return plan_assign(
        contexts,
        workflows=workflows,
        config=config or Config(),
        open_load=load or {},
        now=World().now,
        bot_login=BOT,
    )


def actions_of(plan: Plan, kind: type) -> list[Any]:
    return [a for a in plan.actions if isinstance(a, kind)]


def test_assigns_workflow_risk_owner_and_transitions() -> None:
    (plan,) = plan_for(item(4, "Outage: API down", labels=("state::triage", "incident")))
    assert actions_of(plan, AddLabels) == [AddLabels(4, ("workflow::incident", "risk::high"))]  # one request
    assert actions_of(plan, Assign) == [Assign(4, ("ann",))]
    (comment,) = actions_of(plan, UpsertComment)
    assert comment.key == ASSESSMENT_KEY and "score 6, needed 3" in comment.body
    assert "\\|" in comment.body  # the `|` of a pattern does not break the table
    assert plan.actions[-1] == Transition(4, "triage", "assigned", "assign")
    assert plan.events[0]["event"] == "item.assigned" and plan.events[0]["owner"] == "ann"


def test_below_threshold_asks_a_human_once() -> None:
    world = World()
    world.add(item(1, "Question about lunch"))
    (plan,) = plan_for(world=world)
    assert [type(a) for a in plan.actions] == [UpsertComment, AddLabels]
    assert plan.actions[0].key == NEEDS_HUMAN_KEY  # type: ignore[union-attr]
    assert plan.actions[1] == AddLabels(1, ("issueops::needs-human",))
    assert world.apply(plan) == 2
    (again,) = plan_for(world=world)
    assert again.actions == []  # unchanged content: no action at all
    assert "state::triage" in world.items[1].labels


def test_needs_human_comment_is_updated_when_the_item_changes() -> None:
    world = World()
    world.add(item(1, "Question about lunch"))
    world.apply(plan_for(world=world))
    world.items[1] = item(1, "A typo question", labels=world.items[1].labels)  # 1 point: still below 2
    (plan,) = plan_for(world=world)
    assert [type(a) for a in plan.actions] == [UpsertComment]


def test_human_label_wins_over_scores() -> None:
    (plan,) = plan_for(item(2, "Outage typo", labels=("state::triage", "workflow::docs")))
    assert not [a for a in actions_of(plan, AddLabels) if "workflow::" in a.labels[0]]
    assert AddLabels(2, ("risk::low",)) in plan.actions
    assert "set by label" in actions_of(plan, UpsertComment)[0].body
    assert plan.events[0]["how"] == "label"


@pytest.mark.parametrize(
    "labels",
    [("state::triage", "workflow::nope"), ("state::triage", "workflow::docs", "workflow::incident")],
    ids=["unknown-workflow", "two-workflows"],
)
def test_bad_workflow_labels_ask_a_human(labels: tuple[str, ...]) -> None:
    (plan,) = plan_for(item(3, "x", labels=labels))
    assert not actions_of(plan, Transition)
    assert actions_of(plan, UpsertComment)[0].key == NEEDS_HUMAN_KEY


@pytest.mark.parametrize(
    "work_item",
    [
        item(1, "outage", labels=("state::triage", "incident", "issueops::hold")),
        item(1, "outage", labels=("state::assigned", "incident")),
        item(1, "outage", labels=("state::triage", "state::assigned")),
        item(1, "outage", labels=("state::triage", "incident"), state="closed"),
    ],
    ids=["hold", "not-triage", "two-states", "closed"],
)
def test_skipped_items_get_no_actions(work_item: Any) -> None:
    assert all(not p.actions for p in plan_for(work_item))


@pytest.mark.parametrize(
    ("labels", "add", "remove"),
    [
        (("state::triage", "incident"), ["risk::high"], []),
        (("state::triage", "incident", "risk::high"), [], []),
        (("state::triage", "incident", "risk::low"), ["risk::high"], ["risk::low"]),
    ],
    ids=["missing", "present", "lower-label-is-raised"],
)
def test_risk_labels(labels: tuple[str, ...], add: list[str], remove: list[str]) -> None:
    (plan,) = plan_for(item(5, "outage", labels=labels))
    added = [label for a in actions_of(plan, AddLabels) for label in a.labels if label.startswith("risk::")]
    assert added == add
    assert [a.label for a in actions_of(plan, RemoveLabel)] == remove


def test_docs_risk_label_higher_than_workflow_is_kept() -> None:
    (plan,) = plan_for(item(5, "typo in docs", labels=("state::triage", "risk::high")))
    assert plan.events[0]["risk"] == "high"
    assert not [x for a in actions_of(plan, AddLabels) for x in a.labels if x.startswith("risk::")]


# --- owners --------------------------------------------------------------------------------------

RR = wf("rr", pool=("ann", "ben", "cat"), strategy="round_robin", labels=["x"], min_score=1)
LL = wf("ll", pool=("ann", "ben", "cat"), strategy="least_loaded", labels=["x"], min_score=1)


@pytest.mark.parametrize(
    ("workflow", "config", "load", "number", "owner"),
    [
        (LL, Config(), {"ann": 3, "ben": 1, "cat": 1}, 1, "ben"),
        (LL, Config(), {}, 1, "ann"),
        (LL, Config.model_validate({"owners": {"unavailable": ["ANN"]}}), {}, 1, "ben"),
        (
            LL,
            Config.model_validate({"owners": {"max_open_items": 2}}),
            {"ann": 0, "ben": 2, "cat": 1},
            1,
            "ann",
        ),
        (RR, Config(), {}, 1, "ben"),
        (RR, Config(), {}, 2, "cat"),
        (RR, Config(), {}, 3, "ann"),
        (RR, Config(), {"ben": 99}, 4, "ben"),
        (RR, Config.model_validate({"owners": {"unavailable": ["ben"]}}), {}, 4, "cat"),
        (RR, Config.model_validate({"owners": {"max_open_items": 1}}), {"ben": 1, "cat": 1}, 4, "ann"),
        (
            LL,
            Config.model_validate({"owners": {"max_open_items": 1}}),
            {"ann": 1, "ben": 1, "cat": 1},
            1,
            None,
        ),
    ],
    ids=[
        "least-loaded",
        "least-loaded-tie-pool-order",
        "unavailable-case-insensitive",
        "at-capacity-skipped",
        "round-robin-1",
        "round-robin-2",
        "round-robin-3",
        "round-robin-ignores-load",
        "round-robin-skips-unavailable",
        "round-robin-skips-full",
        "nobody-eligible",
    ],
)
def test_choose_owner(
    workflow: WorkflowSchema, config: Config, load: dict[str, int], number: int, owner: str | None
) -> None:
    assert choose_owner(workflow, config, load, number).login == owner


def test_least_loaded_spreads_within_one_run() -> None:
    plans = plan_for(*(item(n, "x", labels=("state::triage", "x")) for n in (1, 2, 3, 4)), workflows=[LL])
    owners = [actions_of(p, Assign)[0].logins[0] for p in plans]
    assert owners == ["ann", "ben", "cat", "ann"]


def test_capacity_counts_owners_picked_this_run() -> None:
    config = Config.model_validate({"owners": {"max_open_items": 1}})
    items = [item(n, "x", labels=("state::triage", "x")) for n in (1, 2, 3, 4)]
    plans = plan_for(*items, workflows=[LL], config=config)
    assert [bool(actions_of(p, Transition)) for p in plans] == [True, True, True, False]
    assert "none yet" in actions_of(plans[3], UpsertComment)[0].body


def test_existing_assignee_is_kept() -> None:
    (plan,) = plan_for(item(1, "x", labels=("state::triage", "x"), assignees=("zed",)), workflows=[LL])
    assert not actions_of(plan, Assign)
    assert plan.events[0]["owner"] == "zed"


@pytest.mark.parametrize(
    ("assignees", "load", "owner_line"),
    [
        # A killed run assigned ann (least loaded: she had 0) and died: her load now counts this
        # item, and the assessment still says what the uninterrupted run would have said.
        ((("ann",)), {"ann": 1}, "`ann`: least loaded (0 open items)"),
        ((("ann",)), {"ann": 3, "ben": 1}, "`ann`: already assigned"),
        ((("zed",)), {"zed": 1}, "`zed`: already assigned"),
        ((), {"ann": 1}, "`ben`: least loaded (0 open items)"),
    ],
    ids=["interrupted-run-own-pick", "person-picked-busier-owner", "person-picked-outsider", "unassigned"],
)
def test_owner_line_reads_as_the_uninterrupted_choice(
    assignees: tuple[str, ...], load: dict[str, int], owner_line: str
) -> None:
    (plan,) = plan_for(
        item(1, "x", labels=("state::triage", "x"), assignees=assignees), workflows=[LL], load=load
    )
    assert f"- Owner: {owner_line}" in actions_of(plan, UpsertComment)[0].body
    assert bool(actions_of(plan, Assign)) is not bool(assignees)


def test_nobody_available_waits_in_triage_idempotently() -> None:
    config = Config.model_validate({"owners": {"unavailable": ["ann", "ben", "cat"]}})
    world = World()
    world.add(item(1, "x", labels=("state::triage", "x")))
    (plan,) = plan_for(world=world, workflows=[LL], config=config)
    assert [type(a) for a in plan.actions] == [UpsertComment]
    world.apply(plan)
    (again,) = plan_for(world=world, workflows=[LL], config=config)
    assert again.actions == []


# --- idempotency ---------------------------------------------------------------------------------


def test_plan_apply_replan_is_empty() -> None:
    world = World()
    world.add(item(1, "Outage in api", labels=("state::triage", "incident", "issueops::needs-human")))
    world.add(item(2, "typo in docs"))
    world.add(item(3, "lunch?"))
    first = plan_for(world=world)
    world.apply(first)
    assert [p.actions for p in plan_for(world=world)] == [[]]  # only #3 is left in triage: no change
    assert "issueops::needs-human" not in world.items[1].labels
    # ann took #1, so the least-loaded pick for #2 (another workflow, same people) is ben
    assert world.items[1].assignees == ("ann",) and world.items[2].assignees == ("ben",)


def test_interrupted_apply_is_finished_by_the_next_run() -> None:
    world = World()
    world.add(item(1, "Outage in api", labels=("state::triage", "incident")))
    (plan,) = plan_for(world=world)
    partial = Plan(plan.item, plan.actions[:3])  # labels and the owner, then the run died
    world.apply(partial)
    (again,) = plan_for(world=world)
    world.apply(again)
    assert world.items[1].assignees == ("ann",)
    assert "state::assigned" in world.items[1].labels and "state::triage" not in world.items[1].labels
    assert len(world.comments[1]) == 1
    assert plan_for(world=world) == []


def test_deterministic() -> None:
    items = [
        item(n, t, labels=("state::triage",)) for n, t in [(1, "outage"), (2, "docs typo"), (3, "lunch")]
    ]
    assert plan_for(*items) == plan_for(*items)


def test_hostile_title_in_comments_is_inert() -> None:
    (plan,) = plan_for(item(1, "@everyone {{ 7*7 }} typo docs"))
    body = actions_of(plan, UpsertComment)[0].body
    assert "@everyone" not in body and "49" not in body


def test_full_size_hostile_body_scores_and_stays_out_of_comments() -> None:
    body = ("root cause: @everyone <script>x</script> #1 " * 2000)[:65_536]
    assert len(body) == 65_536
    (plan,) = plan_for(item(1, "Outage \u202eevil", body, labels=("state::triage", "incident")))
    assert plan.events[0]["workflow"] == "incident"
    comment = actions_of(plan, UpsertComment)[0].body
    assert "<script>" not in comment and "@everyone" not in comment and len(comment) < 5_000
