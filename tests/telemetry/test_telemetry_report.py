"""`issueops report`: the figures match a hand count of telemetry_fixture, in all four formats."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from telemetry_fixture import HAND_COUNT, Clock, H, write_fixture

from issueops.cli import main
from issueops.core.errors import UserError
from issueops.telemetry import report_md
from issueops.telemetry.report import build_report, render
from issueops.telemetry.report_model import Report
from issueops.telemetry.sink import TelemetrySink


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("telemetry")
    write_fixture(directory)
    return directory


@pytest.fixture(scope="module")
def report(telemetry: Path) -> Report:
    return build_report(telemetry, since=None, until=None, workflow=None)


def _stat(stat: Any, *keys: str) -> dict[str, Any]:
    return {k: getattr(stat, k) for k in keys}


# --- the figures ---------------------------------------------------------------------------------

HC = HAND_COUNT
FIGURES: list[tuple[str, Callable[[Report], Any], Any]] = [
    ("items", lambda r: r.items, HC["items"]),
    ("states now", lambda r: r.states_now, HC["states_now"]),
    ("throughput per day", lambda r: r.throughput, HC["throughput"]),
    ("lead time", lambda r: _stat(r.lead_time, "n", "p50", "p95", "max", "mean"), HC["lead_time"]),
    (
        "time in state",
        lambda r: {s: _stat(v, "n", "p50", "p95", "mean") for s, v in r.time_in_state.items()},
        HC["time_in_state"],
    ),
    ("approval latency", lambda r: _stat(r.approvals.latency, "n", "p50", "p95"), HC["approval_latency"]),
    ("first approval", lambda r: _stat(r.approvals.first_approval, "n", "p50", "p95"), HC["first_approval"]),
    ("approvals pending", lambda r: r.approvals.pending, HC["approvals_pending"]),
    ("oldest pending", lambda r: r.approvals.oldest_pending_seconds, HC["oldest_pending_seconds"]),
    ("approvals granted", lambda r: r.approvals.granted, HC["granted"]),
    ("approvals denied", lambda r: r.approvals.denied, HC["denied"]),
    ("approvals lapsed", lambda r: r.approvals.lapsed, HC["lapsed"]),
    (
        "flow-through",
        lambda r: _stat(r.flow_through, "done", "hands_off", "intervened", "rate"),
        HC["flow_through"],
    ),
    (
        "failures",
        lambda r: sorted((f.failure_class, f.failure_code, f.count, f.items) for f in r.failures),
        sorted(HC["failures"]),
    ),
    (
        "api usage",
        lambda r: {
            "runs": r.api.runs,
            "requests_made": r.api.requests_made,
            "requests_counted": r.api.requests_counted,
            "per_run_p50": r.api.per_run.p50,
            "per_run_p95": r.api.per_run.p95,
            "per_run_max": r.api.per_run.max,
            "items_changed": r.api.items_changed,
            "per_item_changed": r.api.per_item_changed,
            "waits": r.api.waits,
            "wait_seconds": r.api.wait_seconds,
            "failed_runs": r.api.failed_runs,
            "runs_by_command": r.api.runs_by_command,
        },
        HC["api"],
    ),
    ("budget stops", lambda r: _stat(r.budget, "stops", "by_reason", "items_deferred"), HC["budget"]),
    ("audit rows", lambda r: len(r.audit), HC["audit_rows"]),
    ("no warnings", lambda r: r.warnings, []),
]


@pytest.mark.parametrize(("name", "get", "expected"), FIGURES, ids=[f[0] for f in FIGURES])
def test_figures_match_the_hand_count(
    report: Report, name: str, get: Callable[[Report], Any], expected: Any
) -> None:
    assert get(report) == pytest.approx(expected) if isinstance(expected, float) else get(report) == expected


# --- filters -------------------------------------------------------------------------------------

FILTERS: list[tuple[str, dict[str, str], Callable[[Report], Any], Any]] = [
    ("workflow: items", {"workflow": "incident"}, lambda r: r.items, 3),
    (
        "workflow: states",
        {"workflow": "incident"},
        lambda r: {k: v for k, v in r.states_now.items() if v},
        {"done": 2, "failed": 1},
    ),
    (
        "workflow: lead time",
        {"workflow": "incident"},
        lambda r: (r.lead_time.p50, r.lead_time.p95),
        (6 * H, 23 * H),
    ),
    (
        "workflow: failures",
        {"workflow": "incident"},
        lambda r: [f.failure_code for f in r.failures],
        ["validation"],
    ),
    (
        "workflow: flow-through",
        {"workflow": "incident"},
        lambda r: (r.flow_through.done, r.flow_through.hands_off),
        (2, 1),
    ),
    ("workflow: audit rows", {"workflow": "incident"}, lambda r: len(r.audit), 19),
    ("workflow: run-level note", {"workflow": "incident"}, lambda r: r.run_level_note is not None, True),
    ("unknown workflow", {"workflow": "nope"}, lambda r: (r.items, r.flow_through.done), (0, 0)),
    (
        "since: throughput",
        {"since": "2026-11-21"},
        lambda r: r.throughput,
        {"2026-11-21": 1, "2026-11-22": 1},
    ),
    ("since: lead time", {"since": "2026-11-21"}, lambda r: (r.lead_time.n, r.lead_time.p50), (2, 23 * H)),
    ("since: states still a snapshot", {"since": "2026-11-21"}, lambda r: r.items, 6),
    ("since: runs", {"since": "2026-11-21T00:00:00Z"}, lambda r: r.api.runs, 2),
    (
        "until: states as of then",
        {"until": "2026-11-21"},
        lambda r: {k: v for k, v in r.states_now.items() if v},
        {"triage": 1, "assigned": 1, "done": 1},
    ),
    ("until: as of", {"until": "2026-11-21"}, lambda r: r.as_of, "2026-11-21T00:00:00.000Z"),
    (
        "until: pending measured to until",
        {"until": "2026-11-20T13:00:00Z"},
        lambda r: r.approvals.oldest_pending_seconds,
        1 * H,
    ),
    (
        "window: one day",
        {"since": "2026-11-21", "until": "2026-11-22"},
        lambda r: (r.flow_through.done, r.api.runs),
        (1, 1),
    ),
    (
        "offset timestamp",
        {"since": "2026-11-21T01:00:00+01:00"},
        lambda r: r.since,
        "2026-11-21T00:00:00.000Z",
    ),
]


@pytest.mark.parametrize(("name", "options", "get", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filters(
    telemetry: Path, name: str, options: dict[str, str], get: Callable[[Report], Any], expected: Any
) -> None:
    kwargs: dict[str, Any] = {"since": None, "until": None, "workflow": None, **options}
    assert get(build_report(telemetry, **kwargs)) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": "last tuesday"}, "--since 'last tuesday' is not a date"),
        ({"until": "2026-13-45"}, "--until '2026-13-45' is not a date"),
        ({"since": "2026-11-22", "until": "2026-11-21"}, "is not before --until"),
    ],
    ids=["words", "impossible-date", "empty-window"],
)
def test_bad_window_is_a_user_error(telemetry: Path, options: dict[str, str], message: str) -> None:
    kwargs: dict[str, Any] = {"since": None, "until": None, "workflow": None, **options}
    with pytest.raises(UserError, match=message):
        build_report(telemetry, **kwargs)


def test_unknown_format_is_a_user_error(report: Report) -> None:
    with pytest.raises(UserError, match="not one of md, json, csv, html"):
        render(report, "pdf")


# --- the four formats ----------------------------------------------------------------------------


def test_json_has_the_same_figures(report: Report) -> None:
    data = json.loads(render(report, "json"))
    assert data["states_now"] == HC["states_now"]
    assert data["throughput"] == HC["throughput"]
    assert data["lead_time"]["p50"] == HC["lead_time"]["p50"]
    assert data["lead_time"]["p95"] == HC["lead_time"]["p95"]
    assert data["approvals"]["latency"]["p50"] == HC["approval_latency"]["p50"]
    assert data["approvals"]["denied"] == HC["denied"]
    assert data["flow_through"]["done"] == 3 and data["flow_through"]["hands_off"] == 1
    assert data["api"]["requests_made"] == 66 and data["api"]["per_item_changed"] == 6.6
    assert data["budget"]["stops"] == 1
    assert data["audit_rows"] == HC["audit_rows"]
    assert "audit" not in data


MD_SNIPPETS = [
    "| Items done | 3 |",
    "| Lead time P50 (triage → done) | 23.0 h |",
    "| Flow-through | 33% | 1 of 3 done items |",
    "| Lead time P50 (triage → done) | 23.0 h | 3 of 3 done items with a known triage start |",
    "From the last transition of each of 6 item(s) in the telemetry",
    "Approvals granted to these items: 3; 2 item(s) needed another command",
    "| done | 3 |",
    '    "done" : 3',
    '    "awaiting-approval" : 1',
    '    x-axis ["11-20", "11-21", "11-22"]',
    "    bar [1, 1, 1]",
    "| lead time | 3 | 23.0 h | 2.1 d | 26.7 h |",
    "| triage | 5 | 1.0 h | 24.0 h | 6.0 h |",
    "    bar [1, 1, 1, 2, 1, 1.50]",
    "| awaiting approval → approved | 2 | 2.0 h | 4.0 h | 3.0 h |",
    "3 approvals granted; 1 item(s) waiting now, the oldest for 36.0 h.",
    "| self_approval | 1 |",
    "| stale | 1 |",
    '    "approvals only" : 1',
    '    "a manual command" : 2',
    "| transient | timeout | 1 | 1 | retry |",
    "| requests made | 66 |",
    "| requests per item changed | 6.60 |",
    "    bar [20, 40, 6]",
    "    line [15, 30, 6]",
    "| max_requests | 1 |",
]


@pytest.mark.parametrize("snippet", MD_SNIPPETS, ids=range(len(MD_SNIPPETS)))
def test_markdown_shows_the_figures(report: Report, snippet: str) -> None:
    assert snippet in render(report, "md")


def test_markdown_charts_are_mermaid(report: Report) -> None:
    text = render(report, "md")
    assert text.count("```mermaid") == 5
    assert text.count("xychart-beta") == 3 and text.count("pie showData") == 2
    assert text.count("```") % 2 == 0


def test_csv_audit_export(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert list(rows[0]) == [
        "ts",
        "run_id",
        "item",
        "event",
        "from",
        "to",
        "login",
        "reason",
        "workflow",
        "repo",
    ]
    assert len(rows) == HC["audit_rows"]
    by_event: dict[str, int] = {}
    for row in rows:
        by_event[row["event"]] = by_event.get(row["event"], 0) + 1
    assert by_event == {
        "item.transition": 21,
        "approval.granted": 3,
        "approval.denied": 2,
        "approval.lapsed": 1,
    }
    denied = [r for r in rows if r["event"] == "approval.denied" and r["item"] == "2"]
    assert denied[0]["login"] == "carol" and denied[0]["reason"] == "self_approval"
    assert denied[0]["workflow"] == "incident" and denied[0]["ts"] == "2026-11-21T03:00:00.000Z"
    first6 = next(r for r in rows if r["item"] == "6")
    assert (first6["from"], first6["to"], first6["reason"], first6["workflow"]) == (
        "",
        "triage",
        "monitor",
        "incident",
    )
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    with TelemetrySink(tmp_path, "acme/ops", command="commands") as sink:
        sink.emit("approval.denied", item=1, login="mallory", reason='=HYPERLINK("http://x")')
    text = render(build_report(tmp_path, since=None, until=None, workflow=None), "csv")
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["reason"] == '\'=HYPERLINK("http://x")'


class _Charts(HTMLParser):
    """Collects, per data-chart, each series' (label, value) marks and polylines' values."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, list[tuple[str, float]]]] = {}
        self.lines: dict[str, dict[str, str]] = {}
        self.empty: set[str] = set()
        self.current: str | None = None
        self.viewport = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = "width=device-width" in a.get("content", "")
        if "data-chart" in a:
            self.current = a["data-chart"]
            self.charts.setdefault(self.current, {})
            if a.get("data-empty") == "true":
                self.empty.add(self.current)
        if self.current and "data-series" in a:
            if tag == "polyline":
                self.lines.setdefault(self.current, {})[a["data-series"]] = a["data-values"]
            elif tag == "rect":
                marks = self.charts[self.current].setdefault(a["data-series"], [])
                marks.append((a["data-label"], float(a["data-value"])))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def test_html_charts_carry_the_figures(report: Report) -> None:
    text = render(report, "html")
    parser = _Charts()
    parser.feed(text)
    charts = parser.charts
    assert parser.viewport
    assert set(charts) == {
        "states-now",
        "throughput",
        "time-in-state",
        "approval-denials",
        "flow-through",
        "failures",
        "api-requests",
    }
    assert parser.empty == set()
    assert dict(charts["states-now"]["items"]) == {k: float(v) for k, v in HC["states_now"].items()}
    assert charts["throughput"]["done"] == [("11-20", 1.0), ("11-21", 1.0), ("11-22", 1.0)]
    # in hours (the longest bar is 24 h), like the table beside it
    assert [v for _, v in charts["time-in-state"]["p50"]] == [1, 1, 1, 2, 1, 1.5]
    assert [v for _, v in charts["time-in-state"]["p95"]] == [24, 12, 24, 4, 2, 1.5]
    assert dict(charts["approval-denials"]["denied"]) == {"self_approval": 1, "not_collaborator": 1}
    assert charts["flow-through"]["hands_off"] == [("approvals only", 1.0)]
    assert charts["flow-through"]["intervened"] == [("a manual command", 2.0)]
    assert sorted(charts["failures"]["events"]) == [("permanent/validation", 1.0), ("transient/timeout", 1.0)]
    assert parser.lines["api-requests"] == {"requests_made": "20,40,6", "requests_counted": "15,30,6"}


def test_html_is_self_contained(report: Report) -> None:
    text = render(report, "html")
    for forbidden in ("<script", "http://", "https://", "<link", "@import", "url("):
        assert forbidden not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_every_format_renders_an_empty_directory(tmp_path: Path) -> None:
    empty = build_report(tmp_path, since=None, until=None, workflow=None)
    for fmt in ("md", "json", "csv", "html"):
        assert render(empty, fmt)
    parser = _Charts()
    parser.feed(render(empty, "html"))
    assert parser.empty == set(parser.charts)


def test_torn_line_becomes_a_report_warning(tmp_path: Path) -> None:
    write_fixture(tmp_path)
    newest = sorted(tmp_path.rglob("*.jsonl"))[-1]
    newest.write_bytes(newest.read_bytes() + b'{"v":1,"ts":"2026-')
    result = build_report(tmp_path, since=None, until=None, workflow=None)
    assert result.flow_through.done == 3
    assert len(result.warnings) == 1 and "torn last line" in result.warnings[0]
    assert "torn last line" in render(result, "md")


# --- the 1 MiB guarantee -------------------------------------------------------------------------


BIG = 6_000


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    directory = tmp_path_factory.mktemp("huge")
    _huge_telemetry(directory)
    return build_report(directory, since=None, until=None, workflow=None)


def _huge_telemetry(directory: Path) -> None:
    """Tens of thousands of distinct rows in every table (written directly: no chain needed)."""
    lines = []
    for n in range(BIG):
        day = 1 + n % 28
        month = 1 + (n // 28) % 12
        year = 2000 + n // 336
        ts = f"{year}-{month:02d}-{day:02d}T10:00:00.000Z"
        base = {"v": 1, "ts": ts, "run_id": "r", "seq": n + 1, "prev": "0", "repo": "acme/ops", "item": n}
        lines.append(
            {
                **base,
                "event": "item.transition",
                "from": None,
                "to": f"weird-state-{n}",
                "cause": "x",
                "workflow": "w",
            }
        )
        lines.append(
            {
                **base,
                "event": "item.transition",
                "from": "x",
                "to": "done",
                "cause": "process",
                "workflow": "w",
            }
        )
        code = f"code-{n}-" + "x" * 150
        lines.append(
            {
                **base,
                "event": "item.failed",
                "failure_class": "permanent",
                "failure_code": code,
                "hint": "h" * 300,
            }
        )
        lines.append({**base, "event": "approval.denied", "login": "l", "reason": f"reason-{n}"})
        lines.append(
            {**base, "event": "run.completed", "command": f"cmd-{n}", "requests_made": n, "items_changed": 1}
        )
    path = directory / "huge.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"torn', encoding="utf-8")


def _check_markdown_fits(text: str, limit: int) -> None:
    assert len(text.encode()) <= limit
    assert text.count("```") % 2 == 0  # no chart left open


def test_markdown_stays_under_one_mib_with_a_huge_input(big_report: Report) -> None:
    assert len(big_report.failures) == BIG and len(big_report.throughput) > 5_000
    assert len(big_report.warnings) == 1
    text = render(big_report, "md")
    _check_markdown_fits(text, report_md.MD_LIMIT)
    assert report_md.MD_LIMIT < 1024 * 1024
    assert "more failure kinds not shown" in text
    assert text.startswith("# issueops report")


@pytest.mark.parametrize(
    ("limit", "all_sections"),
    [(40_000, True), (7_000, True), (3_000, False), (300, False)],  # all sections fit in ~6.5 kB
    ids=["tables-cut", "tables-cut-more", "sections-dropped", "tiny"],
)
def test_markdown_hard_limit(
    big_report: Report, monkeypatch: pytest.MonkeyPatch, limit: int, all_sections: bool
) -> None:
    """Below the real limit the same loop runs: tables shrink first, sections go last."""
    monkeypatch.setattr(report_md, "MD_LIMIT", limit)
    text = render(big_report, "md")
    _check_markdown_fits(text, limit)
    assert text.startswith("# issueops report")
    assert ("## API usage and budget" in text) is all_sections
    assert ("Report cut to stay under" in text) is not all_sections


# --- the command ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "json", "csv", "html"])
def test_cli_report_writes_each_format(telemetry: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(
        main, ["--telemetry", str(telemetry), "report", "--format", fmt, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render(build_report(telemetry), fmt)


def test_cli_report_bad_since_exits_1(telemetry: Path) -> None:
    result = CliRunner().invoke(main, ["--telemetry", str(telemetry), "report", "--since", "nope"])
    assert result.exit_code == 1
    assert "--since 'nope' is not a date" in result.output


# --- approval latency edge cases -----------------------------------------------------------------

GRANT_CASES: list[tuple[str, list[tuple[float, str, str]], int]] = [
    # (minute, run, event), in the order written, after entering awaiting-approval at minute 0 (run a)
    ("grant inside the wait", [(5, "a", "grant"), (10, "a", "approved")], 1),
    ("grant logged just after the gate, same run", [(10, "b", "approved"), (10.02, "b", "grant")], 1),
    ("grant from a later run after the gate", [(10, "a", "approved"), (20, "c", "grant")], 0),
    ("grant before the wait", [(-5, "a", "grant"), (10, "a", "approved")], 0),
]


@pytest.mark.parametrize(("name", "steps", "firsts"), GRANT_CASES, ids=[c[0] for c in GRANT_CASES])
def test_first_approval_belongs_to_its_wait(
    tmp_path: Path, name: str, steps: list[tuple[float, str, str]], firsts: int
) -> None:
    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    timeline = [(0.0, "a", "enter"), *steps]
    for run in sorted({r for _, r, _ in timeline}):
        clock = Clock()
        with TelemetrySink(tmp_path, "acme/ops", command="x", clock=clock, run_id=f"run-{run}") as sink:
            for minute, owner, what in timeline:
                if owner != run:
                    continue
                clock.now = start + timedelta(minutes=minute)
                if what == "grant":
                    sink.emit("approval.granted", item=1, login="alice", risk="low", gate="publish")
                else:
                    source, target = (
                        ("in-progress", "awaiting-approval")
                        if what == "enter"
                        else ("awaiting-approval", "approved")
                    )
                    sink.emit("item.transition", item=1, from_=source, to=target, cause="x", workflow="w")
    result = build_report(tmp_path, since=None, until=None, workflow=None)
    assert result.approvals.latency.n == 1
    assert result.approvals.first_approval.n == firsts


def test_opened_at_gives_a_lead_time_to_issues_people_opened(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    with TelemetrySink(tmp_path, "acme/ops", command="x", clock=clock) as sink:
        sink.emit(
            "item.assigned",
            item=9,
            workflow="w",
            risk="low",
            owner=None,
            score=None,
            opened_at="2026-11-21T09:00:00Z",
        )
        sink.emit("item.transition", item=9, from_="triage", to="assigned", cause="assign", workflow="w")
        clock.now = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
        sink.emit("item.transition", item=9, from_="assigned", to="done", cause="sweep", workflow="w")
    result = build_report(tmp_path, since=None, until=None, workflow=None)
    assert (result.lead_time.n, result.lead_time.p50, result.lead_time_unknown) == (1, 6 * H, 0)
