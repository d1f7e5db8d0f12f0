"""The figures a finished run hands to the monitoring exporters: its summary, and what the run's
snapshot says of the open items now (per state; how long each approval has been waiting).

No request is sent for them: items come from the snapshot the stages read and updated (plus the
items this run opened, which the snapshot holds only from the next run), and the
time an item entered `state::awaiting-approval` from its label history when the run read it
(else its last update, a lower bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from issueops.approvals.activity import last_labeled
from issueops.core.model import WorkItem
from issueops.core.states import STATE_PREFIX, State, current_state
from issueops.runner import RunSummary, Runtime
from issueops.snapshot import Snapshot
from issueops.telemetry.run_metrics import RunFigures

AWAITING_LABEL = f"{STATE_PREFIX}{State.AWAITING_APPROVAL.value}"


def run_figures(
    rt: Runtime, summary: RunSummary, created: Sequence[WorkItem], *, run_id: str, finished_at: datetime
) -> RunFigures:
    states: dict[str, int] | None = None
    ages: list[float] | None = None
    if rt.snapshot is not None:
        states, ages = _open_items(rt.snapshot, created, rt.now)
    return RunFigures(
        repo=rt.repo,
        command=summary.command,
        run_id=run_id,
        finished_at=finished_at,
        duration_seconds=summary.duration_ms / 1000,
        exit_code=summary.exit_code,
        items_seen=summary.items_seen,
        items_changed=summary.items_changed,
        items_failed=summary.items_failed,
        items_deferred=len(summary.deferred),
        requests_made=summary.requests_made,
        requests_counted=summary.requests_counted,
        items_by_state=states,
        approval_ages_seconds=ages,
    )


def _open_items(
    snapshot: Snapshot, created: Sequence[WorkItem], now: datetime
) -> tuple[dict[str, int], list[float]]:
    items = {number: held.item for number, held in snapshot.items.items()}
    items.update((item.number, item) for item in created if item.number not in items)
    states: dict[str, int] = {}
    ages: list[float] = []
    for number, item in sorted(items.items()):
        state = current_state(item.labels)
        if item.state != "open" or state is None:
            continue
        states[state.value] = states.get(state.value, 0) + 1
        if state is State.AWAITING_APPROVAL:
            since = last_labeled(snapshot.label_events.get(number, ()), AWAITING_LABEL) or item.updated_at
            ages.append(max(0.0, (now - since).total_seconds()) if since else 0.0)
    return states, ages
