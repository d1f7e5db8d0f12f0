"""Every event the sweep plans fits the telemetry catalogue (the strict sink would refuse it)."""

from __future__ import annotations

import pytest
import test_sweep_drift as drift
import test_sweep_sla as sla
from sweep_fakes import BOT, BOT_LOGIN, at, labeled, pull, work_item

from issueops.core.model import ItemContext
from issueops.stages.sweep import plan_orphans
from issueops.telemetry.events import ENVELOPE, check_event


def _record(event: dict[str, object]) -> dict[str, object]:
    envelope: dict[str, object] = {name: "x" for name in ENVELOPE}
    envelope["v"] = 1
    return {**envelope, **event}


def _events() -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    for case in drift.CASES:
        plan = drift._plan(drift._context(case), case)
        found += [(case.name, e) for e in plan.events]
    for sla_case in sla.CASES:
        plan = sla._plan(sla._ctx(sla_case), sla_case, sla_case.now)
        found += [(sla_case.name, e) for e in plan.events]
    item = work_item(["state::in-progress", "workflow::incident"])
    items = [ItemContext(item, (), (labeled("state::in-progress", BOT, 0),))]
    _, plans = plan_orphans(items, [pull(state="closed", updated=1)], [], bot_login=BOT_LOGIN, now=at(2))
    closed = work_item(["state::rejected"], state="closed", reason="not_planned")
    _, closing = plan_orphans(
        [closed], [pull()], ["issueops/1-disk-full", "issueops/1-old"], bot_login=BOT_LOGIN, now=at(2)
    )
    assert plans and closing
    found += [("orphan", e) for p in [*plans, *closing] for e in p.events]
    return found


EVENTS = _events()


@pytest.mark.parametrize(("name", "event"), EVENTS, ids=[f"{n}: {e['event']}" for n, e in EVENTS])
def test_event_fits_the_catalogue(name: str, event: dict[str, object]) -> None:
    assert check_event(_record(event)) == []
