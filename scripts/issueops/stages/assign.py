"""Assign planner: triage items -> a workflow, a risk and an owner (pure).

Each triage item is scored against every workflow by a Matcher (RuleMatcher: the workflow's
`match` rules). The best score at or above the workflow's `min_score` wins; ties go to the
workflow with fewer rules (the more specific one), then to the name in alphabetical order.
Below every threshold the item stays in triage with one comment asking for a person. A
`workflow::` label already on the item (set by a person, or by an interrupted earlier run)
is authoritative and skips scoring.

Owners come from the workflow's pool, minus `owners.unavailable` and anyone at
`owners.max_open_items`: `least_loaded` picks the fewest open items (ties in pool order);
`round_robin` starts at pool[number % len(pool)] and walks forward to the first eligible
person, so it needs no state on the runner and a re-plan picks the same person. When nobody
is eligible the item waits in triage and the assessment says why. An owner already on the item
stays; the choice is still computed (without this item in their load) so that a run killed after
assigning leaves the same assessment as one that was not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from issueops.config.forms import field_key, parse_form
from issueops.config.settings import Config, Risk
from issueops.config.workflows import WorkflowSchema
from issueops.core.comments import same_login
from issueops.core.markdown import table_cell
from issueops.core.model import Action, AddLabels, Assign, ItemContext, Plan, RemoveLabel, WorkItem
from issueops.core.states import State, current_state
from issueops.stages.common import (
    RISK_ORDER,
    RISK_PREFIX,
    SOURCE_PREFIX,
    WORKFLOW_PREFIX,
    effective_risk,
    on_hold,
    risk_labels,
    sorted_items,
    transition,
    upsert,
    workflow_labels,
)
from issueops.stages.text import GITHUB_BODY_LIMIT, code_span

ASSESSMENT_KEY = "assessment"
NEEDS_HUMAN_KEY = "needs-human"

KEYWORD_WEIGHT = 1
TITLE_WEIGHT = 2
BODY_WEIGHT = 1
FORM_WEIGHT = 3
SOURCE_WEIGHT = 3


@dataclass(frozen=True)
class MatchResult:
    """How well one item fits one workflow, and why (each reason names a rule and its points)."""

    workflow: str
    score: int
    min_score: int
    rules: int  # how many rules the workflow has: fewer wins a tie (more specific)
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.score >= self.min_score


@dataclass(frozen=True)
class Decision:
    """Which workflow an item goes to (None: ask a person), how that was decided, and what the
    assessment and telemetry say about it."""

    workflow: str | None
    how: str  # shown in the assessment, e.g. "score 3, needed 2"
    by_model: bool = False
    model_line: str | None = None  # Markdown-safe line for the assessment (already sanitised)
    events: tuple[dict[str, object], ...] = ()  # e.g. model.fallback
    assigned_fields: Mapping[str, object] = field(default_factory=dict)  # extra item.assigned fields


class Matcher(Protocol):
    """A scoring and choosing strategy: the rules (RuleMatcher), or rules with a model's answers
    (`issueops.stages.assign_model.ModelMatcher`)."""

    def score(self, ctx: ItemContext, workflow: WorkflowSchema) -> MatchResult: ...

    def decide(self, ctx: ItemContext, results: Sequence[MatchResult]) -> Decision: ...


def rule_decision(results: Sequence[MatchResult]) -> Decision:
    """The rules alone: the best passing score, or nobody."""
    best = choose(results)
    if best is None:
        return Decision(None, "no workflow scored at or above its threshold")
    return Decision(best.workflow, f"score {best.score}, needed {best.min_score}")


def rule_count(workflow: WorkflowSchema) -> int:
    m = workflow.match
    return (
        len(m.labels)
        + len(m.keywords)
        + len(m.title_patterns)
        + len(m.body_patterns)
        + len(m.form_fields)
        + len(m.sources)
    )


class RuleMatcher:
    """Scores with the workflow's `match` rules.

    labels: label_weight each (case-insensitive names); keywords: 1 each, whole words,
    case-insensitive, in title or body; title_patterns: 2 each; body_patterns: 1 each (Python
    regexes as written, `^`/`$` per line in the body; add `(?i)` for case-insensitive);
    form_fields: 3 each, the pattern searched in the issue-form answer; sources: 3 each.
    """

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int], re.Pattern[str]] = {}

    def _pattern(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        key = (pattern, flags)
        if key not in self._compiled:
            self._compiled[key] = re.compile(pattern, flags)
        return self._compiled[key]

    def score(self, ctx: ItemContext, workflow: WorkflowSchema) -> MatchResult:
        item = ctx.item
        rules = workflow.match
        title = item.title
        body = (item.body or "")[:GITHUB_BODY_LIMIT]
        labels = {label.casefold() for label in item.labels}
        score = 0
        reasons: list[str] = []

        def hit(points: int, what: str) -> None:
            nonlocal score
            score += points
            reasons.append(f"{what} (+{points})")

        for label in rules.labels:
            if label.casefold() in labels and rules.label_weight:
                hit(rules.label_weight, f"label {code_span(label)}")
        text = f"{title}\n{body}"
        for keyword in rules.keywords:
            word = self._pattern(rf"(?<!\w){re.escape(keyword)}(?!\w)", re.IGNORECASE)
            if word.search(text):
                hit(KEYWORD_WEIGHT, f"keyword {code_span(keyword)}")
        for pattern in rules.title_patterns:
            if self._pattern(pattern).search(title):
                hit(TITLE_WEIGHT, f"title matches {code_span(pattern)}")
        for pattern in rules.body_patterns:
            if self._pattern(pattern, re.MULTILINE).search(body):
                hit(BODY_WEIGHT, f"body matches {code_span(pattern)}")
        if rules.form_fields:
            form = parse_form(body)
            for name, pattern in rules.form_fields.items():
                value = form.get(field_key(name))
                if value is not None and self._pattern(pattern).search(value):
                    hit(FORM_WEIGHT, f"form field {code_span(name)} matches {code_span(pattern)}")
        for source in rules.sources:
            if f"{SOURCE_PREFIX}{source}".casefold() in labels:
                hit(SOURCE_WEIGHT, f"source {code_span(source)}")
        return MatchResult(workflow.name, score, rules.min_score, rule_count(workflow), tuple(reasons))

    def decide(self, ctx: ItemContext, results: Sequence[MatchResult]) -> Decision:
        del ctx
        return rule_decision(results)


def rank(results: Sequence[MatchResult]) -> list[MatchResult]:
    """Best first: higher score, then fewer rules (more specific), then name."""
    return sorted(results, key=lambda r: (-r.score, r.rules, r.workflow))


def choose(results: Sequence[MatchResult]) -> MatchResult | None:
    passing = [r for r in results if r.passed]
    return rank(passing)[0] if passing else None


# --- owners -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerChoice:
    login: str | None
    reason: str


def eligible_owners(workflow: WorkflowSchema, config: Config, load: Mapping[str, int]) -> list[str]:
    """The pool in its order, minus people on leave and people at capacity."""
    away = {login.casefold() for login in config.owners.unavailable}
    cap = config.owners.max_open_items
    eligible = []
    for login in workflow.owners.pool:
        if login.casefold() in away:
            continue
        if cap is not None and load.get(login.casefold(), 0) >= cap:
            continue
        eligible.append(login)
    return eligible


def choose_owner(
    workflow: WorkflowSchema, config: Config, load: Mapping[str, int], number: int
) -> OwnerChoice:
    """`load` is open items per login (casefolded keys). Deterministic for the same inputs."""
    pool = workflow.owners.pool
    eligible = eligible_owners(workflow, config, load)
    if not eligible:
        return OwnerChoice(
            None,
            f"nobody in the pool ({', '.join(code_span(p) for p in pool)}) is available "
            "(on leave or at max_open_items)",
        )
    if workflow.owners.strategy == "round_robin":
        start = number % len(pool)
        for step in range(len(pool)):
            login = pool[(start + step) % len(pool)]
            if login in eligible:
                return OwnerChoice(login, f"round robin from position {start + 1} of the pool")
    best = min(eligible, key=lambda login: (load.get(login.casefold(), 0), pool.index(login)))
    return OwnerChoice(best, f"least loaded ({load.get(best.casefold(), 0)} open items)")


# --- comments -----------------------------------------------------------------------------------


def _score_table(results: Sequence[MatchResult]) -> str:
    lines = ["| workflow | score | needed | matched |", "| --- | --- | --- | --- |"]
    for r in rank(results):
        matched = "; ".join(r.reasons) if r.reasons else "nothing"
        lines.append(f"| {code_span(r.workflow)} | {r.score} | {r.min_score} | {table_cell(matched)} |")
    return "\n".join(lines)


def assessment_body(
    chosen: str,
    how: str,
    risk: str,
    owner: OwnerChoice,
    results: Sequence[MatchResult],
    model_line: str | None = None,
) -> str:
    # No @: the assignment itself notifies the owner, and the guidance greets them.
    owner_text = f"{code_span(owner.login)}: {owner.reason}" if owner.login else f"none yet: {owner.reason}"
    parts = [
        "**Assessment**",
        "",
        f"- Workflow: {code_span(chosen)} ({how})",
        f"- Risk: {code_span(risk)}",
        f"- Owner: {owner_text}",
    ]
    if model_line:
        parts.append(f"- Model: {model_line}")
    if results:
        parts += ["", _score_table(results)]
    parts += ["", "A person may change the workflow with a `workflow::` label while the item is in triage."]
    return "\n".join(parts)


def needs_human_body(problem: str, results: Sequence[MatchResult]) -> str:
    parts = [
        "**A person is needed to triage this item.**",
        "",
        problem,
        "",
        "Add one `workflow::<name>` label to choose a workflow; the next run takes it from there.",
    ]
    if results:
        parts += ["", _score_table(results)]
    return "\n".join(parts)


# --- the planner --------------------------------------------------------------------------------


def _ask_human(
    ctx: ItemContext, problem: str, results: Sequence[MatchResult], config: Config, bot: str
) -> Plan:
    item = ctx.item
    actions: list[Action] = [*upsert(ctx, NEEDS_HUMAN_KEY, needs_human_body(problem, results), bot)]
    if config.labels.needs_human not in item.labels:
        actions.append(AddLabels(item.number, (config.labels.needs_human,)))
    events: list[dict[str, object]] = []
    if actions:
        events.append(
            {"event": "item.needs_human", "item": item.number, "stage": "assign", "reason": problem}
        )
    return Plan(item.number, actions, [f"#{item.number}: stays in triage, {problem}"], events)


def _risk_changes(item: WorkItem, workflow: WorkflowSchema) -> tuple[Risk, list[str], list[Action]]:
    """The risk to record, the label to add (if missing) and the removals: a risk label may raise
    the workflow's risk, a lower one is replaced (the workflow's risk is the floor)."""
    risk = effective_risk(item, workflow.risk)
    wanted = f"{RISK_PREFIX}{risk}"
    add = [] if wanted in item.labels else [wanted]
    removals: list[Action] = [
        RemoveLabel(item.number, f"{RISK_PREFIX}{other}")
        for other in risk_labels(item)
        if RISK_ORDER.index(other) < RISK_ORDER.index(risk)
    ]
    return risk, add, removals


def _load_without(load: Mapping[str, int], assignees: Sequence[str]) -> dict[str, int]:
    """The load as it was before this item was assigned: an owner already on a triage item
    (a person's choice, or a run killed after assigning) is counted in `load` once for it, and
    the choice is made as if it were not, so that an interrupted run's assessment reads the
    same as an uninterrupted one's."""
    out = dict(load)
    for login in assignees:
        key = login.casefold()
        if out.get(key, 0) > 0:
            out[key] -= 1
    return out


def plan_one(
    ctx: ItemContext,
    *,
    workflows: Sequence[WorkflowSchema],
    config: Config,
    load: dict[str, int],
    bot_login: str,
    matcher: Matcher,
) -> Plan | None:
    """The plan for one triage item; updates `load` when it picks an owner."""
    item = ctx.item
    if item.state != "open" or current_state(item.labels) is not State.TRIAGE:
        return None
    if on_hold(item, config):
        return Plan(item.number, reasons=[f"#{item.number}: on hold, skipped"])
    by_name = {w.name: w for w in workflows}
    preset = workflow_labels(item)
    results: list[MatchResult] = []
    decision = Decision(None, "set by label")
    if preset:
        known = [name for name in preset if name in by_name]
        if len(preset) > 1 or not known:
            names = ", ".join(code_span(f"{WORKFLOW_PREFIX}{n}") for n in preset)
            problem = (
                f"it carries {names}, which is not one known workflow "
                f"(known: {', '.join(code_span(n) for n in sorted(by_name)) or 'none'})."
            )
            return _ask_human(ctx, problem, [], config, bot_login)
        workflow = by_name[known[0]]
        how = "set by label"
    else:
        results = [matcher.score(ctx, w) for w in workflows]
        decision = matcher.decide(ctx, results)
        if decision.workflow is None or decision.workflow not in by_name:
            problem = "no workflow scored at or above its threshold."
            if not workflows:
                problem = "no workflows are defined under workflow_schemas/."
            return _with_events(_ask_human(ctx, problem, results, config, bot_login), decision)
        workflow = by_name[decision.workflow]
        how = decision.how

    already = [login for login in item.assignees if not same_login(login, bot_login)]
    owner = choose_owner(workflow, config, _load_without(load, item.assignees), item.number)
    if already and not (owner.login and same_login(owner.login, already[0])):
        owner = OwnerChoice(already[0], "already assigned")
    if owner.login is None:
        # Nobody can take it now: wait in triage, say why once; the next run tries again.
        body = assessment_body(workflow.name, how, workflow.risk, owner, results, decision.model_line)
        waiting: list[Action] = [*upsert(ctx, ASSESSMENT_KEY, body, bot_login)]
        plan = Plan(item.number, waiting, [f"#{item.number}: {workflow.name}, waiting for an owner"])
        return _with_events(plan, decision)

    risk, risk_add, risk_removals = _risk_changes(item, workflow)
    wf_label = f"{WORKFLOW_PREFIX}{workflow.name}"
    missing = [label for label in (wf_label, *risk_add) if label not in item.labels]
    actions: list[Action] = [AddLabels(item.number, tuple(missing))] if missing else []  # one request
    actions += risk_removals
    if not already:
        actions.append(Assign(item.number, (owner.login,)))
        load[owner.login.casefold()] = load.get(owner.login.casefold(), 0) + 1
    body = assessment_body(workflow.name, how, risk, owner, results, decision.model_line)
    actions += upsert(ctx, ASSESSMENT_KEY, body, bot_login)
    if config.labels.needs_human in item.labels:
        actions.append(RemoveLabel(item.number, config.labels.needs_human))
    actions.append(transition(item, State.TRIAGE, State.ASSIGNED, "assign"))
    event: dict[str, object] = {
        "event": "item.assigned",
        "item": item.number,
        "workflow": workflow.name,
        "risk": risk,
        "owner": owner.login,
        "how": "label" if preset else "model" if decision.by_model else "score",
        "score": max((r.score for r in results if r.workflow == workflow.name), default=None),
        **decision.assigned_fields,
    }
    if results:
        event["scores"] = {r.workflow: r.score for r in results}
    return Plan(
        item.number,
        actions,
        [f"#{item.number}: {workflow.name} ({how}), risk {risk}, owner {owner.login}"],
        [*decision.events, event],
    )


def _with_events(plan: Plan, decision: Decision) -> Plan:
    """The decision's own events (a model fallback) go with the plan, first."""
    if not decision.events:
        return plan
    return Plan(plan.item, plan.actions, plan.reasons, [*decision.events, *plan.events])


def plan_assign(
    items: Sequence[ItemContext],
    *,
    workflows: Sequence[WorkflowSchema],
    config: Config,
    open_load: Mapping[str, int],
    now: datetime,
    bot_login: str,
    matcher: Matcher | None = None,
) -> list[Plan]:
    """Plans for every triage item, in item-number order.

    `open_load` is the number of open items each login is assigned (any workflow), read before
    this run; owners picked in this run count towards it for the items after them. `now` is
    accepted for the planner contract; assignment does not depend on the time.
    """
    del now
    matcher = matcher or RuleMatcher()
    load = {login.casefold(): count for login, count in open_load.items()}
    plans = []
    for ctx in sorted_items(items):
        plan = plan_one(
            ctx, workflows=workflows, config=config, load=load, bot_login=bot_login, matcher=matcher
        )
        if plan is not None:
            plans.append(plan)
    return plans
