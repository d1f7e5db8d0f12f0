"""Write pacing arithmetic and the persisted conditional-request cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from issueops.github.cache import EtagCache
from issueops.github.pacing import WritePacer


def run_writes(pacer: WritePacer, count: int) -> float:
    now = 0.0
    for _ in range(count):
        now += pacer.delay(now)
        pacer.record(now)
    return now


PACING_CASES = [
    ("one a second", 1.0, 60, 200, 199.0),
    ("window binds at 30 a minute", 1.0, 30, 61, 120.0),
    ("no gap, window only", 0.0, 10, 21, 120.0),
    ("gap binds over a loose window", 2.0, 80, 10, 18.0),
]


@pytest.mark.parametrize(
    ("interval", "per_minute", "writes", "last_at"),
    [c[1:] for c in PACING_CASES],
    ids=[c[0] for c in PACING_CASES],
)
def test_pacing(interval: float, per_minute: int, writes: int, last_at: float) -> None:
    assert run_writes(WritePacer(min_interval=interval, per_minute=per_minute), writes) == pytest.approx(
        last_at
    )


def test_first_write_goes_at_once() -> None:
    assert WritePacer(min_interval=1, per_minute=30).delay(100.0) == 0.0


def test_cache_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "etags.json"
    cache = EtagCache(path)
    cache.put("https://x/a", 'W/"1"', "[1]", {"link": '<n>; rel="next"', "date": "dropped"})
    assert cache.save() is True
    assert cache.save() is False  # nothing changed
    again = EtagCache.load(path)
    entry = again.get("https://x/a")
    assert entry is not None
    assert (entry.etag, entry.body, entry.headers) == ('W/"1"', "[1]", {"link": '<n>; rel="next"'})
    assert not list(path.parent.glob(".etags-*"))  # no temp file left behind


def test_cache_is_bounded_by_bytes_not_entries() -> None:
    """Far more URLs than the old 2,000-entry bound stay; past the byte budget the least
    recently used go first."""
    cache = EtagCache(None)
    for n in range(25_000):
        cache.put(f"https://x/issues/{n}/events", f'W/"{n}"', "[]", {})
    assert len(cache) == 25_000 and cache.evicted == 0
    small = EtagCache(None, max_bytes=3 * len("a" + "1" + "x" * 10))
    small.put("a", "1", "x" * 10, {})
    small.put("b", "2", "x" * 10, {})
    small.get("a")
    small.put("c", "3", "x" * 10, {})
    small.put("d", "4", "x" * 10, {})
    assert small.get("b") is None and small.get("a") is not None and small.get("d") is not None
    assert small.size_bytes <= small.max_bytes


def test_bodies_are_cut_to_the_fields_read_back() -> None:
    cache = EtagCache(None)
    issue = {
        "number": 7,
        "title": "t",
        "node_id": "I_kwDO",
        "url": "https://api.github.com/repos/acme/ops/issues/7",
        "user": {"login": "carol", "type": "User", "avatar_url": "https://avatars/x", "gravatar_id": ""},
        "labels": [{"name": "state::triage", "color": "ededed", "url": "https://x", "default": False}],
        "reactions": {"+1": 0, "url": "https://x"},
    }
    kept = cache.put("https://x/issues", "1", json.dumps([issue]), {})
    assert json.loads(kept) == [
        {
            "number": 7,
            "title": "t",
            "user": {"login": "carol", "type": "User"},
            "labels": [{"name": "state::triage", "color": "ededed"}],
        }
    ]
    entry = cache.get("https://x/issues")
    assert entry is not None and entry.body == kept
    assert cache.put("https://x/raw", "2", "not json", {}) == "not json"


def test_memos_hold_while_their_version_stands() -> None:
    cache = EtagCache(None)
    assert cache.recall("events:7", "2026-01-01T00:00:00Z") is None
    cache.remember("events:7", "2026-01-01T00:00:00Z", "[1]")
    assert cache.recall("events:7", "2026-01-01T00:00:00Z") == "[1]"
    assert cache.recall("events:7", "2026-01-02T00:00:00Z") is None  # the item moved on
    assert cache.get("events:7") is None  # memos and URLs never collide
    assert cache.memo_hits == 1


def test_the_file_is_compressed_and_a_version_1_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "etags.json"
    body = json.dumps([{"number": n, "title": "x" * 50, "node_id": "N" * 40} for n in range(100)])
    path.write_text(json.dumps({"version": 1, "entries": {"u": {"etag": "1", "body": body, "headers": {}}}}))
    cache = EtagCache.load(path)
    entry = cache.get("u")
    assert cache.load_problem is None and entry is not None
    assert "node_id" not in entry.body and json.loads(entry.body)[99]["number"] == 99
    cache.remember("m", "v", "[]")
    assert cache.save()
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and len(raw) < len(entry.body) // 4
    again = EtagCache.load(path)
    assert again.get("u") == entry and again.recall("m", "v") == "[]"


def test_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    for broken in (b"{not json", b"\x1f\x8b\x08 truncated gzip"):
        path = tmp_path / "etags.json"
        path.write_bytes(broken)
        cache = EtagCache.load(path)
        assert len(cache) == 0
        assert cache.load_problem and "ignored" in cache.load_problem
        cache.put("a", "1", "x", {})
        cache.save()
        assert EtagCache.load(path).get("a") == cache.get("a")
