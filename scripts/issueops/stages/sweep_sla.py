"""The SLA ladder: reminder, escalation, and (optionally) unassignment of an idle owner.

The clock starts at the later of the last *human* activity and the moment the item entered its
current state; the pipeline's own comments and labels never move it (a reminder must not reset
the clock it reminds about). Each rung is sent once per cycle: the cycle is that start time,
written into the comment's marker key, so a second sweep finds the comment and writes nothing,
and new human activity starts a new cycle with fresh comments (which notify, unlike edits). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from issueops.approvals.activity import (
    data_field,
    human_time,
    last_human_activity,
    last_labeled,
    own_comment,
    read_data_field,
    stamp,
    with_marker,
)
from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import AddLabels, ItemContext, Plan, RemoveLabel, Unassign, UpsertComment
from issueops.core.states import TERMINAL, State

REMINDER_KEY = "sla-reminder"
ESCALATION_KEY = "sla-escalation"
UNASSIGN_KEY = "sla-unassign"
DEFAULT_UNASSIGN_GRACE_HOURS = 24.0
# An idle owner is unassigned only where the next move is theirs (not while approvers decide).
UNASSIGN_STATES: frozenset[State] = frozenset({State.ASSIGNED, State.IN_PROGRESS, State.FAILED})
_CLOCK_NOTE = (
    "<sub>Any comment or label change by a person restarts this clock; the pipeline's own "
    "comments and labels do not.</sub>"
)


@dataclass(frozen=True)
class SlaTerms:
    """The ladder for one item: the workflow's own values, else the config's defaults."""

    due_hours: float
    reminder_hours: float
    escalation_hours: float
    escalate_to: tuple[str, ...]
    unassign_after_hours: float | None
    exempt_labels: tuple[str, ...]


def sla_terms(workflow: WorkflowSchema | None, config: Config) -> SlaTerms:
    base = config.sla
    own = workflow.sla if workflow is not None else None
    return SlaTerms(
        due_hours=own.due_hours if own and own.due_hours else base.due_hours,
        reminder_hours=own.reminder_hours if own and own.reminder_hours else base.reminder_hours,
        escalation_hours=own.escalation_hours if own and own.escalation_hours else base.escalation_hours,
        escalate_to=tuple(own.escalate_to if own and own.escalate_to else base.escalate_to),
        unassign_after_hours=base.unassign_after_hours,
        exempt_labels=tuple(base.exempt_labels),
    )


def cycle_key(key: str, start: datetime) -> str:
    """`sla-reminder-20250102T030405Z`: one comment per rung per cycle."""
    return f"{key}-{stamp(start)}"


def clock_start(ctx: ItemContext, state: State, *, bot_login: str) -> datetime | None:
    """The later of the last human activity and entering `state` (the item's creation if the
    state label was never seen being applied, e.g. the item was opened with it)."""
    entered = last_labeled(ctx.label_events, state.label) or ctx.item.created_at
    human = last_human_activity(ctx, bot_login=bot_login)
    times = [t for t in (entered, human) if t is not None]
    return max(times) if times else None


def exemption(ctx: ItemContext, terms: SlaTerms, config: Config, now: datetime) -> str | None:
    """Why the item has no SLA right now, or None."""
    labels = ctx.item.labels
    if config.labels.hold in labels:
        return f"held (`{config.labels.hold}`)"
    exempt = [label for label in terms.exempt_labels if label in labels]
    if exempt:
        return f"exempt label `{exempt[0]}`"
    pr = ctx.pull_request
    recent = timedelta(hours=terms.reminder_hours)
    if pr is not None and pr.state == "open" and pr.updated_at is not None and now - pr.updated_at < recent:
        return f"its pull request #{pr.number} saw activity at {human_time(pr.updated_at)}"
    return None


def mention(handle: str) -> str:
    return "@" + handle.strip().lstrip("@")


def plan_sla(
    ctx: ItemContext,
    state: State,
    *,
    workflow: WorkflowSchema | None,
    config: Config,
    now: datetime,
    bot_login: str,
    unassign_grace_hours: float = DEFAULT_UNASSIGN_GRACE_HOURS,
) -> Plan:
    """The ladder for one open item in a known, consistent state."""
    out = Plan(ctx.item.number)
    if state in TERMINAL or ctx.item.state != "open":
        return out
    terms = sla_terms(workflow, config)
    why_exempt = exemption(ctx, terms, config, now)
    if why_exempt is not None:
        out.reasons.append(f"no SLA: {why_exempt}")
        return out
    start = clock_start(ctx, state, bot_login=bot_login)
    if start is None:
        out.reasons.append("no SLA: no time to measure from (no creation time, no activity)")
        return out
    idle = (now - start).total_seconds() / 3600
    ladder = _Ladder(ctx, state, workflow, config, terms, start, idle, bot_login, out)
    ladder.run()
    if terms.unassign_after_hours is not None and state in UNASSIGN_STATES:
        ladder.unassign(terms.unassign_after_hours, now, unassign_grace_hours)
    return out


@dataclass
class _Ladder:
    ctx: ItemContext
    state: State
    workflow: WorkflowSchema | None
    config: Config
    terms: SlaTerms
    start: datetime
    idle: float
    bot_login: str
    out: Plan

    @property
    def number(self) -> int:
        return self.ctx.item.number

    def _event(self, name: str, **fields: object) -> None:
        self.out.events.append(
            {
                "event": name,
                "item": self.number,
                "state": self.state.value,
                "workflow": self.workflow.name if self.workflow else None,
                "age_hours": round(self.idle, 1),
                "cycle": stamp(self.start),
                **fields,
            }
        )

    def _sent(self, key: str) -> bool:
        return (
            own_comment(self.ctx.comments, cycle_key(key, self.start), bot_login=self.bot_login) is not None
        )

    def run(self) -> None:
        terms, breached = self.terms, self.config.labels.sla_breached
        labels = self.ctx.item.labels
        if self.idle >= terms.escalation_hours:
            # Escalation supersedes the reminder: if both are due on one sweep, only escalate.
            if not self._sent(ESCALATION_KEY):
                key = cycle_key(ESCALATION_KEY, self.start)
                self.out.actions.append(UpsertComment(self.number, key, self._escalation_body(key)))
                self.out.reasons.append(f"SLA escalation: idle {self.idle:.0f} h")
                self._event("sla.escalation", escalate_to=list(terms.escalate_to))
            if breached not in labels:
                self.out.actions.append(AddLabels(self.number, (breached,)))
            return
        if breached in labels:
            # A person acted since the escalation: the item is no longer in breach.
            self.out.actions.append(RemoveLabel(self.number, breached))
            self.out.reasons.append(f"SLA: new activity since the escalation, `{breached}` removed")
            self._event("sla.cleared")
        if self.idle >= terms.reminder_hours and not self._sent(REMINDER_KEY):
            key = cycle_key(REMINDER_KEY, self.start)
            self.out.actions.append(UpsertComment(self.number, key, self._reminder_body(key)))
            self.out.reasons.append(f"SLA reminder: idle {self.idle:.0f} h")
            self._event("sla.reminder")

    def _who(self) -> str:
        people = [mention(login) for login in self.ctx.item.assignees]
        return ", ".join(people) if people else "nobody is assigned"

    def _where(self) -> str:
        workflow = f", workflow `{self.workflow.name}`" if self.workflow else ""
        return f"`{self.state.label}`{workflow}"

    def _reminder_body(self, key: str) -> str:
        t = self.terms
        due = self.start + timedelta(hours=t.due_hours)
        escalate = self.start + timedelta(hours=t.escalation_hours)
        text = (
            f"**Reminder** ({self._where()}): no activity from a person since "
            f"{human_time(self.start)} ({self.idle:.0f} h).\n\n"
            f"It is due by {human_time(due)} and will be escalated at {human_time(escalate)}. "
            f"Assigned: {self._who()}. A comment saying where it stands is enough.\n\n{_CLOCK_NOTE}"
        )
        return with_marker(key, text)

    def _escalation_body(self, key: str) -> str:
        t = self.terms
        due = self.start + timedelta(hours=t.due_hours)
        contacts = ", ".join(mention(h) for h in t.escalate_to) or "no escalation contacts are configured"
        text = (
            f"**SLA breached** ({self._where()}): no activity from a person since "
            f"{human_time(self.start)} ({self.idle:.0f} h); it was due by {human_time(due)}.\n\n"
            f"Escalating to {contacts}. Assigned: {self._who()}. "
            f"`{self.config.labels.sla_breached}` stays until a person acts on the item.\n\n{_CLOCK_NOTE}"
        )
        return with_marker(key, text)

    def unassign(self, after_hours: float, now: datetime, grace_hours: float) -> None:
        """Announce first; unassign on a later sweep once the grace period has passed unused."""
        key = cycle_key(UNASSIGN_KEY, self.start)
        announcement = own_comment(self.ctx.comments, key, bot_login=self.bot_login)
        assignees = self.ctx.item.assignees
        if announcement is None:
            if assignees and self.idle >= after_hours:
                when = max(now, self.start + timedelta(hours=after_hours)) + timedelta(hours=grace_hours)
                text = (
                    f"{', '.join(mention(a) for a in assignees)}: no activity from a person for "
                    f"{self.idle:.0f} h (limit {after_hours:g} h). Unless someone comments, the "
                    f"pipeline will unassign you after {human_time(when)} so the item can be picked "
                    f"up again.\n\n{data_field('unassign', ','.join(assignees))}\n{_CLOCK_NOTE}"
                )
                self.out.actions.append(UpsertComment(self.number, key, with_marker(key, text)))
                self.out.reasons.append(f"SLA: unassignment of {', '.join(assignees)} announced")
                self._event("sla.unassign_announced", assignees=list(assignees))
            return
        announced = {
            x.casefold() for x in (read_data_field(announcement.body, "unassign") or "").split(",") if x
        }
        still = tuple(a for a in assignees if a.casefold() in announced)
        if not still or now < announcement.created_at + timedelta(hours=grace_hours):
            return
        self.out.actions.append(Unassign(self.number, still))
        done = (
            f"Unassigned {', '.join(mention(a) for a in still)} after {self.idle:.0f} h without "
            f"activity from a person (announced {human_time(announcement.created_at)}). "
            f"Anyone may pick the item up again.\n\n{_CLOCK_NOTE}"
        )
        self.out.actions.append(UpsertComment(self.number, key, with_marker(key, done)))
        self.out.reasons.append(f"SLA: unassigned {', '.join(still)}")
        self._event("sla.unassigned", assignees=list(still))
