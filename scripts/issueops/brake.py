"""The brake, at the edges of a run: before the stages, is the pipeline braked (an open alert
issue), does a person resume or brake it, which intake sources are paused; after them, does the
telemetry trip a condition. The state lives in GitHub: the alert issue open means braked.

The decisions are in `issueops.stages.brake`; this module reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from issueops.approvals.activity import is_own
from issueops.approvals.grammar import parse_commands
from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.core.model import Comment, Permission, WorkItem, marker
from issueops.runner import PlanRow, RunSummary, Runtime
from issueops.stages import brake as rules
from issueops.telemetry.reader import LineMemo, read_directory

# Telemetry older than this is not read: every condition looks at hours or a few runs.
LOOKBACK = timedelta(days=7)


@dataclass
class BrakeState:
    """What the run reports about the brake (the summary's `brake`)."""

    alert: int | None = None  # the open alert issue: the run is braked
    resumed_by: str | None = None
    tripped: str | None = None  # the condition this run tripped
    paused_sources: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "braked": self.alert is not None and self.resumed_by is None,
            "alert": self.alert,
            "resumed_by": self.resumed_by,
            "tripped": self.tripped,
            "paused_sources": list(self.paused_sources),
        }


class Brake:
    def __init__(
        self,
        rt: Runtime,
        summary: RunSummary,
        directories: Sequence[Path],
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        event_item: int | None = None,
        event_comment: str | None = None,
        live: bool = True,
    ):
        self.rt, self.summary = rt, summary
        self.event_comment = event_comment  # the event's own comment, when the run is for one
        self.cfg = rt.config.brake
        self.directories = [d for d in directories if d is not None]
        self.wall_clock = wall_clock
        self.event_item = event_item
        self.live = live  # False for a --dry-run: plan, never write (not even the alert issue)
        self.state = BrakeState()
        self.checked = False  # before() read the brake's state: only then may after() trip it
        self._permissions: dict[str, Permission] = {}
        self._telemetry: LineMemo = {}  # the files `_read` parsed, for its second read

    # --- before the stages -------------------------------------------------------------------

    def before(self, *, scan_manual: bool = True) -> None:
        """Decide whether this run is braked; a braked run becomes a dry run.

        If the budget does not even allow reading the alert issue, the run writes nothing (the
        brake's state is unknown) and its stages are deferred like after any budget stop."""
        try:
            self._before(scan_manual)
            self.checked = True
        except BudgetExhausted as stop:
            # the governor has recorded api.budget_stop; an outage still ends the run with exit 1
            self.summary.budget_stop, self.summary.outage = str(stop), self.summary.outage or stop.outage
            self.rt.dry_run = self.summary.dry_run = True
        self.summary.brake = self.state.as_dict()

    def _before(self, scan_manual: bool) -> None:
        alerts = self._alerts()
        open_alerts = [a for a in alerts if a.state == "open"]
        if open_alerts:
            keep, *extra = open_alerts
            for dup in extra:
                self._close_duplicate(dup, keep)
            self.state.alert = keep.number
            if not self._handle_alert_commands(keep):
                self.rt.dry_run = self.summary.dry_run = True
                self._row(f"#{keep.number}", "Braked", "every write is held until /resume on the alert issue")
        elif scan_manual:
            closed = [a for a in alerts if a.closed_at is not None]
            latest = max(closed, key=lambda a: a.closed_at or a.number, default=None)
            self._manual_brake(latest)
        timed = self._read()
        if self.cfg.enabled and self.state.alert is None and not self.state.tripped:
            trip = rules.evaluate(timed, self.cfg, self.wall_clock())  # e.g. the last run could not
            if trip is not None:  # open the alert: it ended at the rate limit, or was cut off
                self.trip(trip)
                self.summary.dry_run = True
        paused = rules.paused_sources(timed, self.cfg, self.wall_clock())
        self.rt.paused_sources = {name: p.failures for name, p in paused.items()}
        self.state.paused_sources = tuple(sorted(paused))
        for name, pause in sorted(paused.items()):
            self._row(
                f"source::{name}",
                "Paused",
                f"failed {pause.failures} runs in a row ({pause.last_error}); tried again "
                f"{self.cfg.source_retry_hours:g} h after its last try",
            )

    def _alerts(self) -> list[WorkItem]:
        """The pipeline's own alert issues, by label and marker (a person's look-alike is ignored)."""
        found = self.rt.port.list_items(labels=[self.cfg.label], state="all")
        own = [
            item
            for item in found
            if is_own(item.author, self.rt.bot_login) and marker(rules.BRAKE_KEY) in item.body
        ]
        return sorted(own, key=lambda item: item.number)

    def _close_duplicate(self, dup: WorkItem, keep: WorkItem) -> None:
        """Two runs tripped at once: the later issue closes, pointing at the first (converges).
        The pointer goes at the top of its body in the same request, not in a comment: two runs
        closing it at once write the same text, where each would post its own comment."""
        self._row(f"#{dup.number}", "CloseDuplicateAlert", f"the brake's alert is #{keep.number}")
        if self.live:
            note = f"> [!NOTE]\n> Duplicate of #{keep.number}: the brake's alert is there.\n\n"
            self.rt.port.update_item(
                dup.number, body=note + dup.body, state="closed", state_reason="not_planned"
            )

    def _handle_alert_commands(self, alert: WorkItem) -> bool:
        """/resume (and refusals) on the open alert issue; True when the brake is lifted."""
        comments = sorted(self.rt.port.list_item_comments(alert.number), key=lambda c: (c.created_at, c.id))
        answered = {c.body for c in comments if is_own(c.author, self.rt.bot_login)}
        if any(marker(rules.RESUMED_KEY) in body for body in answered):
            return self._close_resumed(alert, None)  # a run was cut off between comment and close
        for comment in comments:
            if is_own(comment.author, self.rt.bot_login) or comment.author.is_bot:
                continue
            if not any(c.valid and c.name == "resume" for c in parse_commands(comment.body)):
                continue
            if any(marker(rules.denied_key(comment.id)) in body for body in answered):
                continue
            why = self._refusal("resume", comment)
            if why is None:
                return self._close_resumed(alert, comment)
            self._deny(alert.number, comment, "resume", why)
        return False

    def _close_resumed(self, alert: WorkItem, comment: Comment | None) -> bool:
        login = comment.author.login if comment else "(recorded earlier)"
        self._row(f"#{alert.number}", "Resume", f"by @{login}; the alert issue is closed")
        if not self.live:
            return False  # a dry run only shows it; the next live run resumes
        if comment is not None:
            opened = alert.created_at.strftime("%Y-%m-%d %H:%M UTC") if alert.created_at else "?"
            body = (
                f"{marker(rules.RESUMED_KEY)}\n**Resumed** by @{login} ({self._permission(login)}) with "
                f"`/resume` at {self.rt.now.strftime('%Y-%m-%d %H:%M UTC')}. Braked from {opened} until "
                "then. The next runs write again, starting with what waited.\n"
            )
            self.rt.port.create_comment(alert.number, body)
        self.rt.port.update_item(alert.number, state="closed", state_reason="completed")
        self.rt.telemetry.emit("brake.resumed", login=login, alert=alert.number)
        self.state.resumed_by = login
        return True

    def _manual_brake(self, last_alert: WorkItem | None) -> None:
        """`/brake [reason]` since the last alert closed, on it or on an open issue: trip by hand."""
        after = last_alert.closed_at if last_alert is not None else None
        for number, comment in self._brake_comments(after, last_alert):
            why = self._refusal("brake", comment)
            if why is not None:
                self._deny(number, comment, "brake", why)
                continue
            command = next(c for c in parse_commands(comment.body) if c.name == "brake")
            reason = f"@{comment.author.login} commented `/brake` on #{number}"
            reason += f": {command.argument}" if command.argument else ""
            trip = rules.Trip("manual", reason, by=comment.author.login)
            trip.last_good = next((r for r in reversed(rules.runs_of(self._read())) if r.good), None)
            self.trip(trip)
            self.summary.dry_run = True  # tripped before the stages: the whole run is a plan
            return

    def _brake_comments(
        self, after: datetime | None, last_alert: WorkItem | None
    ) -> list[tuple[int, Comment]]:
        from issueops.pipeline import snapshot_of

        if self.event_item is not None:
            body = self.event_comment
            if body is not None and not any(c.name == "brake" for c in parse_commands(body)):
                return []  # the event's comment is no `/brake`: nothing to read (a flood costs nothing)
            comments = {self.event_item: self.rt.port.list_item_comments(self.event_item)}
        else:
            comments = {n: s.comments for n, s in snapshot_of(self.rt).items.items()}
            if last_alert is not None and last_alert.comment_count:
                comments[last_alert.number] = self.rt.port.list_item_comments(last_alert.number)
        found = []
        for number, listed in sorted(comments.items()):
            answered = " ".join(c.body for c in listed if is_own(c.author, self.rt.bot_login))
            for comment in sorted(listed, key=lambda c: (c.created_at, c.id)):
                if comment.author.is_bot or (after is not None and comment.created_at <= after):
                    continue
                if marker(rules.denied_key(comment.id)) in answered:
                    continue
                if any(c.valid and c.name == "brake" for c in parse_commands(comment.body)):
                    found.append((number, comment))
        return sorted(found, key=lambda p: (p[1].created_at, p[1].id))

    def _refusal(self, command: str, comment: Comment) -> str | None:
        login = comment.author.login
        permission, approver = self._permission(login), self._is_approver(login)
        return rules.refusal(command, login, permission, approver, comment.edited)

    def _deny(self, number: int, comment: Comment, command: str, why: str) -> None:
        self._row(f"#{number}", "Deny", f"/{command} by @{comment.author.login}: {why}")
        if self.live:
            self.rt.port.add_reaction(number, "-1", comment.id)
            self.rt.port.create_comment(
                number, rules.render_denied(comment.id, command, comment.author.login, why)
            )

    def _permission(self, login: str) -> Permission:
        """Fail closed: an error while checking means no permission."""
        if login not in self._permissions:
            try:
                self._permissions[login] = self.rt.port.get_permission(login)
            except GitHubError:
                self._permissions[login] = "none"
        return self._permissions[login]

    def _is_approver(self, login: str) -> bool:
        approvers = self.rt.config.approvers
        if login.lower() in {u.lower() for u in approvers.users}:
            return True
        for team in approvers.teams:
            try:
                if self.rt.port.is_team_member(team, login):
                    return True
            except GitHubError:
                continue
        return False

    # --- after the stages --------------------------------------------------------------------

    def after(self) -> None:
        """Evaluate the trip conditions on the telemetry, this run's own lines included."""
        braked = self.state.alert is not None and self.state.resumed_by is None
        if braked or not self.cfg.enabled or self.state.tripped or not self.checked:
            self.summary.brake = self.state.as_dict()
            return
        trip = rules.evaluate(self._read(), self.cfg, self.wall_clock())
        if trip is not None:
            try:
                self.trip(trip)
            except (BudgetExhausted, GitHubError) as exc:  # e.g. at the rate limit: the evidence
                self._row(
                    "brake", "Trip", f"the alert issue could not be opened ({exc}); the next run opens it"
                )
        self.summary.brake = self.state.as_dict()

    def trip(self, trip: rules.Trip) -> None:
        """Open the one alert issue (or find the one another run just opened) and record it."""
        body = rules.render_postmortem(
            trip,
            when=self.rt.now,
            run_id=self.rt.telemetry.run_id,
            repo=self.rt.repo,
            label=self.cfg.label,
        )
        self.state.tripped = trip.condition
        self._row("brake", "Trip", trip.reason)
        self.rt.dry_run = True  # nothing after this point writes, except the alert issue
        if not self.live:
            return
        existing = [a for a in self._alerts() if a.state == "open"]
        if existing:
            self.state.alert = existing[0].number  # another run tripped first: one alert issue
            return
        created = self.rt.port.create_item(rules.alert_title(trip), body, [self.cfg.label])
        self.state.alert = created.number
        fields: dict[str, Any] = {"by": trip.by} if trip.by else {}
        self.rt.telemetry.emit(
            "brake.tripped", condition=trip.condition, reason=trip.reason, alert=created.number, **fields
        )
        first, *extra = [a for a in self._alerts() if a.state == "open"] or [created]
        for dup in extra:
            self._close_duplicate(dup, first)
        self.state.alert = first.number

    # --- reading ------------------------------------------------------------------------------

    def _read(self) -> list[tuple[datetime, dict[str, Any]]]:
        """Every event of the last days, from each directory, each line once (by run and seq)."""
        since = (self.wall_clock() - LOOKBACK).strftime("%Y-%m-%d")
        seen: set[tuple[str, int]] = set()
        timed: list[tuple[datetime, dict[str, Any]]] = []
        for directory in self.directories:
            for moment, event in read_directory(directory, since_day=since, memo=self._telemetry).timed:
                key = (str(event.get("run_id")), int(event.get("seq", 0) or 0))
                if key not in seen:
                    seen.add(key)
                    timed.append((moment, event))
        timed.sort(key=lambda p: p[0])
        return timed

    def _row(self, target: str, action: str, detail: str) -> None:
        self.summary.rows.append(PlanRow("brake", target, action, detail))
