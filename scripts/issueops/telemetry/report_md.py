"""The Markdown report: GitHub-flavoured, Mermaid charts (pictures in the Actions step summary).

GitHub refuses a step summary over 1 MiB, so the text is kept under MD_LIMIT bytes: long tables
are cut (with a note saying where to get everything), then charts thinned, then whole sections
dropped at a heading as the last resort.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from issueops.core.markdown import table_cell
from issueops.telemetry.kpi import Stat, chart_unit, human_duration
from issueops.telemetry.report_model import (
    HANDS_OFF,
    INTERVENED,
    Report,
    flow_sentence,
    headlines,
    model_figures,
)

MD_LIMIT = 1_000_000  # bytes; GitHub's step summary limit is 1 MiB (1,048,576)
CELL_LIMIT = 200  # characters per table cell
_MERMAID_UNSAFE = re.compile(r"[^\w .:#/+()-]")


def render_md(report: Report) -> str:
    """The Markdown text, guaranteed at most MD_LIMIT bytes in UTF-8."""
    rows, points = 200, 60
    while True:
        text = _document(report, rows, points)
        if len(text.encode()) <= MD_LIMIT:
            return text
        if rows <= 5 and points <= 10:
            return _hard_cut(text)
        rows, points = max(5, rows // 4), max(10, points // 2)


def _hard_cut(text: str) -> str:
    """Drop whole sections from the end until the text fits (never cuts inside a chart)."""
    note = "\n\n> Report cut to stay under GitHub's 1 MiB step-summary limit; use `--format json`.\n"
    budget = MD_LIMIT - len(note.encode()) - 16
    while len(text.encode()) > budget:
        cut = text.rfind("\n## ")
        if cut <= 0:
            encoded = text.encode()[:budget]
            text = encoded.decode(errors="ignore").rsplit("\n", 1)[0].replace("```", "'''")
            break
        text = text[:cut]
    return text + note


def _cell(value: object) -> str:
    return table_cell(value, CELL_LIMIT)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], limit: int, what: str) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:limit])
    if len(rows) > limit:
        more = len(rows) - limit
        out.append("")
        out.append(
            f"_{more:,} more {what} not shown (limit {limit}); use `--format json` or `--format csv`._"
        )
    return out


def _label(text: str) -> str:
    return '"' + _MERMAID_UNSAFE.sub(" ", text)[:30] + '"'


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _pie(title: str, slices: Sequence[tuple[str, float]]) -> list[str]:
    shown = [(name, value) for name, value in slices if value > 0]
    if not shown:
        return []
    lines = ["```mermaid", f"pie showData title {_MERMAID_UNSAFE.sub(' ', title)}"]
    lines.extend(f"    {_label(name)} : {_num(value)}" for name, value in shown)
    return [*lines, "```", ""]


def _xychart(
    title: str, labels: Sequence[str], y_title: str, series: Sequence[tuple[str, Sequence[float]]]
) -> list[str]:
    if not labels:
        return []
    top = max([1.0, *(v for _, values in series for v in values)])
    lines = [
        "```mermaid",
        "xychart-beta",
        f"    title {_label(title)}",
        "    x-axis [" + ", ".join(_label(label) for label in labels) + "]",
        f"    y-axis {_label(y_title)} 0 --> {_num(_axis_top(top))}",
    ]
    lines.extend(f"    {kind} [" + ", ".join(_num(v) for v in values) + "]" for kind, values in series)
    return [*lines, "```", ""]


def _axis_top(top: float) -> float:
    """A little headroom above the tallest bar, in whole units once they are not tiny."""
    return float(math.ceil(top * 1.1)) if top >= 5 else round(top * 1.1, 2)


def _stat_row(name: str, stat: Stat) -> list[object]:
    return [name, stat.n, human_duration(stat.p50), human_duration(stat.p95), human_duration(stat.mean)]


def _document(report: Report, rows: int, points: int) -> str:
    out = ["# issueops report", ""]
    scope = [
        f"since {report.since or 'the beginning'}",
        f"until {report.until or 'now'}",
        f"workflow {report.workflow or 'all'}",
    ]
    out.append(f"Window: {', '.join(scope)}. As of {report.as_of or '—'}.")
    out.append(
        f"{report.events_in_window:,} events in the window ({report.events_read:,} read), "
        f"{report.items:,} items, {report.api.runs:,} runs."
    )
    out.append("")
    out += _summary(report)
    out += _states(report, rows, points)
    out += _throughput(report, rows, points)
    out += _durations(report, rows, points)
    out += _approvals(report, rows)
    out += _failures(report, rows)
    out += _api(report, rows, points)
    if report.warnings:
        out += ["## Warnings", ""]
        out += [f"- {_cell(w)}" for w in report.warnings[:rows]]
        if len(report.warnings) > rows:
            out.append(f"- _{len(report.warnings) - rows:,} more warnings not shown._")
        out.append("")
    return "\n".join(out)


def _summary(report: Report) -> list[str]:
    figures = [(label, value, based) for _, label, value, based in headlines(report)]
    return [*_table(["KPI", "value", "based on"], figures, len(figures), "rows"), ""]


def _states(report: Report, rows: int, points: int) -> list[str]:
    out = ["## Items by state now", "", f"From {report.states_basis}.", ""]
    pairs = list(report.states_now.items())
    out += _pie("Items by state now", [p for p in pairs[:points] if p[1]])
    out += [*_table(["state", "items"], pairs, rows, "states"), ""]
    out += [f"**{report.needs_human:,}** open item(s) flagged `needs-human`: a person has to decide.", ""]
    return out


def _throughput(report: Report, rows: int, points: int) -> list[str]:
    out = ["## Throughput (items reaching done per day)", ""]
    days = list(report.throughput.items())
    if not days:
        return [*out, "No item reached done in this window.", ""]
    shown = days[-points:]
    title = "Items done per day" + (f" (last {len(shown)} days)" if len(shown) < len(days) else "")
    out += _xychart(title, [d[5:] for d, _ in shown], "items", [("bar", [n for _, n in shown])])
    newest_first = list(reversed(days))
    out += [*_table(["day (UTC)", "items done"], newest_first, rows, "days"), ""]
    return out


def _durations(report: Report, rows: int, points: int) -> list[str]:
    out = ["## Lead time (triage → done)", ""]
    out += _table(["", "items", "P50", "P95", "mean"], [_stat_row("lead time", report.lead_time)], 1, "rows")
    if report.lead_time_unknown:
        out.append("")
        out.append(
            f"{report.lead_time_unknown} done item(s) have no recorded triage start and are not counted."
        )
    out += ["", "## Time in each state", ""]
    states = list(report.time_in_state.items())
    if not states:
        return [*out, "No item left a state in this window.", ""]
    charted = states[:points]
    unit, size = chart_unit(s.p50 for _, s in charted)
    p50 = [round((s.p50 or 0) / size, 2) for _, s in charted]
    out += _xychart(f"Median {unit} in state", [name for name, _ in charted], unit, [("bar", p50)])
    header = ["state", "visits", "P50", "P95", "mean"]
    out += [*_table(header, [_stat_row(n, s) for n, s in states], rows, "states"), ""]
    return out


def _approvals(report: Report, rows: int) -> list[str]:
    a = report.approvals
    flow = report.flow_through
    out = ["## Approvals", ""]
    out += _table(
        ["", "items", "P50", "P95", "mean"],
        [
            _stat_row("awaiting approval → approved", a.latency),
            _stat_row("→ first approval", a.first_approval),
        ],
        2,
        "rows",
    )
    out.append("")
    oldest = f", the oldest for {human_duration(a.oldest_pending_seconds)}" if a.pending else ""
    out.append(f"{a.granted:,} approvals granted; {a.pending:,} item(s) waiting now{oldest}.")
    out.append("")
    if a.denied:
        out += [*_table(["denied: reason", "count"], list(a.denied.items()), rows, "reasons"), ""]
    if a.lapsed:
        out += [*_table(["lapsed: reason", "count"], list(a.lapsed.items()), rows, "reasons"), ""]
    out += ["## Flow-through", ""]
    out.append(flow_sentence(report))
    out.append("")
    out += _pie(
        "Done items: approvals only, or a manual command",
        [(HANDS_OFF, flow.hands_off), (INTERVENED, flow.intervened)],
    )
    return out


def _failures(report: Report, rows: int) -> list[str]:
    out = ["## Failures", ""]
    if not report.failures:
        return [*out, "No item failed in this window.", ""]
    table = [[f.failure_class, f.failure_code, f.count, f.items, f.hint] for f in report.failures]
    return [
        *out,
        *_table(["class", "code", "events", "items", "last hint"], table, rows, "failure kinds"),
        "",
    ]


def _api(report: Report, rows: int, points: int) -> list[str]:
    api, budget = report.api, report.budget
    out = ["## API usage and budget", ""]
    if report.run_level_note:
        out += [f"_{report.run_level_note}_", ""]
    per_item = _num(api.per_item_changed) if api.per_item_changed is not None else "—"
    figures: list[tuple[str, object]] = [
        ("runs", f"{api.runs:,}"),
        ("failed runs (exit code ≠ 0)", f"{api.failed_runs:,}"),
        ("requests made", f"{api.requests_made:,}"),
        ("requests counted against the limit", f"{api.requests_counted:,}"),
        (
            "requests per run P50 / P95 / max",
            " / ".join(_opt(v) for v in (api.per_run.p50, api.per_run.p95, api.per_run.max)),
        ),
        ("requests per item changed", per_item),
        ("waits (total)", f"{api.waits:,} ({human_duration(api.wait_seconds)})"),
        ("budget stops", f"{budget.stops:,}"),
        ("items deferred", f"{budget.items_deferred:,}"),
    ]
    out += [*_table(["", "value"], figures, len(figures), "rows"), ""]
    recent = report.runs[-points:]
    if recent:
        title = f"Requests per run (last {len(recent)})"
        labels = [str(i) for i in range(len(report.runs) - len(recent) + 1, len(report.runs) + 1)]
        series = [("bar", [r.requests_made for r in recent]), ("line", [r.requests_counted for r in recent])]
        out += _xychart(title, labels, "requests", series)
        out += ["Bars: requests made; line: requests counted against the rate limit.", ""]
    if budget.by_reason:
        out += [
            *_table(["budget stop: reason", "count"], list(budget.by_reason.items()), rows, "reasons"),
            "",
        ]
    if api.runs_by_command:
        out += [*_table(["command", "runs"], list(api.runs_by_command.items()), rows, "commands"), ""]
    return out + _model(report, rows)


def _model(report: Report, rows: int) -> list[str]:
    """GitHub Models use: only when model-assisted assignment ran in this window."""
    model = report.model
    if not model.used:
        return []
    figures = model_figures(model)
    out = ["## Model-assisted assignment", ""]
    out += [*_table(["", "value"], figures, len(figures), "rows"), ""]
    if model.fallbacks_by_reason:
        reasons = list(model.fallbacks_by_reason.items())
        out += [*_table(["fallback: reason", "count"], reasons, rows, "reasons"), ""]
    return out


def _opt(value: float | None) -> str:
    return "—" if value is None else _num(value)
