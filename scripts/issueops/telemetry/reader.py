"""Reading telemetry: every `*.jsonl` file under a directory, oldest first, never failing.

A torn last line (a crash or a disk-full mid-write) and any unreadable line are skipped and
reported as warnings, so a report still comes out of a damaged directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RawLine:
    """One stored line: its position (1-based), bytes without the newline, and the parsed object."""

    path: Path
    lineno: int
    data: bytes
    record: dict[str, Any] | None
    torn: bool = False


@dataclass(frozen=True)
class ReadWarning:
    """A line that was skipped, and why; printed as `path:line: message`."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class ReadResult:
    """The events of every file (sorted by time, each with its parsed `ts`) and what was skipped."""

    timed: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [record for _, record in self.timed]


def parse_ts(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; None when it is not one."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def telemetry_files(directory: Path) -> list[Path]:
    """Every `*.jsonl` under `directory`, in time order (day folder, then the time-ordered run id)."""
    if not directory.is_dir():
        return []
    return sorted(directory.rglob("*.jsonl"), key=lambda p: (p.relative_to(directory).parts[:-1], p.name))


def read_lines(path: Path) -> list[RawLine]:
    """Split a file into lines; the last piece is `torn` when the file does not end in a newline."""
    content = path.read_bytes()
    if not content:
        return []
    torn = not content.endswith(b"\n")
    pieces = (content if torn else content[:-1]).split(b"\n")
    lines = []
    for index, data in enumerate(pieces, start=1):
        is_torn = torn and index == len(pieces)
        lines.append(RawLine(path, index, data, None if is_torn else _parse(data), is_torn))
    return lines


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


LineMemo = dict[Path, tuple[tuple[int, int], list[RawLine]]]


def _read_lines(path: Path, memo: LineMemo | None) -> list[RawLine]:
    """`read_lines`, or what `memo` kept of the file while its size and mtime are unchanged."""
    if memo is None:
        return read_lines(path)
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    kept = memo.get(path)
    if kept is None or kept[0] != version:
        kept = memo[path] = (version, read_lines(path))
    return kept[1]


def read_directory(
    directory: Path, *, since_day: str | None = None, memo: LineMemo | None = None
) -> ReadResult:
    """All events under `directory`, sorted by `ts` (file order breaks ties); warnings for the rest.

    With `since_day` (YYYY-MM-DD), files in day folders before it are not read at all. With
    `memo`, a file read before into the same memo and unchanged since is not parsed again (the
    brake reads the directory before and after a run: only the run's own file has changed)."""
    files = telemetry_files(directory)
    if since_day is not None:
        files = [p for p in files if not _day_before(p.relative_to(directory).parts[:-1], since_day)]
    result = ReadResult(files=files)
    if not directory.is_dir():
        result.warnings.append(ReadWarning(directory, 0, "no telemetry directory here; nothing to read"))
        return result
    timed: list[tuple[datetime, int, dict[str, Any]]] = []
    for path in result.files:
        try:
            lines = _read_lines(path, memo)
        except OSError as exc:
            result.warnings.append(ReadWarning(path, 0, f"cannot read the file: {exc.strerror}"))
            continue
        for line in lines:
            problem = _problem(line)
            if problem:
                result.warnings.append(ReadWarning(path, line.lineno, problem))
                continue
            assert line.record is not None
            moment = parse_ts(line.record.get("ts"))
            if moment is None:
                result.warnings.append(ReadWarning(path, line.lineno, "skipped: `ts` is not RFC 3339"))
                continue
            timed.append((moment, len(timed), line.record))
    timed.sort(key=lambda entry: (entry[0], entry[1]))
    result.timed = [(moment, record) for moment, _, record in timed]
    return result


def _day_before(folders: tuple[str, ...], day: str) -> bool:
    return len(folders) == 1 and len(folders[0]) == 10 and folders[0] < day


def _problem(line: RawLine) -> str | None:
    if line.torn:
        return f"skipped a torn last line ({len(line.data)} bytes without a newline: the writer was cut off)"
    if not line.data.strip():
        return "skipped an empty line"
    if line.record is None:
        return "skipped: not a JSON object"
    if not isinstance(line.record.get("event"), str):
        return "skipped: no `event` name"
    return None
