"""Pure helpers of the report: window bounds, nearest-rank percentiles, per-item histories.

No I/O and no clock: the report's "now" is the end of its window (or the last event), so the
same telemetry always gives the same figures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from issueops.core.errors import UserError
from issueops.telemetry.events import is_manual_intervention
from issueops.telemetry.reader import parse_ts

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_bound(text: str | None, option: str) -> datetime | None:
    """`--since`/`--until`: RFC 3339 (a missing zone means UTC) or YYYY-MM-DD (midnight UTC)."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if _DATE.match(value):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError:
            pass
    else:
        moment = parse_ts(value)
        if moment is not None:
            return moment
    raise UserError(
        f"{option} {text!r} is not a date: use YYYY-MM-DD or RFC 3339 such as 2026-11-21T09:00:00Z"
    )


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Stat:
    """Count, P50, P95, mean and max of a set of durations (seconds) or counts."""

    n: int = 0
    p50: float | None = None
    p95: float | None = None
    mean: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        data = list(values)
        if not data:
            return cls()
        return cls(
            n=len(data),
            p50=percentile(data, 50),
            p95=percentile(data, 95),
            mean=round(sum(data) / len(data), 3),
            max=max(data),
        )


def human_duration(seconds: float | None) -> str:
    """`45 s`, `12 min`, `3.5 h`, `2.1 d`; an em dash when there is nothing to show."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


CHART_UNITS: tuple[tuple[str, float], ...] = (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0))


def chart_unit(seconds: Iterable[float | None]) -> tuple[str, float]:
    """(unit name, seconds per unit) for a duration chart: the largest unit in which the longest
    bar is at least 2, so a 1 s bar is not drawn as 0 hours beside a table that says 1 s."""
    top = max((s for s in seconds if s is not None), default=0.0)
    return next(((name, size) for name, size in CHART_UNITS if top >= 2 * size), ("seconds", 1.0))


def basis(n: int, total: int, what: str) -> str:
    """What a headline figure rests on: `3 of 18 done items`."""
    return f"{n:,} of {total:,} {what}"


def human_percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


@dataclass(frozen=True)
class Move:
    """One entry into a state: when, from where, to where, why, in which run."""

    at: datetime
    source: str | None
    target: str
    cause: str
    run_id: str


@dataclass
class ItemHistory:
    """Everything the report needs about one item, from all its events up to the window's end."""

    repo: str
    number: int
    workflow: str | None = None
    created: datetime | None = None
    opened: datetime | None = None  # `opened_at` on any item event: when the issue was opened on GitHub
    moves: list[Move] = field(default_factory=list)
    interventions: list[datetime] = field(default_factory=list)
    approvals: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    needs_human: datetime | None = None  # the last `item.needs_human`

    @property
    def key(self) -> str:
        return f"{self.repo}#{self.number}"

    def state(self) -> str:
        """The state after the last transition; `triage` for an item that never moved (every
        other state is entered by a recorded transition)."""
        return self.moves[-1].target if self.moves else "triage"

    def flagged(self) -> bool:
        """Flagged for a person (`item.needs_human`) and not moved since."""
        last_move = self.moves[-1].at if self.moves else None
        return self.needs_human is not None and (last_move is None or self.needs_human >= last_move)

    def visits(self) -> list[tuple[str, datetime, Move | None]]:
        """(state, entered at, the move that left it or None while still there), in order.

        An item created without a transition into triage is in triage from its creation.
        """
        entries: list[tuple[str, datetime, Move | None]] = []  # (state, entered at, the move in)
        first = self.moves[0] if self.moves else None
        if self.created and (first is None or (first.target != "triage" and first.at >= self.created)):
            entries.append(("triage", self.created, None))
        entries.extend((move.target, move.at, move) for move in self.moves)
        return [
            (state, entered, entries[k + 1][2] if k + 1 < len(entries) else None)
            for k, (state, entered, _) in enumerate(entries)
        ]

    def triage_start(self) -> datetime | None:
        """When the item entered triage first: its creation (by the monitor, or `opened_at` for an
        issue a person opened), or its first move into triage."""
        starts = [m.at for m in self.moves if m.target == "triage"]
        starts += [at for at in (self.created, self.opened) if at is not None]
        return min(starts) if starts else None


def build_histories(timed: Iterable[tuple[datetime, dict[str, Any]]]) -> dict[tuple[str, int], ItemHistory]:
    """Per-item histories from time-ordered (time, event) pairs (events with an integer `item`)."""
    items: dict[tuple[str, int], ItemHistory] = {}
    for at, record in timed:
        number = record.get("item")
        if not isinstance(number, int) or isinstance(number, bool):
            continue
        repo = str(record.get("repo", ""))
        history = items.setdefault((repo, number), ItemHistory(repo=repo, number=number))
        event = record.get("event")
        workflow = record.get("workflow")
        if isinstance(workflow, str) and workflow and event in ("item.assigned", "item.transition"):
            history.workflow = workflow
        if history.opened is None and (opened := parse_ts(record.get("opened_at"))) is not None:
            history.opened = opened
        if event == "item.created" and history.created is None:
            history.created = at
        elif event == "item.transition" and isinstance(record.get("to"), str):
            source = record.get("from")
            history.moves.append(
                Move(
                    at=at,
                    source=source if isinstance(source, str) else None,
                    target=record["to"],
                    cause=str(record.get("cause", "")),
                    run_id=str(record.get("run_id", "")),
                )
            )
        elif str(event).startswith("approval."):
            history.approvals.append((at, record))
        elif event == "item.needs_human":
            history.needs_human = at
        elif is_manual_intervention(record):
            history.interventions.append(at)
    return items
