"""A sandbox GitHub served by `issueops sandbox serve` in its own process, and the CLI run as a
process in a directory holding copies of the example config and workflows: the way a user runs it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "issueops" / "sandbox" / "scenarios" / "demo.yml"
BOT_TOKEN = "bot-token"  # the demo scenario's issueops-bot


@contextmanager
def sandbox_server(scenario: Path = DEMO) -> Iterator[str]:
    """`issueops sandbox serve --port 0`; yields the base URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "issueops", "sandbox", "serve", "--scenario", str(scenario), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def user_dir(tmp: Path) -> Path:
    """A working directory with the example config and workflow definitions, as README says."""
    (tmp / ".github").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".github" / "issueops.yml", tmp / ".github" / "issueops.yml")
    shutil.copytree(ROOT / "workflow_schemas", tmp / "workflow_schemas", dirs_exist_ok=True)
    return tmp


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a person at a terminal: no runner variables, no GitHub defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ISSUEOPS_", "RUNNER_"))}
    env.update(extra)
    return env


def issueops(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "issueops", *args],
        cwd=cwd,
        env=dict(env if env is not None else clean_env()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
