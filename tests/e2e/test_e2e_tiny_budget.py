"""A run whose request budget is too small for anything still ends as a budget stop: exit 0, every
stage deferred, the summary and `run.completed` written, never a crash (the contract's promise)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_world import ALL_STAGES, DEMO_SCENARIO, world

from issueops.sandbox.scenario import from_scenario
from issueops.telemetry.reader import read_directory


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 8, 13])
def test_a_budget_too_small_stops_cleanly(budget: int, tmp_path: Path) -> None:
    w = world(from_scenario(DEMO_SCENARIO), tmp_path)
    summary = w.run(ALL_STAGES, max_requests=budget, dry_run=True)
    assert summary.exit_code == 0, summary.failures
    assert summary.budget_stop, "the summary says why the run stopped"
    assert summary.requests_made <= budget
    assert summary.deferred, "it says what waits for the next run"
    events = [e["event"] for e in read_directory(tmp_path / "telemetry").events]
    assert events[0] == "run.started" and "run.completed" in events
