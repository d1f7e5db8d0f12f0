"""`issueops telemetry fetch` against a real git remote holding a telemetry branch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

LINE_1 = b'{"v":1,"event":"run.started","run_id":"r1"}\n'
LINE_2 = b'{"v":1,"event":"run.completed","run_id":"r1"}\n'


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True
    )


def _publish(origin: Path, tmp: Path, files: dict[str, bytes]) -> None:
    """Push a commit with `files` to the origin's issueops-telemetry branch, as the publisher does."""
    work = tmp / "publisher"
    if not work.exists():
        _git(tmp, "clone", "-q", str(origin), str(work))
        _git(work, "checkout", "-q", "--orphan", "issueops-telemetry")
    for name, content in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(content)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "telemetry")
    _git(work, "push", "-q", "origin", "HEAD:refs/heads/issueops-telemetry")


def _fetch(clone: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "issueops", "telemetry", "fetch", "--json", *extra],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", str(origin))
    seed = tmp_path / "seed"
    _git(tmp_path, "init", "-q", str(seed))
    (seed / "README.md").write_text("x")
    _git(seed, "add", "-A")
    _git(seed, "commit", "-q", "-m", "init")
    _git(seed, "push", "-q", str(origin), "HEAD:refs/heads/main")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    return origin, clone


def test_fetch_copies_new_runs_then_changes_nothing(tmp_path: Path, repos: tuple[Path, Path]) -> None:
    origin, clone = repos
    _publish(origin, tmp_path, {"telemetry/2026-12-01/r1.jsonl": LINE_1 + LINE_2, "other/x.jsonl": LINE_1})
    first = _fetch(clone)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["added"] == ["2026-12-01/r1.jsonl"]  # only the telemetry folder
    assert (clone / "telemetry" / "2026-12-01" / "r1.jsonl").read_bytes() == LINE_1 + LINE_2
    again = json.loads(_fetch(clone).stdout)
    assert again["added"] == [] and again["unchanged"] == 1


def test_a_longer_published_file_extends_and_a_differing_local_one_is_kept(
    tmp_path: Path, repos: tuple[Path, Path]
) -> None:
    origin, clone = repos
    local = clone / "telemetry" / "2026-12-01"
    local.mkdir(parents=True)
    (local / "r1.jsonl").write_bytes(LINE_1)  # the same run, fewer lines
    (local / "r2.jsonl").write_bytes(b'{"v":1,"event":"run.started","run_id":"changed"}\n')
    _publish(
        origin,
        tmp_path,
        {"telemetry/2026-12-01/r1.jsonl": LINE_1 + LINE_2, "telemetry/2026-12-01/r2.jsonl": LINE_1},
    )
    result = json.loads(_fetch(clone).stdout)
    assert result["extended"] == ["2026-12-01/r1.jsonl"] and result["kept_local"] == ["2026-12-01/r2.jsonl"]
    assert (local / "r1.jsonl").read_bytes() == LINE_1 + LINE_2
    assert b"changed" in (local / "r2.jsonl").read_bytes()


def test_no_branch_yet_is_a_user_error_that_says_why(repos: tuple[Path, Path]) -> None:
    _, clone = repos
    result = _fetch(clone)
    assert result.returncode == 1
    assert "cannot fetch branch 'issueops-telemetry' from 'origin'" in result.stderr
    assert "Traceback" not in result.stderr
