"""What the bot says on an item about approvals: the status comment, denial replies, closed note.

Every text here is a pure function of recorded facts (never of the clock or of this run's
counters), so a replay renders the same bytes and the applier has nothing to edit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from issueops.approvals.engine import REPLY_REASONS, STATUS_KEY, ApprovalDecision
from issueops.approvals.record import StatusRecord, render_record
from issueops.core.model import marker

CLOSED_KEY = "closed"
CLOSED_TAG = "issueops:closed-record"
_CLOSED_RE = re.compile(r"<!-- " + re.escape(CLOSED_TAG) + r" (\[[0-9,]*\]) -->")

_LAPSE_TEXT = {
    "stale": "approved earlier content (the title, body or deliverable changed since); approve again",
    "edited_comment": "edited the approval comment after posting it; post a new `/approve` to count",
    "cancelled": "withdrew the approval",
    "not_collaborator": "no longer has access to this repository",
    "insufficient_permission": "no longer has write permission or approver membership",
}
_NOT_COUNTED_TEXT = {
    "not_collaborator": "not a collaborator and not a configured approver",
    "insufficient_permission": "needs write, maintain or admin permission, or approver membership",
    "self_approval": "authors may not approve their own items",
    "edited_comment": "the comment was edited after posting",
    "bot_author": "bots cannot approve",
}
_REPLY_TEXT = {
    "not_collaborator": (
        "you are not a collaborator on this repository and not a configured approver, "
        "so privileged commands and the approval label are not accepted from you."
    ),
    "insufficient_permission": (
        "this needs write, maintain or admin permission on the repository, "
        "or membership in a configured approver list or team."
    ),
    "self_approval": "authors may not approve their own items in this repository.",
    "edited_comment": (
        "the comment was edited after it was posted, and an edited comment never grants anything; "
        "post the command again in a new comment."
    ),
}


def quote_user_text(text: str, limit: int = 200) -> str:
    """People's text (reasons, notes) made inert: one line, no HTML, no mentions, bounded."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
    return f'"{flat}"'


def _mention(login: str) -> str:
    return f"@{login}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class StatusView:
    """The item facts the status comment shows besides the decision."""

    state: str | None
    risk: str
    profile: str
    gate: str  # "before_processing" | "before_publishing"
    gate_required: bool
    head_sha: str | None
    hold_by: str | None = None
    hold_reason: str = ""
    risk_note: str = ""  # a recorded lowering of the risk below the workflow's (stages.label_authority)


def _headline(decision: ApprovalDecision, view: StatusView) -> str:
    if decision.vetoed_by:
        return "rejected"
    if decision.approved:
        return "approved"
    if decision.quorum_met and decision.held:
        return "approved, but on hold"
    if view.state in (None, "awaiting-approval", "approved"):
        waiting = f"waiting for {_plural(decision.missing, 'more approval')}"
    else:
        waiting = f"{len(decision.approvers)} of {decision.required} approvals"
    return f"on hold; {waiting}" if decision.held else waiting


def _by_login(entries: list[tuple[str, str]], skip: set[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for login, reason in sorted(entries, key=lambda e: (e[0].lower(), e[1])):
        if login.lower() in skip:
            continue
        reasons = grouped.setdefault(login, [])
        if reason not in reasons:
            reasons.append(reason)
    return grouped


def render_status(decision: ApprovalDecision, record: StatusRecord, view: StatusView) -> str:
    """The body of the bot's one status comment, with the updated hidden record at its end."""
    gate_words = view.gate.replace("_", " ")
    if view.gate_required:
        gate_line = f"gate: {gate_words} (required by the `{view.profile}` profile)"
    else:
        gate_line = f"gate: {gate_words} (not required by the `{view.profile}` profile)"
    lines = [
        marker(STATUS_KEY),
        f"**Approval status: {_headline(decision, view)}**",
        "",
        f"risk `{view.risk}` · {_plural(decision.required, 'distinct approval')} needed · {gate_line}"
        + (f" · state `{view.state}`" if view.state else ""),
        "",
    ]
    counted = {login.lower() for login in decision.approvers}
    if view.risk_note:
        lines.append(f"- {view.risk_note}")
    if decision.approvers:
        lines.append("- Approved by: " + ", ".join(_mention(x) for x in decision.approvers))
    if decision.missing and not decision.vetoed_by:
        lines.append(
            f"- Still needed: {_plural(decision.missing, 'approval')} from people with write access "
            "or configured approvers"
        )
    for login in decision.vetoed_by:
        note = decision.veto_notes.get(login, "")
        lines.append(f"- Rejected by {_mention(login)}" + (f": {quote_user_text(note)}" if note else ""))
    if decision.held:
        who = f" by {_mention(view.hold_by)}" if view.hold_by else ""
        why = f": {quote_user_text(view.hold_reason)}" if view.hold_reason else ""
        lines.append(f"- On hold{who}{why}. Nothing moves automatically until `/unhold`.")
    lapse_entries = [(login, reason) for login, reason in record.lapsed.values()]
    lapse_entries += [(login, reason) for login, _, reason in record.denied if reason == "stale"]
    for login, reasons in _by_login(lapse_entries, counted).items():
        texts = "; ".join(_LAPSE_TEXT.get(r, r) for r in reasons)
        lines.append(f"- Lapsed: {_mention(login)} {texts}")
    denied_entries = [
        (login, reason)
        for login, source, reason in record.denied
        if reason in _NOT_COUNTED_TEXT and source not in record.lapsed  # a lapse already says why
    ]
    for login, reasons in _by_login(denied_entries, counted).items():
        texts = "; ".join(_NOT_COUNTED_TEXT[r] for r in reasons)
        lines.append(f"- Not counted: {_mention(login)} ({texts})")
    deliverable = f", deliverable `{view.head_sha[:7]}`" if view.head_sha else ""
    lines += [
        "",
        f"Approvals count for content `{decision.fingerprint}` (title, body{deliverable}); "
        "comment `/help` for the commands.",
        render_record(record),
    ]
    return "\n".join(lines)


def denied_key(login: str) -> str:
    return f"denied-{login.lower()}"


def render_denied_reply(
    login: str, reasons: list[str], *, by_comment: bool = True, removed_label: str | None = None
) -> str:
    """One reply per person per item, edited in place; the text depends only on what was refused
    (a command, the approval label, which the pipeline then removes) and the reason set."""
    wanted = [r for r in sorted(set(reasons)) if r in REPLY_REASONS]
    what = ["your command was not applied"] if by_comment or removed_label is None else []
    if removed_label is not None:
        what.append(f"the `{removed_label}` label you added was removed")
    lines = [marker(denied_key(login)), f"{_mention(login)}, {' and '.join(what)}:"]
    lines += [f"- {_REPLY_TEXT[r]}" for r in wanted]
    lines += ["", "Comment `/help` to see who may use which command. This reply is updated, not repeated."]
    return "\n".join(lines)


def render_closed_note(comment_ids: list[int]) -> str:
    """The polite note for commands on a closed item; it remembers which comments it answered."""
    ids = json.dumps(sorted(set(comment_ids)), separators=(",", ":"))
    return "\n".join(
        [
            marker(CLOSED_KEY),
            "This item is closed, so commands on it are not applied. Reopen it and post the command again.",
            f"<!-- {CLOSED_TAG} {ids} -->",
        ]
    )


def parse_closed_note(body: str) -> frozenset[int]:
    found = _CLOSED_RE.findall(body)
    if not found:
        return frozenset()
    try:
        values = json.loads(found[-1])
    except ValueError:
        return frozenset()
    return frozenset(x for x in values if isinstance(x, int))
