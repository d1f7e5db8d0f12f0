"""The Copilot hand-off (pure): the assignment GitHub documents, and following its pull request.

Hand-off: `AssignAgent` (the `copilot-swe-agent[bot]` assignee plus an `agent_assignment`),
sent with the user token; the applier reads the assignees back and calls `handed` or `refused`.
Everything the pipeline knows of the hand-off lives in one marked status comment (key
`copilot`) with hidden data fields: the phase, when it was handed, the PR and when it opened.
Following: the item's timeline names Copilot's PR (a `cross-referenced` event from a PR by
Copilot, preferably with a closing keyword); the status comment records it, after which the
snapshot attaches that PR to the item and the ordinary process planner gates, publishes or
finishes it. A PR closed unmerged hands the item back to its owner.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from issueops.approvals.activity import data_field, human_time, read_data_field
from issueops.config.copilot import CopilotConfig
from issueops.config.workflows import WorkflowSchema
from issueops.core.comments import bot_text, same_login
from issueops.core.model import (
    Action,
    Assign,
    AssignAgent,
    CrossReference,
    ItemContext,
    Plan,
    PullRequest,
    Unassign,
    UpsertComment,
)
from issueops.stages.common import upsert
from issueops.stages.text import cap_body

# The REST assignee for Copilot's coding agent; GitHub shows it back as `Copilot`.
COPILOT_LOGIN = "copilot-swe-agent[bot]"
_COPILOT_NAMES = frozenset({"copilot-swe-agent[bot]", "copilot-swe-agent", "copilot"})
STATUS_KEY = "copilot"
INSTRUCTIONS_BUDGET = 8000
Phase = Literal["handed", "pr-open", "merged", "returned", "refused"]
FOLLOWED: frozenset[str] = frozenset({"handed", "pr-open"})
_CLOSING = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#{n}\b"

ASSIGN_FIX = (
    "store a user token in the secret named by `copilot.token_env` (`{env}`) and pass it to the "
    "workflow's `env:`: a fine-grained PAT (or a GitHub App user-to-server token) of a user with a "
    "Copilot license, with read and write on issues, pull requests, contents and actions of this "
    "repository. An installation token or `GITHUB_TOKEN` cannot assign Copilot. Also check that "
    "Copilot coding agent is enabled for this repository."
)


def is_copilot(login: str) -> bool:
    return login.lower() in _COPILOT_NAMES


def has_copilot(assignees: Sequence[str]) -> bool:
    return any(is_copilot(a) for a in assignees)


# --- the status comment ---------------------------------------------------------------------


@dataclass(frozen=True)
class HandOff:
    """What the status comment records."""

    phase: Phase
    handed_at: datetime | None = None
    owner: str | None = None
    pr: int | None = None
    pr_opened_at: datetime | None = None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_hand_off(ctx: ItemContext, bot_login: str) -> HandOff | None:
    """The hand-off as the bot's status comment records it; None when there was none."""
    body = bot_text(ctx.comments, STATUS_KEY, bot_login)  # its section of the card, or a comment
    if body is None:
        return None
    phase = read_data_field(body, "phase")
    if phase not in ("handed", "pr-open", "merged", "returned", "refused"):
        return None
    pr = read_data_field(body, "pr")
    return HandOff(
        phase=phase,  # type: ignore[arg-type]
        handed_at=_time(read_data_field(body, "handed_at")),
        owner=read_data_field(body, "owner") or None,
        pr=int(pr) if pr and pr.isdigit() else None,
        pr_opened_at=_time(read_data_field(body, "pr_opened_at")),
    )


def status_body(state: HandOff, text: str) -> str:
    fields = [data_field("phase", state.phase)]
    if state.handed_at is not None:
        fields.append(data_field("handed_at", _stamp(state.handed_at)))
    if state.owner:
        fields.append(data_field("owner", state.owner))
    if state.pr is not None:
        fields.append(data_field("pr", str(state.pr)))
    if state.pr_opened_at is not None:
        fields.append(data_field("pr_opened_at", _stamp(state.pr_opened_at)))
    return f"{text.strip()}\n\n" + "\n".join(fields) + "\n"


def _status(number: int, state: HandOff, text: str) -> UpsertComment:
    return UpsertComment(number, STATUS_KEY, status_body(state, text))


def _mention(owner: str | None) -> str:
    return f"@{owner}" if owner else "the workflow's owners (no owner yet: assign one)"


# --- the hand-off ---------------------------------------------------------------------------


def custom_instructions(workflow: WorkflowSchema, guidance: str, paths: Sequence[str]) -> str:
    """What Copilot is told beyond the issue: the workflow's guidance and its deliverables."""
    lines = [f"This issue follows the `{workflow.name}` workflow: {workflow.description.strip()}", ""]
    if paths:
        lines.append("Deliver these files in your pull request:")
        lines += [f"- {path}" for path in paths]
        lines.append("")
    if workflow.hand_off.note:
        lines += [workflow.hand_off.note.strip(), ""]
    lines += ["Guidance:", "", guidance.strip()]
    return cap_body("\n".join(lines), INSTRUCTIONS_BUDGET)


def hand_off_action(
    number: int,
    workflow: WorkflowSchema,
    *,
    repo: str,
    base_branch: str,
    config: CopilotConfig,
    guidance: str,
    paths: Sequence[str],
    owner: str | None,
) -> AssignAgent:
    return AssignAgent(
        item=number,
        login=COPILOT_LOGIN,
        target_repo=repo,
        base_branch=config.base_branch or base_branch,
        body=custom_instructions(workflow, guidance, paths),
        custom_agent=config.custom_agent,
        fallback_owner=owner,
        workflow=workflow.name,
    )


def agent_assignment(action: AssignAgent) -> dict[str, str]:
    """The `agent_assignment` object of the assignees request."""
    out = {
        "target_repo": action.target_repo,
        "base_branch": action.base_branch,
        "custom_instructions": action.body,
    }
    if action.custom_agent:
        out["custom_agent"] = action.custom_agent
    return out


def handed(action: AssignAgent, now: datetime) -> tuple[list[Action], dict[str, object]]:
    """Copilot is among the assignees: record it."""
    state = HandOff("handed", handed_at=now, owner=action.fallback_owner)
    text = (
        f"**Handed to Copilot** on {human_time(now)}: it works from this issue and opens a pull "
        f"request; {_mention(action.fallback_owner)} reviews it. The pipeline follows that pull request."
    )
    event = {"event": "copilot.handed_off", "item": action.item, "workflow": action.workflow}
    return [_status(action.item, state, text)], event


def refused(
    action: AssignAgent, reason: str, code: str, token_env: str, now: datetime
) -> tuple[list[Action], dict[str, object]]:
    """GitHub refused or dropped the assignee: report it with the fix; the owner takes over."""
    state = HandOff("refused", handed_at=now, owner=action.fallback_owner)
    text = (
        f"**Copilot could not be assigned**: {reason}\n\n"
        f"To fix: {ASSIGN_FIX.format(env=token_env)}\n\n"
        f"{_mention(action.fallback_owner)} owns this item in the meantime."
    )
    actions: list[Action] = [_status(action.item, state, text)]
    if action.fallback_owner:
        actions.append(Assign(action.item, (action.fallback_owner,)))
    event = {
        "event": "copilot.refused",
        "item": action.item,
        "workflow": action.workflow,
        "reason": code,
        "owner": action.fallback_owner,
    }
    return actions, event


# --- following the pull request -------------------------------------------------------------


def closes(body: str, number: int) -> bool:
    return re.search(_CLOSING.format(n=number), body or "", re.IGNORECASE) is not None


def copilot_pr(refs: Sequence[CrossReference], number: int) -> CrossReference | None:
    """Copilot's PR among the item's cross-references: by Copilot, a closing keyword first, then
    an open one before a merged one before a closed one, the newest of those."""
    mine = [r for r in refs if is_copilot(r.author)]
    if not mine:
        return None

    def rank(ref: CrossReference) -> tuple[bool, int, datetime]:
        standing = 2 if ref.state == "open" else 1 if ref.merged else 0
        return (closes(ref.body, number), standing, ref.created_at)

    return max(mine, key=rank)


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 3600, 2)


def record_opened(
    ctx: ItemContext, state: HandOff, ref: CrossReference, workflow: str, bot_login: str
) -> Plan:
    """Copilot's PR appeared: record it (the snapshot attaches it to the item from now on)."""
    number = ctx.item.number
    new = replace(state, phase="pr-open", pr=ref.number, pr_opened_at=ref.created_at)
    draft = " (a draft while Copilot works)" if ref.draft else ""
    text = (
        f"**Copilot opened pull request #{ref.number}**{draft} on {human_time(ref.created_at)}, "
        f"for this item handed to it on {human_time(state.handed_at or ref.created_at)}; "
        f"{_mention(state.owner)} reviews it. The pipeline follows it to the end."
    )
    event = {
        "event": "copilot.pr_opened",
        "item": number,
        "workflow": workflow,
        "pr": ref.number,
        "hours_to_pr": _hours(state.handed_at, ref.created_at),
    }
    actions = upsert(ctx, STATUS_KEY, status_body(new, text), bot_login)
    if not actions:
        return Plan(number)
    return Plan(number, list(actions), [f"#{number}: Copilot opened PR #{ref.number}"], [event])


def record_merged(
    ctx: ItemContext, state: HandOff, pr: PullRequest, workflow: str, now: datetime, bot_login: str
) -> Plan:
    """Copilot's PR is merged (by a person, or published by the pipeline): close the record."""
    number = ctx.item.number
    merged_at = pr.merged_at or pr.updated_at or now
    new = replace(state, phase="merged", pr=pr.number)
    text = f"**Copilot's pull request #{pr.number} was merged** on {human_time(merged_at)}: done."
    event = {
        "event": "copilot.pr_merged",
        "item": number,
        "workflow": workflow,
        "pr": pr.number,
        "hours_to_pr": _hours(state.handed_at, state.pr_opened_at),
        "hours_to_merge": _hours(state.handed_at, merged_at),
    }
    actions = upsert(ctx, STATUS_KEY, status_body(new, text), bot_login)
    if not actions:
        return Plan(number)
    return Plan(number, list(actions), [f"#{number}: Copilot's PR #{pr.number} merged"], [event])


def back_to_owner(
    ctx: ItemContext,
    state: HandOff,
    *,
    why: str,
    code: str,
    workflow: str,
    owner: str | None,
    now: datetime,
    bot_login: str,
    pr: int | None = None,
) -> Plan:
    """The PR was closed unmerged, or nobody works on it: Copilot off, the owner on."""
    item = ctx.item
    new = replace(state, phase="returned", owner=owner, pr=pr)
    text = f"**Back to {_mention(owner)}**: {why}. The owner completes this item."
    actions: list[Action] = list(upsert(ctx, STATUS_KEY, status_body(new, text), bot_login))
    copilots = tuple(a for a in item.assignees if is_copilot(a))
    if copilots:
        actions.append(Unassign(item.number, copilots))
    if owner and not any(same_login(owner, a) for a in item.assignees):
        actions.append(Assign(item.number, (owner,)))
    event = {
        "event": "copilot.returned",
        "item": item.number,
        "workflow": workflow,
        "reason": code,
        "pr": pr,
        "owner": owner,
        "hours_since_hand_off": _hours(state.handed_at, now),
    }
    return Plan(item.number, actions, [f"#{item.number}: back to the owner ({code})"], [event])
