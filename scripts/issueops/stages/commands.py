"""The `commands` stage planner: comment commands and approvals of one item -> a Plan.

Pure: the runner reads the item (comments, label events, PR head), looks up the permissions of
`logins_to_check(...)` and which command comments already carry the bot's reaction, then calls
`plan_commands` and applies the plan. Approvals and vetoes are recomputed from the whole history;
side effects (hold, unhold, retry, assign, unassign, reject, help) are applied once, for command
comments the bot has not processed yet (recorded in its status comment and by its reactions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from issueops.approvals.engine import (
    LABEL_SOURCE,
    REPLY_REASONS,
    STATUS_KEY,
    VOTE_COMMANDS,
    ApprovalDecision,
    Authority,
    ReasonCode,
    comment_source,
    decide,
    find_status_record,
    latest_label_event,
    ordered_comments,
)
from issueops.approvals.grammar import BRAKE_COMMANDS, ParsedCommand, help_text, parse_commands
from issueops.approvals.status import (
    CLOSED_KEY,
    StatusView,
    denied_key,
    parse_closed_note,
    render_closed_note,
    render_denied_reply,
    render_status,
)
from issueops.approvals.throttle import RefusalLog
from issueops.config.policy import gates_for
from issueops.config.settings import Config, Risk
from issueops.core.comments import CARD_KEY, GATE_SECTION, bot_text, same_login
from issueops.core.model import (
    Action,
    AddLabels,
    Assign,
    Comment,
    ItemContext,
    LabelEvent,
    Permission,
    Plan,
    React,
    RemoveLabel,
    Transition,
    Unassign,
    UpsertComment,
    WorkItem,
    marker,
)
from issueops.core.states import (
    REVERT_CAUSE,
    TERMINAL,
    IllegalTransition,
    State,
    check_transition,
    current_state,
    parse_state,
)
from issueops.stages.label_authority import (
    GATED,
    Audit,
    audit_actions,
    audit_events,
    closed_comment_ids,
    closed_when,
)

RECEIPT = "eyes"
GRANTED, DENIED, CONFUSED = "+1", "-1", "confused"
OUTCOMES: frozenset[str] = frozenset({GRANTED, DENIED, CONFUSED})
HELP_KEY = "help"
RETRY_TARGETS: frozenset[State] = frozenset({State.ASSIGNED, State.IN_PROGRESS, State.APPROVED})


# --- helpers on history -------------------------------------------------------------------------


def _bot_comment(ctx: ItemContext, key: str, bot_login: str) -> Comment | None:
    """The bot's comment carrying `marker(key)`, found the way the applier finds it."""
    tag = marker(key)
    for comment in ctx.comments:
        if comment.author.login.lower() == bot_login.lower() and tag in comment.body:
            return comment
    return None


def _in_card(ctx: ItemContext, bot_login: str) -> bool:
    """The item has the bot's card (issue #16), not the separate comments of before it."""
    return _bot_comment(ctx, CARD_KEY, bot_login) is not None


def _differs(ctx: ItemContext, key: str, bot_login: str, body: str) -> bool:
    existing = bot_text(ctx.comments, key, bot_login)  # a section of the card, or a comment
    return existing is None or existing.strip() != body.strip()


def failed_from(events: tuple[LabelEvent, ...] | list[LabelEvent]) -> State | None:
    """The state an item was in when `state::failed` was last added, from its label events.

    The applier adds the new state label first and then removes the old one, so the state label
    removed right after the latest `labeled state::failed` is the answer. Failing that (another
    writer removed first), the state labels present just before are replayed.
    """
    ordered = [e for _, e in sorted(enumerate(events), key=lambda p: (p[1].created_at.timestamp(), p[0]))]
    index = None
    for i, event in enumerate(ordered):
        if event.event == "labeled" and parse_state(event.label) is State.FAILED:
            index = i
    if index is None:
        return None
    for event in ordered[index + 1 :]:
        state = parse_state(event.label)
        if state is None or state is State.FAILED:
            continue
        if event.event == "unlabeled":
            return state
        break
    present: list[State] = []
    for event in ordered[:index]:
        state = parse_state(event.label)
        if state is None or state is State.FAILED:
            continue
        if event.event == "labeled" and state not in present:
            present.append(state)
        elif event.event == "unlabeled" and state in present:
            present.remove(state)
    if len(present) == 1:
        return present[0]
    for event in reversed(ordered[:index]):
        state = parse_state(event.label)
        if event.event == "unlabeled" and state is not None and state is not State.FAILED:
            return state
    return None


def retry_target(events: tuple[LabelEvent, ...] | list[LabelEvent], bot_login: str | None = None) -> State:
    """Where `/retry` sends a failed item: where it failed, or `assigned` (start over) if unknown.

    With `bot_login`, a state past a gate counts only if the pipeline applied it last: a person's
    `state::approved` swapped for `state::failed` must not come back as approved."""
    source = failed_from(events)
    if source in GATED and bot_login is not None:
        applied = [e for e in events if e.event == "labeled" and e.label == source.label]
        latest = max(applied, key=lambda e: e.created_at) if applied else None
        if latest is None or not same_login(latest.actor.login, bot_login):
            return State.ASSIGNED
    return source if source in RETRY_TARGETS else State.ASSIGNED


def _allowed(source: State | None, target: State, cause: str) -> bool:
    try:
        check_transition(source, target, cause)
    except IllegalTransition:
        return False
    return source is not None


def _command_comments(
    ctx: ItemContext, authority: Authority
) -> list[tuple[Comment, tuple[ParsedCommand, ...]]]:
    found = []
    for comment in ordered_comments(ctx.comments):
        if authority.is_pipeline(comment.author):
            continue
        commands = parse_commands(comment.body)
        if commands:
            found.append((comment, commands))
    return found


def _processed_ids(ctx: ItemContext, bot_login: str) -> frozenset[int]:
    record = find_status_record(ctx, bot_login)
    closed = _bot_comment(ctx, CLOSED_KEY, bot_login)
    done = record.processed if record is not None else frozenset()
    return done | (parse_closed_note(closed.body) if closed is not None else frozenset())


def _is_new(comment: Comment, processed: frozenset[int], reacted: Mapping[int, frozenset[str]]) -> bool:
    return comment.id not in processed and not (reacted.get(comment.id, frozenset()) & OUTCOMES)


def needs_label_events(item: WorkItem, config: Config) -> bool:
    """Whether the planner needs the item's label events: to tell who applied the approval label,
    and where a failed item failed (for `/retry`). Without them a present approval label is
    treated as applied by an unknown account and removed."""
    return config.labels.approved in item.labels or State.FAILED.label in item.labels


def logins_to_check(
    ctx: ItemContext,
    bot_login: str,
    *,
    config: Config | None = None,
    reacted: Mapping[int, frozenset[str]] | None = None,
) -> set[str]:
    """Whose repository permission (and approver membership) the runner must look up.

    Only people whose answer can change the plan: authors of approve/reject votes (recomputed
    every run), of privileged commands not yet processed, and the applier of the approval label.
    Bots, the pipeline, edited comments and (with `config`) an author's own approvals are
    decided without a lookup.
    """
    # Without the config, assume self-approval may be allowed: one lookup too many beats a
    # refusal for want of a lookup.
    cfg = config or Config.model_validate({"policy": {"allow_self_approval": True}})
    authority = Authority.build(
        config=cfg,
        bot_login=bot_login,
        item_author=ctx.item.author.login,
        permissions={},
        approver_logins=frozenset(),
        comments=ctx.comments,
    )
    processed = _processed_ids(ctx, bot_login)
    seen = reacted or {}
    logins: dict[str, str] = {}
    for comment, commands in _command_comments(ctx, authority):
        new = _is_new(comment, processed, seen)
        for command in commands:
            if not command.valid or command.name in BRAKE_COMMANDS:
                continue
            if command.name not in VOTE_COMMANDS and not new:
                continue
            if authority.precheck(comment.author, comment.edited, command.name, command.logins) is not None:
                continue
            if authority.needs_lookup(comment.author, command.name, command.logins):
                logins.setdefault(comment.author.login.lower(), comment.author.login)
    label = cfg.labels.approved
    if label in ctx.item.labels:
        event = latest_label_event(ctx.label_events, label)
        human = event is not None and not authority.is_pipeline(event.actor)
        if event is not None and human and authority.precheck(event.actor, False, "approve") is None:
            logins.setdefault(event.actor.login.lower(), event.actor.login)
    return set(logins.values())


# --- strangers: refused outright, answered through the throttle -----------------------------------


def refused_outright(comment: Comment, commands: tuple[ParsedCommand, ...], authority: Authority) -> bool:
    """A stranger's comment none of whose commands can do anything: every known command needs a
    permission the association rules out (a stranger's `/cancel` has nothing to withdraw), the
    rest are unknown. Decided from the comment alone, so the event path reads nothing for it."""
    if comment.author.is_bot or authority.is_pipeline(comment.author):
        return False
    if not authority.is_stranger(comment.author.login):
        return False
    for command in commands:
        if not command.valid or command.name == "cancel":
            continue
        if not authority.needs_permission(comment.author, command.name, command.logins):
            return False  # /help, /unassign of oneself, the author's /hold: the normal path
    return True


def plan_refusal(
    item: int, comment: Comment, commands: tuple[ParsedCommand, ...], log: RefusalLog
) -> tuple[list[Action], list[dict[str, object]]]:
    """The answer to one comment refused outright: decided once by the log, then never again."""
    judged = log.judge(comment.author.login, item, comment.id, comment.created_at)
    if not judged.fresh:
        return [], []
    login = comment.author.login
    refused = [c.name for c in commands if c.valid and c.name != "cancel"]
    events: list[dict[str, object]] = []
    if refused and judged.verdict != "silent":
        denied = {"login": login, "reason": "not_collaborator", "command": refused[0], "comment": comment.id}
        events.append({"event": "approval.denied", **denied})
    if judged.verdict != "reply":
        mode = {"mode": judged.verdict, "refusals": judged.refusals}
        events.append({"event": "command.throttled", "login": login, "comment": comment.id, **mode})
    if judged.verdict == "silent":
        return [], events
    actions: list[Action] = [React(item, DENIED if refused else CONFUSED, comment.id)]
    if judged.verdict == "reply" and refused:
        reply = render_denied_reply(login, ["not_collaborator"])
        actions.append(UpsertComment(item, denied_key(login), reply))
    return actions, events


Commented = list[tuple[Comment, tuple[ParsedCommand, ...]]]


def _split_outright(
    ctx: ItemContext,
    new: list[tuple[Comment, tuple[ParsedCommand, ...]]],
    comments: list[tuple[Comment, tuple[ParsedCommand, ...]]],
    authority: Authority,
    log: RefusalLog,
) -> tuple[
    ItemContext, list[tuple[Comment, tuple[ParsedCommand, ...]]], list[Action], list[dict[str, object]]
]:
    """Take strangers' outright refusals out of the item's history (they are no votes and no
    commands) and answer the new ones through the log."""
    outright = {c.id for c, cmds in comments if refused_outright(c, cmds, authority)}
    if not outright:
        return ctx, new, [], []
    actions: list[Action] = []
    events: list[dict[str, object]] = []
    for comment, commands in new:
        if comment.id in outright:
            more, said = plan_refusal(ctx.item.number, comment, commands, log)
            actions += [a for a in more if not _answered(ctx, a)]
            events += said
    rest = replace(ctx, comments=tuple(c for c in ctx.comments if c.id not in outright))
    return rest, [(c, cmds) for c, cmds in new if c.id not in outright], actions, events


def _answered(ctx: ItemContext, action: Action) -> bool:
    """A denial reply already there word for word (the applier would find nothing to edit)."""
    if not isinstance(action, UpsertComment):
        return False
    existing = next((c for c in ctx.comments if c.has_marker(action.key)), None)
    return existing is not None and existing.body.strip() == action.body.strip()


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class _Work:
    """What the planner accumulates while walking the new command comments."""

    labels: list[str]
    assignees: list[str]
    outcomes: dict[int, list[str]] = field(default_factory=dict)
    denials: list[tuple[str, str, int, ReasonCode, str]] = field(default_factory=list)
    applied: list[tuple[str, str, int]] = field(default_factory=list)  # (command, login, comment id)
    help: bool = False
    retry: list[tuple[Comment, ParsedCommand]] = field(default_factory=list)


def _apply_side_effects(
    work: _Work, comment: Comment, commands: tuple[ParsedCommand, ...], authority: Authority, hold_label: str
) -> None:
    outcomes = work.outcomes.setdefault(comment.id, [])
    for command in commands:
        if not command.valid:
            outcomes.append(CONFUSED)
            continue
        if command.name in VOTE_COMMANDS or command.name in BRAKE_COMMANDS:
            continue  # judged by the approval engine, or by the brake
        reason = authority.check(comment.author, comment.edited, command.name, command.logins)
        if reason is not None:
            source = f"{comment_source(comment.id)}:{command.name}"
            work.denials.append((comment.author.login, source, comment.id, reason, command.name))
            outcomes.append(DENIED)
            continue
        if command.name == "hold" and hold_label not in work.labels:
            work.labels.append(hold_label)
        elif command.name == "unhold" and hold_label in work.labels:
            work.labels.remove(hold_label)
        elif command.name == "assign":
            lowered = [x.lower() for x in work.assignees]
            work.assignees += [x for x in command.logins if x.lower() not in lowered]
        elif command.name == "unassign":
            gone = {x.lower() for x in command.logins}
            work.assignees = [x for x in work.assignees if x.lower() not in gone]
        elif command.name == "help":
            work.help = True
        elif command.name == "retry":
            work.retry.append((comment, command))
            continue  # outcome known once the state is
        outcomes.append(GRANTED)
        work.applied.append((command.name, comment.author.login, comment.id))


def _hold_info(ctx: ItemContext, authority: Authority, hold_label: str) -> tuple[str | None, str]:
    """Who put the hold and why: the latest human `/hold`, else the latest human label event."""
    for comment in reversed(ordered_comments(ctx.comments)):
        if authority.is_pipeline(comment.author) or comment.author.is_bot:
            continue
        holds = [c for c in parse_commands(comment.body) if c.name == "hold" and c.valid]
        if holds and _refused_hold(comment, authority):
            continue
        if holds:
            return comment.author.login, holds[-1].argument
    event = latest_label_event(ctx.label_events, hold_label)
    if event is not None and not authority.is_pipeline(event.actor):
        return event.actor.login, ""
    return None, ""


def _refused_hold(comment: Comment, authority: Authority) -> bool:
    """A `/hold` that did not count: from a stranger, or from someone whose permission this run
    looked up and found short (older holds are not looked up again and are taken as given)."""
    if not authority.needs_permission(comment.author, "hold"):
        return False
    if authority.is_stranger(comment.author.login):
        return True
    known = comment.author.login.lower() in authority.permissions
    return known and authority.check(comment.author, comment.edited, "hold") is not None


def _transitions(
    ctx: ItemContext,
    decision: ApprovalDecision,
    work: _Work,
    new_ids: set[int],
    state: State | None,
    gate_required: bool,
    bot_login: str,
) -> tuple[list[Transition], State | None]:
    number = ctx.item.number
    moves: list[Transition] = []

    def move(target: State, cause: str) -> bool:
        nonlocal state
        if state is None or state is target or not _allowed(state, target, cause):
            return False
        moves.append(Transition(number, state.value, target.value, cause))
        state = target
        return True

    rejects = [
        v
        for v in decision.votes
        if v.kind == "reject"
        and v.comment_id in new_ids
        and v.denial is None
        and decision.effective.get(v.login.lower()) == v
    ]
    if rejects and state not in TERMINAL:
        move(State.REJECTED, "command:reject")
    for comment, _command in work.retry:
        moved = state is State.FAILED and move(retry_target(ctx.label_events, bot_login), "command:retry")
        work.outcomes.setdefault(comment.id, []).append(GRANTED if moved else CONFUSED)
        if moved:
            work.applied.append(("retry", comment.author.login, comment.id))
    if not decision.held:
        if state is State.AWAITING_APPROVAL and decision.approved:
            move(State.APPROVED, "command:approve")
        elif state is State.APPROVED and gate_required and not decision.approved:
            move(State.AWAITING_APPROVAL, "commands")
    return moves, state


def _events(
    decision: ApprovalDecision, work: _Work, old_denied: frozenset[tuple[str, str, str]], risk: str, gate: str
) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for grant in decision.grants:
        if grant.new:
            events.append(
                {
                    "event": "approval.granted",
                    "login": grant.login,
                    "risk": risk,
                    "gate": gate,
                    "via": "label" if grant.via_label else "comment",
                    "comment": grant.comment_id,
                    "fingerprint": decision.fingerprint,
                }
            )
    lapsed_sources = {(lapse.login.lower(), lapse.source) for lapse in decision.lapsed if lapse.new}
    for lapse in decision.lapsed:
        if lapse.new:
            events.append(
                {
                    "event": "approval.lapsed",
                    "login": lapse.login,
                    "reason": lapse.reason,
                    "comment": lapse.comment_id,
                }
            )
    seen: set[tuple[str, str, str]] = set()
    denials = [
        (d.login, d.source, d.comment_id, d.reason, d.command) for d in decision.denials
    ] + work.denials
    for login, source, comment_id, reason, command in denials:
        key = (login, source, reason)
        if key in old_denied or key in seen or (login.lower(), source) in lapsed_sources:
            continue
        seen.add(key)
        events.append(
            {
                "event": "approval.denied",
                "login": login,
                "reason": reason,
                "command": command,
                "comment": comment_id,
            }
        )
    for command, login, comment_id in work.applied:
        events.append({"event": "command.applied", "command": command, "login": login, "comment": comment_id})
    return events


def plan_commands(
    ctx: ItemContext,
    *,
    config: Config,
    risk: Risk,
    bot_login: str,
    permissions: Mapping[str, Permission],
    approver_logins: frozenset[str],
    now: datetime,
    head_sha: str | None,
    reacted: Mapping[int, frozenset[str]] | None = None,
    refusals: RefusalLog | None = None,
    audit: Audit | None = None,
) -> Plan:
    """Everything the commands stage wants done on one item, for the applier.

    `reacted` maps comment id -> reactions the bot already left on it (so replays add none).
    `refusals`: the throttle's log; with it, strangers' outright refusals are answered through it
    (and recorded in it) instead of through the status comment.
    `audit`: the verdict on the item's pipeline labels (stages.label_authority); its repairs come
    first and the approvals are judged from the state it leaves.
    `now` is accepted for the runner's uniform call; nothing here depends on the clock.
    """
    del now  # the plan is a function of history only, so replays compare equal
    item = ctx.item
    plan = Plan(item=item.number)
    authority = Authority.build(
        config=config,
        bot_login=bot_login,
        item_author=item.author.login,
        permissions=permissions,
        approver_logins=approver_logins,
        comments=ctx.comments,
    )
    seen = reacted or {}
    processed = _processed_ids(ctx, bot_login)
    comments = _command_comments(ctx, authority)
    new = [(c, cmds) for c, cmds in comments if _is_new(c, processed, seen)]

    if item.state == "closed":
        return _plan_closed(ctx, plan, new, bot_login)
    refusal_actions: list[Action] = []
    refusal_events: list[dict[str, object]] = []
    if refusals is not None:
        ctx, new, refusal_actions, refusal_events = _split_outright(ctx, new, comments, authority, refusals)

    hold_label = config.labels.hold
    work = _Work(labels=list(item.labels), assignees=list(item.assignees))
    for comment, commands in new:
        _apply_side_effects(work, comment, commands, authority, hold_label)
    held = hold_label in work.labels

    record = find_status_record(ctx, bot_login)
    label_event = latest_label_event(ctx.label_events, config.labels.approved)
    decision = decide(
        ctx,
        authority=authority,
        risk=risk,
        head_sha=head_sha,
        record=record,
        held=held,
        excluded=closed_comment_ids(ctx, bot_login),
        label_closed=label_event is not None and closed_when(ctx, label_event.created_at),
    )
    new_ids = {c.id for c, _ in new}
    for vote in decision.votes:
        if vote.comment_id in new_ids:
            work.outcomes.setdefault(vote.comment_id, []).append(DENIED if vote.denial else GRANTED)
            if vote.denial is None:
                work.applied.append((vote.kind, vote.login, vote.comment_id))

    has_pr = ctx.pull_request is not None or bool(head_sha)
    gate = "before_publishing" if has_pr else "before_processing"
    gate_required = getattr(gates_for(config.policy.profile, risk), gate)
    state = current_state(item.labels) if audit is None else audit.state
    moves, final_state = _transitions(ctx, decision, work, new_ids, state, gate_required, bot_login)

    actions: list[Action] = audit_actions(ctx, audit, bot_login) if audit is not None else []
    for comment, _ in new:
        if not comment.author.is_bot and RECEIPT not in seen.get(comment.id, frozenset()):
            actions.append(React(item.number, RECEIPT, comment.id))
    repaired = set(audit.remove) if audit is not None else set()
    added = [x for x in work.labels if x not in item.labels]
    removed = [x for x in item.labels if x not in work.labels and x not in repaired]
    if added:
        actions.append(AddLabels(item.number, tuple(added)))
    actions += [RemoveLabel(item.number, x) for x in removed]
    if decision.label is not None and not decision.label.keep:
        actions.append(RemoveLabel(item.number, config.labels.approved))
        who = f"@{decision.label.applier}" if decision.label.applier else "an unknown account"
        plan.reasons.append(f"removed {config.labels.approved} applied by {who}: {decision.label.reason}")
    before = {x.lower() for x in item.assignees}
    after = {x.lower() for x in work.assignees}
    to_assign = tuple(x for x in work.assignees if x.lower() not in before)
    to_unassign = tuple(x for x in item.assignees if x.lower() not in after)
    if to_assign:
        actions.append(Assign(item.number, to_assign))
    if to_unassign:
        actions.append(Unassign(item.number, to_unassign))
    actions += moves
    for comment, _ in new:
        outcomes = work.outcomes.get(comment.id, [])
        if comment.author.is_bot or not outcomes or seen.get(comment.id, frozenset()) & OUTCOMES:
            continue
        outcome = DENIED if DENIED in outcomes else CONFUSED if CONFUSED in outcomes else GRANTED
        actions.append(React(item.number, outcome, comment.id))
    if work.help and _differs(ctx, HELP_KEY, bot_login, marker(HELP_KEY) + "\n" + help_text()):
        actions.append(UpsertComment(item.number, HELP_KEY, marker(HELP_KEY) + "\n" + help_text()))
    old_denied = record.denied if record is not None else frozenset()
    actions += _denied_replies(ctx, decision, work, old_denied, bot_login, config.labels.approved)

    new_record = replace(
        decision.record,
        denied=decision.record.denied | {(login, src, reason) for login, src, _, reason, _ in work.denials},
        processed=decision.record.processed | new_ids,
    )
    risk_note = ""
    if audit is not None and audit.lowered_by is not None:
        risk_note = (
            f"Risk lowered to `{risk}`, below the workflow's `{audit.floor}`, by "
            f"@{audit.lowered_by} (a configured approver)"
        )
    # Waiting at a gate alone needs no status while the card's gate note says what the gate needs
    # (issue #16: one edit and one read an item fewer); the first vote, hold or command adds it.
    gate_noted = bot_text(ctx.comments, GATE_SECTION, bot_login) is not None and _in_card(ctx, bot_login)
    status_needed = (
        bool(risk_note)
        or _bot_comment(ctx, STATUS_KEY, bot_login) is not None
        or (final_state is State.AWAITING_APPROVAL and not gate_noted)
        or bool(decision.votes or decision.lapsed or decision.denials or work.denials)
        or held
        or any(not c.author.is_bot for c, _ in new)  # the record marks them handled for replays
    )
    if status_needed:
        hold_by, hold_reason = _hold_info(ctx, authority, hold_label) if held else (None, "")
        view = StatusView(
            state=final_state.value if final_state else None,
            risk=risk,
            profile=config.policy.profile,
            gate=gate,
            gate_required=gate_required,
            head_sha=head_sha,
            hold_by=hold_by,
            hold_reason=hold_reason,
            risk_note=risk_note,
        )
        body = render_status(decision, new_record, view)
        if _differs(ctx, STATUS_KEY, bot_login, body):
            actions.append(UpsertComment(item.number, STATUS_KEY, body))
    lowering: dict[str, object] = {
        "event": "risk.lowered",
        "login": audit.lowered_by if audit else None,
        "risk": risk,
    }
    existing_text = bot_text(ctx.comments, STATUS_KEY, bot_login)
    if risk_note and audit is not None and (existing_text is None or risk_note not in existing_text):
        lowering["floor"] = audit.floor
        actions_events: list[dict[str, object]] = [lowering]
    else:
        actions_events = []
    plan.actions = actions + refusal_actions  # the label repairs first
    plan.events = refusal_events + _events(decision, work, old_denied, risk, gate) + actions_events
    if audit is not None:
        plan.events = audit_events(audit) + plan.events
        if audit.revert is not None:
            plan.reasons.append(f"{audit.revert.from_state} -> {audit.revert.to_state} ({REVERT_CAUSE})")
        plan.reasons += [f"{f.label} applied by @{f.login or 'unknown'}: {f.effect}" for f in audit.findings]
    plan.reasons += [f"{m.from_state} -> {m.to_state} ({m.cause})" for m in moves]
    return plan


def _denied_replies(
    ctx: ItemContext,
    decision: ApprovalDecision,
    work: _Work,
    old_denied: frozenset[tuple[str, str, str]],
    bot_login: str,
    approved_label: str,
) -> list[Action]:
    """One reply per person with a new reply-worthy denial; edited in place, never repeated."""
    current = [(d.login, d.source, d.reason) for d in decision.denials]
    current += [(login, src, reason) for login, src, _, reason, _ in work.denials]
    everything = set(old_denied) | set(current)
    fresh = {
        login.lower()
        for login, src, reason in current
        if reason in REPLY_REASONS and (login, src, reason) not in old_denied
    }
    actions: list[Action] = []
    for lower in sorted(fresh):
        login = next(x for x, _, _ in current if x.lower() == lower)
        theirs = [(src, reason) for x, src, reason in everything if x.lower() == lower]
        by_label = any(src.startswith(LABEL_SOURCE) for src, _ in theirs)
        body = render_denied_reply(
            login,
            [reason for _, reason in theirs],
            by_comment=any(not src.startswith(LABEL_SOURCE) for src, _ in theirs),
            removed_label=approved_label if by_label else None,
        )
        if _differs(ctx, denied_key(login), bot_login, body):
            actions.append(UpsertComment(ctx.item.number, denied_key(login), body))
    return actions


def _plan_closed(
    ctx: ItemContext,
    plan: Plan,
    new: list[tuple[Comment, tuple[ParsedCommand, ...]]],
    bot_login: str,
) -> Plan:
    """A closed item gets nothing but one polite note naming no one."""
    human = [c.id for c, _ in new if not c.author.is_bot]
    if not human:
        return plan
    closed = _bot_comment(ctx, CLOSED_KEY, bot_login)
    answered = parse_closed_note(closed.body) if closed is not None else frozenset()
    body = render_closed_note([*answered, *human])
    if _differs(ctx, CLOSED_KEY, bot_login, body):
        plan.actions.append(UpsertComment(ctx.item.number, CLOSED_KEY, body))
        plan.reasons.append("commands on a closed item: not applied")
    return plan
