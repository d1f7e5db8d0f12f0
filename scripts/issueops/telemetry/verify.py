"""`issueops telemetry verify`: walk each file's hash chain and name every break.

Each line's `prev` is the sha256 of the line before it in the same file (the first line's is the
genesis value) and `seq` is its position. A break in the chain says which kind of damage it is:
a line changed (its successor no longer points to it), removed (a gap in `seq`), reordered or
inserted (a line points to a line that is not just before it), duplicated (the same bytes twice),
torn or malformed (not JSON), foreign (another run's line).

What a chain inside one file cannot show, anchors recorded outside it do (telemetry.anchor): each
`run.started` names the previous run's file with its line count and last line's hash, and
`--anchor` takes the one a run printed in its summary. A file with fewer lines than its anchor
had its tail `truncated`, a 0-byte file was `emptied`, a file an anchor names but that is gone
was `deleted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issueops.telemetry.anchor import Anchor, line_hash, relative_name
from issueops.telemetry.events import GENESIS, SCHEMA_VERSION, check_event
from issueops.telemetry.reader import RawLine, read_lines, telemetry_files

HUMAN_LIMIT = 100  # findings listed in the human text; the JSON summary has them all


@dataclass(frozen=True)
class Finding:
    """One problem at `path:line`; `kind` is a stable code (changed, removed, reordered, ...)."""

    kind: str
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "line": self.line, "message": self.message}


@dataclass
class VerifyResult:
    """What verification found; `ok` is False on any error (warnings do not fail it)."""

    directory: Path
    exists: bool = True
    files: int = 0
    lines: int = 0
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.exists and not self.errors

    def summary(self) -> dict[str, Any]:
        """The JSON document of `issueops --json telemetry verify`."""
        return {
            "ok": self.ok,
            "directory": str(self.directory),
            "files": self.files,
            "lines": self.lines,
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
            "heads": dict(self.heads),
            "anchors_checked": self.anchors_checked,
        }

    def human(self) -> str:
        """Readable text: the verdict first, then each finding as `path:line: kind: message`."""
        if not self.exists:
            return f"telemetry verify: {self.directory} does not exist; pass --telemetry DIR"
        verdict = "OK" if self.ok else f"FAILED ({len(self.errors)} problem(s))"
        counts = f"{self.files} file(s), {self.lines} line(s), {self.anchors_checked} anchor(s)"
        counts += f" under {self.directory}"
        out = [f"telemetry verify: {counts}: {verdict}"]
        for title, items in (("errors", self.errors), ("warnings", self.warnings)):
            if not items:
                continue
            out.append(f"{title}:")
            out.extend(f"  {item}" for item in items[:HUMAN_LIMIT])
            if len(items) > HUMAN_LIMIT:
                out.append(f"  ... and {len(items) - HUMAN_LIMIT} more (use --json for all)")
        if not self.ok:
            out.append(
                "A changed, removed or reordered line, a truncated, emptied or deleted file means the "
                "telemetry was edited after it was written; a torn line means a writer was cut off "
                "(crash, full disk). Keep the files as evidence."
            )
        return "\n".join(out)


def verify_directory(directory: Path, anchors: Sequence[Anchor] = ()) -> VerifyResult:
    """Verify every `*.jsonl` file under `directory`, and every anchor: the ones the files record
    (each run's `run.started` names the previous file) and the ones given (from run summaries)."""
    result = VerifyResult(directory=directory, exists=directory.is_dir())
    if not result.exists:
        result.errors.append(Finding("missing", directory, 0, "no such directory; pass --telemetry DIR"))
        return result
    found: dict[str, list[RawLine]] = {}
    recorded: list[tuple[Anchor, str]] = []
    for path in telemetry_files(directory):
        result.files += 1
        try:
            lines = read_lines(path)
        except OSError as exc:
            result.errors.append(Finding("unreadable", path, 0, f"cannot read: {exc.strerror}"))
            continue
        found[relative_name(directory, path)] = lines
        result.lines += len(lines)
        if not lines:
            message = "the file is empty: its lines were removed after they were written"
            result.errors.append(Finding("emptied", path, 0, message))
            continue
        _verify_file(path, lines, result)
        first = lines[0].record or {}
        if first.get("event") == "run.started" and (anchor := Anchor.from_record(first.get("previous"))):
            recorded.append((anchor, f"run {path.stem} recorded"))
    recorded += [(anchor, "the given anchor says") for anchor in anchors]
    for anchor, source in recorded:
        result.anchors_checked += 1
        finding = _check_anchor(directory, anchor, found, source)
        if finding is not None:
            result.errors.append(finding)
    return result


def _check_anchor(
    directory: Path, anchor: Anchor, found: dict[str, list[RawLine]], source: str
) -> Finding | None:
    """The damage at the end of the file an anchor names, if any."""
    path = directory / anchor.file
    lines = found.get(anchor.file)
    if lines is None:
        return Finding("deleted", path, 0, f"the file is gone; {source} {anchor.lines} line(s) in it")
    if not lines:
        return None  # reported as emptied
    whole = [line for line in lines if not line.torn]
    if len(whole) < anchor.lines:
        gone = anchor.lines - len(whole)
        message = f"{gone} line(s) removed from the end; {source} {anchor.lines}"
        return Finding("truncated", path, len(whole), message)
    if line_hash(whole[anchor.lines - 1].data) != anchor.head:
        message = f"line {anchor.lines} changed: its hash is not the anchor's ({source} {anchor.head[:12]}…)"
        return Finding("changed", path, whole[anchor.lines - 1].lineno, message)
    return None


def _verify_file(path: Path, lines: list[RawLine], result: VerifyResult) -> None:
    hashes = [line_hash(line.data) for line in lines]
    first_at: dict[str, int] = {}
    for index, digest in enumerate(hashes):
        first_at.setdefault(digest, index)
    completed = False
    for index, line in enumerate(lines):
        record = line.record
        if line.torn:
            result.errors.append(
                Finding("torn", path, line.lineno, f"last line cut off after {len(line.data)} bytes")
            )
            continue
        if record is None or not isinstance(record.get("prev"), str):
            message = "not a telemetry line (a JSON object with `prev`)"
            result.errors.append(Finding("malformed", path, line.lineno, message))
            continue
        completed = completed or record.get("event") == "run.completed"
        _check_line(path, line, record, result)
        original = first_at[hashes[index]]
        if original != index:
            message = f"a copy of line {lines[original].lineno}"
            result.errors.append(Finding("duplicated", path, line.lineno, message))
            continue
        expected = GENESIS if index == 0 else hashes[index - 1]
        if record["prev"] != expected:
            finding = _classify(path, lines, index, record, first_at)
            already = finding.kind == "changed" and lines[index - 1].record is None  # reported malformed
            if not already:
                result.errors.append(finding)
    good = [h for line, h in zip(lines, hashes, strict=True) if not line.torn]
    if good:
        result.heads[str(path)] = good[-1]
    if lines and not completed:
        result.warnings.append(
            Finding(
                "incomplete_run",
                path,
                lines[-1].lineno,
                "no run.completed: the run is still going, crashed, or its last lines were cut off",
            )
        )


def _check_line(path: Path, line: RawLine, record: dict[str, Any], result: VerifyResult) -> None:
    if record.get("run_id") != path.stem:
        result.errors.append(
            Finding("foreign", path, line.lineno, f"belongs to run {record.get('run_id')!r}, not {path.stem}")
        )
    version = record.get("v")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        message = f"schema v{version}; this reader knows v{SCHEMA_VERSION}"
        result.warnings.append(Finding("newer_version", path, line.lineno, message))
    for problem in check_event(record):
        result.warnings.append(Finding("schema", path, line.lineno, problem))


def _seq(record: dict[str, Any] | None) -> int | None:
    value = None if record is None else record.get("seq")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _classify(
    path: Path, lines: list[RawLine], index: int, record: dict[str, Any], first_at: dict[str, int]
) -> Finding:
    """Name the damage at a chain break between line `index` and the one before it."""
    lineno = lines[index].lineno
    prev = record["prev"]
    target = first_at.get(prev)
    if target is not None and target != index:
        if target > index:
            message = f"comes before line {lines[target].lineno}, which the chain puts before it"
        else:
            message = f"follows line {lines[target].lineno} in the chain, but line(s) were moved in between"
        return Finding("reordered", path, lineno, message)
    if prev == GENESIS:
        message = "a second chain starts here: lines were inserted or files joined"
        return Finding("inserted", path, lineno, message)
    seq = _seq(record)
    if index == 0:
        lost = f"{seq - 1} line(s)" if seq and seq > 1 else "line(s)"
        return Finding("removed", path, lineno, f"the first {lost} of the file were removed")
    before = _seq(lines[index - 1].record)
    if seq is not None and before is not None and seq > before + 1:
        gap = seq - before - 1
        return Finding("removed", path, lineno, f"{gap} line(s) removed just before this line")
    return Finding("changed", path, lines[index - 1].lineno, "this line was changed after it was written")
