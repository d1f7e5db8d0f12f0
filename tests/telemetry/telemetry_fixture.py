"""A hand-made telemetry history whose KPIs are counted by hand in HAND_COUNT below.

Six items of acme/ops over three days (2026-11-20..22), written by three runs through the real
sink with a fake clock, so the files carry a valid hash chain.

Timeline (UTC):
  #1 incident: created 11-20 09:00, assigned 10:00, in-progress 11:00, awaiting-approval 12:00,
     /approve by alice 13:00 (approval.granted + command.applied approve), approved 14:00, done 15:00.
  #2 incident: created 11-20 09:00, assigned 12:00, in-progress 11-21 00:00, /hold by bob 01:00,
     awaiting-approval 02:00, granted bob 02:30, denied carol (self_approval) 03:00,
     granted alice 04:00, lapsed bob (stale) 05:00, approved 06:00, done 08:00.
  #3 docs: created 11-20 09:00, assigned 11-21 09:00, in-progress 10:00, failed 10:30
     (transient/timeout), /retry by alice 12:00 -> in-progress 12:00, done 11-22 12:00.
  #4 docs: created 11-21 09:00, assigned 10:00, awaiting-approval 11:00,
     denied dave (not_collaborator) 11:30; still waiting.
  #5: created 11-22 09:00 (no transition): in triage.
  #6 incident: created 11-22 10:00 with a transition None -> triage, assigned 11:00,
     in-progress 11:30, failed 12:00 (permanent/validation).
Runs: D1 `run` 11-20 (20 made / 15 counted / 3 changed), D2 `run` 11-21 (40 / 30 / 4, one
api.wait of 30 s, one budget stop, 2 deferred), D3 `commands` 11-22 (6 / 6 / 3, exit code 1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from issueops.telemetry.sink import TelemetrySink

H = 3600.0
REPO = "acme/ops"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _move(item: int, source: str | None, target: str, cause: str, workflow: str | None) -> tuple[Any, ...]:
    return ("item.transition", item, {"from": source, "to": target, "cause": cause, "workflow": workflow})


def _created(item: int) -> tuple[Any, ...]:
    return ("item.created", item, {"source": "feed", "source_key": f"k{item}"})


def _assigned(item: int, workflow: str) -> tuple[Any, ...]:
    return ("item.assigned", item, {"workflow": workflow, "risk": "low", "owner": "alice", "score": 0.9})


DAY1: list[tuple[datetime, tuple[Any, ...]]] = [
    (at(20, 9), _created(1)),
    (at(20, 9), _created(2)),
    (at(20, 9), _created(3)),
    (at(20, 10), _assigned(1, "incident")),
    (at(20, 10), _move(1, "triage", "assigned", "assign", "incident")),
    (at(20, 11), _move(1, "assigned", "in-progress", "process", "incident")),
    (at(20, 12), _move(1, "in-progress", "awaiting-approval", "process", "incident")),
    (at(20, 12), _assigned(2, "incident")),
    (at(20, 12), _move(2, "triage", "assigned", "assign", "incident")),
    (at(20, 13), ("approval.granted", 1, {"login": "alice", "risk": "low", "gate": "publish"})),
    (at(20, 13), ("command.applied", 1, {"command": "approve", "login": "alice"})),
    (at(20, 14), _move(1, "awaiting-approval", "approved", "commands", "incident")),
    (at(20, 15), _move(1, "approved", "done", "process", "incident")),
]
DAY2: list[tuple[datetime, tuple[Any, ...]]] = [
    (at(21, 0), _move(2, "assigned", "in-progress", "process", "incident")),
    (at(21, 1), ("command.applied", 2, {"command": "hold", "login": "bob"})),
    (at(21, 2), _move(2, "in-progress", "awaiting-approval", "process", "incident")),
    (at(21, 2, 30), ("approval.granted", 2, {"login": "bob", "risk": "high", "gate": "publish"})),
    (at(21, 3), ("approval.denied", 2, {"login": "carol", "reason": "self_approval"})),
    (at(21, 4), ("approval.granted", 2, {"login": "alice", "risk": "high", "gate": "publish"})),
    (at(21, 5), ("approval.lapsed", 2, {"login": "bob", "reason": "stale"})),
    (at(21, 6), _move(2, "awaiting-approval", "approved", "commands", "incident")),
    (at(21, 8), _move(2, "approved", "done", "process", "incident")),
    (at(21, 9), _created(4)),
    (at(21, 9), _assigned(3, "docs")),
    (at(21, 9), _move(3, "triage", "assigned", "assign", "docs")),
    (at(21, 10), _move(3, "assigned", "in-progress", "process", "docs")),
    (at(21, 10), _assigned(4, "docs")),
    (at(21, 10), _move(4, "triage", "assigned", "assign", "docs")),
    (
        at(21, 10, 30),
        ("item.failed", 3, {"failure_class": "transient", "failure_code": "timeout", "hint": "retry"}),
    ),
    (at(21, 10, 30), _move(3, "in-progress", "failed", "process", "docs")),
    (at(21, 11), _move(4, "assigned", "awaiting-approval", "process", "docs")),
    (at(21, 11, 30), ("approval.denied", 4, {"login": "dave", "reason": "not_collaborator"})),
    (at(21, 12), ("command.applied", 3, {"command": "retry", "login": "alice"})),
    (at(21, 12), _move(3, "failed", "in-progress", "command:retry", "docs")),
    (at(21, 13), ("api.wait", None, {"seconds": 30, "reason": "secondary_limit"})),
    (at(21, 14), ("api.budget_stop", None, {"reason": "max_requests", "remaining": 0})),
]
DAY3: list[tuple[datetime, tuple[Any, ...]]] = [
    (at(22, 9), _created(5)),
    (at(22, 10), _created(6)),
    (at(22, 10), _move(6, None, "triage", "monitor", None)),
    (at(22, 11), _assigned(6, "incident")),
    (at(22, 11), _move(6, "triage", "assigned", "assign", "incident")),
    (at(22, 11, 30), _move(6, "assigned", "in-progress", "process", "incident")),
    (at(22, 12), _move(3, "in-progress", "done", "process", "docs")),
    (
        at(22, 12),
        (
            "item.failed",
            6,
            {"failure_class": "permanent", "failure_code": "validation", "hint": "fix the body"},
        ),
    ),
    (at(22, 12), _move(6, "in-progress", "failed", "process", "incident")),
]

RUNS: list[tuple[str, datetime, datetime, list[tuple[datetime, tuple[Any, ...]]], dict[str, Any]]] = [
    (
        "run",
        at(20, 8, 59),
        at(20, 23),
        DAY1,
        {
            "requests_made": 20,
            "requests_counted": 15,
            "items_changed": 3,
            "items_deferred": 0,
            "deferred": [],
        },
    ),
    (
        "run",
        at(21, 0),
        at(21, 23),
        DAY2,
        {
            "requests_made": 40,
            "requests_counted": 30,
            "items_changed": 4,
            "items_deferred": 2,
            "deferred": [3, 4],
        },
    ),
    (
        "commands",
        at(22, 8),
        at(22, 23),
        DAY3,
        {"requests_made": 6, "requests_counted": 6, "items_changed": 3, "items_deferred": 0, "deferred": []},
    ),
]


def write_fixture(directory: Path) -> list[str]:
    """Write the three runs under `directory`; returns their run ids."""
    run_ids = []
    for command, start, end, events, counts in RUNS:
        clock = Clock()
        clock.now = start
        with TelemetrySink(directory, REPO, command=command, clock=clock) as sink:
            sink.emit("run.started", dry_run=False)
            for moment, (event, item, fields) in events:
                clock.now = moment
                sink.emit(event, item=item, **fields)
            clock.now = end
            exit_code = 1 if command == "commands" else 0
            sink.emit("run.completed", items_seen=6, items_failed=exit_code, exit_code=exit_code, **counts)
            run_ids.append(sink.run_id)
    return run_ids


# The figures, counted by hand from the timeline above (durations in seconds).
HAND_COUNT: dict[str, Any] = {
    "items": 6,
    "states_now": {
        "triage": 1,
        "assigned": 0,
        "in-progress": 0,
        "awaiting-approval": 1,
        "approved": 0,
        "done": 3,
        "rejected": 0,
        "failed": 1,
    },
    "throughput": {"2026-11-20": 1, "2026-11-21": 1, "2026-11-22": 1},
    # lead times 6 h (#1), 23 h (#2), 51 h (#3)
    "lead_time": {"n": 3, "p50": 23 * H, "p95": 51 * H, "max": 51 * H, "mean": round(80 * H / 3, 3)},
    # closed visits: triage 1,3,24,1,1 h; assigned 1,12,1,1,0.5; in-progress 1,2,0.5,24,0.5;
    # awaiting-approval 2,4; approved 1,2; failed 1.5
    "time_in_state": {
        "triage": {"n": 5, "p50": 1 * H, "p95": 24 * H, "mean": 6 * H},
        "assigned": {"n": 5, "p50": 1 * H, "p95": 12 * H, "mean": 3.1 * H},
        "in-progress": {"n": 5, "p50": 1 * H, "p95": 24 * H, "mean": 5.6 * H},
        "awaiting-approval": {"n": 2, "p50": 2 * H, "p95": 4 * H, "mean": 3 * H},
        "approved": {"n": 2, "p50": 1 * H, "p95": 2 * H, "mean": 1.5 * H},
        "failed": {"n": 1, "p50": 1.5 * H, "p95": 1.5 * H, "mean": 1.5 * H},
    },
    "approval_latency": {"n": 2, "p50": 2 * H, "p95": 4 * H},
    "first_approval": {"n": 2, "p50": 0.5 * H, "p95": 1 * H},
    "approvals_pending": 1,
    "oldest_pending_seconds": 36 * H,  # #4 waits from 11-21 11:00 to the last event, 11-22 23:00
    "granted": 3,
    "denied": {"self_approval": 1, "not_collaborator": 1},
    "lapsed": {"stale": 1},
    "flow_through": {"done": 3, "hands_off": 1, "intervened": 2, "rate": 1 / 3},
    "failures": [("transient", "timeout", 1, 1), ("permanent", "validation", 1, 1)],
    "api": {
        "runs": 3,
        "requests_made": 66,
        "requests_counted": 51,
        "per_run_p50": 20,
        "per_run_p95": 40,
        "per_run_max": 40,
        "items_changed": 10,
        "per_item_changed": 6.6,
        "waits": 1,
        "wait_seconds": 30.0,
        "failed_runs": 1,
        "runs_by_command": {"commands": 1, "run": 2},
    },
    "budget": {"stops": 1, "by_reason": {"max_requests": 1}, "items_deferred": 2},
    # 21 transitions + 6 approval events
    "audit_rows": 27,
}
