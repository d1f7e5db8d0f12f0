"""The durable JSONL sink: one file per run, one `os.write` per line, hash-chained, never a secret.

Why each rule:
- One file per run (`<dir>/<YYYY-MM-DD>/<run_id>.jsonl`): concurrent runs never share a file.
- One `os.write` of the whole line on an `O_APPEND` descriptor, under `flock`, with the count
  checked: a line is never interleaved with another writer's, even when two sinks share a run id.
- `prev` = sha256 of the previous line's bytes, `seq` = the line's position: `telemetry verify`
  finds changed, removed, reordered and torn lines.
- A scrub redacts secret-looking keys and the token's value: telemetry is uploaded as an artifact.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from issueops.core.errors import IssueOpsError
from issueops.telemetry.events import GENESIS, SCHEMA_VERSION, check_event

REDACTED = "[redacted]"
MAX_LINE_BYTES = 64 * 1024  # longer lines have their long strings cut (bounded memory for readers)
_CUT_AT = 1024
_SECRET_KEY = re.compile(
    r"token|authori[sz]ation|password|passwd|secret|api[-_]?key|private[-_]?key|credential|cookie",
    re.IGNORECASE,
)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_MIN_SECRET_LEN = 4  # shorter "secrets" would redact ordinary words
_TAIL_CHUNK = 64 * 1024


class TelemetryError(IssueOpsError):
    """The telemetry file could not be written (disk full, permissions): names the file and the fix."""

    exit_code = 1


class InvalidEvent(ValueError):
    """An event does not match the catalogue: a bug in the caller, caught by the tests."""


# --- identifiers and timestamps ------------------------------------------------------------------


def uuid7(unix_ms: int, random_bytes: bytes) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, 74 random bits."""
    if len(random_bytes) < 10:
        raise ValueError("uuid7 needs 10 random bytes")
    rand = int.from_bytes(random_bytes[:10], "big")
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = ((unix_ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_run_id(now: datetime) -> str:
    """A fresh UUIDv7 for a run starting at `now` (time-ordered, so file names sort by start)."""
    return uuid7(int(_utc(now).timestamp() * 1000), os.urandom(10))


def uuid7_time(run_id: str) -> datetime | None:
    """The start time embedded in a UUIDv7 run id; None for anything else."""
    text = run_id.replace("-", "")
    if len(text) != 32 or text[12] != "7":
        return None
    try:
        unix_ms = int(text[:12], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(unix_ms / 1000, tz=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_ts(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds: `2026-11-21T12:04:45.123Z`."""
    utc = _utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"


def line_hash(line: bytes) -> str:
    """The chain hash of one stored line (its bytes without the newline)."""
    return hashlib.sha256(line).hexdigest()


# --- the scrub ---------------------------------------------------------------------------------


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Redact secret-looking keys (at any depth) and any occurrence of a secret value."""
    known = [s for s in secrets if s and len(s) >= _MIN_SECRET_LEN]
    return _scrub(value, known)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = REDACTED if value == secret else value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEY.search(str(key)) else _scrub(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


def _cut_long_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _CUT_AT:
        return value[:_CUT_AT] + f"…[{len(value) - _CUT_AT} more characters cut]"
    if isinstance(value, dict):
        return {key: _cut_long_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_long_strings(item) for item in value]
    return value


def encode_line(record: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON without the newline; the bytes the chain hashes."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


# --- the sink ----------------------------------------------------------------------------------


class TelemetrySink:
    """Appends one run's events to `<directory>/<YYYY-MM-DD>/<run_id>.jsonl`.

    Use as a context manager (or call `close()`): the file is fsynced once at the end of the run.
    The file is created at the first event, so a run that records nothing leaves nothing behind.
    """

    def __init__(
        self,
        directory: Path,
        repo: str,
        *,
        command: str,
        clock: Callable[[], datetime] | None = None,
        run_id: str | None = None,
        secrets: Iterable[str] = (),
        secret_env: Iterable[str] = ("GITHUB_TOKEN",),
        strict: bool | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.repo = repo
        self.command = command
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._started = _utc(self._clock())
        if run_id is not None and not _RUN_ID.match(run_id):
            raise ValueError(f"run id {run_id!r} must be letters, digits, '.', '_' or '-' (it names a file)")
        self.run_id = run_id or new_run_id(self._started)
        day = (uuid7_time(self.run_id) or self._started).strftime("%Y-%m-%d")
        self.path = self.directory / day / f"{self.run_id}.jsonl"
        self._secrets = tuple(secrets)
        self._secret_env = tuple(secret_env)
        # Strict raises on a catalogue violation (tests); lenient writes the line anyway and keeps
        # the problem in `problems` (a run must not die over telemetry; `telemetry verify` warns).
        self._strict = strict if strict is not None else _strict_from_env()
        self.problems: list[str] = []
        self._fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()
        # What this sink last saw at the end of the file: (size, hash of last line, next seq).
        self._tail: tuple[int, str, int] | None = None
        self.head: str | None = None  # hash of the last line written: an anchor for the run summary
        # Called with each record as written (scrubbed), e.g. by the monitoring exporters.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    # context manager
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def emit(self, event: str, *, item: int | None = None, **fields: Any) -> dict[str, Any]:
        """Write one event line and return the record as written.

        `from_=` is accepted for the `from` field (a Python keyword). Unknown event names are fine;
        a catalogued event missing a required field raises InvalidEvent when the sink is strict,
        and is written anyway (the problem kept in `problems`) when it is not.
        """
        if self._closed:
            raise InvalidEvent(f"telemetry sink for run {self.run_id} is closed; {event} was not written")
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        if item is not None and (isinstance(item, bool) or not isinstance(item, int)):
            raise InvalidEvent(f"`item` of {event} must be an issue number, not {item!r}")
        now = _utc(self._clock())
        if event in ("run.started", "run.completed"):
            fields.setdefault("command", self.command)
        if event == "run.completed":
            fields.setdefault("duration_ms", int((now - self._started).total_seconds() * 1000))
        body: dict[str, Any] = {"event": event, "repo": self.repo}
        if item is not None:
            body["item"] = item
        for key in ("from", "to"):
            if key in fields:
                body[key] = fields.pop(key)
        body.update(fields)
        body = scrub(body, self._current_secrets())
        with self._lock:
            record = self._append(now, body)
        for listener in self.listeners:
            listener(record)
        return record

    def close(self) -> None:
        """fsync the file and its directory once, at the end of the run; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(self.path.parent)

    def secrets(self) -> list[str]:
        """The values this sink redacts (for other outputs of the run, e.g. a warning)."""
        return self._current_secrets()

    # internals
    def _current_secrets(self) -> list[str]:
        found = list(self._secrets)
        found.extend(os.environ.get(name, "") for name in self._secret_env)
        return found

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                self._fd = os.open(self.path, flags, 0o644)
            except OSError as exc:
                raise TelemetryError(
                    f"cannot open telemetry file {self.path}: {exc.strerror}; "
                    "check that --telemetry points to a writable directory"
                ) from exc
        return self._fd

    def _append(self, now: datetime, body: dict[str, Any]) -> dict[str, Any]:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size, prev, seq, needs_newline = self._read_tail(fd)
                record: dict[str, Any] = {
                    "v": SCHEMA_VERSION,
                    "ts": format_ts(now),
                    "run_id": self.run_id,
                    "seq": seq,
                    "prev": prev,
                    **body,
                }
                if problems := check_event(record):
                    message = f"telemetry event {body['event']}: " + "; ".join(problems)
                    if self._strict:
                        raise InvalidEvent(message)
                    self.problems.append(message)
                line = encode_line(record)
                if len(line) > MAX_LINE_BYTES:
                    record = _cut_long_strings(record)
                    line = encode_line(record)
                    if len(line) > MAX_LINE_BYTES:
                        raise InvalidEvent(
                            f"telemetry event {body['event']} is {len(line)} bytes, over {MAX_LINE_BYTES}"
                        )
                data = (b"\n" if needs_newline else b"") + line + b"\n"
                _write_all(fd, data, self.path)
                self.head = line_hash(line)
                self._tail = (size + len(data), self.head, seq + 1)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise TelemetryError(
                f"cannot write telemetry file {self.path}: {exc.strerror}; free disk space or fix permissions"
            ) from exc
        return record

    def _read_tail(self, fd: int) -> tuple[int, str, int, bool]:
        """(size, prev hash, next seq, whether a torn fragment must be closed) under the lock."""
        size = os.fstat(fd).st_size
        if self._tail is not None and self._tail[0] == size:
            return size, self._tail[1], self._tail[2], False
        if size == 0:
            return 0, GENESIS, 1, False
        buf, at_start = _tail_bytes(fd, size)
        torn = not buf.endswith(b"\n")
        body = buf if torn else buf[:-1]
        parts = body.split(b"\n")
        if not at_start:
            parts = parts[1:]  # the first piece may be cut
        last = parts[-1]
        before = parts[-2] if len(parts) > 1 else None
        if torn:
            # A crash left a fragment: close it with a newline; it keeps its place in the chain.
            if seq_before := _seq_of(before):
                return size, line_hash(last), seq_before + 2, True
            only_fragment = before is None and at_start
            return size, line_hash(last), 2 if only_fragment else _count_lines(fd) + 1, True
        seq_last = _seq_of(last)
        seq = seq_last + 1 if seq_last > 0 else _count_lines(fd) + 1
        return size, line_hash(last), seq, False


STRICT_ENV = "ISSUEOPS_TELEMETRY_STRICT"


def _strict_from_env() -> bool:
    """Test suites set ISSUEOPS_TELEMETRY_STRICT=1 so a catalogue violation fails loudly."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _seq_of(line: bytes | None) -> int:
    """The `seq` of a stored line, 0 when it cannot be read."""
    if not line:
        return 0
    try:
        value = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _tail_bytes(fd: int, size: int) -> tuple[bytes, bool]:
    """The end of the file holding at least its last two lines (or the whole file)."""
    want = _TAIL_CHUNK
    while True:
        start = max(0, size - want)
        buf = os.pread(fd, size - start, start)
        if start == 0 or buf.count(b"\n", 0, len(buf) - 1) >= 2:
            return buf, start == 0
        want *= 2


def _count_lines(fd: int) -> int:
    """Lines in the file, counting a torn fragment; the slow path when a line's seq is unreadable."""
    count, offset, last = 0, 0, b"\n"
    while chunk := os.pread(fd, _TAIL_CHUNK, offset):
        count += chunk.count(b"\n")
        offset += len(chunk)
        last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    """One `os.write` of the whole line; the count is checked and any rest written under the lock."""
    written = os.write(fd, data)
    view = memoryview(data)
    while written < len(data):
        more = os.write(fd, view[written:])
        if more <= 0:
            raise TelemetryError(f"short write to {path}: {written} of {len(data)} bytes; is the disk full?")
        written += more


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the file itself is synced
    finally:
        os.close(fd)
