"""The monitoring exporter's own decisions, without a network: which endpoints a run uses, how a
failure is reported (one warning, one event, no secret), the counters a push adds up, and the
values OTLP carries. The real Pushgateway and OTLP receivers are in tests/e2e/test_e2e_monitoring.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from issueops.telemetry.endpoints import http_url, safe_url
from issueops.telemetry.export import RunExporter
from issueops.telemetry.otlp import _attribute, signal_url
from issueops.telemetry.pushgateway import _RunCollector
from issueops.telemetry.run_metrics import METRICS, EventTally, Run, RunFigures
from issueops.telemetry.sink import REDACTED, TelemetrySink

T0 = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
SECRET = "ghp_not-a-real-token-1234"


def figures(**overrides: Any) -> RunFigures:
    base: dict[str, Any] = {
        "repo": "acme/ops",
        "command": "run",
        "run_id": "r1",
        "finished_at": T0,
        "duration_seconds": 2.5,
        "exit_code": 0,
        "items_seen": 7,
        "items_changed": 3,
        "items_failed": 0,
        "items_deferred": 1,
        "requests_made": 40,
        "requests_counted": 31,
        "items_by_state": {"triage": 2, "awaiting-approval": 1},
        "approval_ages_seconds": [60.0, 7200.0],
    }
    base.update(overrides)
    return RunFigures(**base)


def sink(tmp_path: Path) -> TelemetrySink:
    return TelemetrySink(tmp_path / "telemetry", "acme/ops", command="run", secrets=(SECRET,))


def lines(tel: TelemetrySink) -> list[dict[str, Any]]:
    return [json.loads(line) for line in tel.path.read_text(encoding="utf-8").splitlines()]


# --- which endpoints ---------------------------------------------------------------------------

ENDPOINTS = [
    # (name, env, config's pushgateway, expected pushgateway, expected otlp)
    ("nothing set: no export", {}, None, None, None),
    ("config only", {}, "http://gw:9091", "http://gw:9091", None),
    (
        "the environment wins",
        {"ISSUEOPS_PUSHGATEWAY_URL": "http://env:9091"},
        "http://gw:9091",
        "http://env:9091",
        None,
    ),
    (
        "a blank variable is unset",
        {"ISSUEOPS_PUSHGATEWAY_URL": "  "},
        "http://gw:9091",
        "http://gw:9091",
        None,
    ),
    ("otlp only", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318"}, None, None, "http://col:4318"),
]


@pytest.mark.parametrize(
    ("env", "config", "push", "otlp"), [c[1:] for c in ENDPOINTS], ids=[c[0] for c in ENDPOINTS]
)
def test_endpoints_come_from_the_environment_then_the_config(
    tmp_path: Path, env: dict[str, str], config: str | None, push: str | None, otlp: str | None
) -> None:
    tel = sink(tmp_path)
    exporter = RunExporter.attach(tel, env, pushgateway=config)
    assert (exporter.pushgateway, exporter.otlp_endpoint) == (push, otlp)
    assert (exporter.tally in tel.listeners) is exporter.enabled  # nothing is kept when nothing is sent


def test_no_endpoint_sends_nothing_and_writes_nothing(tmp_path: Path) -> None:
    tel = sink(tmp_path)
    warned: list[str] = []
    RunExporter.attach(tel, {}, warn=warned.append).finish(figures())
    assert warned == [] and not tel.path.exists()


# --- failure: one warning, one event, no secret ---------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [f"ftp://gw.example/{SECRET}", f"http://user:{SECRET}@", f"file:///tmp/{SECRET}"],
    ids=["ftp scheme", "no host", "file scheme"],
)
def test_an_unusable_url_warns_once_without_the_secret(tmp_path: Path, url: str) -> None:
    tel = sink(tmp_path)
    warned: list[str] = []
    exporter = RunExporter.attach(tel, {"ISSUEOPS_PUSHGATEWAY_URL": url}, warn=warned.append)
    tel.emit("run.started", dry_run=False)

    exporter.finish(figures())

    assert len(warned) == 1 and "could not export telemetry to pushgateway" in warned[0]
    assert SECRET not in warned[0]
    (failed,) = [r for r in lines(tel) if r["event"] == "telemetry.export_failed"]
    assert failed["target"] == "pushgateway" and "must be http(s)" in failed["error"]
    assert SECRET not in json.dumps(failed) and exporter.failures == ["pushgateway"]


def test_safe_url_drops_the_password() -> None:
    assert safe_url(f"http://bot:{SECRET}@gw.example:9091/prefix") == "http://gw.example:9091/prefix"
    assert safe_url("gw.example:9091") == "gw.example:9091"


SCHEMES = [
    ("host and port", "127.0.0.1:9091", "http://127.0.0.1:9091"),
    ("http kept", "http://gw:9091/", "http://gw:9091/"),
    ("https kept", "https://gw.example/base", "https://gw.example/base"),
]


@pytest.mark.parametrize(("given", "used"), [c[1:] for c in SCHEMES], ids=[c[0] for c in SCHEMES])
def test_pushgateway_urls(given: str, used: str) -> None:
    assert http_url(given, what="Pushgateway") == used


# --- what the run's events add ---------------------------------------------------------------------


def test_the_tally_counts_waits_and_budget_stops(tmp_path: Path) -> None:
    tel = sink(tmp_path)
    exporter = RunExporter.attach(tel, {"ISSUEOPS_PUSHGATEWAY_URL": "http://gw:9091"})
    tel.emit("api.wait", seconds=1.5, reason="pacing")
    tel.emit("api.wait", seconds=2, reason="retry-after")
    tel.emit("api.budget_stop", reason="run budget", remaining=None)
    tel.emit("item.failed", item=4, failure_class="permanent", failure_code="validation", hint=f"x {SECRET}")
    tally = exporter.tally
    assert (tally.waits, tally.wait_seconds, tally.budget_stops) == (2, 3.5, 1)
    assert [r["event"] for r in tally.records] == ["api.wait", "api.wait", "api.budget_stop", "item.failed"]
    assert tally.records[-1]["hint"] == f"x {REDACTED}"  # the exporter sees events as written: scrubbed


# --- the Pushgateway group: counters add up, the last success is kept -------------------------------


def collected(run: Run, previous: dict[str, float]) -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in _RunCollector(run, previous).collect()
        for sample in family.samples
    }


def test_a_push_adds_the_run_to_the_groups_counters() -> None:
    tally = EventTally(waits=2, wait_seconds=3.5, budget_stops=1)
    previous = {
        "issueops_runs_total": 4,
        "issueops_items_seen_total": 100,
        "issueops_api_wait_seconds_total": 10,
    }
    got = collected(Run(figures(), tally), previous)
    assert got[("issueops_runs_total", ())] == 5
    assert got[("issueops_items_seen_total", ())] == 107
    assert got[("issueops_api_wait_seconds_total", ())] == 13.5
    assert got[("issueops_api_budget_stops_total", ())] == 1  # nothing before: starts at zero
    assert got[("issueops_runs_failed_total", ())] == 0
    assert got[("issueops_items", ("awaiting-approval",))] == 1 and got[("issueops_items", ("triage",))] == 2
    assert got[("issueops_approvals_pending", ())] == 2
    assert got[("issueops_approval_oldest_pending_age_seconds", ())] == 7200
    assert got[("issueops_last_success_timestamp_seconds", ())] == T0.timestamp()
    assert {m.exposed for m in METRICS} <= {name for name, _ in got}


def test_a_failed_run_keeps_the_last_success() -> None:
    previous = {"issueops_last_success_timestamp_seconds": 1_700_000_000.0, "issueops_runs_failed_total": 2}
    got = collected(Run(figures(exit_code=1, items_failed=1), EventTally()), previous)
    assert got[("issueops_last_success_timestamp_seconds", ())] == 1_700_000_000.0
    assert got[("issueops_last_run_timestamp_seconds", ())] == T0.timestamp()
    assert got[("issueops_runs_failed_total", ())] == 3


def test_a_run_that_read_no_items_pushes_no_item_gauges() -> None:
    got = collected(Run(figures(items_by_state=None, approval_ages_seconds=None), EventTally()), {})
    names = {name for name, _ in got}
    assert not names & {
        "issueops_items",
        "issueops_approvals_pending",
        "issueops_approval_oldest_pending_age_seconds",
    }
    none_waiting = collected(Run(figures(approval_ages_seconds=[]), EventTally()), {})
    assert none_waiting[("issueops_approval_oldest_pending_age_seconds", ())] == 0


# --- OTLP values ---------------------------------------------------------------------------------

ATTRIBUTES = [
    ("string", "triage", "triage"),
    ("int", 42, 42),
    ("bool stays bool", True, True),
    ("list of strings", ["a", "b"], ["a", "b"]),
    ("nested: JSON text", {"k": [1, 2]}, '{"k":[1,2]}'),
    ("null: JSON text", None, "null"),
]


@pytest.mark.parametrize(("value", "sent"), [c[1:] for c in ATTRIBUTES], ids=[c[0] for c in ATTRIBUTES])
def test_otlp_attribute_values(value: Any, sent: Any) -> None:
    assert _attribute(value) == sent


def test_the_otlp_endpoint_is_a_base_url() -> None:
    assert signal_url("http://col:4318/", "logs") == "http://col:4318/v1/logs"
    assert signal_url("https://otlp.example/otlp", "metrics") == "https://otlp.example/otlp/v1/metrics"
