"""One run's figures as monitoring metrics: the table both exporters (Pushgateway, OTLP) read.

app.py hands over what the run did (`RunFigures`, built from the run summary); the exporter adds
what it counted in the run's own events (waits, budget stops). Every metric is named here once,
with its Prometheus and OpenTelemetry names, so the two never drift apart and the docs test can
check that docs/telemetry.md lists each one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["counter", "gauge"]


@dataclass(frozen=True)
class RunFigures:
    """What one run did, as app.py knows it when the run ends (the exporters never read GitHub)."""

    repo: str
    command: str
    run_id: str
    finished_at: datetime
    duration_seconds: float
    exit_code: int
    items_seen: int
    items_changed: int
    items_failed: int
    items_deferred: int
    requests_made: int
    requests_counted: int
    # Open items per state at the end of the run; None when the run did not read the items.
    items_by_state: Mapping[str, int] | None = None
    # How long each item now awaiting approval has waited, in seconds; None when not read.
    approval_ages_seconds: Sequence[float] | None = None


@dataclass
class EventTally:
    """What the exporter counts in the run's own events as they are written."""

    waits: int = 0
    wait_seconds: float = 0.0
    budget_stops: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        event = record.get("event")
        if event == "api.wait":
            self.waits += 1
            seconds = record.get("seconds")
            if isinstance(seconds, int | float) and not isinstance(seconds, bool):
                self.wait_seconds += float(seconds)
        elif event == "api.budget_stop":
            self.budget_stops += 1


@dataclass(frozen=True)
class Run:
    """The figures and the tally together: what every metric reads."""

    figures: RunFigures
    tally: EventTally


@dataclass(frozen=True)
class Metric:
    """One metric. `prom` is the Prometheus name (counters without the `_total` the exposition
    adds); `otel` and `unit` are the OpenTelemetry instrument's name and UCUM unit."""

    prom: str
    kind: Kind
    help: str
    otel: str
    unit: str
    value: Callable[[Run], float | None]

    @property
    def exposed(self) -> str:
        """The name a scrape shows."""
        return f"{self.prom}_total" if self.kind == "counter" else self.prom


def _oldest(run: Run) -> float | None:
    ages = run.figures.approval_ages_seconds
    if ages is None:
        return None
    return max(ages, default=0.0)


def _pending(run: Run) -> float | None:
    ages = run.figures.approval_ages_seconds
    return None if ages is None else float(len(ages))


# Counters are per run in OTLP (each run is its own process, so its start time marks the reset) and
# cumulative per Pushgateway group (the exporter adds the run to what the group held).
METRICS: tuple[Metric, ...] = (
    Metric("issueops_runs", "counter", "Runs finished.", "issueops.runs", "{run}", lambda r: 1),
    Metric(
        "issueops_runs_failed",
        "counter",
        "Runs that ended with a non-zero exit code (an item failed).",
        "issueops.runs.failed",
        "{run}",
        lambda r: 1 if r.figures.exit_code else 0,
    ),
    Metric(
        "issueops_items_seen",
        "counter",
        "Work units the stages looked at.",
        "issueops.items.seen",
        "{item}",
        lambda r: r.figures.items_seen,
    ),
    Metric(
        "issueops_items_changed",
        "counter",
        "Work units whose plan was applied (or planned, in a dry run).",
        "issueops.items.changed",
        "{item}",
        lambda r: r.figures.items_changed,
    ),
    Metric(
        "issueops_items_failed",
        "counter",
        "Work units whose processing failed.",
        "issueops.items.failed",
        "{item}",
        lambda r: r.figures.items_failed,
    ),
    Metric(
        "issueops_items_deferred",
        "counter",
        "Work units left for the next run (budget stop or --limit).",
        "issueops.items.deferred",
        "{item}",
        lambda r: r.figures.items_deferred,
    ),
    Metric(
        "issueops_api_requests_made",
        "counter",
        "GitHub API requests sent.",
        "issueops.api.requests.made",
        "{request}",
        lambda r: r.figures.requests_made,
    ),
    Metric(
        "issueops_api_requests_counted",
        "counter",
        "GitHub API requests that counted against the rate limit (a 304 does not).",
        "issueops.api.requests.counted",
        "{request}",
        lambda r: r.figures.requests_counted,
    ),
    Metric(
        "issueops_api_waits",
        "counter",
        "Times the API governor waited before a request (pacing, Retry-After, backoff).",
        "issueops.api.waits",
        "{wait}",
        lambda r: r.tally.waits,
    ),
    Metric(
        "issueops_api_wait_seconds",
        "counter",
        "Seconds the API governor waited.",
        "issueops.api.wait.duration",
        "s",
        lambda r: r.tally.wait_seconds,
    ),
    Metric(
        "issueops_api_budget_stops",
        "counter",
        "Runs stopped early to respect the API budget.",
        "issueops.api.budget_stops",
        "{stop}",
        lambda r: r.tally.budget_stops,
    ),
    Metric(
        "issueops_last_run_timestamp_seconds",
        "gauge",
        "Unix time the last run finished.",
        "issueops.last_run.timestamp",
        "s",
        lambda r: r.figures.finished_at.timestamp(),
    ),
    Metric(
        "issueops_last_success_timestamp_seconds",
        "gauge",
        "Unix time the last run with exit code 0 finished (kept across failed runs).",
        "issueops.last_success.timestamp",
        "s",
        lambda r: r.figures.finished_at.timestamp() if r.figures.exit_code == 0 else None,
    ),
    Metric(
        "issueops_last_run_duration_seconds",
        "gauge",
        "How long the last run took.",
        "issueops.last_run.duration",
        "s",
        lambda r: r.figures.duration_seconds,
    ),
    Metric(
        "issueops_last_run_exit_code",
        "gauge",
        "Exit code of the last run (0 done, 1 an item failed).",
        "issueops.last_run.exit_code",
        "1",
        lambda r: r.figures.exit_code,
    ),
    Metric(
        "issueops_approvals_pending",
        "gauge",
        "Open items waiting in state::awaiting-approval at the end of the last run.",
        "issueops.approvals.pending",
        "{item}",
        _pending,
    ),
    Metric(
        "issueops_approval_oldest_pending_age_seconds",
        "gauge",
        "How long the longest-waiting item has been awaiting approval (0 when none waits).",
        "issueops.approvals.oldest_pending.age",
        "s",
        _oldest,
    ),
)

# Open items per state: one gauge with a `state` label (the state name without `state::`).
ITEMS_BY_STATE = Metric(
    "issueops_items",
    "gauge",
    "Open items per state at the end of the last run.",
    "issueops.items.open",
    "{item}",
    lambda r: None,
)
STATE_LABEL = "state"
JOB = "issueops"
GROUPING = ("repository", "command")  # the Pushgateway grouping key; OTLP attributes of the same names
