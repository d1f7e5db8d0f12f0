"""The workflows' `run:` scripts, executed as the runner would, with the env GitHub would give them.

- The telemetry publisher is run for real against a local bare repository standing in for
  GitHub: first publish, re-run, two runs racing for the same branch, a forced lost race.
- Each stage's issueops step is run with a stand-in `python` that records what it was asked to
  run; the recorded launcher call is then resolved by `issueops.actions_env.main`, giving the
  exact `issueops` command line a schedule, a dispatch or a comment would produce.

- Each stage's issueops step is then run for real: the runner's shell, the step's env, the
  Actions variables (event file, step summary, outputs, repository, API URL) and the real CLI
  against the sandbox GitHub over HTTP, from a checkout-like directory whose config has write
  pacing off and intake sources on 127.0.0.1. Asserted: exit 0, the step summary (stage table,
  the plan when dry), the declared outputs, the sandbox changed (live) or untouched (dry), and
  the token never printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from workflow_runsteps import ACTION, ROOT, WORKFLOWS, command, find_step, run_steps

from issueops import actions_env
from issueops.sandbox import Sandbox
from issueops.sandbox.scenario import from_scenario
from issueops.sandbox.server import serve

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
        "matrix": {"repo": "acme/web"},
        "secrets": {},
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

# The workflows pass whose token it is (the App's slug, else `github-actions`): such a token
# cannot read GET /user.
APP_BOT = ["--bot-login", "github-actions[bot]"]

CHAIN_CASES = [
    (
        "issueops-assign.yml",
        "issueops assign",
        "schedule",
        NO_INPUTS,
        {},
        [["--dry-run", "--max-seconds", "720", *APP_BOT, "assign"]],
    ),
    (
        "issueops-assign.yml",
        "issueops assign",
        "schedule",
        NO_INPUTS,
        LIVE,
        [["--max-seconds", "720", *APP_BOT, "assign"]],
    ),
    (
        "issueops-process.yml",
        "issueops process",
        "workflow_dispatch",
        DISPATCH_LIVE,
        {"ISSUEOPS_MAX_REQUESTS": "150"},
        [
            [
                "--limit",
                "5",
                "--max-requests",
                "300",
                "--max-seconds",
                "1560",
                *APP_BOT,
                "process",
                "--item",
                "42",
            ]
        ],
    ),
    (
        "issueops-monitor.yml",
        "issueops monitor",
        "workflow_dispatch",
        DISPATCH_DRY,
        LIVE,
        [["--dry-run", "--max-seconds", "960", *APP_BOT, "monitor"]],
    ),
    (
        "issueops-sweep.yml",
        "issueops sweep",
        "schedule",
        NO_INPUTS,
        LIVE,
        [["--max-seconds", "720", *APP_BOT, "sweep"]],
    ),
    (
        "issueops-sweep.yml",
        "issueops sweep",
        "schedule",
        NO_INPUTS,
        {**LIVE, "ISSUEOPS_MAX_REQUESTS": "150"},
        [["--max-requests", "150", "--max-seconds", "720", *APP_BOT, "sweep"]],
    ),
    (
        "issueops-commands.yml",
        "issueops commands",
        "issue_comment",
        NO_INPUTS,
        {},
        [["--dry-run", "--max-seconds", "420", *APP_BOT, "commands", "--event", "@event"]],
    ),
    (
        "issueops-commands.yml",
        "issueops commands",
        "issues",
        NO_INPUTS,
        LIVE,
        [["--max-seconds", "420", *APP_BOT, "commands", "--event", "@event"]],
    ),
    (
        "issueops-commands.yml",
        "issueops commands",
        "schedule",
        NO_INPUTS,
        LIVE,
        [["--max-seconds", "420", *APP_BOT, "commands"]],
    ),
    (
        "issueops-commands.yml",
        "issueops commands",
        "workflow_dispatch",
        {**DISPATCH_LIVE, "limit": "", "max_requests": ""},
        {"ISSUEOPS_MAX_REQUESTS": "150"},
        [["--max-requests", "150", "--max-seconds", "420", *APP_BOT, "commands", "--item", "42"]],
    ),
    (
        "issueops-setup.yml",
        "issueops labels sync",
        "workflow_dispatch",
        DISPATCH_DRY,
        {},
        [["--dry-run", "--max-seconds", "420", *APP_BOT, "labels", "sync"]],
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
            ["--telemetry", "telemetry", "--max-seconds", "420", "report", "--format", "md"],
            ["--telemetry", "telemetry", "--max-seconds", "420", "report", "--format", "html"],
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
CHAIN_CASES += [
    (
        "issueops-fleet.yml",
        "issueops fleet shard",
        "workflow_dispatch",
        {"stage": "assign", "dry_run": False, "limit": "5", "max_requests": "", "item": ""},
        {"ISSUEOPS_APP_ID": "123456"},
        [["--repo", "acme/web", "--limit", "5", "--max-seconds", "1560", "assign"]],
    ),
    (
        "issueops-fleet.yml",
        "issueops fleet shard",
        "schedule",
        NO_INPUTS,
        {},
        [["--repo", "acme/web", "--dry-run", "--max-seconds", "1560", "run"]],
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
    "fleet shard by hand: the chosen stage on the shard's repository, as the App (no --bot-login)",
    "fleet shard on schedule: the whole pipeline, dry until live",
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


# --- the stage steps for real: the CLI against the sandbox GitHub over HTTP ------------------------

BOT_TOKEN = "bot-token"  # the sandbox bot's token (demo scenario), checked never to be printed
ACTIONS_BOT = "github-actions[bot]"
FEED_XML = (
    '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Acme status</title><id>tag:status.example.com,2026:history</id>"
    "<updated>2026-11-23T08:40:00Z</updated><entry><id>tag:status.example.com,2026:incident-981</id>"
    "<title>Elevated error rates on the payments API</title>"
    '<link href="https://status.example.com/incidents/981"/><updated>2026-11-23T08:40:00Z</updated>'
    "<summary>Resolved.</summary></entry></feed>\n"
)


class _Web(BaseHTTPRequestHandler):
    """The intake sources' web (a feed and a health check) on 127.0.0.1: the run stays offline."""

    def do_GET(self) -> None:
        if self.path == "/feed.atom":
            body, kind = FEED_XML.encode(), "application/atom+xml"
        else:
            body, kind = b'{"status": "ok"}', "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@dataclass
class World:
    """A checkout-like working directory, the sandbox GitHub serving it, the sources' web."""

    sandbox: Sandbox
    api_url: str
    workdir: Path
    temp: Path


@dataclass
class StepRun:
    result: subprocess.CompletedProcess[str]
    summary: str
    outputs: dict[str, str]
    raw_outputs: str


def _checkout(workdir: Path, web_url: str) -> None:
    """The files a workflow's checkout provides, with writes unpaced and the sources local.

    The CLI reads `.github/issueops.yml` and `workflow_schemas/` from the working directory, as
    on the runner; the pacing (1 write per second) would make a real-time subprocess slow.
    """
    config = yaml.safe_load((ROOT / ".github" / "issueops.yml").read_text(encoding="utf-8"))
    config["api"].update({"min_write_interval_seconds": 0, "writes_per_minute": 80})
    for source in config["sources"]:
        if source["type"] == "feed":
            source["url"] = f"{web_url}/feed.atom"
        elif source["type"] == "http":
            source["url"] = f"{web_url}/healthz"
    (workdir / ".github").mkdir(parents=True)
    (workdir / ".github" / "issueops.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    shutil.copytree(ROOT / "workflow_schemas", workdir / "workflow_schemas")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # On the runner the token is the `github-actions` App's, which cannot read GET /user: the
    # demo's bot becomes that account, so the workflows' `--bot-login` is what makes runs work.
    demo = (ROOT / "scripts" / "issueops" / "sandbox" / "scenarios" / "demo.yml").read_text(encoding="utf-8")
    sandbox = from_scenario(yaml.safe_load(demo.replace("issueops-bot", f'"{ACTIONS_BOT}"')))
    server = serve(sandbox, 0)
    web = ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    workdir = tmp_path / "checkout"
    _checkout(workdir, f"http://127.0.0.1:{web.server_address[1]}")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    try:
        yield World(sandbox, server.url, workdir, temp)
    finally:
        web.shutdown()
        web.server_close()
        server.stop()


def parse_github_output(text: str) -> dict[str, str]:
    """`$GITHUB_OUTPUT` as the runner reads it: `name=value` lines and `name<<DELIM` blocks."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index)  # ValueError: an unterminated value, as on the runner
            outputs[name] = "\n".join(lines[index:end])
            index = end + 1
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def _run_step(
    world: World,
    workflow: str,
    step_name: str,
    event: str,
    *,
    inputs: dict[str, Any] | None = None,
    vars_: dict[str, str] | None = None,
    payload: dict[str, Any] | None = None,
) -> StepRun:
    """One workflow step as the runner runs it: its shell, its env, the Actions variables."""
    step = find_step(WORKFLOWS / workflow, step_name)
    run_dir = world.temp / f"{workflow}-{event}-{len(list(world.temp.iterdir()))}"
    run_dir.mkdir()
    event_path = run_dir / "event.json"
    event_path.write_text(json.dumps(payload or {}), encoding="utf-8")
    summary_path, output_path = run_dir / "step_summary.md", run_dir / "output.txt"
    summary_path.touch()
    output_path.touch()
    context = {
        "inputs": inputs or {},
        "vars": vars_ or {},
        "github": {"token": BOT_TOKEN, "api_url": world.api_url},
        "steps": {},
        "runner": {"temp": str(run_dir)},
    }
    base = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(run_dir),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_STEP_SUMMARY": str(summary_path),
        "GITHUB_OUTPUT": str(output_path),
        "GITHUB_REPOSITORY": "acme/ops",
        "GITHUB_API_URL": world.api_url,
        "GITHUB_WORKSPACE": str(world.workdir),
        "RUNNER_TEMP": str(run_dir),
    }
    argv, env = command(step, context, base)
    result = subprocess.run(
        argv, cwd=world.workdir, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    summary = summary_path.read_text(encoding="utf-8")
    output_text = output_path.read_text(encoding="utf-8")
    for shown in (result.stdout, result.stderr, summary, output_text):
        assert BOT_TOKEN not in shown, f"{workflow}: the token was printed"
    return StepRun(result, summary, parse_github_output(output_text), output_text)


def _bot_writes(sandbox: Sandbox) -> list[str]:
    return [f"{e.method} {e.path}" for e in sandbox.ledger if e.write and e.login == ACTIONS_BOT]


def _state_counts(sandbox: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in sandbox.issues.values():
        names = [label if isinstance(label, str) else label.name for label in issue.labels]
        state = next((n for n in names if n.startswith("state::")), "none")
        counts[state] = counts.get(state, 0) + 1
    return counts


def _assert_run_outputs(run: StepRun, command_name: str, *, dry: bool) -> None:
    assert run.result.returncode == 0, run.result.stderr
    assert set(actions_env.RUN_OUTPUTS) <= set(run.outputs), run.outputs
    assert "items-changed<<ghadelimiter_" in run.raw_outputs  # multi-line safe syntax, random delimiter
    assert run.outputs["command"] == command_name
    assert run.outputs["dry-run"] == ("true" if dry else "false")
    assert run.outputs["exit-code"] == "0"
    for name in ("items-seen", "items-changed", "items-failed", "items-deferred", "requests-made"):
        assert run.outputs[name].isdigit(), (name, run.outputs[name])
    data = json.loads(run.outputs["summary"])
    assert data["command"] == command_name and data["dry_run"] is dry
    assert str(data["items_changed"]) == run.outputs["items-changed"]
    mode = "dry run" if dry else "live"
    assert f"## issueops {command_name} ({mode})" in run.summary
    assert "| stage | seen | changed | failed | deferred |" in run.summary


DRY_CASES = [
    ("issueops-monitor.yml", "issueops monitor", "monitor", "workflow_dispatch", DISPATCH_DRY, {}, True),
    ("issueops-assign.yml", "issueops assign", "assign", "schedule", NO_INPUTS, {}, True),
    ("issueops-process.yml", "issueops process", "process", "workflow_dispatch", DISPATCH_DRY, LIVE, False),
    ("issueops-commands.yml", "issueops commands", "commands", "schedule", NO_INPUTS, {}, False),
    ("issueops-sweep.yml", "issueops sweep", "sweep", "schedule", NO_INPUTS, {}, True),
]
DRY_IDS = [
    "monitor by hand, dry box",
    "assign on schedule, ISSUEOPS_LIVE unset",
    "process by hand, dry box wins over ISSUEOPS_LIVE",
    "commands catch-up on schedule",
    "sweep on schedule",
]


@pytest.mark.parametrize(
    ("workflow", "step", "command_name", "event", "inputs", "vars_", "has_plan"), DRY_CASES, ids=DRY_IDS
)
def test_dry_stage_step_writes_the_plan_and_sends_no_write(
    world: World,
    workflow: str,
    step: str,
    command_name: str,
    event: str,
    inputs: dict[str, Any],
    vars_: dict[str, str],
    has_plan: bool,
) -> None:
    before = _state_counts(world.sandbox)
    run = _run_step(world, workflow, step, event, inputs=inputs, vars_=vars_)
    _assert_run_outputs(run, command_name, dry=True)
    assert "dry run: no write will be sent" in run.result.stderr
    if has_plan:
        assert "### Plan" in run.summary and "| stage | item | action | detail |" in run.summary
        assert int(run.outputs["items-changed"]) > 0
    assert _bot_writes(world.sandbox) == []
    assert not [e for e in world.sandbox.ledger if e.write]
    assert _state_counts(world.sandbox) == before
    assert list((world.workdir / "telemetry").rglob("*.jsonl")), "no telemetry for the upload step"


def test_live_assign_by_hand_moves_at_most_limit_items(world: World) -> None:
    triage = _state_counts(world.sandbox)["state::triage"]
    inputs = {"dry_run": False, "limit": "2", "max_requests": "", "item": ""}
    run = _run_step(world, "issueops-assign.yml", "issueops assign", "workflow_dispatch", inputs=inputs)
    _assert_run_outputs(run, "assign", dry=False)
    assert run.outputs["items-changed"] == "2"
    assert "### Changes" in run.summary
    counts = _state_counts(world.sandbox)
    assert counts["state::triage"] == triage - 2
    assert counts.get("state::assigned", 0) + counts.get("state::awaiting-approval", 0) >= 2
    assert _bot_writes(world.sandbox)
    assert (world.workdir / ".issueops-cache" / "etags.json").exists()  # for the cache save step


def test_live_monitor_on_schedule_opens_items_from_the_local_sources(world: World) -> None:
    issues = len(world.sandbox.issues)
    run = _run_step(world, "issueops-monitor.yml", "issueops monitor", "schedule", vars_=LIVE)
    _assert_run_outputs(run, "monitor", dry=False)
    assert len(world.sandbox.issues) > issues
    titles = [issue.title for issue in world.sandbox.issues.values()]
    assert any("payments API" in title for title in titles)


def _issue_number(sandbox: Sandbox, title_start: str) -> int:
    return next(n for n, issue in sandbox.issues.items() if issue.title.startswith(title_start))


def _as_operator(world: World, login: str, method: str, path: str, body: Any) -> dict[str, Any]:
    token = world.sandbox.token_of(login)
    reply = requests.request(
        method,
        f"{world.api_url}/repos/acme/ops{path}",
        json=body,
        headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"},
        timeout=10,
    )
    reply.raise_for_status()
    data: Any = reply.json()
    return data if isinstance(data, dict) else {"items": data}


def test_comment_event_step_handles_the_operators_approve(world: World) -> None:
    number = _issue_number(world.sandbox, "SEV2 incident: delayed order e-mails")
    comment = _as_operator(world, "alice", "POST", f"/issues/{number}/comments", {"body": "/approve"})
    payload = {
        "action": "created",
        "issue": {"number": number, "title": "SEV2 incident: delayed order e-mails"},
        "comment": {"id": comment["id"], "body": "/approve", "user": {"login": "alice", "type": "User"}},
        "sender": {"login": "alice", "type": "User"},
        "repository": {"full_name": "acme/ops"},
    }
    dry = _run_step(world, "issueops-commands.yml", "issueops commands", "issue_comment", payload=payload)
    _assert_run_outputs(dry, "commands", dry=True)
    assert dry.outputs["items-seen"] == "1"
    link = f"[#{number}]({world.api_url}/acme/ops/issues/{number})"  # items link to their page
    assert f"| commands | {link} | React | content=+1" in dry.summary.split("### Plan")[1]
    assert _bot_writes(world.sandbox) == []

    live = _run_step(
        world, "issueops-commands.yml", "issueops commands", "issue_comment", vars_=LIVE, payload=payload
    )
    _assert_run_outputs(live, "commands", dry=False)
    assert live.outputs["items-seen"] == "1"
    writes = _bot_writes(world.sandbox)
    assert writes, "the live run answered nothing"
    assert all(f"/issues/{number}/" in w or f"/comments/{comment['id']}/" in w for w in writes), writes
    assert any(f"/issues/comments/{comment['id']}/reactions" in w for w in writes), writes
    link = f"[#{number}]({world.api_url}/acme/ops/issues/{number})"
    assert f"| commands | {link} | React | content=+1" in live.summary.split("### Changes")[1]
    assert f"POST /repos/acme/ops/issues/{number}/comments" in writes  # the status comment


def test_labeled_event_step_reads_the_item_from_the_payload(world: World) -> None:
    number = _issue_number(world.sandbox, "Question about vacation policy")
    _as_operator(world, "alice", "POST", f"/issues/{number}/labels", {"labels": ["approval::approved"]})
    payload = {
        "action": "labeled",
        "issue": {"number": number},
        "label": {"name": "approval::approved"},
        "sender": {"login": "alice", "type": "User"},
        "repository": {"full_name": "acme/ops"},
    }
    run = _run_step(
        world, "issueops-commands.yml", "issueops commands", "issues", vars_=LIVE, payload=payload
    )
    _assert_run_outputs(run, "commands", dry=False)
    assert run.outputs["items-seen"] == "1"
    assert all(f"/issues/{number}/" in w for w in _bot_writes(world.sandbox))


def test_setup_steps_validate_then_sync_labels(world: World) -> None:
    inputs = {"dry_run": True, "limit": "", "max_requests": "", "item": ""}
    validate = _run_step(world, "issueops-setup.yml", "issueops validate", "workflow_dispatch", inputs=inputs)
    assert validate.result.returncode == 0, validate.result.stderr
    dry = _run_step(world, "issueops-setup.yml", "issueops labels sync", "workflow_dispatch", inputs=inputs)
    assert dry.result.returncode == 0, dry.result.stderr
    assert "would change" in dry.result.stdout
    assert not [e for e in world.sandbox.ledger if e.write]

    live_inputs = {**inputs, "dry_run": False}
    live = _run_step(
        world, "issueops-setup.yml", "issueops labels sync", "workflow_dispatch", inputs=live_inputs
    )
    assert live.result.returncode == 0, live.result.stderr
    assert live.result.stdout.startswith("changed ") and "changed 0 label(s)" not in live.result.stdout
    assert "state::assigned" in world.sandbox.labels
    assert _bot_writes(world.sandbox) and all("/labels" in w for w in _bot_writes(world.sandbox))


def test_report_step_writes_the_kpis_into_the_summary_and_the_html_file(world: World) -> None:
    first = _run_step(world, "issueops-assign.yml", "issueops assign", "schedule")  # telemetry to report on
    assert first.result.returncode == 0, first.result.stderr
    run = _run_step(
        world,
        "issueops-report.yml",
        "Report into the step summary (Markdown) and a file (HTML)",
        "schedule",
        vars_=LIVE,
    )
    assert run.result.returncode == 0, run.result.stderr
    assert run.summary.startswith("# issueops report"), run.summary[:200]
    assert "## issueops assign" not in run.summary  # each step has its own summary file
    html_files = list(world.temp.rglob("issueops-report/report.html"))
    assert len(html_files) == 1 and "<html" in html_files[0].read_text(encoding="utf-8").lower()
