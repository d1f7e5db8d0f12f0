"""Issue #14: the exit code never hides a failure. Through the CLI, over HTTP, against the sandbox:
an item a run fails (a template that passes `validate` but does not render) and an outage that
ends a run early both exit 1, and the summary says which and why."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from e2e_ops_world import CONFIG, REPO, SCHEMAS, World, scenario

import issueops.app
from issueops.cli import main

WF = "workflow::content-review"
ASSIGNED = {"title": "[review] Blog post", "user": "carol", "labels": ["state::assigned", WF]}
AUTONOMOUS = CONFIG.replace("profile: assisted", "profile: autonomous")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(scenario([ASSIGNED, ASSIGNED | {"title": "[review] Docs page"}]), tmp_path, config=AUTONOMOUS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(issueops.app, "SystemClock", lambda: w.clock)
    yield w
    w.stop()


def cli(w: World, *args: str, schemas: Path = SCHEMAS, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main,
        [
            *("--repo", REPO, "--api-url", w.url, "--config", str(w.config_path)),
            *("--schemas", str(schemas), "--telemetry", str(w.telemetry_dir), *args),
        ],
        env={"GITHUB_TOKEN": "bot-token", "GITHUB_ACTIONS": "", **(env or {})},
        catch_exceptions=False,
    )


def broken_schemas(tmp: Path) -> Path:
    """The shipped schemas with one template that is valid Jinja but divides by zero."""
    copy = tmp / "schemas"
    shutil.copytree(SCHEMAS, copy)
    template = copy / "templates" / "review-checklist.md"
    template.write_text(template.read_text(encoding="utf-8") + "\nScore: {{ (1 / 0) }}\n", encoding="utf-8")
    return copy


def test_a_render_error_fails_the_item_and_the_run(world: World, tmp_path: Path) -> None:
    schemas = broken_schemas(tmp_path)
    assert cli(world, "validate", schemas=schemas).exit_code == 0  # validate cannot see it

    result = cli(world, "--json", "process", schemas=schemas)
    summary = json.loads(result.output)
    assert result.exit_code == 1
    assert summary["items_failed"] == 2 and summary["exit_code"] == 1
    assert summary["stages"]["process"]["failed"] == 2
    assert {f["target"] for f in summary["failures"]} == {1, 2}
    assert all(f["failure_code"] == "invalid_contract" for f in summary["failures"])
    assert "review-checklist.md" in summary["failures"][0]["hint"]
    assert world.state_labels(1) == {"state::failed"}

    text = cli(world, "process", schemas=schemas)  # nothing left to fail: the next run is clean
    assert text.exit_code == 0, text.output


def test_a_render_error_in_a_dry_run_is_shown_and_exits_1(world: World, tmp_path: Path) -> None:
    result = cli(world, "--dry-run", "process", schemas=broken_schemas(tmp_path))
    assert result.exit_code == 1
    assert "process: 2 seen, 0 changed, 2 failed" in result.output
    assert "FAILED process 1: permanent/invalid_contract" in result.output
    assert world.state_labels(1) == {"state::assigned"}  # a dry run writes nothing


def test_an_outage_that_ends_the_run_exits_1_with_the_reason(world: World) -> None:
    # Every read answers 503; the first retry would wait longer than max_wait_seconds allows.
    world.config_path.write_text(AUTONOMOUS.replace("reserve: 200", "reserve: 200\n  max_wait_seconds: 0.5"))
    world.sandbox.faults.add(status=503, method="GET", route="/issues", times=None)
    result = cli(world, "process")
    assert result.exit_code == 1, result.output
    assert "stopped early: GitHub kept failing (upstream_unavailable: the next retry" in result.output

    as_json = json.loads(cli(world, "--json", "process").output)
    assert as_json["outage"] is True and as_json["exit_code"] == 1


def test_a_budget_stop_is_not_a_failure(world: World) -> None:
    result = cli(world, "--max-requests", "2", "process")
    assert result.exit_code == 0, result.output
    assert "stopped early to respect the API budget" in result.output


def test_an_outage_before_the_first_stage_exits_1_with_the_fix(world: World) -> None:
    world.config_path.write_text(AUTONOMOUS.replace("reserve: 200", "reserve: 200\n  max_wait_seconds: 0.5"))
    world.sandbox.faults.add(status=502, method="GET", times=None)  # GET /user fails too
    result = cli(world, "process")
    assert result.exit_code == 1, result.output
    assert "upstream_unavailable: the next retry would wait" in result.output
    # the run still ends with its summary (and, in Actions, its step summary and outputs)
    assert "stopped early: GitHub kept failing" in result.output and "the next run retries" in result.output


# --- the telemetry anchor each run prints outside its file -----------------------------------------


def test_each_run_prints_its_anchor_and_the_next_run_chains_it(world: World, tmp_path: Path) -> None:
    step_summary = tmp_path / "step-summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary), "GITHUB_OUTPUT": ""}
    first = cli(world, "--json", "process", env=env)
    assert first.exit_code == 0, first.output
    anchor = json.loads(first.stdout)["telemetry"]
    text = f"{anchor['file']}:{anchor['lines']}:{anchor['head']}"
    assert f"Telemetry anchor (`issueops telemetry verify --anchor` checks it): `{text}`" in (
        step_summary.read_text(encoding="utf-8")
    )
    path = world.telemetry_dir / anchor["file"]
    assert anchor["lines"] == len(path.read_bytes().splitlines())
    assert cli(world, "telemetry", "verify", "--anchor", text).exit_code == 0

    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-2]))  # the tail cut off
    bad = cli(world, "telemetry", "verify", "--anchor", text)
    assert bad.exit_code == 1 and "truncated: 2 line(s) removed from the end" in bad.output

    second = json.loads(cli(world, "--json", "sweep").stdout)  # the next run chains the cut file
    assert second["telemetry"]["file"] != anchor["file"]
    assert "truncated" not in cli(world, "telemetry", "verify").output  # it anchors what is there now
    path.unlink()
    deleted = cli(world, "telemetry", "verify")
    assert deleted.exit_code == 1 and f"{anchor['file']}:0: deleted: the file is gone" in deleted.output
