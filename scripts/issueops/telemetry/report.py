"""`issueops report`: KPIs from the telemetry, as Markdown, JSON, CSV (the audit export) or HTML.

Item histories are built from every event up to the window's end, so a duration that starts
before `--since` is still measured right; a figure counts in the window when its end does
(an item reaching done, a state left, a gate passed). "Now" is `--until`, else the last event.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from issueops.core.errors import UserError
from issueops.core.states import State
from issueops.telemetry.kpi import ItemHistory, Stat, build_histories, parse_bound
from issueops.telemetry.model_counts import ModelCounts
from issueops.telemetry.reader import read_directory
from issueops.telemetry.report_model import (
    AUDIT_COLUMNS,
    ApiUsage,
    Approvals,
    AuditRow,
    BudgetStops,
    FailureRow,
    FlowThrough,
    Report,
    RunRow,
)
from issueops.telemetry.sink import format_ts

FORMATS: tuple[str, ...] = ("md", "json", "csv", "html")
STATE_ORDER: tuple[str, ...] = tuple(state.value for state in State)
Chosen = dict[tuple[str, int], ItemHistory]  # the items of the report (after --workflow)


class _Window:
    """[since, until): both optional."""

    def __init__(self, since: datetime | None, until: datetime | None) -> None:
        if since and until and since >= until:
            raise UserError(f"--since {format_ts(since)} is not before --until {format_ts(until)}")
        self.since = since
        self.until = until

    def before_end(self, at: datetime) -> bool:
        return self.until is None or at < self.until

    def __contains__(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and self.before_end(at)


def build_report(
    directory: Path, *, since: str | None = None, until: str | None = None, workflow: str | None = None
) -> Report:
    """Read every telemetry file under `directory` and compute the KPIs of the window."""
    window = _Window(parse_bound(since, "--since"), parse_bound(until, "--until"))
    read = read_directory(directory)
    timed = [(at, e) for at, e in read.timed if window.before_end(at)]
    histories = build_histories(timed)
    chosen = {k: h for k, h in histories.items() if workflow is None or h.workflow == workflow}
    as_of = window.until or (timed[-1][0] if timed else None)
    in_window = [(at, e) for at, e in timed if at in window and _selected(e, chosen, workflow)]
    report = Report(
        directory=str(directory),
        since=format_ts(window.since) if window.since else None,
        until=format_ts(window.until) if window.until else None,
        workflow=workflow,
        as_of=format_ts(as_of) if as_of else None,
        events_read=len(read.timed),
        events_in_window=len(in_window),
        items=len(chosen),
        warnings=[str(w) for w in read.warnings],
    )
    _item_kpis(report, list(chosen.values()), window, as_of)
    _event_kpis(report, in_window, chosen)
    if workflow is None:
        _states_from_labels(report, timed)
    return report


def _states_from_labels(report: Report, timed: list[tuple[datetime, dict[str, Any]]]) -> None:
    """ "Now" from the labels the last run read (`run.states`), when a run recorded them: items a
    person opened and nobody moved yet are counted there even though no transition names them."""
    last = next((e for _, e in reversed(timed) if e.get("event") == "run.states"), None)
    if last is None or not isinstance(last.get("states"), dict):
        return
    counts = {str(k): _count(v) for k, v in last["states"].items()}
    order = {name: i for i, name in enumerate(STATE_ORDER)}
    report.states_now = {s: counts.get(s, 0) for s in STATE_ORDER} | {
        s: n for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if s not in order
    }
    report.needs_human = _count(last.get("needs_human"))
    report.states_basis = (
        f"the labels of {_count(last.get('open_items')):,} open item(s), read by run "
        f"{last.get('run_id', '?')} at {last.get('ts', '?')}"
    )


def _selected(record: dict[str, Any], chosen: Chosen, workflow: str | None) -> bool:
    """Item events count when their item is chosen; run-level events always count."""
    number = record.get("item")
    if workflow is None or not isinstance(number, int):
        return True
    return (str(record.get("repo", "")), number) in chosen


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 3)


def _item_kpis(report: Report, items: list[ItemHistory], window: _Window, as_of: datetime | None) -> None:
    states: Counter[str] = Counter()
    per_day: Counter[str] = Counter()
    lead: list[float] = []
    in_state: dict[str, list[float]] = {}
    latency: list[float] = []
    first_approval: list[float] = []
    pending: list[float] = []
    done = hands_off = unknown = done_approvals = 0
    flagged = 0
    for item in items:
        states[item.state()] += 1
        flagged += item.state() not in ("done", "rejected") and item.flagged()
        done_moves = [m for m in item.moves if m.target == "done" and m.at in window]
        if done_moves:
            reached = done_moves[0].at
            done += 1
            per_day[reached.strftime("%Y-%m-%d")] += 1
            start = item.triage_start()
            if start is not None and start <= reached:
                lead.append(_seconds(start, reached))
            else:
                unknown += 1
            if not any(at <= reached for at in item.interventions):
                hands_off += 1
            done_approvals += sum(
                1 for at, r in item.approvals if r.get("event") == "approval.granted" and at <= reached
            )
        for state, entered, leaving in item.visits():
            if leaving is not None and leaving.at in window:
                in_state.setdefault(state, []).append(_seconds(entered, leaving.at))
            if state != "awaiting-approval":
                continue
            if leaving is None:
                if as_of is not None:
                    pending.append(_seconds(entered, as_of))
                continue
            if leaving.target == "approved" and leaving.at in window:
                latency.append(_seconds(entered, leaving.at))
                # A grant recorded by the run that passed the gate may carry a later ts than the
                # transition (events are recorded after the actions): it still belongs to this wait.
                firsts = [
                    at
                    for at, r in item.approvals
                    if r.get("event") == "approval.granted"
                    and entered <= at
                    and (at <= leaving.at or r.get("run_id") == leaving.run_id)
                ]
                if firsts:
                    first_approval.append(_seconds(entered, min(firsts)))
    order = {name: i for i, name in enumerate(STATE_ORDER)}
    report.states_now = {s: states.get(s, 0) for s in STATE_ORDER} | {
        s: n for s, n in sorted(states.items(), key=lambda kv: (-kv[1], kv[0])) if s not in order
    }
    report.throughput = _fill_days(per_day)
    report.lead_time = Stat.of(lead)
    report.lead_time_unknown = unknown
    report.time_in_state = {
        s: Stat.of(in_state[s]) for s in sorted(in_state, key=lambda s: (order.get(s, len(order)), s))
    }
    report.approvals = Approvals(
        latency=Stat.of(latency),
        first_approval=Stat.of(first_approval),
        pending=len(pending),
        oldest_pending_seconds=max(pending) if pending else None,
    )
    report.needs_human = flagged
    report.states_basis = (
        f"the last transition of each of {len(items):,} item(s) in the telemetry (an item that never "
        "moved counts as triage)"
    )
    report.flow_through = FlowThrough(
        done=done,
        hands_off=hands_off,
        intervened=done - hands_off,
        rate=hands_off / done if done else None,
        approvals=done_approvals,
    )


def _fill_days(per_day: Counter[str]) -> dict[str, int]:
    """Every day from the first to the last with a count, zeros included (a gap is a figure too)."""
    if not per_day:
        return {}
    days = sorted(per_day)
    first, last = datetime.fromisoformat(days[0]), datetime.fromisoformat(days[-1])
    out: dict[str, int] = {}
    day = first
    while day <= last:
        key = day.strftime("%Y-%m-%d")
        out[key] = per_day.get(key, 0)
        day = day.fromordinal(day.toordinal() + 1)
    return out


def _event_kpis(report: Report, events: list[tuple[datetime, dict[str, Any]]], chosen: Chosen) -> None:
    granted = 0
    denied: Counter[str] = Counter()
    lapsed: Counter[str] = Counter()
    failures: dict[tuple[str, str], list[dict[str, Any]]] = {}
    stops: Counter[str] = Counter()
    waits, wait_seconds = 0, 0.0
    runs: list[RunRow] = []
    model = ModelCounts()
    for at, record in events:
        event = record.get("event")
        model.add(record)
        if event == "approval.granted":
            granted += 1
        elif event == "approval.denied":
            denied[str(record.get("reason", "unknown"))] += 1
        elif event == "approval.lapsed":
            lapsed[str(record.get("reason", "unknown"))] += 1
        elif event == "item.failed":
            key = (str(record.get("failure_class", "unknown")), str(record.get("failure_code", "unknown")))
            failures.setdefault(key, []).append(record)
        elif event == "api.budget_stop":
            stops[str(record.get("reason", "unknown"))] += 1
        elif event == "api.wait":
            waits += 1
            wait_seconds += _number(record.get("seconds"))
        elif event == "run.completed":
            runs.append(_run_row(at, record))
        if event == "item.transition" or str(event).startswith("approval."):
            report.audit.append(_audit_row(at, record, chosen))
    report.approvals = replace(
        report.approvals,
        granted=granted,
        denied=dict(denied.most_common()),
        lapsed=dict(lapsed.most_common()),
    )
    report.failures = sorted(
        (
            FailureRow(
                failure_class=cls,
                failure_code=code,
                count=len(rows),
                items=len({(r.get("repo"), r.get("item")) for r in rows}),
                hint=str(rows[-1].get("hint", "")),
            )
            for (cls, code), rows in failures.items()
        ),
        key=lambda row: (-row.count, row.failure_class, row.failure_code),
    )
    made = sum(r.requests_made for r in runs)
    changed = sum(r.items_changed for r in runs)
    report.runs = runs
    report.api = ApiUsage(
        runs=len(runs),
        requests_made=made,
        requests_counted=sum(r.requests_counted for r in runs),
        per_run=Stat.of(r.requests_made for r in runs),
        items_changed=changed,
        per_item_changed=round(made / changed, 3) if changed else None,
        waits=waits,
        wait_seconds=round(wait_seconds, 3),
        runs_by_command=dict(sorted(Counter(r.command for r in runs).items())),
        failed_runs=sum(1 for r in runs if r.exit_code != 0),
    )
    report.model = model.usage()
    report.budget = BudgetStops(
        stops=sum(stops.values()),
        by_reason=dict(stops.most_common()),
        items_deferred=sum(r.items_deferred for r in runs),
    )


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _run_row(at: datetime, record: dict[str, Any]) -> RunRow:
    return RunRow(
        ts=_ts(at, record),
        run_id=str(record.get("run_id", "")),
        command=str(record.get("command", "")),
        requests_made=_count(record.get("requests_made")),
        requests_counted=_count(record.get("requests_counted")),
        items_changed=_count(record.get("items_changed")),
        items_deferred=_count(record.get("items_deferred")),
        exit_code=_count(record.get("exit_code")),
    )


def _ts(at: datetime, record: dict[str, Any]) -> str:
    """The line's own timestamp text when it has one (as written), else the parsed one."""
    value = record.get("ts")
    return value if isinstance(value, str) else format_ts(at)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _audit_row(at: datetime, record: dict[str, Any], chosen: Chosen) -> AuditRow:
    repo = _text(record.get("repo"))
    number = _count(record.get("item"))
    history = chosen.get((repo, number))
    transition = record.get("event") == "item.transition"
    reason = record.get("cause") if transition else record.get("reason", record.get("gate"))
    return AuditRow(
        ts=_ts(at, record),
        run_id=_text(record.get("run_id")),
        item=number,
        event=_text(record.get("event")),
        source=_text(record.get("from")),
        target=_text(record.get("to")),
        login=_text(record.get("login")),
        reason=_text(reason),
        workflow=_text(record.get("workflow") or (history.workflow if history else None)),
        repo=repo,
    )


# --- rendering -----------------------------------------------------------------------------------


def render(report: Report, fmt: str) -> str:
    """The report as `md` (step summary, at most 1 MiB), `json`, `csv` (audit export) or `html`."""
    renderers: dict[str, Callable[[Report], str]] = {
        "md": _render_md,
        "json": render_json,
        "csv": render_csv,
        "html": _render_html,
    }
    if fmt not in renderers:
        raise UserError(f"report format {fmt!r} is not one of {', '.join(FORMATS)}")
    return renderers[fmt](report)


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in free text (a `/reject` reason could start with `=`)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(report: Report) -> str:
    """The audit export: one row per transition and per approval event, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    for row in report.audit:
        writer.writerow([_cell(c) for c in row.cells()])
    return out.getvalue()


def _render_md(report: Report) -> str:
    from issueops.telemetry.report_md import render_md

    return render_md(report)


def _render_html(report: Report) -> str:
    from issueops.telemetry.report_html import render_html

    return render_html(report)
