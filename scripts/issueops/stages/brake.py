"""The brake's decisions: the trip conditions over telemetry, the intake circuit breaker, who may
brake or resume, and the post-mortem the alert issue carries. Pure: the caller reads telemetry
and the alert issue (see `issueops.brake`) and applies what is decided here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from issueops.config.settings import BrakeConfig
from issueops.core.markdown import table_cell
from issueops.core.model import Permission, marker

BRAKE_KEY = "brake"  # the marker in the alert issue's body
RESUMED_KEY = "brake-resumed"  # the bot's comment recording who resumed
BRAKE_PERMISSIONS: frozenset[str] = frozenset({"admin", "maintain"})
# Why a budget stop was the real limit (the governor's reasons), not this run's own request budget.
_PRIMARY_REASONS = ("primary limit", "primary_reset")

Event = dict[str, Any]
Timed = tuple[datetime, Event]


def denied_key(comment_id: int) -> str:
    """The marker of the one reply to a /brake or /resume that did not count."""
    return f"brake-denied-{comment_id}"


@dataclass
class RunRecord:
    """One command run as its telemetry tells it."""

    run_id: str
    started: datetime
    command: str = ""
    dry_run: bool = False
    completed: Event | None = None
    failures: list[Event] = field(default_factory=list)
    primary_stop: str | None = None  # the reason, when the run stopped at GitHub's primary limit
    drift_repairs: list[Event] = field(default_factory=list)

    @property
    def good(self) -> bool:
        done = self.completed
        return done is not None and not self.dry_run and not self.failures and done.get("exit_code") == 0


@dataclass
class Trip:
    """Why the pipeline stops, with the evidence a person needs to decide what to do."""

    condition: str  # failure_rate | rate_limit | drift_spike | manual
    reason: str  # one sentence: what was seen, against which threshold
    runs: list[RunRecord] = field(default_factory=list)
    failures: list[Event] = field(default_factory=list)
    drift: list[Event] = field(default_factory=list)
    last_good: RunRecord | None = None
    by: str | None = None  # a manual /brake: who


def after_last_decision(timed: Sequence[Timed]) -> list[Timed]:
    """The events after the latest trip or resume: evidence already acted on never trips again."""
    start = 0
    for index, (_, event) in enumerate(timed):
        if event.get("event") in ("brake.tripped", "brake.resumed"):
            start = index + 1
    return list(timed[start:])


def runs_of(timed: Iterable[Timed]) -> list[RunRecord]:
    """The runs in the events, in the order they started."""
    runs: dict[str, RunRecord] = {}
    for moment, event in timed:
        run_id = str(event.get("run_id", ""))
        run = runs.get(run_id)
        if run is None:
            run = runs[run_id] = RunRecord(run_id, moment)
        name = event.get("event")
        if name == "run.started":
            run.command, run.dry_run = str(event.get("command", "")), bool(event.get("dry_run"))
        elif name == "run.completed":
            run.completed = event
        elif name == "item.failed":
            run.failures.append(event)
        elif name == "drift.repaired":
            run.drift_repairs.append(event)
        elif name == "api.budget_stop" and str(event.get("reason", "")).startswith(_PRIMARY_REASONS):
            run.primary_stop = str(event.get("reason"))
    return sorted(runs.values(), key=lambda r: (r.started, r.run_id))


def evaluate(timed: Sequence[Timed], cfg: BrakeConfig, now: datetime) -> Trip | None:
    """The first trip condition the telemetry meets, or None; `timed` is every event read."""
    fresh = after_last_decision(timed)
    runs = runs_of(fresh)
    every = runs_of(timed)
    for check in (_failure_rate, _rate_limit, _drift_spike):
        trip = check(fresh, runs, cfg, now)
        if trip is not None:
            first = min((r.started for r in trip.runs), default=now)
            trip.last_good = next((r for r in reversed(every) if r.good and r.started < first), None)
            return trip
    return None


def _failure_rate(fresh: list[Timed], runs: list[RunRecord], cfg: BrakeConfig, now: datetime) -> Trip | None:
    start = now - timedelta(hours=cfg.window_hours)
    recent = [e for moment, e in fresh if moment >= start]
    worked = {e["item"] for e in recent if str(e.get("event", "")).startswith("item.") and _is_item(e)}
    failed = [e for e in recent if e.get("event") == "item.failed" and _is_item(e)]
    failed_items = {e["item"] for e in failed}
    if len(worked) < cfg.failure_min_items or len(failed_items) <= cfg.failure_rate * len(worked):
        return None
    share = round(100 * len(failed_items) / len(worked))
    reason = (
        f"{len(failed_items)} of {len(worked)} items ({share}%) failed "
        f"in the last {_hours(cfg.window_hours)}; "
        f"the brake trips above {round(cfg.failure_rate * 100)}% of at least {cfg.failure_min_items} items"
    )
    evidence = {str(e.get("run_id")) for e in failed}
    return Trip("failure_rate", reason, [r for r in runs if r.run_id in evidence], failed)


def _rate_limit(fresh: list[Timed], runs: list[RunRecord], cfg: BrakeConfig, now: datetime) -> Trip | None:
    ended = [r for r in runs if r.completed is not None or r.primary_stop is not None]
    last = ended[-cfg.rate_limit_runs :]
    if len(last) < cfg.rate_limit_runs or not all(r.primary_stop for r in last):
        return None
    reason = (
        f"the last {len(last)} runs in a row ended at GitHub's primary rate limit "
        f"(the brake trips after {cfg.rate_limit_runs}); the last said: {last[-1].primary_stop}"
    )
    return Trip("rate_limit", reason, last)


def _drift_spike(fresh: list[Timed], runs: list[RunRecord], cfg: BrakeConfig, now: datetime) -> Trip | None:
    start = now - timedelta(hours=cfg.window_hours)
    for run in reversed(runs):
        repaired = {e.get("item") for e in run.drift_repairs}
        if run.started >= start and len(repaired) >= cfg.drift_repairs:
            reason = (
                f"one sweep repaired label drift on {len(repaired)} items at once "
                f"(the brake trips at {cfg.drift_repairs}): something else is changing state labels"
            )
            return Trip("drift_spike", reason, [run], drift=run.drift_repairs)
    return None


def _is_item(event: Event) -> bool:
    return isinstance(event.get("item"), int) and not isinstance(event.get("item"), bool)


def _hours(hours: float) -> str:
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


# --- the intake circuit breaker -----------------------------------------------------------------


@dataclass(frozen=True)
class SourcePause:
    source: str
    failures: int  # runs in a row
    last_error: str


def paused_sources(timed: Sequence[Timed], cfg: BrakeConfig, now: datetime) -> dict[str, SourcePause]:
    """Sources whose last `source_failures` reads all failed, unless the last try is older than
    `source_retry_hours` (then one more try is allowed: a success closes the breaker)."""
    history: dict[str, list[tuple[datetime, Event]]] = {}
    for moment, event in timed:
        if event.get("event") in ("source.failed", "source.read") and isinstance(event.get("source"), str):
            history.setdefault(event["source"], []).append((moment, event))
    paused = {}
    for source, tries in history.items():
        streak = 0
        for _, event in reversed(tries):
            if event["event"] != "source.failed":
                break
            streak += 1
        last_try = tries[-1][0]
        if streak >= cfg.source_failures and now - last_try < timedelta(hours=cfg.source_retry_hours):
            paused[source] = SourcePause(source, streak, str(tries[-1][1].get("reason", "")))
    return paused


# --- who may brake and resume -------------------------------------------------------------------


def refusal(command: str, login: str, permission: Permission, approver: bool, edited: bool) -> str | None:
    """Why `/brake` or `/resume` by `login` does not count, or None when it does."""
    if edited:
        return f"an edited comment never counts: post a new comment with `/{command}`"
    if permission in BRAKE_PERMISSIONS or approver:
        return None
    return (
        f"`/{command}` needs maintain or admin permission on the repository, or being a configured "
        f"approver; @{login} has {permission} permission"
    )


def render_denied(comment_id: int, command: str, login: str, why: str) -> str:
    return f"{marker(denied_key(comment_id))}\n@{login}, your `/{command}` did not count: {why}.\n"


# --- the post-mortem ----------------------------------------------------------------------------

_CONDITIONS = {
    "failure_rate": "item failure rate",
    "rate_limit": "GitHub's primary rate limit, run after run",
    "drift_spike": "a drift spike (conflicting or missing state labels on many items)",
    "manual": "a person pulled the brake",
}


def alert_title(trip: Trip) -> str:
    return f"issueops stopped itself: {_CONDITIONS.get(trip.condition, trip.condition)}"


def render_postmortem(trip: Trip, *, when: datetime, run_id: str, repo: str, label: str) -> str:
    """The alert issue's body: what tripped and when, the evidence, what is held, how to resume."""
    lines = [
        marker(BRAKE_KEY),
        f"## {alert_title(trip)}",
        "",
        f"- **What tripped:** {trip.reason}.",
        f"- **When:** {_stamp(when)}, in run `{run_id}`.",
    ]
    if trip.by:
        lines.append(f"- **Who:** @{trip.by}.")
    lines += ["", "### Evidence", ""]
    lines += _runs_table(trip.runs, run_id) + _failures_section(trip.failures) + _drift_section(trip.drift)
    good = trip.last_good
    lines.append(
        f"**Last good run:** `{good.run_id}` (started {_stamp(good.started)}, "
        f"{(good.completed or {}).get('items_changed', 0)} items changed, none failed)."
        if good is not None
        else "**Last good run:** none in the telemetry this run could read."
    )
    lines += [
        "",
        "### What the pipeline stopped doing",
        "",
        "While this issue is open, every run is a dry run: it still reads the repository and reports "
        "its plan in the run summary, but it writes nothing except to this issue.",
        "",
        "- no item is labelled, assigned, commented on, processed or closed (`item.*` writes are held);",
        "- intake sources are not turned into new items;",
        "- comment commands wait (except `/resume` here); they are applied after the resume, "
        "from the comments, so nothing is lost.",
        "",
        "### How to resume",
        "",
        "1. Fix the cause: the hints above say where to look (docs/operations.md, failure classes).",
        "2. Comment `/resume` on this issue. It counts from a person with maintain or admin permission "
        f"on {repo}, or a configured approver; anyone else gets a reply saying why not.",
        "3. The next run closes this issue, records who resumed, and carries on with what waited. "
        "The evidence above never trips the brake again; new failures do.",
        "",
        f"To stop the pipeline by hand, comment `/brake [reason]` on any open issue (or here, once "
        f"this issue is closed). This issue is "
        f"found by its `{label}` label and the hidden marker above: keep both.",
    ]
    return "\n".join(lines) + "\n"


def _runs_table(runs: Sequence[RunRecord], current: str) -> list[str]:
    if not runs:
        return []
    rows = ["| run | started | command | items failed | ended |", "| --- | --- | --- | --- | --- |"]
    for run in runs[-10:]:
        ended = f"primary rate limit: {run.primary_stop}" if run.primary_stop else "normally"
        if run.run_id == current:
            ended = "this run: it tripped the brake"
        elif run.completed is None and not run.primary_stop:
            ended = "no `run.completed` (cut off?)"
        failed = {e.get("item") for e in run.failures}
        cells = (f"`{run.run_id}`", _stamp(run.started), run.command, str(len(failed)), ended)
        rows.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
    if len(runs) > 10:
        rows.append(f"\n{len(runs) - 10} earlier runs are not shown.")
    return [*rows, ""]


def _failures_section(failures: Sequence[Event]) -> list[str]:
    if not failures:
        return []
    codes = Counter((str(e.get("failure_class")), str(e.get("failure_code"))) for e in failures)
    hints = {str(e.get("failure_code")): str(e.get("hint", "")) for e in failures}
    rows = ["| failure class | code | items | what to do |", "| --- | --- | --- | --- |"]
    for (cls, code), count in sorted(codes.items(), key=lambda p: (-p[1], p[0])):
        items = sorted({e.get("item") for e in failures if e.get("failure_code") == code}, key=str)
        shown = f"{count}: " + ", ".join(f"#{n}" for n in items[:20]) + (" …" if len(items) > 20 else "")
        rows.append("| " + " | ".join(table_cell(c) for c in (cls, f"`{code}`", shown, hints[code])) + " |")
    by_stage = Counter(str(e.get("stage", "?")) for e in failures)
    stages = ", ".join(f"{stage} ({n})" for stage, n in sorted(by_stage.items()))
    return [*rows, "", f"Failures by stage: {stages}.", ""]


def _drift_section(drift: Sequence[Event]) -> list[str]:
    if not drift:
        return []
    rows = ["| item | found | repair |", "| --- | --- | --- |"]
    for event in list(drift)[:20]:
        found = ", ".join(str(x) for x in event.get("found", []))
        cells = (f"#{event.get('item')}", found, str(event.get("repair")))
        rows.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
    return [*rows, ""]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
