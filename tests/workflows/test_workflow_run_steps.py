"""The workflows' `run:` scripts, executed as the runner would, with the env GitHub would give them.

- The telemetry publisher is run for real against a local bare repository standing in for
  GitHub: first publish, re-run, two runs racing for the same branch, a forced lost race.
- Each stage's issueops step is run with a stand-in `python` that records what it was asked to
  run; the recorded launcher call is then resolved by `issueops.actions_env.main`, giving the
  exact `issueops` command line a schedule, a dispatch or a comment would produce.

Not here yet: the same steps against the sandbox GitHub with the real CLI (see the skipped test
at the end; it needs the stage commands wired into the CLI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from workflow_runsteps import ACTION, WORKFLOWS, command, find_step, run_steps

from issueops import actions_env

needs_git = pytest.mark.skipif(
    shutil.which("git") is None or shutil.which("base64") is None, reason="needs git and base64"
)

PUBLISH = find_step(WORKFLOWS / "issueops-telemetry.yml", "Append to the branch (retry on a concurrent push)")
TOKEN = "ghs_test_token_value_0123456789"  # a fake, checked never to be printed


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return out.stdout


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository at <server>/acme/ops.git, as `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY.git`."""
    bare = tmp_path / "server" / "acme" / "ops.git"
    bare.parent.mkdir(parents=True)
    _git("init", "-q", "--bare", str(bare))
    return bare


def _artifact(root: Path, files: dict[str, str]) -> Path:
    """An unpacked telemetry artifact: `<day>/<run_id>.jsonl` files under one folder."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _publish_cmd(
    tmp_path: Path, origin: Path, run: str, files: dict[str, str], path_prefix: str = ""
) -> tuple[list[str], dict[str, str]]:
    runner_temp = tmp_path / f"runner-{run}"
    _artifact(runner_temp / "issueops-telemetry-in", files)
    context = {
        "github": {"token": TOKEN},
        "runner": {"temp": str(runner_temp)},
        "inputs": {"source": "assign", "artifact-id": "1"},
    }
    base = {
        "PATH": path_prefix + os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
        "GITHUB_SERVER_URL": origin.parent.parent.as_uri(),
        "GITHUB_REPOSITORY": "acme/ops",
        "GITHUB_RUN_ID": run,
        "GITHUB_RUN_ATTEMPT": "1",
        "RUNNER_TEMP": str(runner_temp),
    }
    argv, env = command(PUBLISH, context, base)
    env["PUBLISH_BACKOFF_SECONDS"] = "0"  # the retry loop without real sleeping
    return argv, env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def _branch_files(origin: Path) -> dict[str, str]:
    names = _git("ls-tree", "-r", "--name-only", "issueops-telemetry", cwd=origin).split()
    return {n: _git("show", f"issueops-telemetry:{n}", cwd=origin) for n in names}


LINE_A = '{"v":1,"event":"run.started","run_id":"a"}\n'
LINE_B = '{"v":1,"event":"run.started","run_id":"b"}\n'


@needs_git
def test_first_publish_creates_the_branch(tmp_path: Path, origin: Path) -> None:
    argv, env = _publish_cmd(tmp_path, origin, "101", {"2026-11-21/a.jsonl": LINE_A})
    result = _run(argv, env)
    assert result.returncode == 0, result.stderr
    assert _branch_files(origin) == {"telemetry/2026-11-21/a.jsonl": LINE_A}
    assert TOKEN not in result.stdout + result.stderr
    assert "telemetry: assign run 101 attempt 1 (1 files)" in _git(
        "log", "--format=%s", "issueops-telemetry", cwd=origin
    )


@needs_git
def test_republishing_the_same_artifact_changes_nothing(tmp_path: Path, origin: Path) -> None:
    files = {"2026-11-21/a.jsonl": LINE_A}
    assert _run(*_publish_cmd(tmp_path, origin, "101", files)).returncode == 0
    before = _git("rev-parse", "issueops-telemetry", cwd=origin)
    again = _run(*_publish_cmd(tmp_path, origin, "101", files))
    assert again.returncode == 0 and "Nothing new to publish." in again.stdout
    assert _git("rev-parse", "issueops-telemetry", cwd=origin) == before


@needs_git
def test_unexpected_names_are_skipped_and_odd_folders_dated(tmp_path: Path, origin: Path) -> None:
    files = {
        "2026-11-21/a.jsonl": LINE_A,
        "issueops-telemetry-assign-102-1/2026-11-20/d.jsonl": LINE_A,  # unpacked under the artifact name
        "x/evil name.jsonl": "x\n",
        "art/b.jsonl": LINE_B,
        "c.txt": "c",
    }
    result = _run(*_publish_cmd(tmp_path, origin, "102", files))
    assert result.returncode == 0, result.stderr
    published = _branch_files(origin)
    assert published["telemetry/2026-11-21/a.jsonl"] == LINE_A
    assert published["telemetry/2026-11-20/d.jsonl"] == LINE_A
    assert [p for p in published if p.endswith("/b.jsonl")]  # filed under the publishing day
    assert not [p for p in published if "evil" in p or p.endswith(".txt")]
    assert "::warning::skipped a file" in result.stderr


@needs_git
def test_a_same_named_file_with_other_content_is_kept_beside(tmp_path: Path, origin: Path) -> None:
    assert _run(*_publish_cmd(tmp_path, origin, "101", {"2026-11-21/a.jsonl": LINE_A})).returncode == 0
    result = _run(*_publish_cmd(tmp_path, origin, "102", {"2026-11-21/a.jsonl": LINE_A + LINE_B}))
    assert result.returncode == 0, result.stderr
    published = _branch_files(origin)
    assert published["telemetry/2026-11-21/a.jsonl"] == LINE_A  # never rewritten
    assert published["telemetry/2026-11-21/a.run-102-1.jsonl"] == LINE_A + LINE_B


@needs_git
def test_a_lost_race_is_retried_on_the_new_tip(tmp_path: Path, origin: Path) -> None:
    """Run B's first push is preceded by run A's whole publish: B is rejected, re-fetches, lands."""
    competitor_argv, competitor_env = _publish_cmd(tmp_path, origin, "201", {"2026-11-21/a.jsonl": LINE_A})
    shim = tmp_path / "shim"
    shim.mkdir()
    (tmp_path / "competitor.json").write_text(json.dumps([competitor_argv, competitor_env]))
    real_git = shutil.which("git")
    (shim / "git").write_text(
        "#!/bin/bash\n"
        f'if [[ " $* " == *" push "* && ! -e "{tmp_path}/fired" ]]; then\n'
        f'  touch "{tmp_path}/fired"\n'
        f"  {sys.executable} -c 'import json,subprocess,sys; a,e=json.load(open(sys.argv[1]));"
        f" sys.exit(subprocess.run(a, env=e).returncode)' {tmp_path}/competitor.json >&2\n"
        "fi\n"
        f'exec {real_git} "$@"\n'
    )
    (shim / "git").chmod(0o755)
    argv, env = _publish_cmd(tmp_path, origin, "202", {"2026-11-21/b.jsonl": LINE_B}, f"{shim}:")
    result = _run(argv, env)
    assert result.returncode == 0, result.stderr
    assert "Attempt 1 did not land" in result.stdout
    assert _branch_files(origin) == {
        "telemetry/2026-11-21/a.jsonl": LINE_A,
        "telemetry/2026-11-21/b.jsonl": LINE_B,
    }


@needs_git
def test_runs_publishing_at_once_never_lose_a_line(tmp_path: Path, origin: Path) -> None:
    runs = [str(300 + n) for n in range(3)]
    procs = []
    for run in runs:
        argv, env = _publish_cmd(tmp_path, origin, run, {f"2026-11-21/{run}.jsonl": f'{{"run":"{run}"}}\n'})
        procs.append(
            subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    published = _branch_files(origin)
    assert published == {f"telemetry/2026-11-21/{run}.jsonl": f'{{"run":"{run}"}}\n' for run in runs}


@needs_git
def test_gives_up_with_an_error_when_the_remote_is_unreachable(tmp_path: Path, origin: Path) -> None:
    argv, env = _publish_cmd(tmp_path, origin, "401", {"2026-11-21/a.jsonl": LINE_A})
    env["GITHUB_REPOSITORY"] = "acme/missing"
    env["PUBLISH_ATTEMPTS"] = "2"
    result = _run(argv, env)
    assert result.returncode == 1
    assert "::error::could not publish telemetry" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


# --- workflow -> launcher -> issueops command line -------------------------------------------------

# stands in for `python`: appends its arguments and the ISSUEOPS_/GITHUB_ variables it sees, as one
# JSON line, to $RECORD_TO instead of running anything
RECORDER = (
    "#!/bin/sh\n"
    f"exec {sys.executable} -c 'import json, os, sys; "
    'env = {k: v for k, v in os.environ.items() if k.startswith(("ISSUEOPS_", "GITHUB_"))}; '
    'open(os.environ["RECORD_TO"], "a").write(json.dumps([sys.argv[1:], env]) + chr(10))\' "$@"\n'
)


def _resolve(
    tmp_path: Path, workflow: str, step_name: str, event: str, inputs: dict[str, Any], vars_: dict[str, str]
) -> list[list[str]]:
    """Run one step with the stand-in python; resolve each recorded launcher call to issueops argv."""
    path = WORKFLOWS / workflow if workflow != "action.yml" else ACTION
    step = find_step(path, step_name)
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name in ("python", "python3"):
        (bindir / name).write_text(RECORDER)
        (bindir / name).chmod(0o755)
    event_path = tmp_path / "event.json"
    event_path.write_text("{}")
    context = {
        "inputs": inputs,
        "vars": vars_,
        "github": {"token": TOKEN, "action_path": "/action", "api_url": "https://api.github.com"},
        "steps": {},
        "runner": {"temp": str(tmp_path)},
    }
    base = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_path),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    argv, env = command(step, context, base)
    if workflow == "action.yml":
        (tmp_path / "issueops-action-venv" / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy(bindir / "python", tmp_path / "issueops-action-venv" / "bin" / "python")
    env["RECORD_TO"] = str(tmp_path / "calls.jsonl")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    calls: list[list[str]] = []
    for line in (tmp_path / "calls.jsonl").read_text().splitlines():
        recorded, launcher_env = json.loads(line)
        assert recorded[:3] == ["-m", "issueops.actions_env", "exec"], recorded
        seen: list[list[str]] = []
        code = actions_env.main(
            recorded[2:], launcher_env, lambda _f, a, seen=seen: seen.append(a), lambda _l: None
        )
        assert code == 0
        calls.append(seen[0][3:])  # drop `python -m issueops`
    return calls


DISPATCH_LIVE = {"dry_run": False, "limit": "5", "max_requests": "300", "item": "42"}
DISPATCH_DRY = {"dry_run": True, "limit": "", "max_requests": "", "item": ""}
NO_INPUTS: dict[str, Any] = {}
LIVE = {"ISSUEOPS_LIVE": "true"}

CHAIN_CASES = [
    ("issueops-assign.yml", "issueops assign", "schedule", NO_INPUTS, {}, [["--dry-run", "assign"]]),
    ("issueops-assign.yml", "issueops assign", "schedule", NO_INPUTS, LIVE, [["assign"]]),
    (
        "issueops-process.yml",
        "issueops process",
        "workflow_dispatch",
        DISPATCH_LIVE,
        {"ISSUEOPS_MAX_REQUESTS": "150"},
        [["--limit", "5", "--max-requests", "300", "process", "--item", "42"]],
    ),
    (
        "issueops-monitor.yml",
        "issueops monitor",
        "workflow_dispatch",
        DISPATCH_DRY,
        LIVE,
        [["--dry-run", "monitor"]],
    ),
    ("issueops-sweep.yml", "issueops sweep", "schedule", NO_INPUTS, LIVE, [["sweep"]]),
    (
        "issueops-sweep.yml",
        "issueops sweep",
        "schedule",
        NO_INPUTS,
        {**LIVE, "ISSUEOPS_MAX_REQUESTS": "150"},
        [["--max-requests", "150", "sweep"]],
    ),
    (
        "issueops-commands.yml",
        "issueops commands",
        "issue_comment",
        NO_INPUTS,
        {},
        [["--dry-run", "commands", "--event", "@event"]],
    ),
    (
        "issueops-commands.yml",
        "issueops commands",
        "issues",
        NO_INPUTS,
        LIVE,
        [["commands", "--event", "@event"]],
    ),
    ("issueops-commands.yml", "issueops commands", "schedule", NO_INPUTS, LIVE, [["commands"]]),
    (
        "issueops-commands.yml",
        "issueops commands",
        "workflow_dispatch",
        {**DISPATCH_LIVE, "limit": "", "max_requests": ""},
        {"ISSUEOPS_MAX_REQUESTS": "150"},
        [["--max-requests", "150", "commands", "--item", "42"]],
    ),
    (
        "issueops-setup.yml",
        "issueops labels sync",
        "workflow_dispatch",
        DISPATCH_DRY,
        {},
        [["--dry-run", "labels", "sync"]],
    ),
    (
        "issueops-setup.yml",
        "issueops validate",
        "workflow_dispatch",
        DISPATCH_DRY,
        {},
        [["--dry-run", "validate"]],
    ),
    (
        "issueops-report.yml",
        "Report into the step summary (Markdown) and a file (HTML)",
        "schedule",
        NO_INPUTS,
        LIVE,
        [
            ["--telemetry", "telemetry", "report", "--format", "md"],
            ["--telemetry", "telemetry", "report", "--format", "html"],
        ],
    ),
    (
        "action.yml",
        "issueops",
        "issue_comment",
        {
            "command": "commands",
            "dry-run": "false",
            "repo": "acme/ops",
            "api-url": "http://h:1",
            "config": "c.yml",
        },
        {},
        [
            [
                "--repo",
                "acme/ops",
                "--api-url",
                "http://h:1",
                "--config",
                "c.yml",
                "commands",
                "--event",
                "@event",
            ]
        ],
    ),
    (
        "action.yml",
        "issueops",
        "schedule",
        {"command": "labels sync", "dry-run": "true", "item": "3"},
        {},
        [["--dry-run", "labels", "sync"]],
    ),
]
CHAIN_IDS = [
    "assign on schedule, ISSUEOPS_LIVE unset: dry",
    "assign on schedule, live",
    "process by hand, live, with limit, budget (the input wins), item",
    "monitor by hand, dry box wins over ISSUEOPS_LIVE",
    "sweep on schedule, live",
    "schedule budget from the ISSUEOPS_MAX_REQUESTS variable",
    "comment event: the event file, dry until live",
    "label event, live",
    "commands catch-up on schedule",
    "commands by hand for one item, budget from the variable",
    "labels sync by hand",
    "validate by hand",
    "report: Markdown then HTML",
    "composite action on a comment",
    "composite action: item ignored by labels sync",
]


@pytest.mark.parametrize(
    ("workflow", "step", "event", "inputs", "vars_", "expected"), CHAIN_CASES, ids=CHAIN_IDS
)
def test_workflow_step_resolves_to_the_issueops_command(
    tmp_path: Path,
    workflow: str,
    step: str,
    event: str,
    inputs: dict[str, Any],
    vars_: dict[str, str],
    expected: list[list[str]],
) -> None:
    calls = _resolve(tmp_path, workflow, step, event, inputs, vars_)
    event_path = str(tmp_path / "event.json")
    assert calls == [[event_path if a == "@event" else a for a in call] for call in expected]


def test_every_launcher_step_is_covered_above() -> None:
    covered = {(w, s) for w, s, *_ in CHAIN_CASES}
    for path in [*sorted(WORKFLOWS.glob("*.yml")), ACTION]:
        for step in run_steps(path):
            if "issueops.actions_env" in step.script:
                assert (path.name, step.name) in covered, f"{step.label} has no chain case"


@pytest.mark.skip(reason="needs the stage commands wired into the CLI; see the module docstring")
def test_stage_steps_against_the_sandbox() -> None:
    """To do once `issueops assign` and friends run end to end:
    start `issueops sandbox serve --scenario <scenario> --port 0`, read the base URL it prints,
    then for each stage workflow run its issueops step via `command(step, context, base)` with
    the real interpreter first on PATH, `ISSUEOPS_INPUT_API_URL` set to the sandbox URL (or
    GITHUB_API_URL in `base`), `GITHUB_TOKEN=bot-token`, `GITHUB_ACTIONS=true`,
    `GITHUB_STEP_SUMMARY`/`GITHUB_OUTPUT` in tmp_path; assert exit 0, the step summary holds the
    plan (dry run) or the changes, the outputs parse, and `/_sandbox/ledger` shows no write in a
    dry run and the expected writes in a live one.
    """
