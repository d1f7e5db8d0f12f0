"""The brake's pure rules (issue #19): each trip condition at and around its threshold, the intake
circuit breaker, who may brake or resume, and the post-mortem a person reads (a snapshot)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issueops.config.settings import BrakeConfig
from issueops.stages.brake import evaluate, paused_sources, refusal, render_postmortem

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CFG = BrakeConfig()
SNAPSHOT = Path(__file__).with_name("brake_postmortem.md")


class Log:
    """Telemetry as the reader returns it: (moment, event), runs one after another."""

    def __init__(self) -> None:
        self.timed: list[tuple[datetime, dict[str, Any]]] = []
        self.run = 0

    def add(self, hours_ago: float, event: str, run: str | None = None, **fields: Any) -> None:
        at = NOW - timedelta(hours=hours_ago)
        self.timed.append((at, {"event": event, "run_id": run or f"r{self.run}", **fields}))

    def start(self, hours_ago: float, command: str = "run") -> str:
        self.run += 1
        self.add(hours_ago, "run.started", command=command, dry_run=False)
        return f"r{self.run}"

    def items(self, hours_ago: float, ok: int, failed: int) -> None:
        run = self.start(hours_ago)
        for n in range(ok):
            self.add(hours_ago, "item.assigned", run, item=100 * self.run + n)
        for n in range(failed):
            number = 100 * self.run + 50 + n
            self.add(hours_ago, "item.assigned", run, item=number)
            self.add(
                hours_ago,
                "item.failed",
                run,
                item=number,
                stage="process",
                failure_class="permanent",
                failure_code="authorization_denied",
                hint="The token lacks a permission.",
            )
        self.add(hours_ago, "run.completed", run, exit_code=1 if failed else 0, items_changed=ok + failed)

    def stop(self, hours_ago: float, reason: str) -> None:
        run = self.start(hours_ago)
        self.add(hours_ago, "api.budget_stop", run, reason=reason, remaining=0)
        self.add(hours_ago, "run.completed", run, exit_code=0, items_changed=0)

    def drift(self, hours_ago: float, items: int) -> None:
        run = self.start(hours_ago, "sweep")
        for n in range(items):
            self.add(hours_ago, "drift.repaired", run, item=n + 1, found=["state::x"], repair="state::triage")
        self.add(hours_ago, "run.completed", run, exit_code=0, items_changed=items)


@dataclass
class Case:
    name: str
    build: Any
    tripped: str | None
    cfg: BrakeConfig = field(default_factory=BrakeConfig)


PRIMARY = "primary limit (core) exhausted; it resets in 3000 s, more than max_wait_seconds"
BUDGET = "run request budget of 900 requests reached"

CASES = [
    Case("3 of 4 failed: over half of four", lambda g: g.items(1, ok=1, failed=3), "failure_rate"),
    Case("2 of 4 failed: exactly half does not trip", lambda g: g.items(1, ok=2, failed=2), None),
    Case("3 of 3 failed: too few items", lambda g: g.items(1, ok=0, failed=3), None),
    Case(
        "failures spread over runs add up",
        lambda g: (g.items(5, ok=0, failed=2), g.items(1, ok=1, failed=1)),
        "failure_rate",
    ),
    Case(
        "failures older than the window do not count",
        lambda g: (g.items(7, ok=0, failed=4), g.items(1, ok=4, failed=0)),
        None,
    ),
    Case(
        "evidence before a resume never trips again",
        lambda g: (g.items(2, ok=0, failed=4), g.add(1, "brake.resumed", login="alice", alert=9)),
        None,
    ),
    Case(
        "a smaller window set in the config",
        lambda g: g.items(3, ok=0, failed=4),
        None,
        BrakeConfig(window_hours=2),
    ),
    Case(
        "two runs in a row at the primary limit",
        lambda g: (
            g.stop(2, PRIMARY),
            g.stop(1, "primary_reset: waiting 3000 s would exceed max_wait_seconds"),
        ),
        "rate_limit",
    ),
    Case("one run at the primary limit", lambda g: (g.items(2, 1, 0), g.stop(1, PRIMARY)), None),
    Case("two budget stops are not the real limit", lambda g: (g.stop(2, BUDGET), g.stop(1, BUDGET)), None),
    Case(
        "a good run in between breaks the row",
        lambda g: (g.stop(3, PRIMARY), g.items(2, 1, 0), g.stop(1, PRIMARY)),
        None,
    ),
    Case("a sweep repairing ten items", lambda g: g.drift(1, 10), "drift_spike"),
    Case("a sweep repairing nine items", lambda g: g.drift(1, 9), None),
    Case(
        "a configured drift threshold", lambda g: g.drift(1, 3), "drift_spike", BrakeConfig(drift_repairs=3)
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_trip_conditions(case: Case) -> None:
    log = Log()
    case.build(log)
    trip = evaluate(sorted(log.timed, key=lambda p: p[0]), case.cfg, NOW)
    assert (trip.condition if trip else None) == case.tripped


def test_the_last_good_run_is_the_one_before_the_evidence() -> None:
    log = Log()
    log.items(9, ok=3, failed=0)
    log.items(8, ok=2, failed=0)
    log.items(1, ok=0, failed=4)
    trip = evaluate(log.timed, CFG, NOW)
    assert trip is not None and trip.last_good is not None and trip.last_good.run_id == "r2"


# --- the circuit breaker -------------------------------------------------------------------------


def _source_log(outcomes: str, last_hours_ago: float = 1) -> Log:
    """`outcomes`, oldest first: f = source.failed, r = source.read, one run each, an hour apart."""
    log = Log()
    for index, outcome in enumerate(outcomes):
        at = last_hours_ago + len(outcomes) - 1 - index
        run = log.start(at, "monitor")
        if outcome == "f":
            log.add(at, "source.failed", run, source="flaky", kind="feed", reason="connection refused")
        else:
            log.add(at, "source.read", run, source="flaky")
    return log


BREAKER = [
    ("fff", 1, True),
    ("ff", 1, False),
    ("fffrff", 1, False),  # a success in between resets the count
    ("rfff", 1, True),
    ("fff", 7, False),  # the last try is older than source_retry_hours: one more try
]


@pytest.mark.parametrize(("outcomes", "hours_ago", "paused"), BREAKER)
def test_the_circuit_breaker(outcomes: str, hours_ago: float, paused: bool) -> None:
    result = paused_sources(_source_log(outcomes, hours_ago).timed, CFG, NOW)
    assert ("flaky" in result) is paused
    if paused:
        assert result["flaky"].failures == 3 and result["flaky"].last_error == "connection refused"


# --- who may brake and resume --------------------------------------------------------------------

WHO = [
    ("admin", False, False, True),
    ("maintain", False, False, True),
    ("write", False, False, False),
    ("triage", False, False, False),
    ("none", True, False, True),  # a configured approver
    ("admin", False, True, False),  # an edited comment never counts
]


@pytest.mark.parametrize(("permission", "approver", "edited", "allowed"), WHO)
def test_who_may_resume(permission: Any, approver: bool, edited: bool, allowed: bool) -> None:
    why = refusal("resume", "someone", permission, approver, edited)
    assert (why is None) is allowed
    if not allowed:
        assert "`/resume`" in (why or "")


def test_a_refusal_names_what_is_needed_and_what_the_person_has() -> None:
    why = refusal("resume", "carol", "write", False, False)
    assert why == (
        "`/resume` needs maintain or admin permission on the repository, or being a configured "
        "approver; @carol has write permission"
    )


# --- the post-mortem -----------------------------------------------------------------------------


def test_the_post_mortem_reads_well() -> None:
    """Compared with the committed snapshot; `ISSUEOPS_UPDATE_SNAPSHOTS=1` rewrites it (review the diff)."""
    log = Log()
    log.items(9, ok=3, failed=0)
    log.items(2, ok=1, failed=2)
    log.items(1, ok=0, failed=3)
    trip = evaluate(log.timed, CFG, NOW)
    assert trip is not None
    body = render_postmortem(trip, when=NOW, run_id="r3", repo="acme/ops", label="issueops::brake")
    if os.environ.get("ISSUEOPS_UPDATE_SNAPSHOTS") == "1":  # pragma: no cover
        SNAPSHOT.write_text(body, encoding="utf-8")
    assert body == SNAPSHOT.read_text(encoding="utf-8")
