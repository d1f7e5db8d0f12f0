"""A quiet repository costs O(changes), aged items included (issue #15).

Items old enough that their SLA clock matters need their label history; once read, it comes
from the cache for as long as the item's `updated_at` (in the listing, itself a 304) stands.
End to end: every stage, PyGithub against the sandbox, the cache file kept between runs.
"""

from __future__ import annotations

import copy
from pathlib import Path

from e2e_world import ALL_STAGES, World, world, write_config
from test_e2e_pipeline import SMALL

from issueops.sandbox.scenario import from_scenario

RUN_INTERVAL = 15 * 60
AGE = 45 * 86_400


def _scenario() -> dict[str, object]:
    scenario = copy.deepcopy(SMALL)
    issues = scenario["issues"]
    assert isinstance(issues, list)
    scenario["issues"] = [dict(issue, title=f"{issue['title']} ({n})") for n in range(3) for issue in issues]
    return scenario


def _settle(w: World) -> None:
    for _ in range(8):
        w.sandbox.clock.advance(RUN_INTERVAL)
        before = len(w.sandbox.ledger)
        w.run()
        if not any(e.write or e.counted for e in w.sandbox.ledger[before:]):
            return
    raise AssertionError("no quiet run after 8 runs")


Served = list[tuple[str, str, int, bool]]  # method, path, status, counted


def _quiet_run(w: World) -> Served:
    w.sandbox.clock.advance(60)
    before = len(w.sandbox.ledger)
    w.run(ALL_STAGES)
    return [(e.method, e.path.split("?")[0], e.status, e.counted) for e in w.sandbox.ledger[before:]]


def _history_reads(served: Served) -> list[str]:
    return [path for _, path, _, _ in served if path.endswith("/events")]


def test_aged_items_cost_nothing_per_item_once_their_history_is_known(tmp_path: Path) -> None:
    w = world(from_scenario(_scenario()), tmp_path, config=write_config(tmp_path, profile="assisted"))
    _settle(w)
    w.sandbox.clock.advance(AGE)  # every SLA clock now matters: the sweep reads each history
    _settle(w)

    served = _quiet_run(w)
    assert not [s for s in served if s[3]], "a quiet run spends no rate limit"
    assert _history_reads(served) == [], "no per-item read for an item whose updated_at stands"
    assert {status for _, _, status, _ in served} == {304}

    # a person labels one item: its updated_at moves, so that history alone is read again
    number = next(n for n, i in sorted(w.sandbox.issues.items()) if i.pull is None and i.state == "open")
    w.act("alice", "POST", f"/issues/{number}/labels", {"labels": ["customer-facing"]})
    served = _quiet_run(w)
    assert _history_reads(served) == [f"/repos/acme/ops/issues/{number}/events"]
    counted_reads = {path for method, path, _, counted in served if counted and method == "GET"}
    assert counted_reads == {"/repos/acme/ops/issues", f"/repos/acme/ops/issues/{number}/events"}

    w.sandbox.clock.advance(RUN_INTERVAL)
    w.run()  # whatever the sweep made of the change (its own writes move updated_at once more)
    served = _quiet_run(w)  # and then it is remembered again
    assert _history_reads(served) == [] and not [s for s in served if s[3]]
