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


def test_cache_lru_bound() -> None:
    cache = EtagCache(None, max_entries=2)
    cache.put("a", "1", "", {})
    cache.put("b", "2", "", {})
    cache.get("a")
    cache.put("c", "3", "", {})
    assert cache.get("b") is None
    assert cache.get("a") is not None


def test_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "etags.json"
    path.write_text("{not json")
    cache = EtagCache.load(path)
    assert len(cache) == 0
    assert cache.load_problem and "ignored" in cache.load_problem
    cache.put("a", "1", "x", {})
    cache.save()
    assert json.loads(path.read_text())["entries"]["a"]["etag"] == "1"
