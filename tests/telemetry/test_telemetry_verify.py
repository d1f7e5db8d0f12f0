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


# --- anchors: what the chain inside a file cannot show ------------------------------------------

LATER = "0199a000-0000-7000-8000-0000000000cc"


def _keep(count: int) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:count]))


# (name, what is done to the first run's file, expected errors as (kind, line))
ANCHOR_CASES: list[tuple[str, Callable[[Path], None], list[tuple[str, int]]]] = [
    ("tail removed (run.completed and one more)", _keep(4), [("truncated", 4)]),
    ("last line removed", _keep(5), [("truncated", 5)]),
    ("emptied to 0 bytes", lambda path: path.write_bytes(b""), [("emptied", 0)]),
    ("deleted", lambda path: path.unlink(), [("deleted", 0)]),
    (
        "last line changed",
        lambda path: path.write_bytes(path.read_bytes().replace(b'"requests_made":9', b'"requests_made":1')),
        [("changed", 6)],
    ),
]


@pytest.mark.parametrize(("name", "tamper", "expected"), ANCHOR_CASES, ids=[c[0] for c in ANCHOR_CASES])
def test_the_next_run_anchors_the_previous_file(
    tmp_path: Path, name: str, tamper: Callable[[Path], None], expected: list[tuple[str, int]]
) -> None:
    first = _write_run(tmp_path, RUN)
    second = _write_run(tmp_path, OTHER)
    started = json.loads(second.read_bytes().splitlines()[0])
    assert started["previous"]["file"] == first.relative_to(tmp_path).as_posix()
    assert started["previous"]["lines"] == 6
    assert verify_directory(tmp_path).ok
    tamper(first)
    result = verify_directory(tmp_path)
    assert [(f.kind, f.line) for f in result.errors] == expected
    assert all(Path(f.path) == first for f in result.errors), name


@pytest.mark.parametrize(("name", "tamper", "expected"), ANCHOR_CASES, ids=[c[0] for c in ANCHOR_CASES])
def test_the_summary_anchor_covers_the_newest_file(
    tmp_path: Path, name: str, tamper: Callable[[Path], None], expected: list[tuple[str, int]]
) -> None:
    """The newest file has no successor yet: its anchor from the run summary is checked."""
    del name
    path = _write_run(tmp_path, RUN)
    anchor = f"{path.relative_to(tmp_path).as_posix()}:6:{verify_directory(tmp_path).heads[str(path)]}"
    runner = CliRunner()
    command = ["--json", "--telemetry", str(tmp_path), "telemetry", "verify", "--anchor", anchor]
    clean = runner.invoke(main, command)
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["anchors_checked"] == 1
    tamper(path)
    bad = runner.invoke(main, command)
    assert bad.exit_code == 1
    assert [(f["kind"], f["line"]) for f in json.loads(bad.stdout)["errors"]] == expected


def test_a_run_that_starts_later_is_never_the_previous_one(tmp_path: Path) -> None:
    """Run ids are time-ordered: a run anchors the newest file that sorts before its own."""
    _write_run(tmp_path, LATER)
    first = _write_run(tmp_path, RUN)
    started = json.loads(first.read_bytes().splitlines()[0])
    assert "previous" not in started
    second = _write_run(tmp_path, OTHER)
    assert json.loads(second.read_bytes().splitlines()[0])["previous"]["file"].endswith(f"{RUN}.jsonl")


def test_a_file_still_being_written_only_grows_past_its_anchor(tmp_path: Path) -> None:
    """Overlapping runs: the anchor taken while the previous run writes is a prefix; more lines are fine."""
    clock = lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # noqa: E731
    with TelemetrySink(tmp_path, "acme/ops", command="run", clock=clock, run_id=RUN) as running:
        running.emit("run.started", dry_run=False)
        _write_run(tmp_path, OTHER)  # starts while RUN is at line 1
        running.emit("x.step1", item=1)
    assert verify_directory(tmp_path).ok


@pytest.mark.parametrize("text", ["x.jsonl:6", "a.jsonl:x:" + "0" * 64, "a.txt:6:" + "0" * 64, ""])
def test_a_malformed_anchor_is_a_usage_error(tmp_path: Path, text: str) -> None:
    _write_run(tmp_path, RUN)
    result = CliRunner().invoke(main, ["--telemetry", str(tmp_path), "telemetry", "verify", "--anchor", text])
    assert result.exit_code == 2
    assert "DAY/RUN_ID.jsonl:LINES:SHA256" in result.output


# --- the report flags a tampered window -----------------------------------------------------------


@pytest.mark.parametrize(("name", "tamper", "expected"), ANCHOR_CASES, ids=[c[0] for c in ANCHOR_CASES])
def test_the_report_flags_a_tampered_window(
    tmp_path: Path, name: str, tamper: Callable[[Path], None], expected: list[tuple[str, int]]
) -> None:
    from issueops.telemetry.report import build_report, render

    del name
    first = _write_run(tmp_path, RUN)
    _write_run(tmp_path, OTHER)
    assert build_report(tmp_path).tampered == []
    tamper(first)
    report = build_report(tmp_path)
    assert [t.split(": ")[1] for t in report.tampered] == [kind for kind, _ in expected]
    assert json.loads(render(report, "json"))["tampered"] == report.tampered
    assert f"**Telemetry tampered**: 1 {expected[0][0]} in {first.name};" in render(report, "md")
    assert "<h2>Telemetry tampered</h2>" in render(report, "html")
    cli = CliRunner().invoke(main, ["--telemetry", str(tmp_path), "report"])
    assert cli.exit_code == 0 and "warning: the telemetry this report reads is tampered" in cli.stderr
    # A window that ends before the damaged run started does not read it.
    assert build_report(tmp_path, until="2020-01-01").tampered == []
