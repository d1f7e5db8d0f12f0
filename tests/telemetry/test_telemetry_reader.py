"""The reader never fails: torn, empty and foreign lines are skipped and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from issueops.telemetry.reader import RawLine, parse_ts, read_directory, telemetry_files

GOOD = b'{"v":1,"ts":"2026-11-21T10:00:00.000Z","run_id":"r","seq":1,"prev":"0","event":"a.b","repo":"o/r"}'


def _line(ts: str, event: str = "a.b") -> bytes:
    return f'{{"v":1,"ts":"{ts}","run_id":"r","seq":1,"prev":"0","event":"{event}","repo":"o/r"}}'.encode()


CASES: list[tuple[str, bytes, int, list[str]]] = [
    ("clean", GOOD + b"\n", 1, []),
    ("torn last line", GOOD + b"\n" + GOOD[:40], 1, ["torn last line"]),
    ("only a torn line", GOOD[:10], 0, ["torn last line"]),
    ("empty line in the middle", GOOD + b"\n\n" + GOOD + b"\n", 2, ["empty line"]),
    ("not json", b"hello\n" + GOOD + b"\n", 1, ["not a JSON object"]),
    ("json but not an object", b"[1, 2]\n", 0, ["not a JSON object"]),
    ("no event name", b'{"ts":"2026-11-21T10:00:00Z"}\n', 0, ["no `event`"]),
    ("bad timestamp", _line("yesterday") + b"\n", 0, ["not RFC 3339"]),
    ("empty file", b"", 0, []),
]


@pytest.mark.parametrize(("name", "content", "events", "warnings"), CASES, ids=[c[0] for c in CASES])
def test_read_file_cases(tmp_path: Path, name: str, content: bytes, events: int, warnings: list[str]) -> None:
    path = tmp_path / "2026-11-21" / "r.jsonl"
    path.parent.mkdir()
    path.write_bytes(content)
    result = read_directory(tmp_path)
    assert len(result.events) == events
    assert len(result.warnings) == len(warnings)
    for warning, expected in zip(result.warnings, warnings, strict=True):
        assert expected in warning.message
        assert str(path) in str(warning)


def test_torn_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(GOOD + b"\n" + GOOD + b"\n" + b'{"v":1,"ts":')
    (warning,) = read_directory(tmp_path).warnings
    assert warning.line == 3
    assert "torn" in warning.message


def test_events_from_all_files_sorted_by_time(tmp_path: Path) -> None:
    (tmp_path / "2026-11-20").mkdir()
    (tmp_path / "2026-11-21").mkdir()
    (tmp_path / "2026-11-21" / "b.jsonl").write_bytes(
        _line("2026-11-21T09:00:00Z", "e.3") + b"\n" + _line("2026-11-21T11:00:00Z", "e.5") + b"\n"
    )
    (tmp_path / "2026-11-20" / "a.jsonl").write_bytes(
        _line("2026-11-20T23:00:00Z", "e.1") + b"\n" + _line("2026-11-21T10:00:00+01:00", "e.2") + b"\n"
    )
    (tmp_path / "2026-11-21" / "c.jsonl").write_bytes(_line("2026-11-21T10:00:00Z", "e.4") + b"\n")
    (tmp_path / "notes.txt").write_text("ignored")
    result = read_directory(tmp_path)
    assert [e["event"] for e in result.events] == ["e.1", "e.2", "e.3", "e.4", "e.5"]
    assert [p.name for p in telemetry_files(tmp_path)] == ["a.jsonl", "b.jsonl", "c.jsonl"]


def test_missing_directory_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    result = read_directory(tmp_path / "nope")
    assert result.events == []
    assert "no telemetry directory" in result.warnings[0].message


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-11-21T10:00:00Z", "2026-11-21T10:00:00+00:00"),
        ("2026-11-21T10:00:00.250Z", "2026-11-21T10:00:00.250000+00:00"),
        ("2026-11-21T12:00:00+02:00", "2026-11-21T10:00:00+00:00"),
        ("2026-11-21T10:00:00", "2026-11-21T10:00:00+00:00"),
    ],
    ids=["zulu", "millis", "offset", "no-zone-is-utc"],
)
def test_parse_ts(text: str, iso: str) -> None:
    moment = parse_ts(text)
    assert moment is not None and moment.isoformat() == iso


@pytest.mark.parametrize(
    "value", ["2026-11-21", "soon", 5, None], ids=["date-only", "word", "number", "none"]
)
def test_parse_ts_refuses(value: object) -> None:
    assert parse_ts(value) is None


def test_a_memo_parses_an_unchanged_file_once_and_a_grown_one_again(tmp_path: Path) -> None:
    """The brake reads the directory before and after a run: only the run's own file is new."""
    (tmp_path / "2026-11-21").mkdir()
    old, current = tmp_path / "2026-11-21" / "a.jsonl", tmp_path / "2026-11-21" / "b.jsonl"
    old.write_bytes(_line("2026-11-21T09:00:00Z", "e.1") + b"\n")
    current.write_bytes(_line("2026-11-21T10:00:00Z", "e.2") + b"\n")
    memo: dict[Path, tuple[tuple[int, int], list[RawLine]]] = {}
    first = read_directory(tmp_path, memo=memo)
    kept = memo[old][1]
    with current.open("ab") as handle:  # the run appends its own lines
        handle.write(_line("2026-11-21T11:00:00Z", "e.3") + b"\n")
    second = read_directory(tmp_path, memo=memo)
    assert [e["event"] for e in first.events] == ["e.1", "e.2"]
    assert [e["event"] for e in second.events] == ["e.1", "e.2", "e.3"]
    assert memo[old][1] is kept  # not parsed again
    assert [line.record["event"] for line in memo[current][1] if line.record] == ["e.2", "e.3"]
