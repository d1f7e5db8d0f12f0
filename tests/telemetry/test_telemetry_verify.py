"""`telemetry verify` finds tampering through the hash chain: each case edits a clean file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from issueops.cli import main
from issueops.telemetry.sink import TelemetrySink
from issueops.telemetry.verify import verify_directory

RUN = "0199a000-0000-7000-8000-0000000000aa"
OTHER = "0199a000-0000-7000-8000-0000000000bb"
Tamper = Callable[[list[bytes]], list[bytes]]


def _write_run(directory: Path, run_id: str) -> Path:
    clock = lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # noqa: E731
    with TelemetrySink(directory, "acme/ops", command="run", clock=clock, run_id=run_id) as sink:
        sink.emit("run.started", dry_run=False)
        for n in range(1, 5):
            sink.emit(f"x.step{n}", item=n, note=f"line {n + 1}")
        sink.emit(
            "run.completed",
            items_seen=4,
            items_changed=4,
            items_failed=0,
            items_deferred=0,
            deferred=[],
            requests_made=9,
            requests_counted=9,
            exit_code=0,
        )
    return sink.path


def _edit(index: int) -> Tamper:
    def tamper(lines: list[bytes]) -> list[bytes]:
        out = list(lines)
        out[index] = out[index].replace(b'"note":"line', b'"note":"LINE').replace(b"false", b"true")
        return out

    return tamper


def _drop(*indexes: int) -> Tamper:
    return lambda lines: [line for i, line in enumerate(lines) if i not in indexes]


def _swap(a: int, b: int) -> Tamper:
    def tamper(lines: list[bytes]) -> list[bytes]:
        out = list(lines)
        out[a], out[b] = out[b], out[a]
        return out

    return tamper


def _other_file_lines(tmp: Path) -> list[bytes]:
    return _write_run(tmp, OTHER).read_bytes().splitlines()


# (name, tamper, expected errors as (kind, line), ok)
CASES: list[tuple[str, Tamper, list[tuple[str, int]], bool]] = [
    ("clean", lambda lines: lines, [], True),
    ("changed middle line", _edit(2), [("changed", 3)], False),
    ("changed first line", _edit(0), [("changed", 1)], False),
    ("removed middle line", _drop(2), [("removed", 3)], False),
    ("removed two lines", _drop(2, 3), [("removed", 3)], False),
    ("removed first line", _drop(0), [("removed", 1)], False),
    ("swapped lines", _swap(1, 2), [("reordered", 2), ("reordered", 3), ("reordered", 4)], False),
    (
        "line moved to the end",
        lambda ls: [ls[0], *ls[2:], ls[1]],
        [("reordered", 2), ("reordered", 6)],
        False,
    ),
    ("duplicated line", lambda ls: [*ls[:3], ls[2], *ls[3:]], [("duplicated", 4)], False),
    ("garbage line", lambda ls: [*ls[:2], b"xx", *ls[3:]], [("malformed", 3)], False),
]


@pytest.mark.parametrize(("name", "tamper", "expected", "ok"), CASES, ids=[c[0] for c in CASES])
def test_tamper_cases(
    tmp_path: Path, name: str, tamper: Tamper, expected: list[tuple[str, int]], ok: bool
) -> None:
    path = _write_run(tmp_path, RUN)
    path.write_bytes(b"\n".join(tamper(path.read_bytes().splitlines())) + b"\n")
    result = verify_directory(tmp_path)
    assert [(f.kind, f.line) for f in result.errors] == expected
    assert result.ok is ok


def test_removed_lines_message_counts_them(tmp_path: Path) -> None:
    path = _write_run(tmp_path, RUN)
    path.write_bytes(b"\n".join(_drop(2, 3)(path.read_bytes().splitlines())) + b"\n")
    (finding,) = verify_directory(tmp_path).errors
    assert "2 line(s) removed" in finding.message


def test_torn_last_line(tmp_path: Path) -> None:
    path = _write_run(tmp_path, RUN)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 30])  # the last line cut off, no newline
    result = verify_directory(tmp_path)
    assert [(f.kind, f.line) for f in result.errors] == [("torn", 6)]
    assert [f.kind for f in result.warnings] == ["incomplete_run"]


def test_removed_last_line_leaves_an_incomplete_run(tmp_path: Path) -> None:
    path = _write_run(tmp_path, RUN)
    path.write_bytes(b"\n".join(path.read_bytes().splitlines()[:-1]) + b"\n")
    result = verify_directory(tmp_path)
    assert result.ok
    assert [f.kind for f in result.warnings] == ["incomplete_run"]


def test_changed_last_line_shows_in_the_head_anchor(tmp_path: Path) -> None:
    """No line follows the last one, so only the anchored head (the run summary's) reveals it."""
    path = _write_run(tmp_path, RUN)
    before = verify_directory(tmp_path).heads[str(path)]
    path.write_bytes(path.read_bytes().replace(b'"requests_made":9', b'"requests_made":1'))
    after = verify_directory(tmp_path)
    assert after.ok
    assert after.heads[str(path)] != before


def test_lines_from_another_file_joined_in(tmp_path: Path) -> None:
    path = _write_run(tmp_path, RUN)
    foreign = _other_file_lines(tmp_path / "elsewhere")
    path.write_bytes(path.read_bytes() + b"\n".join(foreign[:2]) + b"\n")
    kinds = {(f.kind, f.line) for f in verify_directory(tmp_path).errors}
    assert ("inserted", 7) in kinds
    assert ("foreign", 7) in kinds and ("foreign", 8) in kinds


def test_a_line_moved_into_another_run_file(tmp_path: Path) -> None:
    one = _write_run(tmp_path, RUN)
    two = _write_run(tmp_path, OTHER)
    lines_one, lines_two = one.read_bytes().splitlines(), two.read_bytes().splitlines()
    two.write_bytes(b"\n".join([*lines_two[:3], lines_one[3], *lines_two[3:]]) + b"\n")
    one.write_bytes(b"\n".join(_drop(3)(lines_one)) + b"\n")
    result = verify_directory(tmp_path)
    found = {(Path(f.path).stem, f.kind) for f in result.errors}
    assert (RUN, "removed") in found
    assert (OTHER, "foreign") in found


def test_missing_directory_fails(tmp_path: Path) -> None:
    result = verify_directory(tmp_path / "nope")
    assert not result.ok
    assert "does not exist" in result.human()


def test_summary_and_human(tmp_path: Path) -> None:
    path = _write_run(tmp_path, RUN)
    path.write_bytes(b"\n".join(_edit(2)(path.read_bytes().splitlines())) + b"\n")
    result = verify_directory(tmp_path)
    summary = result.summary()
    assert summary["ok"] is False and summary["files"] == 1 and summary["lines"] == 6
    assert summary["errors"][0]["kind"] == "changed"
    assert f"{path}:3: changed" in result.human()
    assert "FAILED" in result.human()


# --- the command ---------------------------------------------------------------------------------


def test_cli_verify_clean_and_tampered(tmp_path: Path) -> None:
    path = _write_run(tmp_path, RUN)
    runner = CliRunner()
    clean = runner.invoke(main, ["--telemetry", str(tmp_path), "telemetry", "verify"])
    assert clean.exit_code == 0, clean.output
    assert ": OK" in clean.output
    path.write_bytes(b"\n".join(_drop(2)(path.read_bytes().splitlines())) + b"\n")
    bad = runner.invoke(main, ["--json", "--telemetry", str(tmp_path), "telemetry", "verify"])
    assert bad.exit_code == 1
    document = json.loads(bad.stdout)
    assert document["ok"] is False
    assert document["errors"][0]["kind"] == "removed"
