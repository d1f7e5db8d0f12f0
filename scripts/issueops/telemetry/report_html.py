"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Rendered from the Jinja2 templates in `telemetry/templates/` with autoescape on: this module only
gathers the figures into plain data (panels of blocks: charts, tables, text); the template writes
the markup. Charts come from `svg.py`, which escapes its own text, and are the only markup passed
through unescaped. Readable on a phone: a viewport meta, a fluid grid of panels, charts that
scale to the width, and wide tables that scroll inside their panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from issueops.telemetry import svg
from issueops.telemetry.kpi import Stat, chart_unit, human_duration
from issueops.telemetry.report_model import (
    HANDS_OFF,
    INTERVENED,
    Report,
    flow_sentence,
    headlines,
    model_figures,
)

TABLE_ROWS = 500
DAYS_CHARTED = 90
RUNS_CHARTED = 100
BARS_CHARTED = 15


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    more: str = ""  # how many rows were left out, as text ("" when none)


@dataclass(frozen=True)
class Block:
    """One piece of a panel; `kind` picks the template's markup for it."""

    kind: str  # chart | table | details | note | text
    text: str = ""
    strong: str = ""
    chart: Markup | None = None
    table: Table | None = None
    summary: str = ""
    lines: Sequence[str] = ()


@dataclass(frozen=True)
class Panel:
    title: str
    blocks: list[Block] = field(default_factory=list)


def chart(markup: str) -> Block:
    """A chart from svg.py: markup it built with its own escaping, so it is passed through."""
    return Block("chart", chart=Markup(markup))  # noqa: S704 (svg.py escapes every text it draws)


def text(value: str, strong: str = "") -> Block:
    return Block("text", text=value, strong=strong)


def note(value: str) -> Block:
    return Block("note", text=value)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("issueops.telemetry", "templates"),
        autoescape=select_autoescape(["html", "html.j2", "css"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, wrap: int | None = None) -> Block:
    cells = [
        [
            Cell(_count(c), "n") if isinstance(c, int | float) else Cell(str(c), "wrap" if i == wrap else "")
            for i, c in enumerate(row)
        ]
        for row in rows[:TABLE_ROWS]
    ]
    more = f"{len(rows) - TABLE_ROWS:,}" if len(rows) > TABLE_ROWS else ""
    return Block("table", table=Table(header, cells, more))


def _stat_rows(rows: Sequence[tuple[str, Stat]]) -> Block:
    return _table(
        ["", "n", "P50", "P95", "mean", "max"],
        [
            [
                name,
                s.n,
                human_duration(s.p50),
                human_duration(s.p95),
                human_duration(s.mean),
                human_duration(s.max),
            ]
            for name, s in rows
        ],
        wrap=0,
    )


def render_html(report: Report) -> str:
    """The whole page as one string."""
    scope = (
        f"since {report.since or 'the beginning'} · until {report.until or 'now'} · "
        f"workflow {report.workflow or 'all'} · as of {report.as_of or '—'}"
    )
    counts = (
        f"{report.events_in_window:,} events in the window ({report.events_read:,} read) · "
        f"{report.items:,} items · {report.api.runs:,} runs"
    )
    panels = [
        _states(report),
        _throughput(report),
        _durations(report),
        _approvals(report),
        _flow(report),
        _failures(report),
        _api(report),
    ]
    if report.warnings:
        panels.append(
            Panel(
                "Warnings",
                [
                    Block(
                        "details",
                        summary=f"{len(report.warnings):,} line(s) skipped while reading",
                        lines=report.warnings[:TABLE_ROWS],
                    )
                ],
            )
        )
    cards = [{"key": k, "label": label, "value": v, "basis": b} for k, label, v, b in headlines(report)]
    page: dict[str, Any] = {"scope": scope, "counts": counts, "cards": cards, "panels": panels}
    return _environment().get_template("report.html.j2").render(page)


def _not_charted(total: int, what: str) -> str:
    return f"{total - BARS_CHARTED:,} more {what} not charted." if total > BARS_CHARTED else ""


def _states(report: Report) -> Panel:
    labels = list(report.states_now)[:BARS_CHARTED]
    values = [float(report.states_now[s]) for s in labels]
    if not any(values):
        drawn = svg.empty("states-now", "No items yet.")
    else:
        series = [svg.Series("items", "items", values)]
        caption = _not_charted(len(report.states_now), "states")
        drawn = svg.hbar("states-now", "Items by state now", labels, series, _count, caption)
    return Panel(
        "Items by state now",
        [
            note(f"From {report.states_basis}." if report.states_basis else "No item yet."),
            chart(drawn),
            text("Open items flagged needs-human (a person has to decide):", f"{report.needs_human:,}"),
        ],
    )


def _throughput(report: Report) -> Panel:
    days = list(report.throughput.items())[-DAYS_CHARTED:]
    if not days:
        return Panel("Throughput", [chart(svg.empty("throughput", "No item reached done in this window."))])
    drawn = svg.vbar(
        "throughput",
        "Items reaching done per day",
        [d[5:] for d, _ in days],
        svg.Series("done", "items done", [float(n) for _, n in days]),
        _count,
    )
    table = _table(["day (UTC)", "items done"], list(reversed(list(report.throughput.items()))))
    return Panel(
        "Throughput (items reaching done per day)",
        [chart(drawn), Block("details", summary="Per day", table=table.table)],
    )


def _durations(report: Report) -> Panel:
    states = list(report.time_in_state.items())
    if states:
        charted = states[:BARS_CHARTED]
        unit, size = chart_unit(s.p95 for _, s in charted)
        drawn = svg.hbar(
            "time-in-state",
            f"Time in each state, in {unit} (P50 and P95)",
            [name for name, _ in charted],
            [
                svg.Series("p50", "P50", [round((s.p50 or 0) / size, 3) for _, s in charted]),
                svg.Series("p95", "P95", [round((s.p95 or 0) / size, 3) for _, s in charted]),
            ],
            lambda value: human_duration(value * size),
            _not_charted(len(states), "states"),
        )
    else:
        drawn = svg.empty("time-in-state", "No item left a state in this window.")
    blocks = [_stat_rows([("lead time (triage → done)", report.lead_time)])]
    if report.lead_time_unknown:
        blocks.append(note(f"{report.lead_time_unknown} done item(s) have no recorded triage start."))
    blocks.append(chart(drawn))
    if states:
        blocks.append(_stat_rows(states))
    return Panel("Lead time and time in each state", blocks)


def _approvals(report: Report) -> Panel:
    a = report.approvals
    denied = list(a.denied.items())[:BARS_CHARTED]
    if denied:
        drawn = svg.hbar(
            "approval-denials",
            "Denied approvals by reason",
            [reason for reason, _ in denied],
            [svg.Series("denied", "denied", [float(n) for _, n in denied])],
            _count,
            _not_charted(len(a.denied), "reasons"),
        )
    else:
        drawn = svg.empty("approval-denials", "No approval was denied in this window.")
    oldest = f", the oldest for {human_duration(a.oldest_pending_seconds)}" if a.pending else ""
    blocks = [
        _stat_rows([("awaiting approval → approved", a.latency), ("→ first approval", a.first_approval)]),
        text(f"{a.granted:,} approvals granted; {a.pending:,} item(s) waiting now{oldest}."),
        chart(drawn),
    ]
    if a.lapsed:
        blocks.append(_table(["lapsed: reason", "count"], list(a.lapsed.items())))
    return Panel("Approvals", blocks)


def _flow(report: Report) -> Panel:
    flow = report.flow_through
    if not flow.done:
        drawn = svg.empty("flow-through", "No item reached done in this window.")
    else:
        drawn = svg.stack(
            "flow-through",
            "Done items: no manual command other than approvals, or a manual command",
            [
                svg.Series("hands_off", HANDS_OFF, [float(flow.hands_off)]),
                svg.Series("intervened", INTERVENED, [float(flow.intervened)]),
            ],
            _count,
        )
    return Panel("Flow-through (approvals counted apart)", [text(flow_sentence(report)), chart(drawn)])


def _failures(report: Report) -> Panel:
    if not report.failures:
        return Panel("Failures", [chart(svg.empty("failures", "No item failed in this window."))])
    top = report.failures[:BARS_CHARTED]
    drawn = svg.hbar(
        "failures",
        "Failures by class and code",
        [f"{f.failure_class}/{f.failure_code}" for f in top],
        [svg.Series("events", "events", [float(f.count) for f in top])],
        _count,
        _not_charted(len(report.failures), "kinds"),
    )
    table = _table(
        ["class", "code", "events", "items", "last hint"],
        [[f.failure_class, f.failure_code, f.count, f.items, f.hint] for f in report.failures],
        wrap=4,
    )
    return Panel("Failures", [chart(drawn), table])


def _api(report: Report) -> Panel:
    api, budget = report.api, report.budget
    runs = report.runs[-RUNS_CHARTED:]
    if runs:
        first = len(report.runs) - len(runs) + 1
        drawn = svg.line(
            "api-requests",
            "API requests per run",
            [str(first + i) for i in range(len(runs))],
            [
                svg.Series("requests_made", "made", [float(r.requests_made) for r in runs]),
                svg.Series("requests_counted", "counted", [float(r.requests_counted) for r in runs]),
            ],
            _count,
        )
    else:
        drawn = svg.empty("api-requests", "No run completed in this window.")
    per_item = _count(api.per_item_changed) if api.per_item_changed is not None else "—"
    figures: list[list[object]] = [
        ["runs", f"{api.runs:,}"],
        ["failed runs (exit code ≠ 0)", f"{api.failed_runs:,}"],
        ["requests made", f"{api.requests_made:,}"],
        ["requests counted against the limit", f"{api.requests_counted:,}"],
        [
            "requests per run P50 / P95 / max",
            " / ".join(_opt(v) for v in (api.per_run.p50, api.per_run.p95, api.per_run.max)),
        ],
        ["requests per item changed", per_item],
        ["waits", f"{api.waits:,} ({human_duration(api.wait_seconds)})"],
        ["budget stops", f"{budget.stops:,}"],
        ["items deferred", f"{budget.items_deferred:,}"],
    ]
    blocks = [note(report.run_level_note)] if report.run_level_note else []
    blocks += [chart(drawn), _table(["", "value"], figures, wrap=0)]
    if budget.by_reason:
        blocks.append(_table(["budget stop: reason", "count"], list(budget.by_reason.items())))
    if api.runs_by_command:
        blocks.append(_table(["command", "runs"], list(api.runs_by_command.items())))
    if report.model.used:
        blocks.append(
            _table(["model-assisted assignment", "value"], [list(r) for r in model_figures(report.model)])
        )
        if report.model.fallbacks_by_reason:
            blocks.append(
                _table(["model fallback: reason", "count"], list(report.model.fallbacks_by_reason.items()))
            )
    return Panel("API usage and budget", blocks)


def _opt(value: float | None) -> str:
    return "—" if value is None else _count(value)
