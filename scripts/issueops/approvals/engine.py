"""The approval engine: who approved what, recomputed from the whole history every run.

Inputs are the item's comments and label events, who holds which permission (looked up by the
runner; "none" on any error, so it fails closed) and the bot's own status record. Comments are
replayed in time order; each person's latest valid approve/cancel/reject wins; a reject by an
authorized person vetoes; a quorum of distinct people per risk approves. An approval counts only
for the content (title, body, deliverable head) current when the bot first saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from issueops.approvals.grammar import PRIVILEGED, parse_commands
from issueops.approvals.record import StatusRecord, fingerprint, parse_status_record
from issueops.config.settings import Config, Risk
from issueops.core.model import WRITE_PERMISSIONS, Actor, Comment, ItemContext, LabelEvent, Permission, marker

ReasonCode = Literal[
    "not_collaborator",
    "insufficient_permission",
    "self_approval",
    "edited_comment",
    "stale",
    "bot_author",
    "held",
    "vetoed",
]
LapseReason = Literal["stale", "edited_comment", "cancelled", "not_collaborator", "insufficient_permission"]
VoteKind = Literal["approve", "reject", "cancel"]

REASON_TEXT: dict[str, str] = {
    "not_collaborator": "is not a collaborator on this repository and not a configured approver",
    "insufficient_permission": "needs write, maintain or admin permission (or to be a configured approver)",
    "self_approval": "is the item's author, and authors may not approve their own items here",
    "edited_comment": "edited the comment after posting it; an edited comment never grants anything",
    "stale": "approved earlier content; the title, body or deliverable changed since",
    "bot_author": "is a bot; commands from bots are ignored",
    "held": "approved, but the item is on hold",
    "vetoed": "approved, but the item was rejected",
    "cancelled": "withdrew the approval",
}
# Reasons worth a direct reply to the person (the others are explained in the status comment).
REPLY_REASONS: frozenset[str] = frozenset(
    {"not_collaborator", "insufficient_permission", "self_approval", "edited_comment"}
)
# Lapses that never heal: the approval was bound to other content, or its comment was edited.
STICKY_LAPSES: frozenset[str] = frozenset({"stale", "edited_comment"})
# Commands that still count from an edited comment: they can only hold things back.
EDIT_SAFE: frozenset[str] = frozenset({"hold", "cancel", "help"})
_VOTE_KINDS: dict[str, VoteKind] = {"approve": "approve", "reject": "reject", "cancel": "cancel"}
VOTE_COMMANDS: frozenset[str] = frozenset(_VOTE_KINDS)
STATUS_KEY = "status"


@dataclass(frozen=True)
class Authority:
    """Who may do what on one item: permissions and approver membership, case-insensitive."""

    config: Config
    bot_login: str
    item_author: str
    permissions: Mapping[str, Permission]
    approver_logins: frozenset[str]

    @classmethod
    def build(
        cls,
        *,
        config: Config,
        bot_login: str,
        item_author: str,
        permissions: Mapping[str, Permission],
        approver_logins: frozenset[str],
    ) -> Authority:
        listed = {login.lower() for login in approver_logins} | {u.lower() for u in config.approvers.users}
        return cls(
            config=config,
            bot_login=bot_login.lower(),
            item_author=item_author.lower(),
            permissions={login.lower(): perm for login, perm in permissions.items()},
            approver_logins=frozenset(listed),
        )

    def is_pipeline(self, actor: Actor) -> bool:
        return actor.login.lower() == self.bot_login

    def authorize(self, login: str) -> ReasonCode | None:
        """None when `login` may use privileged commands, else why not.

        By default write access or approver-list membership suffices. With
        `approvers.require_repo_permission`, write access is required and, when an approver list
        or team is configured, membership too (the list narrows who among writers may approve).
        """
        key = login.lower()
        permission = self.permissions.get(key, "none")
        writer = permission in WRITE_PERMISSIONS
        listed = key in self.approver_logins
        approvers = self.config.approvers
        if approvers.require_repo_permission:
            configured = bool(approvers.users or approvers.teams)
            if writer and (listed or not configured):
                return None
        elif writer or listed:
            return None
        return "not_collaborator" if permission == "none" else "insufficient_permission"

    def precheck(
        self, actor: Actor, edited: bool, command: str, logins: tuple[str, ...] = ()
    ) -> ReasonCode | None:
        """Every check that needs no permission lookup, in the order they are reported."""
        if actor.is_bot:
            return "bot_author"
        if edited and command not in EDIT_SAFE:
            return "edited_comment"
        self_approval = command == "approve" and actor.login.lower() == self.item_author
        if self_approval and not self.config.policy.allow_self_approval:
            return "self_approval"
        return None

    def needs_permission(self, actor: Actor, command: str, logins: tuple[str, ...] = ()) -> bool:
        if command == "unassign" and logins and all(x.lower() == actor.login.lower() for x in logins):
            return False  # taking yourself off an item needs no permission
        return command in PRIVILEGED

    def check(
        self, actor: Actor, edited: bool, command: str, logins: tuple[str, ...] = ()
    ) -> ReasonCode | None:
        """Why `actor` may not use `command` here, or None."""
        reason = self.precheck(actor, edited, command, logins)
        if reason is None and self.needs_permission(actor, command, logins):
            reason = self.authorize(actor.login)
        return reason


@dataclass(frozen=True)
class Vote:
    """An approve/reject/cancel, from a comment line or an `approval::approved` label."""

    login: str
    kind: VoteKind
    source: str
    comment_id: int | None
    at: datetime
    order: tuple[float, int, int]
    denial: ReasonCode | None
    note: str = ""
    via_label: bool = False


@dataclass(frozen=True)
class Denial:
    login: str
    source: str
    comment_id: int | None
    reason: ReasonCode
    command: str
    new: bool


@dataclass(frozen=True)
class Lapse:
    login: str
    source: str
    comment_id: int | None
    reason: str
    new: bool


@dataclass(frozen=True)
class Grant:
    login: str
    source: str
    comment_id: int | None
    via_label: bool
    new: bool


@dataclass(frozen=True)
class LabelVerdict:
    """What to do with a present `approval::approved` label."""

    applier: str | None
    keep: bool
    reason: str  # why it is removed (a reason code, "unknown_applier" or "cancelled"), "" if kept


@dataclass(frozen=True)
class ApprovalDecision:
    approved: bool  # quorum met, no veto, not held: the gate may open
    quorum_met: bool
    required: int
    approvers: tuple[str, ...]
    missing: int
    vetoed_by: tuple[str, ...]
    veto_notes: Mapping[str, str]
    denials: tuple[Denial, ...]
    lapsed: tuple[Lapse, ...]
    grants: tuple[Grant, ...]
    held: bool
    fingerprint: str
    votes: tuple[Vote, ...]
    effective: Mapping[str, Vote]  # lower-cased login -> the vote that stands
    label: LabelVerdict | None
    record: StatusRecord = field(default_factory=StatusRecord)


LABEL_SOURCE = "l:"  # a vote's source when it came from the approval label


def comment_source(comment_id: int) -> str:
    return f"c:{comment_id}"


def _comment_id(source: str) -> int | None:
    if source.startswith("c:"):
        head = source[2:].split(":", 1)[0]
        return int(head) if head.isdigit() else None
    return None


def ordered_comments(comments: tuple[Comment, ...]) -> list[Comment]:
    return sorted(comments, key=lambda c: (c.created_at.timestamp(), c.id))


def status_comment(ctx: ItemContext, bot_login: str) -> Comment | None:
    """The bot's status comment: the first comment by the bot's own login with the status marker."""
    tag = marker(STATUS_KEY)
    for comment in ctx.comments:
        if comment.author.login.lower() == bot_login.lower() and tag in comment.body:
            return comment
    return None


def find_status_record(ctx: ItemContext, bot_login: str) -> StatusRecord | None:
    """The record in the bot's status comment; a record in anyone else's comment is ignored."""
    found = status_comment(ctx, bot_login)
    return parse_status_record(found.body) if found is not None else None


def latest_label_event(
    events: tuple[LabelEvent, ...], label: str, kind: str = "labeled"
) -> LabelEvent | None:
    ranked = [
        (e.created_at.timestamp(), i, e) for i, e in enumerate(events) if e.label == label and e.event == kind
    ]
    return max(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def collect_votes(
    ctx: ItemContext, authority: Authority, excluded: frozenset[int] = frozenset(), label_closed: bool = False
) -> tuple[list[Vote], Vote | None, bool]:
    """All votes in time order, the label's vote (if any) and whether the label's applier is unknown.

    `excluded`: comments posted while the item was closed; `label_closed`: the approval label was
    applied while it was closed. Neither ever counts, before or after a reopening."""
    votes: list[Vote] = []
    for comment in ordered_comments(ctx.comments):
        if authority.is_pipeline(comment.author) or comment.id in excluded:
            continue
        for command in parse_commands(comment.body):
            if command.name not in VOTE_COMMANDS or not command.valid:
                continue
            if comment.author.is_bot and command.name == "cancel":
                continue
            kind = _VOTE_KINDS[command.name]
            denial = authority.check(comment.author, comment.edited, command.name)
            votes.append(
                Vote(
                    login=comment.author.login,
                    kind=kind,
                    source=comment_source(comment.id),
                    comment_id=comment.id,
                    at=comment.created_at,
                    order=(comment.created_at.timestamp(), comment.id, command.line),
                    denial=denial,
                    note=command.argument,
                )
            )
    label_vote: Vote | None = None
    unknown = False
    label = authority.config.labels.approved
    if label in ctx.item.labels:
        event = latest_label_event(ctx.label_events, label)
        if event is None:
            unknown = True
        elif not authority.is_pipeline(event.actor) and not label_closed:
            label_vote = Vote(
                login=event.actor.login,
                kind="approve",
                source=f"{LABEL_SOURCE}{event.actor.login.lower()}@{event.created_at.isoformat()}",
                comment_id=None,
                at=event.created_at,
                order=(event.created_at.timestamp(), 0, 0),
                denial=authority.check(event.actor, False, "approve"),
                via_label=True,
            )
            votes.append(label_vote)
    votes.sort(key=lambda v: v.order)
    return votes, label_vote, unknown


def decide(
    ctx: ItemContext,
    *,
    authority: Authority,
    risk: Risk,
    head_sha: str | None,
    record: StatusRecord | None,
    held: bool,
    excluded: frozenset[int] = frozenset(),
    label_closed: bool = False,
) -> ApprovalDecision:
    """The approval state of one item, and the updated status record (processed ids untouched).
    `excluded` and `label_closed`: what was given while the item was closed (never counts)."""
    old = record or StatusRecord()
    fp = fingerprint(ctx.item, head_sha)
    votes, label_vote, unknown_applier = collect_votes(ctx, authority, excluded, label_closed)
    required = authority.config.policy.required_approvals.get(risk, 1)

    bindings = dict(old.bindings)
    for vote in votes:
        if vote.kind == "approve":
            bindings.setdefault(vote.source, fp)

    denials: list[tuple[str, str, int | None, ReasonCode, str]] = [
        (v.login, v.source, v.comment_id, v.denial, v.kind) for v in votes if v.denial is not None
    ]
    effective: dict[str, Vote] = {}
    for vote in votes:
        if vote.denial is None:
            effective[vote.login.lower()] = vote

    lapsed_now: dict[str, tuple[str, str]] = {}
    counted: list[Vote] = []
    for vote in sorted(effective.values(), key=lambda v: v.order):
        if vote.kind != "approve":
            continue
        previous = old.lapsed.get(vote.source)
        if previous is not None and previous[1] in STICKY_LAPSES:
            continue  # announced once; a new approval is needed
        if bindings[vote.source] != fp:
            if vote.source in old.granted or vote.source in old.counted:
                lapsed_now[vote.source] = (vote.login, "stale")
            denials.append((vote.login, vote.source, vote.comment_id, "stale", "approve"))
            continue
        counted.append(vote)

    counted_logins = {v.login.lower() for v in counted}
    by_source = {v.source: v for v in votes}
    for source, login in sorted(old.counted.items()):
        if source in lapsed_now or login.lower() in counted_logins:
            continue
        gone = by_source.get(source)
        reason = gone.denial if gone is not None and gone.denial is not None else "cancelled"
        lapsed_now[source] = (login, reason)

    vetoers = [v for v in sorted(effective.values(), key=lambda v: v.order) if v.kind == "reject"]
    quorum_met = len(counted) >= required
    if vetoers:
        denials.extend((v.login, v.source, v.comment_id, "vetoed", "approve") for v in counted)
    elif quorum_met and held:
        denials.extend((v.login, v.source, v.comment_id, "held", "approve") for v in counted)

    counted_sources = {v.source for v in counted}
    lapsed = {src: value for src, value in old.lapsed.items() if src not in counted_sources}
    lapsed.update(lapsed_now)
    denied_keys = {(login, source, reason) for login, source, _, reason, _ in denials}
    new_record = StatusRecord(
        fingerprint=fp,
        bindings=bindings,
        granted=old.granted | counted_sources,
        counted={v.source: v.login for v in counted},
        lapsed=lapsed,
        denied=old.denied | denied_keys,
        processed=old.processed,
    )

    label_verdict: LabelVerdict | None = None
    if unknown_applier:
        label_verdict = LabelVerdict(None, keep=False, reason="unknown_applier")
    elif label_vote is not None:
        keep = label_vote.login.lower() in counted_logins
        why = ""
        if not keep:
            lapse = lapsed_now.get(label_vote.source) or old.lapsed.get(label_vote.source)
            stale = bindings.get(label_vote.source) != fp
            why = label_vote.denial or (lapse[1] if lapse else "stale" if stale else "cancelled")
        label_verdict = LabelVerdict(label_vote.login, keep=keep, reason=why)

    return ApprovalDecision(
        approved=quorum_met and not vetoers and not held,
        quorum_met=quorum_met,
        required=required,
        approvers=tuple(v.login for v in counted),
        missing=max(0, required - len(counted)),
        vetoed_by=tuple(v.login for v in vetoers),
        veto_notes={v.login: v.note for v in vetoers},
        denials=tuple(
            Denial(login, source, cid, reason, command, (login, source, reason) not in old.denied)
            for login, source, cid, reason, command in denials
        ),
        lapsed=tuple(
            Lapse(login, src, _comment_id(src), reason, src not in old.lapsed)
            for src, (login, reason) in sorted(lapsed_now.items())
        ),
        grants=tuple(
            Grant(v.login, v.source, v.comment_id, v.via_label, v.source not in old.granted) for v in counted
        ),
        held=held,
        fingerprint=fp,
        votes=tuple(votes),
        effective=effective,
        label=label_verdict,
        record=new_record,
    )


__all__ = [
    "REASON_TEXT",
    "ApprovalDecision",
    "Authority",
    "Denial",
    "Grant",
    "LabelVerdict",
    "Lapse",
    "ReasonCode",
    "StatusRecord",
    "Vote",
    "decide",
    "find_status_record",
    "fingerprint",
    "parse_status_record",
    "status_comment",
]
