"""The durable sink: envelope, UUIDv7, layout, hash chain, scrub, strictness, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issueops.telemetry.events import GENESIS, SCHEMA_VERSION
from issueops.telemetry.reader import read_directory
from issueops.telemetry.sink import (
    MAX_LINE_BYTES,
    REDACTED,
    InvalidEvent,
    TelemetrySink,
    format_ts,
    line_hash,
    scrub,
    uuid7,
    uuid7_time,
)
from issueops.telemetry.verify import verify_directory

T0 = datetime(2026, 11, 21, 12, 4, 45, 123456, tzinfo=UTC)
RUN = "0199a000-0000-7000-8000-000000000001"


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _sink(tmp_path: Path, **kwargs: Any) -> TelemetrySink:
    kwargs.setdefault("command", "assign")
    kwargs.setdefault("clock", FakeClock())
    kwargs.setdefault("strict", True)
    return TelemetrySink(tmp_path, "acme/ops", **kwargs)


# --- identifiers and timestamps ------------------------------------------------------------------


def test_uuid7_has_version_variant_and_time() -> None:
    text = uuid7(1_795_000_000_123, bytes(range(10)))
    parsed = uuid.UUID(text)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert uuid7_time(text) == datetime.fromtimestamp(1_795_000_000.123, tz=UTC)


def test_uuid7_sorts_by_time() -> None:
    ids = [uuid7(ms, os.urandom(10)) for ms in (1_000, 2_000, 1_795_000_000_000)]
    assert ids == sorted(ids)


def test_generated_run_id_is_uuid7_of_the_start(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    assert uuid.UUID(sink.run_id).version == 7
    assert uuid7_time(sink.run_id) == T0.replace(microsecond=123000)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (T0, "2026-11-21T12:04:45.123Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05.000Z"),  # naive means UTC
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).astimezone(), "2026-01-02T03:04:05.000Z"),
    ],
    ids=["aware-utc", "naive", "local-zone"],
)
def test_format_ts_is_rfc3339_utc(moment: datetime, expected: str) -> None:
    assert format_ts(moment) == expected


# --- envelope, layout, chain ---------------------------------------------------------------------


def test_envelope_and_layout(tmp_path: Path) -> None:
    clock = FakeClock()
    with _sink(tmp_path, clock=clock, run_id=RUN) as sink:
        first = sink.emit("run.started", dry_run=True)
        clock.tick(1)
        second = sink.emit(
            "item.transition", item=7, from_="triage", to="assigned", cause="assign", workflow="x"
        )
    uuid_day = uuid7_time(RUN)
    assert uuid_day is not None
    path = tmp_path / uuid_day.strftime("%Y-%m-%d") / f"{RUN}.jsonl"
    assert sink.path == path
    stored = _lines(path)
    assert stored == [first, second]
    assert first == {
        "v": SCHEMA_VERSION,
        "ts": "2026-11-21T12:04:45.123Z",
        "run_id": RUN,
        "seq": 1,
        "prev": GENESIS,
        "event": "run.started",
        "repo": "acme/ops",
        "dry_run": True,
        "command": "assign",
    }
    assert second["item"] == 7 and second["from"] == "triage" and second["to"] == "assigned"
    assert second["seq"] == 2
    assert second["prev"] == line_hash(path.read_bytes().split(b"\n")[0])
    assert sink.head == line_hash(path.read_bytes().split(b"\n")[1])


def test_non_uuid_run_id_uses_the_clock_day(tmp_path: Path) -> None:
    with _sink(tmp_path, run_id="manual-1") as sink:
        sink.emit("x.custom")
    assert sink.path == tmp_path / "2026-11-21" / "manual-1.jsonl"


@pytest.mark.parametrize(
    "run_id", ["../escape", "a/b", ".hidden", ""], ids=["dotdot", "slash", "dot", "empty"]
)
def test_unsafe_run_id_is_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        _sink(tmp_path, run_id=run_id or "/")


def test_no_event_no_file(tmp_path: Path) -> None:
    with _sink(tmp_path):
        pass
    assert list(tmp_path.rglob("*")) == []


def test_run_completed_fills_command_and_duration(tmp_path: Path) -> None:
    clock = FakeClock()
    with _sink(tmp_path, clock=clock) as sink:
        clock.tick(2.5)
        record = sink.emit(
            "run.completed",
            items_seen=1,
            items_changed=0,
            items_failed=0,
            items_deferred=0,
            deferred=[],
            requests_made=3,
            requests_counted=2,
            exit_code=0,
        )
    assert record["command"] == "assign"
    assert record["duration_ms"] == 2500


def test_two_sinks_with_one_run_id_continue_one_chain(tmp_path: Path) -> None:
    with _sink(tmp_path, run_id=RUN) as first:
        first.emit("a.one")
    with _sink(tmp_path, run_id=RUN) as second:
        second.emit("a.two")
        second.emit("a.three")
    stored = _lines(first.path)
    assert [r["seq"] for r in stored] == [1, 2, 3]
    assert verify_directory(tmp_path).ok


def test_appending_after_a_torn_fragment_closes_it(tmp_path: Path) -> None:
    with _sink(tmp_path, run_id=RUN) as sink:
        sink.emit("a.one")
    with sink.path.open("ab") as handle:
        handle.write(b'{"v":1,"ts":"2026-11-21T12:')  # a crash mid-line
    with _sink(tmp_path, run_id=RUN) as again:
        record = again.emit("a.two")
    raw = sink.path.read_bytes().split(b"\n")
    assert raw[1] == b'{"v":1,"ts":"2026-11-21T12:'
    assert json.loads(raw[2]) == record
    assert record["seq"] == 3
    assert record["prev"] == line_hash(raw[1])
    result = verify_directory(tmp_path)
    assert [f.kind for f in result.errors] == ["malformed"]  # the fragment, nothing else


def test_emit_after_close_is_refused(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    sink.emit("a.one")
    sink.close()
    sink.close()  # twice is fine
    with pytest.raises(InvalidEvent, match="closed"):
        sink.emit("a.two")


def test_long_strings_are_cut_to_keep_lines_bounded(tmp_path: Path) -> None:
    with _sink(tmp_path) as sink:
        record = sink.emit("x.big", note="y" * (MAX_LINE_BYTES * 2))
    assert len(record["note"]) < 2000
    assert "more characters cut" in record["note"]
    assert sink.path.stat().st_size < MAX_LINE_BYTES


def test_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    calls: list[int] = []

    def half_write(fd: int, data: bytes | memoryview) -> int:
        chunk = bytes(data)
        size = max(1, len(chunk) // 2) if not calls else len(chunk)
        calls.append(size)
        return real_write(fd, chunk[:size])

    with _sink(tmp_path) as sink:
        monkeypatch.setattr(os, "write", half_write)
        sink.emit("x.one", note="z" * 100)
        monkeypatch.setattr(os, "write", real_write)
    assert len(calls) == 2
    assert _lines(sink.path)[0]["note"] == "z" * 100


# --- the scrub -----------------------------------------------------------------------------------

SCRUB_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("token key", {"token": "abc"}, {"token": REDACTED}),
    ("authorization header nested", {"h": {"Authorization": "Bearer x"}}, {"h": {"Authorization": REDACTED}}),
    ("password in a list", {"l": [{"password": "p"}]}, {"l": [{"password": REDACTED}]}),
    ("api key spelled with dash", {"api-key": "k"}, {"api-key": REDACTED}),
    ("value equal to the token", {"note": "ghs_secret123"}, {"note": REDACTED}),
    (
        "value containing the token",
        {"url": "https://x/?t=ghs_secret123"},
        {"url": f"https://x/?t={REDACTED}"},
    ),
    ("token inside a list value", {"l": ["ghs_secret123"]}, {"l": [REDACTED]}),
    ("ordinary fields untouched", {"login": "alice", "count": 3}, {"login": "alice", "count": 3}),
]


@pytest.mark.parametrize(("name", "given", "expected"), SCRUB_CASES, ids=[c[0] for c in SCRUB_CASES])
def test_scrub(name: str, given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert scrub(given, ["ghs_secret123"]) == expected


def test_scrub_ignores_tiny_secrets() -> None:
    assert scrub({"note": "a b c"}, ["a"]) == {"note": "a b c"}


def test_sink_never_writes_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_live_token_value")
    monkeypatch.setenv("OTHER_TOKEN", "other-secret-value")
    with _sink(tmp_path, secret_env=("GITHUB_TOKEN", "OTHER_TOKEN")) as sink:
        sink.emit("x.leak", note="ghp_live_token_value", err="401 with other-secret-value", token="t")
    text = sink.path.read_text()
    assert "ghp_live_token_value" not in text
    assert "other-secret-value" not in text
    assert _lines(sink.path)[0]["token"] == REDACTED


# --- strict catalogue ----------------------------------------------------------------------------

STRICT_CASES: list[tuple[str, str, int | None, dict[str, Any], str | None]] = [
    ("unknown event kept", "x.new_kind", None, {"anything": 1}, None),
    (
        "transition ok",
        "item.transition",
        1,
        {"from": None, "to": "triage", "cause": "monitor", "workflow": None},
        None,
    ),
    ("missing field", "approval.denied", 1, {"login": "a"}, "needs `reason`"),
    (
        "item event without item",
        "item.failed",
        None,
        {"failure_class": "t", "failure_code": "c", "hint": "h"},
        "item",
    ),
    ("bool is not a count", "api.budget_stop", None, {"reason": "r", "remaining": True}, "remaining"),
    ("wrong type", "api.wait", None, {"seconds": "5", "reason": "r"}, "seconds"),
]


@pytest.mark.parametrize(
    ("name", "event", "item", "fields", "error"), STRICT_CASES, ids=[c[0] for c in STRICT_CASES]
)
def test_strict_catalogue(
    tmp_path: Path, name: str, event: str, item: int | None, fields: dict[str, Any], error: str | None
) -> None:
    with _sink(tmp_path) as sink:
        if error is None:
            assert sink.emit(event, item=item, **fields)["event"] == event
        else:
            with pytest.raises(InvalidEvent, match=re.escape(error)):
                sink.emit(event, item=item, **fields)


def test_lenient_sink_writes_incomplete_events(tmp_path: Path) -> None:
    with _sink(tmp_path, strict=False) as sink:
        sink.emit("approval.denied", item=1, login="a")
    assert _lines(sink.path)[0]["event"] == "approval.denied"
    assert sink.problems == ["telemetry event approval.denied: `approval.denied` needs `reason` (str)"]
    assert [f.kind for f in verify_directory(tmp_path).warnings] == ["schema", "incomplete_run"]


@pytest.mark.parametrize(
    ("value", "strict"),
    [(None, False), ("1", True), ("true", True), ("0", False), ("false", False)],
    ids=["unset-lenient", "one", "true", "zero", "false"],
)
def test_strictness_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None, strict: bool
) -> None:
    if value is None:
        monkeypatch.delenv("ISSUEOPS_TELEMETRY_STRICT", raising=False)
    else:
        monkeypatch.setenv("ISSUEOPS_TELEMETRY_STRICT", value)
    with TelemetrySink(tmp_path, "acme/ops", command="x") as sink:
        if strict:
            with pytest.raises(InvalidEvent):
                sink.emit("api.budget_stop", reason="max_requests")
        else:
            sink.emit("api.budget_stop", reason="max_requests")
            assert len(sink.problems) == 1


# --- concurrent writers --------------------------------------------------------------------------

PROCESSES = 4
EVENTS_EACH = 40
SIZES = (10, 3_000, 20_000, 60_000)


def _writer(directory: str, run_id: str | None, worker: int) -> None:
    with TelemetrySink(Path(directory), "acme/ops", command="bench", run_id=run_id) as sink:
        for n in range(EVENTS_EACH):
            sink.emit("x.stress", item=worker * 1000 + n, worker=worker, n=n, pad="p" * SIZES[n % len(SIZES)])


def _run_writers(directory: Path, run_ids: list[str | None]) -> None:
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_writer, args=(str(directory), rid, w)) for w, rid in enumerate(run_ids)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0


@pytest.mark.parametrize("shared", [True, False], ids=["one-run-id-one-file", "own-run-id-own-file"])
def test_concurrent_writers_never_tear_or_interleave(tmp_path: Path, shared: bool) -> None:
    run_ids: list[str | None] = [RUN if shared else None] * PROCESSES
    _run_writers(tmp_path, run_ids)
    files = sorted(tmp_path.rglob("*.jsonl"))
    assert len(files) == (1 if shared else PROCESSES)
    read = read_directory(tmp_path)
    assert read.warnings == []
    assert len(read.events) == PROCESSES * EVENTS_EACH
    for record in read.events:  # every line whole: its padding has the size it was written with
        assert record["pad"] == "p" * SIZES[record["n"] % len(SIZES)]
    for worker in range(PROCESSES):
        mine = [r["n"] for r in read.events if r["worker"] == worker]
        assert sorted(mine) == list(range(EVENTS_EACH))
    for path in files:
        assert [r["seq"] for r in _lines(path)] == list(range(1, len(_lines(path)) + 1))
    result = verify_directory(tmp_path)
    assert result.errors == []
