"""Which of the pipeline's own labels carry authority, decided from who applied them (pure).

Labels as they stand prove nothing: anyone with triage permission can edit them. So for the
pipeline's families the item's label history decides:

- `state::approved`, `state::in-progress` and `state::done` (on an open item) count only when the
  pipeline itself applied them (it reaches them through the approval engine, or where no gate
  applies). A person's is put back to the last state the pipeline applied (`triage` when it
  never applied one). `state::in-progress` by a person is honoured when no gate before
  processing applies to the item's risk, `state::done` when the deliverable PR was merged.
- `risk::` may be raised by anyone; a label below the floor (the workflow's declared risk, and the
  risk the pipeline assessed at assignment) counts only when a configured approver with write
  access applied it. Anyone else's is removed. The result is the effective risk every stage uses.
- `workflow::` set by a person is honoured, but never lowers the floor, and a change after the
  item was assigned sends it back to `state::assigned`: the new workflow's gates apply.
- Approvals given while the item was closed never count (see `closed_comment_ids`).

The runner reads the label history only when `needs_history` says a decision depends on it, so a
run over unchanged items reads nothing more. Without the history (it could not be read) the
runner fails the item: nothing moves past a gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from issueops.approvals.activity import is_own
from issueops.approvals.status import CLOSED_KEY, parse_closed_note
from issueops.config.policy import gates_for
from issueops.config.settings import Config, Risk
from issueops.core.comments import bot_comment, bot_text, same_login
from issueops.core.model import (
    WRITE_PERMISSIONS,
    Action,
    Actor,
    AddLabels,
    Comment,
    ItemContext,
    LabelEvent,
    Permission,
    RemoveLabel,
    Transition,
    UpsertComment,
    WorkItem,
    marker,
)
from issueops.core.states import REVERT_CAUSE, State, current_state, parse_state
from issueops.stages.assign import ASSESSMENT_KEY  # its comment: the workflow and risk it chose
from issueops.stages.common import RISK_ORDER, RISK_PREFIX, WORKFLOW_PREFIX, risk_labels, workflow_labels

# States only the pipeline may put an item in (past a gate, or the end of the road).
GATED: frozenset[State] = frozenset({State.APPROVED, State.IN_PROGRESS, State.DONE})
# States in which a workflow change sends the item back through the gates.
PAST_ASSIGNMENT: frozenset[State] = frozenset({State.IN_PROGRESS, State.AWAITING_APPROVAL, State.APPROVED})
REPLY_PREFIX = "authority-"
_ASSESSED_WORKFLOW = re.compile(r"^- Workflow: `([^`]+)`", re.MULTILINE)
_ASSESSED_RISK = re.compile(r"^- Risk: `(low|medium|high)`", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    """One label change that does not count: who made it, what the bot does, and why."""

    login: str  # "" when the history does not say who applied it
    label: str
    code: str  # gated_state | risk_lowered | workflow_changed
    effect: str
    why: str


@dataclass(frozen=True)
class Audit:
    """The verdict on an item's pipeline labels: the state and risk that count, and the repairs."""

    state: State | None  # the state once the repairs are applied
    risk: Risk  # the effective risk: quorum and gates are computed from it
    floor: Risk | None
    revert: Transition | None = None
    remove: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    lowered_by: str | None = None  # a configured approver lowered the risk below the floor

    @property
    def forged(self) -> bool:
        return bool(self.findings)


def assessment(
    comments: tuple[Comment, ...] | list[Comment], bot_login: str
) -> tuple[str | None, Risk | None]:
    """The workflow and risk the assign stage recorded in its own comment (None when it never did)."""
    found = bot_text(comments, ASSESSMENT_KEY, bot_login)  # its section of the card, or a comment
    if found is None:
        return None, None
    workflow = _ASSESSED_WORKFLOW.search(found)
    risk = _ASSESSED_RISK.search(found)
    value: Risk | None = None
    if risk is not None:
        value = "low" if risk.group(1) == "low" else "medium" if risk.group(1) == "medium" else "high"
    return (workflow.group(1) if workflow else None), value


def _max_risk(values: list[Risk]) -> Risk:
    return max(values, key=RISK_ORDER.index)


def risk_floor(
    item: WorkItem, comments: tuple[Comment, ...], workflows: Mapping[str, Risk], bot_login: str
) -> Risk | None:
    """The lowest risk the item may have without an approver: the declared risk of its workflow
    label and of the workflow the pipeline assigned, and the risk it assessed then."""
    assessed_workflow, assessed_risk = assessment(comments, bot_login)
    names = [*workflow_labels(item), *([assessed_workflow] if assessed_workflow else [])]
    found: list[Risk] = [workflows[n] for n in names if n in workflows]
    if assessed_risk is not None:
        found.append(assessed_risk)
    return _max_risk(found) if found else None


def _workflow_changed(item: WorkItem, comments: tuple[Comment, ...], bot_login: str) -> bool:
    assessed_workflow, _ = assessment(comments, bot_login)
    current = workflow_labels(item)
    return assessed_workflow is not None and current != [assessed_workflow]


def needs_history(
    ctx: ItemContext, *, workflows: Mapping[str, Risk], bot_login: str, config: Config | None = None
) -> bool:
    """Whether a decision on this open item depends on who applied its labels (or when it was
    closed). False for an item as the pipeline left it, so unchanged items cost no read.
    With `config`, `state::in-progress` needs it only where a gate before processing applies."""
    item = ctx.item
    if item.state != "open":
        return False
    states = {s for s in (parse_state(x) for x in item.labels) if s is not None}
    floor = risk_floor(item, ctx.comments, workflows, bot_login)
    gated = states & GATED
    if gated == {State.IN_PROGRESS} and config is not None:
        risk = (
            _max_risk([*risk_labels(item), *([floor] if floor else [])])
            if risk_labels(item) or floor
            else "high"
        )
        if not gates_for(config.policy.profile, risk).before_processing:
            gated = set()  # honoured whoever applied it (the strictest risk has no such gate)
    if gated:
        return True
    if floor is not None and any(RISK_ORDER.index(r) < RISK_ORDER.index(floor) for r in risk_labels(item)):
        return True
    if states & PAST_ASSIGNMENT and _workflow_changed(item, ctx.comments, bot_login):
        return True
    if not risk_labels(item) and assessment(ctx.comments, bot_login)[1] is not None:
        return True  # the risk label the pipeline set was removed
    return item.state_reason == "reopened"


def _ordered(events: tuple[LabelEvent, ...]) -> list[LabelEvent]:
    return [e for _, e in sorted(enumerate(events), key=lambda p: (p[1].created_at.timestamp(), p[0]))]


def _latest(events: list[LabelEvent], label: str) -> LabelEvent | None:
    found = [e for e in events if e.event == "labeled" and e.label == label]
    return found[-1] if found else None


def recorded_state(events: tuple[LabelEvent, ...], bot_login: str) -> State | None:
    """The last state the pipeline itself applied: what the record supports."""
    found = None
    for event in _ordered(events):
        state = parse_state(event.label) if event.event == "labeled" else None
        if state is not None and is_own(event.actor, bot_login):
            found = state
    return found


def lowering_appliers(ctx: ItemContext, *, workflows: Mapping[str, Risk], bot_login: str) -> set[str]:
    """Who applied a risk label below the floor: their permission decides whether it counts."""
    floor = risk_floor(ctx.item, ctx.comments, workflows, bot_login)
    if floor is None:
        return set()
    events = _ordered(ctx.label_events)
    logins: set[str] = set()
    for risk in risk_labels(ctx.item):
        event = _latest(events, RISK_PREFIX + risk)
        below = RISK_ORDER.index(risk) < RISK_ORDER.index(floor)
        if below and event is not None and not event.actor.is_bot and not is_own(event.actor, bot_login):
            logins.add(event.actor.login)
    return logins


def closed_comment_ids(ctx: ItemContext, bot_login: str) -> frozenset[int]:
    """Comments posted while the item was closed (from its closed/reopened history, and those the
    bot's closed note answered): approvals in them never count, before or after a reopening."""
    ids: set[int] = set()
    note = bot_comment(ctx.comments, CLOSED_KEY, bot_login)
    if note is not None:
        ids |= parse_closed_note(note.body)
    spans: list[tuple[datetime, datetime | None]] = []
    for event in _ordered(ctx.label_events):
        if event.event == "closed":
            spans.append((event.created_at, None))
        elif event.event == "reopened" and spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], event.created_at)
    for comment in ctx.comments:
        at = comment.created_at
        if any(start <= at and (end is None or at < end) for start, end in spans):
            ids.add(comment.id)
    return frozenset(ids)


def closed_when(ctx: ItemContext, at: datetime) -> bool:
    """Was the item closed at `at`, by its closed/reopened history?"""
    closed = False
    for event in _ordered(ctx.label_events):
        if event.created_at > at:
            break
        if event.event == "closed":
            closed = True
        elif event.event == "reopened":
            closed = False
    return closed


def _may_lower(
    actor: Actor,
    item: WorkItem,
    config: Config,
    permissions: Mapping[str, Permission],
    approvers: frozenset[str],
) -> bool:
    """A configured approver (listed user or team member) with write access; not the item's
    author unless self-approval is allowed."""
    if actor.is_bot:
        return False
    login = actor.login.lower()
    if login == item.author.login.lower() and not config.policy.allow_self_approval:
        return False
    listed = login in {x.lower() for x in approvers} | {u.lower() for u in config.approvers.users}
    permission = {k.lower(): v for k, v in permissions.items()}.get(login, "none")
    return listed and permission in WRITE_PERMISSIONS


def _who(event: LabelEvent | None) -> str:
    return event.actor.login if event is not None else ""


def audit_labels(
    ctx: ItemContext,
    *,
    workflows: Mapping[str, Risk],
    config: Config,
    bot_login: str,
    permissions: Mapping[str, Permission],
    approver_logins: frozenset[str],
    history: bool,
) -> Audit:
    """The verdict on one item's pipeline labels. `history`: its label events were read (the
    caller reads them whenever `needs_history` says so); without them only the floor applies."""
    item = ctx.item
    state = current_state(item.labels)
    floor = risk_floor(item, ctx.comments, workflows, bot_login)
    present = risk_labels(item)
    if not history or item.state != "open":
        risk = _max_risk([*present, *([floor] if floor else [])]) if present or floor else "high"
        return Audit(state=state, risk=risk, floor=floor)

    events = _ordered(ctx.label_events)
    findings: list[Finding] = []
    remove: list[str] = []
    add: list[str] = []
    lowered_by: str | None = None

    # risk:: below the floor
    kept: list[Risk] = []
    for value in present:
        label = RISK_PREFIX + value
        if floor is None or RISK_ORDER.index(value) >= RISK_ORDER.index(floor):
            kept.append(value)
            continue
        event = _latest(events, label)
        if event is not None and is_own(event.actor, bot_login):
            kept.append(value)
        elif event is not None and _may_lower(event.actor, item, config, permissions, approver_logins):
            kept.append(value)
            lowered_by = event.actor.login
        else:
            remove.append(label)
            findings.append(
                Finding(
                    _who(event),
                    label,
                    "risk_lowered",
                    f"removed; the risk stays `{floor}`",
                    f"lowering the risk below the workflow's `{floor}` needs a configured approver",
                )
            )
    if lowered_by is not None:
        risk = _max_risk(kept)
    else:
        risk = _max_risk([*kept, *([floor] if floor else [])]) if kept or floor else "high"
        if floor is not None and not kept and (remove or assessment(ctx.comments, bot_login)[1]):
            add.append(RISK_PREFIX + floor)
            gone = [e for e in events if e.event == "unlabeled" and e.label.startswith(RISK_PREFIX)]
            if not present and gone and not is_own(gone[-1].actor, bot_login):
                findings.append(
                    Finding(
                        gone[-1].actor.login,
                        gone[-1].label,
                        "risk_lowered",
                        f"`{RISK_PREFIX}{floor}` put back",
                        "removing the risk label never lowers the risk below the workflow's",
                    )
                )

    # state:: labels only the pipeline may apply
    record = recorded_state(ctx.label_events, bot_login) or State.TRIAGE
    merged = ctx.pull_request is not None and ctx.pull_request.merged
    before_processing = gates_for(config.policy.profile, risk).before_processing
    states = [s for s in (parse_state(x) for x in item.labels) if s is not None]

    def honoured(s: State) -> bool:
        if s not in GATED or s is record:
            return True
        if s is State.DONE:
            return merged
        return s is State.IN_PROGRESS and not before_processing

    forged = [s for s in states if not honoured(s)]
    kept_states = [s for s in states if honoured(s)]
    revert: Transition | None = None
    final = state
    for s in forged:
        event = _latest(events, s.label)
        findings.append(
            Finding(
                _who(event),
                s.label,
                "gated_state",
                f"moved back to `{record.label}`",
                f"`{s.label}` is reached only through the pipeline "
                + (
                    "(a quorum of approvals on the current content, counted by issueops)"
                    if s is State.APPROVED
                    else "after the approval gates"
                ),
            )
        )
    if forged:
        if len(kept_states) == 1 and kept_states[0] is record:
            remove += [s.label for s in forged]  # the record's state is still there: drop the other
            final = record
        elif len(states) == 1:
            revert = Transition(item.number, states[0].value, record.value, REVERT_CAUSE)
            final = record
        else:
            remove += [s.label for s in forged]
            final = kept_states[0] if len(kept_states) == 1 else None

    # workflow:: changed after assignment: back through the new workflow's gates
    if revert is None and final in PAST_ASSIGNMENT:
        wf = workflow_labels(item)
        event = _latest(events, WORKFLOW_PREFIX + wf[0]) if len(wf) == 1 else None
        entered = [
            e
            for e in events
            if e.event == "labeled" and e.label == State.ASSIGNED.label and is_own(e.actor, bot_login)
        ]
        assessed_workflow, _ = assessment(ctx.comments, bot_login)
        changed = (
            event is not None
            and not is_own(event.actor, bot_login)
            and assessed_workflow is not None
            and wf[0] != assessed_workflow
        )
        if changed and event is not None and (not entered or event.created_at > entered[-1].created_at):
            assert final is not None
            findings.append(
                Finding(
                    event.actor.login,
                    event.label,
                    "workflow_changed",
                    f"kept; the item went back to `{State.ASSIGNED.label}` to pass the new workflow's gates",
                    "a workflow change after assignment never skips a gate or lowers the risk",
                )
            )
            if len(states) == 1:
                revert = Transition(item.number, final.value, State.ASSIGNED.value, REVERT_CAUSE)
                final = State.ASSIGNED
    return Audit(
        state=final,
        risk=risk,
        floor=floor,
        revert=revert,
        remove=tuple(dict.fromkeys(remove)),
        add=tuple(add),
        findings=tuple(findings),
        lowered_by=lowered_by,
    )


def reply_key(login: str) -> str:
    return f"{REPLY_PREFIX}{(login or 'unknown').lower()}"


def render_reply(login: str, findings: list[Finding]) -> str:
    """One reply per person per item, edited in place: what they did and why it does not count."""
    who = f"@{login}" if login else "An unknown account"
    lines = [
        marker(reply_key(login)),
        f"{who}, these label changes do not count, so issueops put them back:",
        "",
    ]
    for f in findings:
        lines.append(f"- `{f.label}`: {f.why}; {f.effect}.")
    lines += [
        "",
        "Gates open only through approvals: comment `/approve` (see `/help`). "
        "This reply is updated, not repeated.",
    ]
    return "\n".join(lines)


def audit_actions(ctx: ItemContext, audit: Audit, bot_login: str) -> list[Action]:
    """The repairs and one reply per person, each only when it changes something."""
    item = ctx.item
    actions: list[Action] = []
    if audit.add:
        missing = tuple(x for x in audit.add if x not in item.labels)
        if missing:
            actions.append(AddLabels(item.number, missing))
    actions += [RemoveLabel(item.number, label) for label in audit.remove if label in item.labels]
    if audit.revert is not None:
        actions.append(audit.revert)
    by_login: dict[str, list[Finding]] = {}
    for finding in audit.findings:
        by_login.setdefault(finding.login, []).append(finding)
    for login, findings in sorted(by_login.items()):
        if same_login(login, bot_login):
            continue  # the pipeline's own label from an overlapping run: repaired, never answered
        body = render_reply(login, findings)
        existing = bot_comment(ctx.comments, reply_key(login), bot_login)
        if existing is None or existing.body.strip() != body.strip():
            actions.append(UpsertComment(item.number, reply_key(login), body))
    return actions


def audit_events(audit: Audit) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for f in audit.findings:
        to = audit.state.value if f.code != "risk_lowered" and audit.state is not None else None
        events.append(
            {"event": "label.reverted", "login": f.login, "label": f.label, "reason": f.code, "to": to}
        )
    return events
