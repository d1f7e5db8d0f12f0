"""Anchors: what a run's file looked like, recorded *outside* that file.

A hash chain inside one file finds a changed or removed line in the middle, but not lines cut
from the end, a file emptied to 0 bytes or a file deleted: what is left is a valid chain. So the
end of each file is recorded elsewhere, as an anchor `(file, lines, head)`: the number of whole
lines and the sha256 of the last one. The next run records the previous run's anchor in its own
`run.started` line (a chain across files), and every run prints its own final anchor in its
summary and the Actions step summary (outside the telemetry directory altogether).
`telemetry verify` checks each anchor against the file it names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issueops.telemetry.reader import read_lines, telemetry_files

_ANCHOR = re.compile(r"^(?P<file>[^:]+\.jsonl):(?P<lines>\d+):(?P<head>[0-9a-f]{64})$")


def line_hash(line: bytes) -> str:
    """The chain hash of one stored line (its bytes without the newline)."""
    return hashlib.sha256(line).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """A file (relative to the telemetry directory, `/`-separated), its whole lines, the last one's hash."""

    file: str
    lines: int
    head: str

    def __str__(self) -> str:
        return f"{self.file}:{self.lines}:{self.head}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "lines": self.lines, "head": self.head}

    @classmethod
    def from_record(cls, value: Any) -> Anchor | None:
        """The `previous` field of a `run.started` line; None when absent or not an anchor."""
        if not isinstance(value, dict):
            return None
        file, lines, head = value.get("file"), value.get("lines"), value.get("head")
        if not isinstance(file, str) or not isinstance(lines, int) or not isinstance(head, str):
            return None
        return cls(file, lines, head)


def parse_anchor(text: str) -> Anchor:
    """`FILE:LINES:HEAD` as printed in a run's summary; ValueError names the expected form."""
    match = _ANCHOR.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not an anchor; expected DAY/RUN_ID.jsonl:LINES:SHA256 as a run's summary prints it"
        )
    return Anchor(match["file"], int(match["lines"]), match["head"])


def relative_name(directory: Path, path: Path) -> str:
    return path.relative_to(directory).as_posix()


def anchor_of(directory: Path, path: Path) -> Anchor | None:
    """The anchor of a file as it is now: None when it has no whole line."""
    whole = [line for line in read_lines(path) if not line.torn]
    if not whole:
        return None
    return Anchor(relative_name(directory, path), len(whole), line_hash(whole[-1].data))


def previous_anchor(directory: Path, path: Path) -> Anchor | None:
    """The anchor of the newest run file that sorts before `path` (run ids are time-ordered);
    a run that starts later is never "previous", so two runs never anchor each other."""
    own = (path.relative_to(directory).parts[:-1], path.name)
    earlier = [p for p in telemetry_files(directory) if (p.relative_to(directory).parts[:-1], p.name) < own]
    for candidate in reversed(earlier):
        try:
            found = anchor_of(directory, candidate)
        except OSError:
            continue
        if found is not None:
            return found
    return None
