"""A run stops cleanly at its wall-clock budget (`--max-seconds`, `api.max_run_seconds`).

End to end through PyGithub against the sandbox: writes are paced on the sandbox's virtual
clock (one a second), so a run over many items takes minutes of virtual time and meets its
budget part-way. It must stop between items, never inside one, say so, and still write its
summary, its step outputs and its telemetry, exit 0; the next run finishes the rest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from e2e_world import BOT, World, duplicates, world, write_config

from issueops import cli
from issueops.core.states import State, current_state
from issueops.sandbox.scenario import from_scenario
from issueops.telemetry.reader import read_lines, telemetry_files

ITEMS = 12
_OUTPUT = re.compile(r"^([a-z-]+)<<(\S+)\n(.*?)\n\2$", re.MULTILINE | re.DOTALL)


def _scenario() -> dict[str, Any]:
    return {
        "repo": "acme/ops",
        "default_branch": "main",
        "clock": {"start": "2026-11-23T09:00:00Z"},
        "users": [
            {"login": BOT, "token": "bot-token", "permission": "write", "type": "Bot"},
            {"login": "alice", "token": "alice-token", "permission": "admin"},
            {"login": "bob", "token": "bob-token", "permission": "maintain"},
            {"login": "carol", "token": "carol-token", "permission": "write"},
        ],
        "teams": [{"slug": "ops-approvers", "members": ["alice"], "permission": "write"}],
        "labels": [{"name": "content", "color": "0e8a16"}],
        "files": {"README.md": "# ops\n"},
        "issues": [
            {
                "title": f"Docs: fix typo {n} in the handbook",
                "user": "carol",
                "labels": ["state::triage", "content"],
                "body": f"Typo at https://docs.example.com/oncall/handbook-{n}.md",
            }
            for n in range(ITEMS)
        ],
    }


def _states(w: World) -> dict[int, State | None]:
    return {n: current_state(i.labels) for n, i in w.sandbox.issues.items()}


def _actions_env(tmp: Path) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": "bot-token",
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp / "step-summary.md"),
    }


def test_a_run_stops_between_items_at_its_time_budget_and_reports_it(tmp_path: Path) -> None:
    w = world(from_scenario(_scenario()), tmp_path, config=write_config(tmp_path))
    env = _actions_env(tmp_path)
    summary = w.run(("assign",), max_seconds=10, env=env)

    # stopped part-way, between items: each item is either fully assigned or untouched
    states = _states(w)
    assigned = [n for n, s in states.items() if s is State.ASSIGNED]
    untouched = [n for n, s in states.items() if s is State.TRIAGE]
    assert len(assigned) + len(untouched) == ITEMS
    assert 0 < len(assigned) < ITEMS
    assert summary.items_changed == len(assigned)
    assert summary.deferred == [f"assign:{n}" for n in sorted(untouched)]
    assert summary.budget_stop is not None and "run time budget of 10 s reached" in summary.budget_stop
    assert summary.exit_code == 0

    # the summary, the step outputs and the step summary are written as for any run
    cli._finish(w.options(max_seconds=10, env=env), summary)  # the CLI's own ending
    written = (tmp_path / "output").read_text(encoding="utf-8")
    outputs = {m.group(1): m.group(3) for m in _OUTPUT.finditer(written)}
    assert outputs["exit-code"] == "0"
    assert outputs["items-deferred"] == str(len(untouched))
    assert "run time budget" in outputs["budget-stop"]
    assert json.loads(outputs["summary"])["deferred"] == summary.deferred
    step_summary = (tmp_path / "step-summary.md").read_text(encoding="utf-8")
    assert "Stopped early" in step_summary and "run time budget" in step_summary

    # the telemetry says why, then closes the run
    events = [
        line.record
        for path in telemetry_files(tmp_path / "telemetry")
        for line in read_lines(path)
        if line.record is not None
    ]
    names = [e["event"] for e in events]
    stop = next(e for e in events if e["event"] == "api.budget_stop")
    assert "run time budget" in stop["reason"]
    assert names[-1] == "run.completed"
    completed = events[-1]
    assert completed["items_deferred"] == len(untouched) and completed["exit_code"] == 0

    # the next run (no budget) finishes the rest: nothing lost, nothing doubled
    again = w.run(("assign",))
    assert again.budget_stop is None
    assert set(_states(w).values()) == {State.ASSIGNED}
    assert not duplicates(w.sandbox), duplicates(w.sandbox)


def test_the_config_budget_applies_and_the_flag_wins(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data.setdefault("api", {})["max_run_seconds"] = 6
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    w = world(from_scenario(_scenario()), tmp_path, config=config)
    from_config = w.run(("assign",))
    assert from_config.budget_stop is not None and "run time budget of 6 s" in from_config.budget_stop
    first = from_config.items_changed
    assert 0 < first < ITEMS

    flag_wins = w.run(("assign",), max_seconds=3600)
    assert flag_wins.budget_stop is None
    assert flag_wins.items_changed == ITEMS - first


def test_a_run_within_its_budget_is_not_stopped(tmp_path: Path) -> None:
    w = world(from_scenario(_scenario()), tmp_path, config=write_config(tmp_path))
    summary = w.run(("assign",), max_seconds=3600)
    assert summary.budget_stop is None and summary.items_changed == ITEMS
