"""The report fixes of issue 17: states now from the labels a run read, needs-human shown, flow-through
that counts approvals apart, headlines with their basis, chart units that match the tables, and an
HTML page whose text is escaped by the template (Jinja2 autoescape)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telemetry_fixture import REPO, Clock, write_fixture

from issueops.telemetry.kpi import chart_unit
from issueops.telemetry.report import build_report, render
from issueops.telemetry.sink import TelemetrySink

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_world import BOT_TOKEN, clean_env, issueops, sandbox_server, user_dir


def _run(directory: Path, start: datetime, events: list[tuple[str, int | None, dict[str, object]]]) -> None:
    clock = Clock()
    clock.now = start
    with TelemetrySink(directory, REPO, command="run", clock=clock) as sink:
        sink.emit("run.started", command="run", dry_run=False)
        for event, item, fields in events:
            clock.now += timedelta(minutes=1)
            sink.emit(event, item=item, **fields)


def test_states_now_come_from_the_last_runs_labels(tmp_path: Path) -> None:
    write_fixture(tmp_path)
    states = {"triage": 7, "assigned": 2, "done": 0, "none": 1}
    _run(
        tmp_path,
        datetime(2026, 11, 23, 9, tzinfo=UTC),
        [("run.states", None, {"states": states, "needs_human": 6, "open_items": 10})],
    )
    report = build_report(tmp_path)
    assert report.states_now["triage"] == 7 and report.states_now["none"] == 1
    assert report.needs_human == 6
    assert "the labels of 10 open item(s), read by run" in report.states_basis
    md = render(report, "md")
    assert "| triage | 7 |" in md and "**6** open item(s) flagged `needs-human`" in md
    card = (
        '<div class="card" data-kpi="needs-human"><div class="k">Needs a person</div><div class="v">6</div>'
    )
    assert card in render(report, "html")


def test_without_run_states_a_never_moved_item_is_triage_and_flags_count(tmp_path: Path) -> None:
    _run(
        tmp_path,
        datetime(2026, 11, 23, 9, tzinfo=UTC),
        [
            ("item.needs_human", 41, {"stage": "assign", "reason": "no workflow matched"}),
            ("approval.denied", 42, {"login": "frank", "reason": "not_collaborator"}),
        ],
    )
    report = build_report(tmp_path)
    assert report.states_now["triage"] == 2  # neither ever moved: both are in triage
    assert report.needs_human == 1
    assert "an item that never moved counts as triage" in report.states_basis


def test_headlines_say_their_basis_and_flow_through_counts_approvals_apart(tmp_path: Path) -> None:
    write_fixture(tmp_path)
    report = build_report(tmp_path)
    md = render(report, "md")
    assert "| Lead time P50 (triage → done) | 23.0 h | 3 of 3 done items with a known triage start |" in md
    assert "| Flow-through | 33% | 1 of 3 done items |" in md
    assert report.flow_through.approvals == 3  # #1: alice; #2: bob and alice
    assert "Approvals granted to these items: 3" in md
    html = render(report, "html")
    assert '<div class="b">1 of 3 done items</div>' in html


def test_every_html_card_has_a_basis(tmp_path: Path) -> None:
    write_fixture(tmp_path)
    html = render(build_report(tmp_path), "html")
    assert html.count('<div class="card"') == html.count('<div class="b">') == 8


@pytest.mark.parametrize(
    ("longest", "unit"),
    [(1.0, "seconds"), (119.0, "seconds"), (120.0, "minutes"), (3 * 3600.0, "hours"), (3 * 86400.0, "days")],
)
def test_chart_unit_never_rounds_the_longest_bar_to_zero(longest: float, unit: str) -> None:
    name, size = chart_unit([0.5, longest])
    assert name == unit and longest / size >= 1


def test_a_one_second_visit_is_charted_as_one_second(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    clock = Clock()
    clock.now = start
    with TelemetrySink(tmp_path, REPO, command="assign", clock=clock) as sink:
        sink.emit(
            "item.transition", item=1, **{"from": None, "to": "triage", "cause": "monitor", "workflow": None}
        )
        clock.now += timedelta(seconds=1)
        sink.emit(
            "item.transition",
            item=1,
            **{"from": "triage", "to": "assigned", "cause": "assign", "workflow": None},
        )
    report = build_report(tmp_path)
    md = render(report, "md")
    assert 'title "Median seconds in state"' in md and "bar [1]" in md
    assert "| triage | 1 | 1 s |" in md
    html = render(report, "html")
    assert 'data-series="p50" data-label="triage" data-value="1"' in html


def test_hostile_text_is_escaped_by_the_template(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    _run(
        tmp_path,
        datetime(2026, 11, 23, 9, tzinfo=UTC),
        [
            ("item.failed", 5, {"failure_class": "permanent", "failure_code": "validation", "hint": hostile}),
            ("approval.denied", 5, {"login": "x", "reason": hostile}),
        ],
    )
    html = render(build_report(tmp_path), "html")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_a_real_run_records_the_states_the_report_shows(tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    with sandbox_server() as url:
        run = issueops(
            "run",
            "--repo",
            "acme/ops",
            "--api-url",
            url,
            "--dry-run",
            cwd=work,
            env=clean_env(GITHUB_TOKEN=BOT_TOKEN),
        )
        assert run.returncode == 0, run.stderr
        report = issueops("report", "--format", "json", cwd=work)
    data = json.loads(report.stdout)
    # the demo scenario as it starts: every open item with a state label, by that label
    import yaml

    scenario = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "scripts/issueops/sandbox/scenarios/demo.yml").read_text(
            encoding="utf-8"
        )
    )
    expected: dict[str, int] = {}
    for issue in scenario["issues"]:
        labels = issue.get("labels", [])
        states = [label[len("state::") :] for label in labels if label.startswith("state::")]
        if issue.get("state", "open") == "open" and (
            states or any(x.startswith(("workflow::", "source::")) for x in labels)
        ):
            name = states[0] if len(states) == 1 else "none"
            expected[name] = expected.get(name, 0) + 1
    assert {k: v for k, v in data["states_now"].items() if v} == expected
    assert data["states_now"]["triage"] > 0
    assert "read by run" in data["states_basis"]
