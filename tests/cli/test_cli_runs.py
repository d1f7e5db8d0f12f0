"""A run as a user sees it: progress on a terminal (a pty), Ctrl-C, and on an (env-faked) runner
the annotations, step summary and outputs, also when the run ends with an error."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_world import BOT_TOKEN, clean_env, issueops, sandbox_server, user_dir

from issueops.actions_env import RUN_OUTPUTS, SUMMARY_OUTPUT_LIMIT, capped_summary
from issueops.output import markdown_summary
from issueops.runner import PlanRow, RunSummary


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the pty's other end closed
            return out
        if not chunk:
            return out
        out += chunk


def test_progress_on_a_terminal_shows_stage_items_and_requests(tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    with sandbox_server() as url:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "issueops", "assign", "--repo", "acme/ops", "--api-url", url, "--dry-run"],
            cwd=work,
            env=clean_env(GITHUB_TOKEN=BOT_TOKEN, TERM="xterm"),
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        shown = _read_all(master).decode()
        proc.communicate(timeout=120)
        os.close(master)
    assert proc.returncode == 0
    assert "assign" in shown
    assert "/22" in shown and "22/22" in shown  # items done of total
    assert "requests" in shown
    assert "\r" in shown  # redrawn in place


def test_no_progress_when_not_a_terminal_or_in_actions(tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    with sandbox_server() as url:
        piped = issueops(
            "assign",
            "--repo",
            "acme/ops",
            "--api-url",
            url,
            "--dry-run",
            cwd=work,
            env=clean_env(GITHUB_TOKEN=BOT_TOKEN),
        )
    assert piped.returncode == 0
    assert "requests" not in piped.stderr and "\r" not in piped.stderr


def _events(telemetry: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted(telemetry.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_ctrl_c_stops_between_items_records_the_run_and_exits_130(tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    telemetry = work / "telemetry"
    with sandbox_server() as url:
        # live: every write is paced (1 s apart), so the run takes a while and Ctrl-C lands mid-run
        proc = subprocess.Popen(
            [sys.executable, "-m", "issueops", "assign", "--repo", "acme/ops", "--api-url", url],
            cwd=work,
            env=clean_env(GITHUB_TOKEN=BOT_TOKEN),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            e["event"] == "item.assigned" for e in _events(telemetry)
        ):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "INTERRUPTED" in out  # the summary is still printed
    events = _events(telemetry)
    completed = [e for e in events if e["event"] == "run.completed"]
    assert len(completed) == 1 and completed[0]["interrupted"] and completed[0]["exit_code"] == 130
    changed = int(completed[0]["items_changed"])  # type: ignore[call-overload]
    assert 1 <= changed < 21  # it stopped between items: some done, not all
    # every item it started is finished: no item was left with two state labels or none
    assigned = {e["item"] for e in events if e["event"] == "item.assigned"}
    flagged = {e["item"] for e in events if e["event"] == "item.needs_human"}
    assert len(assigned | flagged) == changed


def _runner_env(tmp: Path, **extra: str) -> tuple[dict[str, str], Path, Path]:
    summary, output = tmp / "step-summary.md", tmp / "output.txt"
    env = clean_env(
        GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(output), **extra
    )
    return env, summary, output


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        name, _, marker = lines[i].partition("<<")
        end = lines.index(marker, i + 1)
        out[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return out


def test_on_a_runner_config_errors_are_annotations_and_the_run_still_reports(tmp_path: Path) -> None:
    work = user_dir(tmp_path / "work")
    config = work / ".github" / "issueops.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("profile: assisted", "profile: sideways"))
    env, summary, output = _runner_env(tmp_path, GITHUB_TOKEN=BOT_TOKEN)
    result = issueops("assign", "--repo", "acme/ops", cwd=work, env=env)
    assert result.returncode == 1
    line = next(i for i, t in enumerate(config.read_text().splitlines(), 1) if "profile:" in t)
    assert f"::error title=issueops validate,file=.github/issueops.yml,line={line},col=" in result.stderr
    assert "failed (exit 1)" in summary.read_text()
    outputs = _outputs(output)
    assert set(outputs) == set(RUN_OUTPUTS)
    assert outputs["exit-code"] == "1" and "1 error(s)" in outputs["error"]


def test_on_a_runner_an_unreachable_api_still_writes_summary_and_outputs(tmp_path: Path) -> None:
    work = user_dir(tmp_path / "work")
    env, summary, output = _runner_env(tmp_path, GITHUB_TOKEN=BOT_TOKEN)
    result = issueops("assign", "--repo", "acme/ops", "--api-url", "http://127.0.0.1:9", cwd=work, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("::error title=issueops::")
    assert "cannot reach the API at http://127.0.0.1:9" in summary.read_text()
    assert _outputs(output)["exit-code"] == "1"


def test_on_a_runner_items_link_and_the_outputs_are_complete(tmp_path: Path) -> None:
    work = user_dir(tmp_path / "work")
    env, summary, output = _runner_env(tmp_path, GITHUB_TOKEN=BOT_TOKEN)
    with sandbox_server() as url:
        result = issueops("assign", "--repo", "acme/ops", "--api-url", url, "--dry-run", cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert f"[#1]({url}/acme/ops/issues/1)" in text
    assert "<details>" in text  # 21 plan rows are folded
    outputs = _outputs(output)
    assert json.loads(outputs["summary"])["items_changed"] == 21 and outputs["error"] == ""


def _big_summary(rows: int) -> RunSummary:
    summary = RunSummary(command="assign", dry_run=True, items_seen=rows, items_changed=rows)
    summary.rows = [
        PlanRow("assign", f"#{n}", "AddLabels", "labels=state::assigned " + "x" * 300) for n in range(rows)
    ]
    summary.deferred = [f"assign:{n}" for n in range(rows, rows * 2)]
    summary.stages = {"assign": {"seen": rows, "changed": rows, "failed": 0, "deferred": rows}}
    return summary


def test_the_summary_output_is_capped_and_points_at_the_full_one() -> None:
    data = _big_summary(3000).as_dict()
    assert len(json.dumps(data)) > SUMMARY_OUTPUT_LIMIT
    text = capped_summary(
        data, full_at="telemetry/summaries/assign-1-1.json in this run's telemetry artifact"
    )
    assert len(text.encode()) <= SUMMARY_OUTPUT_LIMIT
    capped = json.loads(text)
    assert capped["truncated"]["left_out"]["plan"] == 3000 - 20
    assert capped["full_summary"].startswith("telemetry/summaries/")
    assert capped["items_changed"] == 3000


def test_deferred_items_are_summarised_not_listed_by_the_thousand() -> None:
    text = markdown_summary(_big_summary(2000))
    assert "Deferred to the next run: assign: 2,000 item(s)." in text
    assert "... and 1,980 more" in text
    assert text.count("assign:") < 100


@pytest.mark.parametrize("rows", [5, 50])
def test_long_tables_fold_into_details(rows: int) -> None:
    text = markdown_summary(_big_summary(rows))
    assert ("<details>" in text) == (rows > 20)


def test_a_big_dry_run_on_a_runner_saves_the_full_summary_beside_the_telemetry(tmp_path: Path) -> None:
    from issueops.cli import _save_full_summary
    from issueops.core.options import Options

    opts = Options(
        telemetry_dir=tmp_path / "telemetry", env={"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2"}
    )
    where = _save_full_summary(opts, _big_summary(3000).as_dict())
    saved = tmp_path / "telemetry" / "summaries" / "assign-77-2.json"
    assert where.startswith(str(saved)) and len(json.loads(saved.read_text())["plan"]) == 3000
    assert _save_full_summary(opts, _big_summary(3).as_dict()) == ""


def test_on_a_runner_a_failed_item_is_an_annotation_that_names_the_permission(tmp_path: Path) -> None:
    import requests

    work = user_dir(tmp_path / "work")
    env, summary, output = _runner_env(tmp_path, GITHUB_TOKEN=BOT_TOKEN)
    with sandbox_server() as url:
        fault = {
            "status": 403,
            "route": r"/issues/1/",
            "method": "POST",
            "times": None,
            "message": "Resource not accessible by integration",
        }
        requests.post(f"{url}/_sandbox/faults", json=fault, timeout=10).raise_for_status()
        result = issueops("assign", "--repo", "acme/ops", "--api-url", url, "--item", "1", cwd=work, env=env)
    assert result.returncode == 1, result.stderr
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("::error "))
    assert line.startswith("::error title=issueops assign%3A assign failed::#1: authorization_denied: ")
    assert "the token lacks the permission issues: write" in line
    text = summary.read_text()
    assert "### Failed items" in text and f"[#1]({url}/acme/ops/issues/1)" in text
    outputs = _outputs(output)
    assert outputs["items-failed"] == "1" and outputs["exit-code"] == "1"
