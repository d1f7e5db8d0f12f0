"""Label drift: a managed item whose state labels disagree with its history, and the repair.

The repair is decided from facts, strongest first: the item's open/closed state and close
reason, its deliverable PR (merged means done), then the state labels the pipeline itself
applied (a person's state label is not evidence: it could skip an approval gate). Whatever
those facts cannot decide is flagged for a person with `needs_human`, never guessed; an open
item left without exactly one state goes back to `state::triage` on hold (frozen: it skips no
gate and nothing moves it until a person has looked). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from issueops.approvals.activity import is_own, last_labeled, own_comment, with_marker
from issueops.config.labels import BOT_FAMILIES
from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import (
    Action,
    AddLabels,
    CloseItem,
    ItemContext,
    RemoveLabel,
    Transition,
    UpsertComment,
    WorkItem,
)
from issueops.core.states import (
    TERMINAL,
    State,
    check_transition,
    parse_state,
    resolve_interrupted,
    state_labels_of,
)

DRIFT_KEY = "drift"
WORKFLOW_PREFIX = "workflow::"
# The label families the pipeline owns; it never removes a label outside them.
OWN_FAMILIES: tuple[str, ...] = BOT_FAMILIES
# States that only make sense once a workflow was chosen.
NEEDS_WORKFLOW: frozenset[State] = frozenset(
    {State.ASSIGNED, State.IN_PROGRESS, State.AWAITING_APPROVAL, State.APPROVED}
)
_CLOSED_AS: dict[str, State] = {
    "completed": State.DONE,
    "not_planned": State.REJECTED,
    "duplicate": State.REJECTED,
}


def is_own_family(label: str) -> bool:
    return label.startswith(OWN_FAMILIES)


def is_managed(item: WorkItem, bot_login: str) -> bool:
    """The pipeline looks after items it labelled or opened; anything else is left alone."""
    if is_own(item.author, bot_login):
        return True
    return any(label.startswith(("state::", "workflow::", "source::")) for label in item.labels)


@dataclass
class DriftOutcome:
    """What the drift check wants done, and the state the item will be in afterwards."""

    actions: list[Action] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # shown to people: what and why
    flagged: list[str] = field(default_factory=list)  # shown to people: what they must decide
    events: list[dict[str, object]] = field(default_factory=list)
    state: State | None = None  # None: undecided (flagged); the SLA ladder must not run
    state_changed: bool = False

    @property
    def drifted(self) -> bool:
        return bool(self.repaired or self.flagged)


@dataclass(frozen=True)
class _Facts:
    is_open: bool
    reopened: bool
    closed_as: State | None
    pr_number: int | None
    pr_merged: bool
    pr_open: bool


def _facts(ctx: ItemContext) -> _Facts:
    item, pr = ctx.item, ctx.pull_request
    is_open = item.state == "open"
    return _Facts(
        is_open=is_open,
        reopened=is_open and item.state_reason == "reopened",
        closed_as=None if is_open else _CLOSED_AS.get(item.state_reason or ""),
        pr_number=pr.number if pr else None,
        pr_merged=bool(pr and pr.merged),
        pr_open=bool(pr and pr.state == "open"),
    )


class _Judge:
    """Which states the facts allow, and which one the facts or the pipeline's history pick."""

    def __init__(self, ctx: ItemContext, facts: _Facts, bot_login: str):
        self.ctx, self.facts, self.bot_login = ctx, facts, bot_login

    def set_by_pipeline(self, state: State) -> bool:
        return last_labeled(self.ctx.label_events, state.label, bot_login=self.bot_login) is not None

    def acceptable(self, state: State) -> bool:
        f = self.facts
        if not f.is_open:
            return state in TERMINAL
        if f.pr_merged and not f.reopened:
            return state is State.DONE
        if state not in TERMINAL:
            return True
        if f.reopened or (state is State.DONE and f.pr_open):
            return False
        # An open item may stay terminal only if the pipeline put it there (e.g. publish leaves
        # it open); a person's `state::done` on an open item is not evidence of completion.
        return self.set_by_pipeline(state)

    def fact_target(self) -> tuple[State, str] | None:
        f = self.facts
        if not f.is_open:
            if f.closed_as is not None:
                reason = "completed" if f.closed_as is State.DONE else "not planned"
                return f.closed_as, f"the item was closed as {reason}"
            if f.pr_merged:
                return State.DONE, f"the item is closed and its deliverable PR #{f.pr_number} was merged"
            return None
        if f.pr_merged and not f.reopened:
            return State.DONE, f"its deliverable PR #{f.pr_number} was merged"
        return None

    def latest_by_pipeline(self, states: list[State]) -> State | None:
        """Among `states`, the one the pipeline applied most recently (None: no such history)."""
        dated = [(last_labeled(self.ctx.label_events, s.label, bot_login=self.bot_login), s) for s in states]
        known = [(when, s) for when, s in dated if when is not None]
        return max(known, key=lambda pair: pair[0])[1] if known else None

    def from_history(self) -> State | None:
        """The last state the pipeline set that the facts still allow. A person reopened a
        finished item: which step to resume is theirs to say, so history decides nothing."""
        if self.facts.reopened:
            return None
        own = [
            e
            for e in self.ctx.label_events
            if e.event == "labeled" and is_own(e.actor, self.bot_login) and parse_state(e.label)
        ]
        for event in sorted(own, key=lambda e: e.created_at, reverse=True):
            state = parse_state(event.label)
            if state is not None and self.acceptable(state):
                return state
        return None


def _code(known: list[State], unknown: list[str], facts: _Facts) -> tuple[str, str]:
    """(repair code, the symptom in words) for the telemetry and the comment."""
    if not known and not unknown:
        return "no-state", "it has no `state::` label"
    if len(known) > 1:
        return "several-states", f"it has several state labels ({_labels([s.label for s in known])})"
    if unknown:
        return "unknown-state", f"it has an unknown state label ({_labels(unknown)})"
    state = known[0]
    if not facts.is_open:
        return "closed-not-terminal", f"it is closed but labelled `{state.label}`"
    if facts.pr_merged and not facts.reopened:
        merged = f"its deliverable PR #{facts.pr_number} is merged"
        return "pr-merged", f"{merged} but it is labelled `{state.label}`"
    return "open-terminal", f"it is open but labelled `{state.label}`"


def _labels(labels: list[str]) -> str:
    """Labels as code spans; a backtick in a label name cannot break out of its span."""
    return ", ".join("`{}`".format(label.replace("`", "'")) for label in labels)


def plan_drift(
    ctx: ItemContext, *, workflow: WorkflowSchema | None, config: Config, bot_login: str
) -> DriftOutcome:
    """Check one managed item's labels against its history; repair what the facts decide."""
    item = ctx.item
    facts = _facts(ctx)
    judge = _Judge(ctx, facts, bot_login)
    out = DriftOutcome()
    present = state_labels_of(item.labels)
    known = list(dict.fromkeys(s for s in (parse_state(label) for label in present) if s is not None))
    unknown = [label for label in present if parse_state(label) is None]

    if len(known) == 1 and not unknown and judge.acceptable(known[0]):
        out.state = known[0]
    else:
        _repair_state(ctx, judge, known, unknown, present, out, config.labels.hold)
    if out.state is not None:
        _check_close(ctx, facts, workflow, out)
        _check_workflow_label(ctx, out, bot_login)
    if out.drifted:
        _finish(ctx, config, bot_login, out)
    return out


def _park(item: WorkItem, known: list[State], code: str, hold_label: str, out: DriftOutcome) -> None:
    """`state::triage` (the only state that skips nothing) and `issueops::hold` (frozen)."""
    single = known[0] if len(known) == 1 else None
    cause = f"sweep:repair:{code}"
    check_transition(single, State.TRIAGE, cause)
    out.actions.append(Transition(item.number, single.value if single else None, State.TRIAGE.value, cause))
    if hold_label not in item.labels:
        out.actions.append(AddLabels(item.number, (hold_label,)))
    out.state_changed = True


def _repair_state(
    ctx: ItemContext,
    judge: _Judge,
    known: list[State],
    unknown: list[str],
    present: list[str],
    out: DriftOutcome,
    hold_label: str,
) -> None:
    item, facts = ctx.item, judge.facts
    code, symptom = _code(known, unknown, facts)
    picked = judge.fact_target()
    if picked is None:
        candidates = [s for s in known if judge.acceptable(s)]
        if len(candidates) == 1:
            picked = candidates[0], f"`{candidates[0].label}` is the only state label the item's facts allow"
        elif len(candidates) > 1:
            latest = judge.latest_by_pipeline(candidates)
            interrupted = resolve_interrupted(s.label for s in candidates)
            if latest is not None:
                picked = latest, f"the pipeline applied `{latest.label}` most recently"
            elif interrupted is not None:
                picked = (
                    interrupted,
                    (
                        f"only `{interrupted.label}` is reachable from the other in the state table "
                        "(a transition was cut half-way)"
                    ),
                )
        else:
            restored = judge.from_history()
            if restored is not None:
                picked = restored, f"`{restored.label}` is the last state the pipeline set"
            elif facts.is_open and not present and not item.labels_with_prefix(WORKFLOW_PREFIX):
                picked = State.TRIAGE, "new work items start in triage"
    if picked is None:
        unclear = (
            f"The state is unclear: {symptom}, and neither the item's open/closed state, its "
            "deliverable PR nor the labels the pipeline applied say which state is right."
        )
        event: dict[str, object] = {"event": "drift.flagged", "item": item.number, "code": code}
        if facts.is_open and (len(known) != 1 or unknown):
            # Every managed item keeps exactly one state, and a guess must not skip a gate: the
            # start, frozen until a person has looked (nothing moves an item on hold).
            _park(item, known, code, hold_label, out)
            unclear += (
                " It was moved back to `state::triage` and put on hold, so that nothing happens to it "
                "meanwhile. If triage is wrong, set the `state::` label that matches the item; then "
                "comment `/unhold`."
            )
            event["parked"] = State.TRIAGE.label
        else:
            unclear += " Leave exactly one `state::` label that matches the item."
        out.flagged.append(unclear)
        out.events.append(event)
        return
    target, why = picked
    out.state = target
    single = known[0] if len(known) == 1 else None
    if target.label in present:
        for label in present:
            if label != target.label:
                out.actions.append(RemoveLabel(item.number, label))
    else:
        cause = f"sweep:repair:{code}"
        check_transition(single, target, cause)
        out.actions.append(Transition(item.number, single.value if single else None, target.value, cause))
        out.state_changed = True
    before = _labels(present) if present else "no state label"
    out.repaired.append(f"{before} -> `{target.label}`: {symptom}; {why}.")
    out.events.append(
        {
            "event": "drift.repaired",
            "item": item.number,
            "code": code,
            "found": list(present),
            "repair": target.label,
            "removed": [label for label in present if label != target.label],
        }
    )


def _check_close(ctx: ItemContext, facts: _Facts, workflow: WorkflowSchema | None, out: DriftOutcome) -> None:
    """Done but still open while its workflow closes finished items: the close step was missed."""
    if out.state is not State.DONE or not facts.is_open or facts.reopened or facts.pr_open:
        return
    if workflow is None or not workflow.publish.close_item:
        return
    out.actions.append(CloseItem(ctx.item.number, "completed"))
    out.repaired.append(
        f"closed the item: it is done and workflow `{workflow.name}` closes finished items "
        "(the close step had not happened)."
    )
    out.events.append(
        {
            "event": "drift.repaired",
            "item": ctx.item.number,
            "code": "close-missing",
            "found": [State.DONE.label, "open"],
            "repair": "close",
        }
    )


def _check_workflow_label(ctx: ItemContext, out: DriftOutcome, bot_login: str) -> None:
    """A state past triage needs exactly one `workflow::` label; restore the pipeline's own."""
    assert out.state is not None
    if out.state not in NEEDS_WORKFLOW:
        return
    item = ctx.item
    present = item.labels_with_prefix(WORKFLOW_PREFIX)
    if len(present) > 1:
        out.flagged.append(
            f"`{out.state.label}` needs one workflow, but the item has {_labels(list(present))}. "
            "Remove all but the right one."
        )
        out.events.append({"event": "drift.flagged", "item": item.number, "code": "several-workflows"})
        return
    if present:
        return
    applied = [
        e
        for e in ctx.label_events
        if e.event == "labeled" and e.label.startswith(WORKFLOW_PREFIX) and is_own(e.actor, bot_login)
    ]
    if not applied:
        out.flagged.append(
            f"`{out.state.label}` needs a `workflow::` label and the pipeline never set one. "
            "Add the right `workflow::` label, or move the item back to `state::triage`."
        )
        out.events.append({"event": "drift.flagged", "item": item.number, "code": "no-workflow"})
        return
    label = max(applied, key=lambda e: e.created_at).label
    out.actions.append(AddLabels(item.number, (label,)))
    out.repaired.append(
        f"restored `{label}`: `{out.state.label}` needs a workflow and `{label}` is the last one "
        "the pipeline set."
    )
    out.events.append(
        {
            "event": "drift.repaired",
            "item": item.number,
            "code": "no-workflow",
            "found": [out.state.label],
            "repair": f"add {label}",
        }
    )


def _finish(ctx: ItemContext, config: Config, bot_login: str, out: DriftOutcome) -> None:
    """One marked comment says what was repaired and what needs a person; flag if needed."""
    item = ctx.item
    # Defensive: whatever the rules above decided, never remove a label outside our families.
    out.actions = [a for a in out.actions if not (isinstance(a, RemoveLabel) and not is_own_family(a.label))]
    if out.flagged and config.labels.needs_human not in item.labels:
        out.actions.append(AddLabels(item.number, (config.labels.needs_human,)))
    body = drift_comment(out.repaired, out.flagged, needs_human=config.labels.needs_human)
    existing = own_comment(ctx.comments, DRIFT_KEY, bot_login=bot_login)
    if existing is None or existing.body.strip() != body.strip():
        out.actions.append(UpsertComment(item.number, DRIFT_KEY, body))


def drift_comment(repaired: list[str], flagged: list[str], *, needs_human: str) -> str:
    lines: list[str] = []
    if flagged:
        lines.append("**issueops needs a person to sort out this item's labels.**")
    else:
        lines.append("**issueops repaired this item's labels.**")
    if repaired:
        lines += ["", "Repaired:"] + [f"- {line}" for line in repaired]
    if flagged:
        lines += ["", "Needs a person:"] + [f"- {line}" for line in flagged]
        lines += ["", f"When it is fixed, remove `{needs_human}`."]
    lines += ["", "<sub>The sweep edits this comment in place when it repairs this item again.</sub>"]
    return with_marker(DRIFT_KEY, "\n".join(lines))
