"""The SLA of a Copilot hand-off that has no pull request yet, and its drift repair (pure).

The clock is the hand-off's own (`handed_at` on the status comment): a reminder to the owner
(default day 3), an escalation to the workflow's escalation target (day 7), and a manual-review
flag, the needs-human label (day 14). Each rung is one marked comment, posted once. Drift: handed
to Copilot, no pull request, and Copilot no longer among the assignees (someone unassigned it,
or GitHub dropped it later): nobody works on the item, so it goes back to its owner.
"""

from __future__ import annotations

from datetime import datetime

from issueops.approvals.activity import human_time, own_comment, with_marker
from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import Action, AddLabels, ItemContext, Plan, UpsertComment
from issueops.stages.copilot import HandOff, back_to_owner, has_copilot
from issueops.stages.sweep_sla import sla_terms

RUNG_KEYS = {
    "reminder": "copilot-reminder",
    "escalation": "copilot-escalation",
    "manual_review": "copilot-review",
}


def _rungs(config: Config) -> list[tuple[str, float]]:
    terms = config.copilot
    return [
        ("reminder", terms.reminder_hours),
        ("escalation", terms.escalation_hours),
        ("manual_review", terms.manual_review_hours),
    ]


def _who(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(n if n.startswith("@") else f"@{n}" for n in names)


def _text(rung: str, hand_off: HandOff, age: float, escalate_to: tuple[str, ...]) -> str:
    since = human_time(hand_off.handed_at) if hand_off.handed_at else "the hand-off"
    owner = f"@{hand_off.owner}" if hand_off.owner else "The owner"
    waited = f"{age / 24:.1f} days"
    if rung == "reminder":
        return (
            f"**Reminder**: {owner}, Copilot has opened no pull request for this item {waited} after "
            f"it was handed over ({since}). Check Copilot's session on the issue's timeline, or "
            "unassign Copilot and take the item."
        )
    if rung == "escalation":
        target = _who(escalate_to) if escalate_to else owner
        return (
            f"**Escalation**: {target}, Copilot has opened no pull request for this item {waited} "
            f"after the hand-off ({since}). Please decide: wait, re-assign, or take it back."
        )
    return (
        f"**Manual review required**: still no pull request from Copilot {waited} after the "
        f"hand-off ({since}). A person must review this item; it is flagged until someone does."
    )


def plan_copilot_sla(
    ctx: ItemContext,
    hand_off: HandOff,
    *,
    workflow: WorkflowSchema,
    config: Config,
    now: datetime,
    bot_login: str,
) -> Plan:
    """Rungs due for a hand-off still waiting for its PR; the drift repair first."""
    out = Plan(ctx.item.number)
    item = ctx.item
    if hand_off.phase != "handed" or hand_off.handed_at is None:
        return out
    if not has_copilot(item.assignees):
        back = back_to_owner(
            ctx,
            hand_off,
            why="it was handed to Copilot, but Copilot is no longer assigned and opened no pull request",
            code="no_assignee",
            workflow=workflow.name,
            owner=hand_off.owner,
            now=now,
            bot_login=bot_login,
        )
        out.extend(back)
        return out
    age = (now - hand_off.handed_at).total_seconds() / 3600
    escalate_to = sla_terms(workflow, config).escalate_to
    for rung, hours in _rungs(config):
        key = RUNG_KEYS[rung]
        if age < hours or own_comment(ctx.comments, key, bot_login=bot_login) is not None:
            continue
        actions: list[Action] = [
            UpsertComment(item.number, key, with_marker(key, _text(rung, hand_off, age, escalate_to)))
        ]
        if rung == "manual_review" and config.labels.needs_human not in item.labels:
            actions.append(AddLabels(item.number, (config.labels.needs_human,)))
        out.actions += actions
        out.reasons.append(f"#{item.number}: Copilot hand-off overdue ({rung}, {age:.0f} h)")
        out.events.append(
            {
                "event": "copilot.overdue",
                "item": item.number,
                "workflow": workflow.name,
                "rung": rung,
                "age_hours": round(age, 1),
            }
        )
    return out
