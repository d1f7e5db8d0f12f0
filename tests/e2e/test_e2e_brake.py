"""Issue #19, the brake, end to end over HTTP through the real adapter against the sandbox: a
failure spike trips it, braked runs write only to the one alert issue, /resume is permission-
checked, held work carries on after the resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_ops_world import BOT, CONFIG, REPO, World, scenario

from issueops.app import run_stages
from issueops.core.errors import GitHubError
from issueops.core.model import marker
from issueops.runner import RunSummary
from issueops.sources.base import FetchError, FetchResult
from issueops.stages.brake import BRAKE_KEY, RESUMED_KEY
from issueops.telemetry.report import build_report, render

ALL = ("commands", "monitor", "assign", "process", "sweep")
BRAKE = "issueops::brake"
DENIED = "Resource not accessible by integration"


def _review(n: int) -> dict[str, Any]:
    return {
        "title": f"[review] Blog post {n}",
        "user": "paul",
        "labels": ["content", "state::triage"],
        "body": f"Please proofread the blog post {n}.\n",
    }


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    world = World(scenario([_review(n) for n in range(1, 5)]), tmp_path)
    world.sandbox.clock.advance(3600)
    yield world
    world.stop()


def _alerts(w: World) -> list[int]:
    return [n for n, i in sorted(w.sandbox.issues.items()) if BRAKE in i.labels]


def _writes_since(w: World, seq: int) -> list[str]:
    return [f"{e.method} {e.path}" for e in w.sandbox.ledger if e.write and e.login == BOT and e.seq > seq]


def _last_seq(w: World) -> int:
    return max((e.seq for e in w.sandbox.ledger), default=0)


def _trip_on_failures(w: World) -> int:
    w.sandbox.faults.add(status=403, route=r"/pulls$", method="POST", times=None, message=DENIED)
    summary = w.run(*ALL)
    assert summary.items_failed == 4
    assert [f["failure_code"] for f in summary.failures] == ["authorization_denied"] * 4
    alerts = _alerts(w)
    assert len(alerts) == 1, "one alert issue"
    assert summary.brake is not None and summary.brake["tripped"] == "failure_rate"
    return alerts[0]


def test_a_failure_spike_trips_the_brake_and_only_the_alert_issue_is_written(w: World) -> None:
    alert = _trip_on_failures(w)
    issue = w.sandbox.issues[alert]
    assert issue.state == "open" and issue.user == BOT
    assert marker(BRAKE_KEY) in issue.body
    assert "4 of 4 items (100%) failed in the last 6 hours" in issue.body
    assert "`authorization_denied`" in issue.body and "/resume" in issue.body
    [tripped] = w.events("brake.tripped")
    assert tripped["condition"] == "failure_rate" and tripped["alert"] == alert

    # A person files a new item; the next runs are dry: nothing written anywhere, it waits.
    new = w._call("paul", "POST", f"/repos/{REPO}/issues", _review(5))
    number = int(new["number"])
    for _ in range(2):
        before = _last_seq(w)
        summary = w.run(*ALL)
        assert _writes_since(w, before) == []
        assert summary.brake is not None and summary.brake["braked"] is True
        assert any(r.stage == "assign" and r.target == f"#{number}" for r in summary.rows), "the plan"
    assert w.state_labels(number) == {"state::triage"}
    assert _alerts(w) == [alert], "still one alert issue"

    # A write user's /resume is refused with the reason; only the alert issue is written.
    carol = w.comment("carol", alert, "/resume")
    before = _last_seq(w)
    summary = w.run(*ALL)
    writes = _writes_since(w, before)
    assert writes and all(f"/issues/{alert}/" in x or f"/comments/{carol}/" in x for x in writes), writes
    denial = w.bot_comments(alert, f"brake-denied-{carol}")
    assert len(denial) == 1 and "maintain or admin" in denial[0] and "has write permission" in denial[0]
    assert w.bot_reactions(carol) == ["-1"]
    assert w.sandbox.issues[alert].state == "open" and w.state_labels(number) == {"state::triage"}
    before = _last_seq(w)
    w.run(*ALL)
    assert _writes_since(w, before) == [], "the refusal is not repeated"

    # The cause is fixed; an admin resumes: the alert closes with the resume, the item is assigned.
    w.sandbox.faults.clear()
    w.comment("alice", alert, "/resume")
    summary = w.run(*ALL)
    assert w.sandbox.issues[alert].state == "closed"
    [resumed] = w.bot_comments(alert, RESUMED_KEY)
    assert "@alice (admin)" in resumed
    assert [e["login"] for e in w.events("brake.resumed")] == ["alice"]
    assert summary.brake is not None and summary.brake["braked"] is False
    assert w.state_labels(number) != {"state::triage"}
    assert w.events("item.assigned")[-1]["item"] == number
    assert _alerts(w) == [alert] and len(w.events("brake.tripped")) == 1, "the old evidence does not re-trip"

    # The report shows the braked window, in every format a person reads.
    report = build_report(w.telemetry_dir)
    [window] = report.braked
    assert (window.condition, window.alert, window.resumed_by) == ("failure_rate", alert, "alice")
    assert window.resumed is not None
    assert f"| failure_rate | #{alert} |" in render(report, "md")
    assert f"<td>#{alert}</td>" in render(report, "html")


def test_a_manual_brake_by_a_maintainer_and_a_refused_one(w: World) -> None:
    carol = w.comment("carol", 1, "/brake I do not like it")
    w.run(*ALL)
    assert _alerts(w) == []
    [denial] = w.bot_comments(1, f"brake-denied-{carol}")
    assert "@carol, your `/brake` did not count" in denial and "has write permission" in denial
    w.comment("bob", 2, "/brake the deploy is broken")
    summary = w.run(*ALL)
    [alert] = _alerts(w)
    assert summary.brake is not None and summary.brake["tripped"] == "manual"
    body = w.sandbox.issues[alert].body
    assert "@bob commented `/brake` on #2: the deploy is broken" in body
    [tripped] = w.events("brake.tripped")
    assert tripped["condition"] == "manual" and tripped["by"] == "bob"
    before = _last_seq(w)
    w.run(*ALL)
    assert _writes_since(w, before) == []


def test_a_closed_alert_issue_is_not_found_again_and_a_look_alike_is_ignored(tmp_path: Path) -> None:
    look_alike = {"title": "fake", "user": "carol", "labels": [BRAKE], "body": marker(BRAKE_KEY)}
    world = World(scenario([_review(1), look_alike]), tmp_path, config=CONFIG)
    try:
        summary = world.run(*ALL)
        assert summary.brake is not None and summary.brake["braked"] is False
        assert world.state_labels(1) != {"state::triage"}
    finally:
        world.stop()


# --- the intake circuit breaker ------------------------------------------------------------------

GOOD, BAD = "https://status.example.com/feed", "https://flaky.example.com/feed"
SOURCES = f"""\
sources:
  - {{type: feed, name: status, url: "{GOOD}"}}
  - {{type: feed, name: flaky, url: "{BAD}"}}
"""


def _rss(*titles: str) -> bytes:
    items = "".join(
        f"<item><guid>urn:status:{t}</guid><title>{t}</title><link>https://status.example.com/{t}</link>"
        "<pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate></item>"
        for t in titles
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}</channel></rss>'.encode()
    )


class Web:
    """The good feed answers with what it holds now; the flaky one never answers."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.asked: list[str] = []

    def __call__(self, url: str, timeout: float) -> FetchResult:
        self.asked.append(url)
        if url == BAD:
            raise FetchError(f"{url}: connection refused")
        return FetchResult(200, _rss(*self.titles), 5.0, {"content-type": "application/rss+xml"})


def _monitor(w: World, web: Web) -> RunSummary:
    return run_stages(
        w.opts, ("monitor",), clock=w.clock, now=w.sandbox.clock.now(), fetch=web, cache_path=w.cache_path
    )


def test_a_source_failing_three_runs_in_a_row_is_paused_alone(tmp_path: Path) -> None:
    w = World(scenario([]), tmp_path, config=CONFIG + SOURCES)
    web = Web()
    try:
        for n in range(3):
            web.titles.append(f"outage-{n}")
            _monitor(w, web)
        assert web.asked.count(BAD) == 3 and len(w.events("source.failed")) == 3
        created = len(w.sandbox.issues)
        assert created == 3

        web.asked.clear()
        web.titles.append("outage-3")
        summary = _monitor(w, web)
        assert BAD not in web.asked and GOOD in web.asked, "only the flaky source is paused"
        assert len(w.sandbox.issues) == created + 1, "the healthy source still opens items"
        assert summary.brake is not None and summary.brake["paused_sources"] == ["flaky"]
        assert summary.brake["braked"] is False and _alerts(w) == []
        assert any(r.action == "Paused" and r.target == "source::flaky" for r in summary.rows)
        [paused] = w.events("source.paused")
        assert paused["source"] == "flaky" and paused["failures"] == 3
    finally:
        w.stop()


# --- a drift spike -------------------------------------------------------------------------------


def test_a_drift_spike_trips_the_brake_and_resume_lets_waiting_work_go_on(tmp_path: Path) -> None:
    wf = "workflow::access-request"
    closed = {"labels": ["state::in-progress", wf], "state": "closed", "user": "carol"}
    issues = [{"title": f"closed {n}", "body": "x\n", **closed} for n in range(1, 5)]
    w = World(scenario(issues), tmp_path, config=CONFIG + "brake:\n  drift_repairs: 3\n")
    try:
        summary = w.run("sweep")
        assert len(w.events("drift.repaired")) == 4
        [alert] = _alerts(w)
        assert summary.brake is not None and summary.brake["tripped"] == "drift_spike"
        assert "one sweep repaired label drift on 4 items at once" in w.sandbox.issues[alert].body

        new = int(w._call("paul", "POST", f"/repos/{REPO}/issues", _review(9))["number"])
        before = _last_seq(w)
        w.run(*ALL)
        assert _writes_since(w, before) == [] and w.state_labels(new) == {"state::triage"}

        w.comment("bob", alert, "/resume")  # maintain
        w.run(*ALL)
        assert w.sandbox.issues[alert].state == "closed"
        assert w.events("item.assigned")[-1]["item"] == new
        assert len(_alerts(w)) == 1 and len(w.events("brake.tripped")) == 1
    finally:
        w.stop()


# --- crash safety and overlapping runs -----------------------------------------------------------


def _alert_issue(title: str) -> dict[str, Any]:
    return {"title": title, "user": BOT, "labels": [BRAKE], "body": f"{marker(BRAKE_KEY)}\n## {title}\n"}


def test_two_runs_that_tripped_at_once_converge_on_the_first_alert(tmp_path: Path) -> None:
    w = World(scenario([_alert_issue("first"), _alert_issue("second"), _review(3)]), tmp_path)
    try:
        summary = w.run(*ALL)
        assert summary.brake is not None and summary.brake["braked"] is True and summary.brake["alert"] == 1
        assert w.sandbox.issues[1].state == "open" and w.sandbox.issues[2].state == "closed"
        closed = w.sandbox.issues[2]
        assert closed.body.startswith("> [!NOTE]\n> Duplicate of #1") and marker(BRAKE_KEY) in closed.body
        assert w.bot_comments(2) == [], "in the body, one request: two closing runs write it once"
        assert w.state_labels(3) == {"state::triage"}, "still braked: nothing else written"
        before = _last_seq(w)
        w.run(*ALL)
        assert _writes_since(w, before) == []
    finally:
        w.stop()


def test_a_run_cut_off_after_recording_the_resume_closes_the_alert_next_time(tmp_path: Path) -> None:
    w = World(scenario([_alert_issue("braked"), _review(2)]), tmp_path)
    try:
        w.comment("alice", 1, "/resume")
        w.sandbox.faults.add(status=502, route=r"/issues/1$", method="PATCH", times=None)
        with pytest.raises(GitHubError):
            w.run(*ALL)  # the resume is recorded, the close fails: the run stops, nothing else written
        assert w.state_labels(2) == {"state::triage"}
        w.sandbox.faults.clear()
        assert len(w.bot_comments(1, RESUMED_KEY)) == 1 and w.sandbox.issues[1].state == "open"
        summary = w.run(*ALL)
        assert w.sandbox.issues[1].state == "closed"
        assert len(w.bot_comments(1, RESUMED_KEY)) == 1, "the record is not doubled"
        assert summary.brake is not None and summary.brake["braked"] is False
        assert w.state_labels(2) != {"state::triage"}
    finally:
        w.stop()


# --- the primary rate limit, run after run -------------------------------------------------------


def test_two_runs_in_a_row_ending_at_the_primary_limit_trip_the_brake(tmp_path: Path) -> None:
    data = scenario([_review(n) for n in range(1, 9)])
    data["rate_limit"] = {"core": 240}  # the config keeps 200 in reserve: about 40 a window
    w = World(data, tmp_path)
    try:
        first = w.run(*ALL)
        assert first.budget_stop and "primary limit" in first.budget_stop
        assert _alerts(w) == [] and first.brake is not None and first.brake["tripped"] is None

        w.sandbox.clock.advance(3700)  # the next hourly run, in a new window, ends at the limit again
        second = w.run(*ALL)
        assert second.budget_stop and "primary limit" in second.budget_stop
        [alert] = _alerts(w)  # the reserve still allows the one request that opens it
        assert second.brake is not None and second.brake["tripped"] == "rate_limit"
        assert "the last 2 runs in a row ended at GitHub's primary rate limit" in w.sandbox.issues[alert].body
        assert [e["condition"] for e in w.events("brake.tripped")] == ["rate_limit"]

        w.sandbox.clock.advance(3700)
        before = _last_seq(w)
        third = w.run(*ALL)
        assert _writes_since(w, before) == [] and third.brake is not None and third.brake["braked"]
    finally:
        w.stop()
