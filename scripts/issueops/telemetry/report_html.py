"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Readable on a phone: a viewport meta, a fluid grid of panels, charts that scale to the width,
and wide tables that scroll inside their panel instead of widening the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from issueops.telemetry import svg
from issueops.telemetry.kpi import Stat, human_duration, human_percent
from issueops.telemetry.report_model import Report, model_figures

TABLE_ROWS = 500
DAYS_CHARTED = 90
RUNS_CHARTED = 100
BARS_CHARTED = 15

_CSS = """
:root{--bg:#fff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;--line:#d1d9e0;
--c0:#0969da;--c1:#bf8700;--c2:#1a7f37;--c3:#cf222e;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#161b22;
--line:#3d444d;--c0:#4493f8;--c1:#d29922;--c2:#3fb950;--c3:#f85149}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:72rem;margin:0 auto;padding:1rem clamp(.75rem,3vw,2rem) 3rem}
h1{font-size:clamp(1.4rem,5vw,2rem);margin:.25rem 0}
h2{font-size:1.1rem;margin:0 0 .5rem}
.meta{color:var(--muted);font-size:.9rem;margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,9.5rem),1fr));
gap:.75rem;margin:1rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.6rem .75rem}
.card .k{font-size:.8rem;color:var(--muted)}
.card .v{font-size:1.45rem;font-weight:600;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,27rem),1fr));gap:1rem}
.panel{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.9rem;min-width:0}
.panel p{margin:.4rem 0}
figure{margin:.25rem 0 .5rem}
figcaption,.note{color:var(--muted);font-size:.85rem}
svg{display:block;width:100%;height:auto;max-width:34rem}
svg text{fill:var(--fg);font-size:12px;font-family:inherit}
svg .tick{fill:var(--muted);font-size:10px}
.axis line{stroke:var(--line);stroke-width:1}
.s0{fill:var(--c0)}.s1{fill:var(--c1)}.s2{fill:var(--c2)}.s3{fill:var(--c3)}
polyline.line{fill:none;stroke-width:2}
polyline.s0{stroke:var(--c0)}polyline.s1{stroke:var(--c1)}
.empty{color:var(--muted);font-style:italic}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{color:var(--muted);font-weight:600}
td.n{text-align:right}
td.wrap{white-space:normal;min-width:8rem}
@media (max-width:30rem){table{font-size:.8rem}th,td{padding:.25rem .35rem}.panel{padding:.7rem}}
details summary{cursor:pointer;color:var(--muted);margin:.4rem 0}
ul.warn{padding-left:1.2rem;font-size:.85rem;overflow-wrap:anywhere}
"""


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _hours(seconds: float) -> str:
    return human_duration(seconds * 3600)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, wrap: int | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows[:TABLE_ROWS]:
        cells = []
        for index, cell in enumerate(row):
            css = (
                ' class="n"' if isinstance(cell, int | float) else (' class="wrap"' if index == wrap else "")
            )
            text = _count(cell) if isinstance(cell, int | float) else str(cell)
            cells.append(f"<td{css}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(rows) > TABLE_ROWS:
        more = (
            f'<p class="note">{len(rows) - TABLE_ROWS:,} more rows not shown; use --format json or csv.</p>'
        )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>{more}'


def _stat_rows(rows: Sequence[tuple[str, Stat]]) -> str:
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


def _panel(title: str, *body: str) -> str:
    return f'<section class="panel"><h2>{escape(title)}</h2>{"".join(body)}</section>'


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
        items = "".join(f"<li>{escape(w)}</li>" for w in report.warnings[:TABLE_ROWS])
        panels.append(
            _panel(
                "Warnings",
                f"<details><summary>{len(report.warnings):,} line(s) skipped while reading</summary>"
                f'<ul class="warn">{items}</ul></details>',
            )
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="issueops report">'
        f"<title>issueops report</title><style>{_CSS}</style></head><body><main>"
        f'<h1>issueops report</h1><p class="meta">{escape(scope)}</p><p class="meta">{escape(counts)}</p>'
        f'{_cards(report)}<div class="grid">{"".join(panels)}</div></main></body></html>\n'
    )


def _cards(report: Report) -> str:
    api = report.api
    figures = [
        ("done", "Items done", f"{report.flow_through.done:,}"),
        ("lead-p50", "Lead time P50", human_duration(report.lead_time.p50)),
        ("flow-through", "Flow-through", human_percent(report.flow_through.rate)),
        ("approval-p50", "Approval P50", human_duration(report.approvals.latency.p50)),
        ("failures", "Failures", f"{sum(f.count for f in report.failures):,}"),
        (
            "requests-p50",
            "Requests / run P50",
            _count(api.per_run.p50) if api.per_run.p50 is not None else "—",
        ),
        ("budget-stops", "Budget stops", f"{report.budget.stops:,}"),
    ]
    cards = "".join(
        f'<div class="card" data-kpi="{key}"><div class="k">{escape(label)}</div>'
        f'<div class="v">{escape(value)}</div></div>'
        for key, label, value in figures
    )
    return f'<section class="cards">{cards}</section>'


def _not_charted(total: int, what: str) -> str:
    return f"{total - BARS_CHARTED:,} more {what} not charted." if total > BARS_CHARTED else ""


def _states(report: Report) -> str:
    labels = list(report.states_now)[:BARS_CHARTED]
    values = [float(report.states_now[s]) for s in labels]
    if not any(values):
        chart = svg.empty("states-now", "No items yet.")
    else:
        series = [svg.Series("items", "items", values)]
        caption = _not_charted(len(report.states_now), "states")
        chart = svg.hbar("states-now", "Items by state now", labels, series, _count, caption)
    return _panel("Items by state now", chart)


def _throughput(report: Report) -> str:
    days = list(report.throughput.items())[-DAYS_CHARTED:]
    if not days:
        return _panel("Throughput", svg.empty("throughput", "No item reached done in this window."))
    chart = svg.vbar(
        "throughput",
        "Items reaching done per day",
        [d[5:] for d, _ in days],
        svg.Series("done", "items done", [float(n) for _, n in days]),
        _count,
    )
    table = _table(["day (UTC)", "items done"], list(reversed(list(report.throughput.items()))))
    return _panel(
        "Throughput (items reaching done per day)",
        chart,
        f"<details><summary>Per day</summary>{table}</details>",
    )


def _durations(report: Report) -> str:
    states = list(report.time_in_state.items())
    if states:
        charted = states[:BARS_CHARTED]
        chart = svg.hbar(
            "time-in-state",
            "Hours in each state (P50 and P95)",
            [name for name, _ in charted],
            [
                svg.Series("p50_hours", "P50", [round((s.p50 or 0) / 3600, 3) for _, s in charted]),
                svg.Series("p95_hours", "P95", [round((s.p95 or 0) / 3600, 3) for _, s in charted]),
            ],
            _hours,
            _not_charted(len(states), "states"),
        )
    else:
        chart = svg.empty("time-in-state", "No item left a state in this window.")
    unknown = (
        f'<p class="note">{report.lead_time_unknown} done item(s) have no recorded triage start.</p>'
        if report.lead_time_unknown
        else ""
    )
    return _panel(
        "Lead time and time in each state",
        _stat_rows([("lead time (triage → done)", report.lead_time)]),
        unknown,
        chart,
        _stat_rows(states) if states else "",
    )


def _approvals(report: Report) -> str:
    a = report.approvals
    denied = list(a.denied.items())[:BARS_CHARTED]
    if denied:
        chart = svg.hbar(
            "approval-denials",
            "Denied approvals by reason",
            [reason for reason, _ in denied],
            [svg.Series("denied", "denied", [float(n) for _, n in denied])],
            _count,
            _not_charted(len(a.denied), "reasons"),
        )
    else:
        chart = svg.empty("approval-denials", "No approval was denied in this window.")
    oldest = f", the oldest for {human_duration(a.oldest_pending_seconds)}" if a.pending else ""
    lapsed = _table(["lapsed: reason", "count"], list(a.lapsed.items())) if a.lapsed else ""
    return _panel(
        "Approvals",
        _stat_rows([("awaiting approval → approved", a.latency), ("→ first approval", a.first_approval)]),
        f"<p>{a.granted:,} approvals granted; {a.pending:,} item(s) waiting now{oldest}.</p>",
        chart,
        lapsed,
    )


def _flow(report: Report) -> str:
    flow = report.flow_through
    if not flow.done:
        chart = svg.empty("flow-through", "No item reached done in this window.")
    else:
        chart = svg.stack(
            "flow-through",
            "Done items with and without a manual command",
            [
                svg.Series("hands_off", "no manual command", [float(flow.hands_off)]),
                svg.Series("intervened", "manual command", [float(flow.intervened)]),
            ],
            _count,
        )
    text = (
        f"<p>{flow.done:,} item(s) reached done; {flow.hands_off:,} with no manual command: "
        f"flow-through rate <strong>{human_percent(flow.rate)}</strong>.</p>"
    )
    return _panel("Flow-through", text, chart)


def _failures(report: Report) -> str:
    if not report.failures:
        return _panel("Failures", svg.empty("failures", "No item failed in this window."))
    top = report.failures[:BARS_CHARTED]
    chart = svg.hbar(
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
    return _panel("Failures", chart, table)


def _api(report: Report) -> str:
    api, budget = report.api, report.budget
    runs = report.runs[-RUNS_CHARTED:]
    if runs:
        first = len(report.runs) - len(runs) + 1
        chart = svg.line(
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
        chart = svg.empty("api-requests", "No run completed in this window.")
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
    note = f'<p class="note">{escape(report.run_level_note)}</p>' if report.run_level_note else ""
    extra = ""
    if budget.by_reason:
        extra += _table(["budget stop: reason", "count"], list(budget.by_reason.items()))
    if api.runs_by_command:
        extra += _table(["command", "runs"], list(api.runs_by_command.items()))
    if report.model.used:
        extra += _table(
            ["model-assisted assignment", "value"], [list(r) for r in model_figures(report.model)]
        )
        if report.model.fallbacks_by_reason:
            extra += _table(
                ["model fallback: reason", "count"], list(report.model.fallbacks_by_reason.items())
            )
    return _panel("API usage and budget", note, chart, _table(["", "value"], figures, wrap=0), extra)


def _opt(value: float | None) -> str:
    return "—" if value is None else _count(value)
