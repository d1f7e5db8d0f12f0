"""The sweep stage's planner: label drift repair first, then the SLA ladder, per item.

`plan_sweep` is pure: the runner reads the item with its comments, label events and deliverable
PR, calls it with `now`, applies the plan and records `plan.events`. Orphaned PRs and branches
are a run-level scan (`plan_orphans`), kept in its own module. See docs/sweep.md for the rules.
"""

from __future__ import annotations

from datetime import datetime

from issueops.approvals.activity import is_own
from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import ItemContext, Plan
from issueops.stages.copilot import read_hand_off
from issueops.stages.copilot_sla import plan_copilot_sla
from issueops.stages.sweep_drift import DRIFT_KEY, OWN_FAMILIES, DriftOutcome, is_managed, plan_drift
from issueops.stages.sweep_orphans import (
    PR_STATES,
    OrphanFinding,
    OrphanReport,
    abandoned_pr,
    item_of_branch,
    plan_orphans,
    pr_closed_plan,
)
from issueops.stages.sweep_sla import (
    DEFAULT_UNASSIGN_GRACE_HOURS,
    ESCALATION_KEY,
    REMINDER_KEY,
    UNASSIGN_KEY,
    SlaTerms,
    clock_start,
    plan_sla,
    sla_terms,
)

__all__ = [
    "DEFAULT_UNASSIGN_GRACE_HOURS",
    "DRIFT_KEY",
    "ESCALATION_KEY",
    "OWN_FAMILIES",
    "PR_STATES",
    "REMINDER_KEY",
    "UNASSIGN_KEY",
    "DriftOutcome",
    "OrphanFinding",
    "OrphanReport",
    "SlaTerms",
    "abandoned_pr",
    "clock_start",
    "is_managed",
    "item_of_branch",
    "needs_label_events",
    "plan_drift",
    "plan_orphans",
    "plan_sla",
    "plan_sweep",
    "pr_closed_plan",
    "sla_terms",
]


def needs_label_events(
    ctx: ItemContext,
    *,
    workflow: WorkflowSchema | None,
    config: Config,
    now: datetime,
    bot_login: str,
    unassign_grace_hours: float = DEFAULT_UNASSIGN_GRACE_HOURS,
) -> bool:
    """Whether the runner must read this item's label history (one request) before planning.

    Without it the clock starts as early as it possibly can (label events only ever move it
    later), so when even that clock fires no rung, the real one would not either. Drift, a
    breach label to maybe clear and an unassignment in progress always need the history.
    """
    item = ctx.item
    if not is_managed(item, bot_login) or config.labels.hold in item.labels:
        return False
    bare = ItemContext(item, ctx.comments, (), ctx.pull_request)
    labels = set(item.labels)
    if config.labels.sla_breached in labels:
        return True
    announced = f"issueops:{UNASSIGN_KEY}-"
    if any(is_own(c.author, bot_login) and announced in c.body for c in ctx.comments):
        return True
    pr = ctx.pull_request
    if pr is not None and abandoned_pr(bare, [pr]) is not None:
        return True  # the orphan pass needs the history to rule out a /retry
    drift = plan_drift(bare, workflow=workflow, config=config, bot_login=bot_login)
    if drift.drifted or drift.state is None:
        return True
    sla = plan_sla(
        bare,
        drift.state,
        workflow=workflow,
        config=config,
        now=now,
        bot_login=bot_login,
        unassign_grace_hours=unassign_grace_hours,
    )
    return bool(sla.actions)


def plan_sweep(
    ctx: ItemContext,
    *,
    workflow: WorkflowSchema | None,
    config: Config,
    now: datetime,
    bot_login: str,
    unassign_grace_hours: float = DEFAULT_UNASSIGN_GRACE_HOURS,
) -> Plan:
    """Repair the item's label drift, then run its SLA ladder. A held item is only inspected."""
    item = ctx.item
    plan = Plan(item=item.number)
    if not is_managed(item, bot_login):
        plan.reasons.append("not managed by issueops")
        return plan
    drift = plan_drift(ctx, workflow=workflow, config=config, bot_login=bot_login)
    if config.labels.hold in item.labels:
        # Held: no automatic transition and no SLA; say what would be done once unheld.
        plan.reasons.append(f"held (`{config.labels.hold}`): nothing changed")
        plan.reasons += [
            f"drift (not repaired while held): {line}" for line in drift.repaired + drift.flagged
        ]
        return plan
    plan.actions += drift.actions
    plan.reasons += [f"drift repaired: {line}" for line in drift.repaired]
    plan.reasons += [f"drift needs a person: {line}" for line in drift.flagged]
    if drift.actions:
        plan.events += drift.events
    state = drift.state
    if state is None:
        plan.reasons.append("SLA skipped: the state is undecided")
        return plan
    if drift.state_changed:
        plan.reasons.append("SLA skipped: the state was repaired this sweep (the next sweep measures it)")
        return plan
    hand_off = read_hand_off(ctx, bot_login)
    if hand_off is not None and hand_off.phase == "handed" and workflow is not None:
        # Waiting for Copilot's PR: the hand-off's own ladder, not the owner's.
        sla = plan_copilot_sla(ctx, hand_off, workflow=workflow, config=config, now=now, bot_login=bot_login)
        plan.extend(sla)
        return plan
    pr = ctx.pull_request
    if pr is not None and abandoned_pr(ctx, [pr]) is not None:
        plan.reasons.append(f"SLA skipped: PR #{pr.number} was closed unmerged (the orphan pass fails it)")
        return plan
    sla = plan_sla(
        ctx,
        state,
        workflow=workflow,
        config=config,
        now=now,
        bot_login=bot_login,
        unassign_grace_hours=unassign_grace_hours,
    )
    plan.extend(sla)
    return plan
