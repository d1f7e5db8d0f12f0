"""Monitoring export, end to end: the demo pipeline against the sandbox (the real PyGithub code path)
pushes to a real Prometheus Pushgateway and to a local OTLP/HTTP endpoint, and what those receive
matches the run summary, the run's own JSONL events and the sandbox's items. An endpoint that is
down or refuses never fails the run: one warning, one `telemetry.export_failed` event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_world import CONFIG, DEMO_SCENARIO, World, world
from monitoring_endpoints import (
    OtlpReceiver,
    Pushgateway,
    free_port,
    running_otlp_receiver,
    running_pushgateway,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from issueops.core.states import State, current_state
from issueops.demo import DemoWeb
from issueops.runner import RunSummary
from issueops.sandbox import Sandbox
from issueops.sandbox.scenario import from_scenario
from issueops.telemetry.run_metrics import METRICS

TOKEN = "bot-token"  # the sandbox bot's token: it must appear in no exported byte
GROUP = {"repository": "acme/ops", "command": "commands monitor assign process sweep"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    with running_pushgateway(tmp_path_factory.mktemp("pushgateway")) as gw:
        yield gw


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    with running_otlp_receiver() as receiver:
        yield receiver


def demo_world(tmp: Path, *, config: Path = CONFIG) -> World:
    return world(from_scenario(DEMO_SCENARIO), tmp, fetch=DemoWeb(), config=config)


def events(w: World, run_id: str | None = None) -> list[dict[str, Any]]:
    """Every line written, file by file (UUIDv7 names sort by start), in the order written."""
    files = sorted((w.tmp / "telemetry").glob("*/*.jsonl"), key=lambda p: p.name)
    records = [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if run_id is None or r["run_id"] == run_id]


def run_id_of(w: World) -> str:
    return str(events(w)[-1]["run_id"])


def open_states(sandbox: Sandbox) -> dict[str, float]:
    counts: dict[str, float] = {}
    for issue in sandbox.issues.values():
        state = current_state(issue.labels)
        if issue.state == "open" and state is not None:
            counts[state.value] = counts.get(state.value, 0) + 1
    return counts


def counters(runs: list[tuple[RunSummary, list[dict[str, Any]]]]) -> dict[str, float]:
    """What the gateway's counters must read after these runs, from their summaries and events."""
    total: dict[str, float] = {}
    for summary, lines in runs:
        waits = [r for r in lines if r["event"] == "api.wait"]
        figures = {
            "issueops_runs_total": 1,
            "issueops_runs_failed_total": 1 if summary.exit_code else 0,
            "issueops_items_seen_total": summary.items_seen,
            "issueops_items_changed_total": summary.items_changed,
            "issueops_items_failed_total": summary.items_failed,
            "issueops_items_deferred_total": len(summary.deferred),
            "issueops_api_requests_made_total": summary.requests_made,
            "issueops_api_requests_counted_total": summary.requests_counted,
            "issueops_api_waits_total": len(waits),
            "issueops_api_wait_seconds_total": sum(r["seconds"] for r in waits),
            "issueops_api_budget_stops_total": sum(1 for r in lines if r["event"] == "api.budget_stop"),
        }
        for name, value in figures.items():
            total[name] = total.get(name, 0) + value
    return total


def test_pushgateway_holds_the_run_summary(gateway: Pushgateway, tmp_path: Path) -> None:
    gateway.wipe()
    w = demo_world(tmp_path)
    env = {"GITHUB_TOKEN": TOKEN, "ISSUEOPS_PUSHGATEWAY_URL": gateway.url}

    first = w.run(env=env)
    first_events = events(w, run_id_of(w))
    got = gateway.samples(**GROUP)

    assert first.items_changed > 0 and first.exit_code == 0, first.failures
    expected = counters([(first, first_events)])
    assert {name: got[(name, ())] for name in expected} == pytest.approx(expected)
    assert got[("issueops_last_run_duration_seconds", ())] == pytest.approx(first.duration_ms / 1000)
    assert got[("issueops_last_run_exit_code", ())] == 0
    finished = got[("issueops_last_run_timestamp_seconds", ())]
    assert got[("issueops_last_success_timestamp_seconds", ())] == finished
    completed = next(r for r in first_events if r["event"] == "run.completed")
    assert completed["items_seen"] == first.items_seen  # the JSONL and the gateway tell one story
    states = {dict(extra)["state"]: value for (name, extra), value in got.items() if name == "issueops_items"}
    assert states == open_states(w.sandbox) and states
    waiting = states.get(State.AWAITING_APPROVAL.value, 0)
    assert waiting > 0, "the demo's first run leaves items at a gate"
    assert got[("issueops_approvals_pending", ())] == waiting
    assert got[("issueops_approval_oldest_pending_age_seconds", ())] >= 0
    assert TOKEN not in gateway.metrics_text()

    # A second run adds to the counters (they are counters across runs, not per-run values);
    # with a tiny request budget it stops early and says so.
    second = w.run(env=env, max_requests=8)
    second_events = events(w, run_id_of(w))
    got = gateway.samples(**GROUP)

    assert second.budget_stop and second.deferred, second.as_dict()
    expected = counters([(first, first_events), (second, second_events)])
    assert {name: got[(name, ())] for name in expected} == pytest.approx(expected)
    assert expected["issueops_api_budget_stops_total"] == 1
    assert got[("issueops_last_run_timestamp_seconds", ())] > finished
    every = {m.exposed for m in METRICS}
    assert every <= {name for name, _ in got}, every - {name for name, _ in got}


def _config_with(tmp: Path, **telemetry: str) -> Path:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data.setdefault("telemetry", {}).update(telemetry)
    path = tmp / "issueops.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_closed_port_warns_once_and_the_run_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there any more
    w = demo_world(tmp_path, config=_config_with(tmp_path, pushgateway=closed))  # the config's setting

    summary = w.run(["monitor"], env={"GITHUB_TOKEN": TOKEN})

    assert summary.exit_code == 0 and summary.items_changed > 0, summary.failures
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, warnings
    assert "pushgateway" in warnings[0] and closed in warnings[0] and "Connection refused" in warnings[0]
    failed = [r for r in events(w) if r["event"] == "telemetry.export_failed"]
    assert [(r["target"], r["endpoint"]) for r in failed] == [("pushgateway", closed)]
    assert events(w)[-1]["event"] == "telemetry.export_failed"  # after run.completed, in the same run


def test_the_environment_wins_over_the_config(gateway: Pushgateway, tmp_path: Path) -> None:
    gateway.wipe()
    closed = f"http://127.0.0.1:{free_port()}"
    w = demo_world(tmp_path, config=_config_with(tmp_path, pushgateway=closed))

    w.run(["monitor"], env={"GITHUB_TOKEN": TOKEN, "ISSUEOPS_PUSHGATEWAY_URL": gateway.url})

    assert gateway.samples(repository="acme/ops", command="monitor")[("issueops_runs_total", ())] == 1
    assert not [r for r in events(w) if r["event"] == "telemetry.export_failed"]


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in pairs:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = (
            list(v.string_value for v in value.array_value.values)
            if kind == "array_value"
            else getattr(value, kind)
        )
    return out


def test_otlp_export_decodes_with_the_opentelemetry_protobufs(otlp: OtlpReceiver, tmp_path: Path) -> None:
    w = demo_world(tmp_path)

    summary = w.run(
        ["monitor", "assign"], env={"GITHUB_TOKEN": TOKEN, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url + "/"}
    )

    assert [(path, kind) for path, kind, _ in otlp.received] == [
        ("/v1/logs", "application/x-protobuf"),
        ("/v1/metrics", "application/x-protobuf"),
    ]
    assert all(TOKEN.encode() not in body for _, _, body in otlp.received)
    written = events(w)
    logs = ExportLogsServiceRequest.FromString(otlp.bodies("/v1/logs")[0])
    (resource_logs,) = logs.resource_logs
    resource = _attributes(resource_logs.resource.attributes)
    assert resource["service.name"] == "issueops" and resource["issueops.run_id"] == written[0]["run_id"]
    assert (resource["repository"], resource["command"]) == ("acme/ops", "monitor assign")
    records = [r for scope in resource_logs.scope_logs for r in scope.log_records]
    assert [r.event_name for r in records] == [r["event"] for r in written]  # every event, in order
    completed = _attributes(records[-1].attributes)
    assert records[-1].body.string_value == "run.completed"
    assert (
        completed["items_changed"] == summary.items_changed and completed["seq"]
        if "seq" in completed
        else True
    )
    assert completed["items_seen"] == summary.items_seen

    metrics = ExportMetricsServiceRequest.FromString(otlp.bodies("/v1/metrics")[0])
    points: dict[str, float] = {}
    for scope in metrics.resource_metrics[0].scope_metrics:
        for metric in scope.metrics:
            kind = metric.WhichOneof("data")
            for point in getattr(metric, kind).data_points:
                value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
                if metric.name == "issueops.items.open":
                    points[f"{metric.name}:{_attributes(point.attributes)['state']}"] = value
                else:
                    points[metric.name] = value
    assert points["issueops.items.seen"] == summary.items_seen
    assert points["issueops.items.changed"] == summary.items_changed
    assert points["issueops.api.requests.made"] == summary.requests_made
    assert points["issueops.api.requests.counted"] == summary.requests_counted
    assert points["issueops.runs"] == 1
    states = {k.split(":", 1)[1]: v for k, v in points.items() if k.startswith("issueops.items.open:")}
    assert states == open_states(w.sandbox)


def test_a_refusing_otlp_endpoint_warns_once(
    otlp: OtlpReceiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    otlp.status = 400  # not retryable: the SDK gives up at once
    w = demo_world(tmp_path)

    summary = w.run(["monitor"], env={"GITHUB_TOKEN": TOKEN, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url})

    assert summary.exit_code == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: could not export telemetry to otlp"), err
    failed = [r for r in events(w) if r["event"] == "telemetry.export_failed"]
    assert [r["target"] for r in failed] == ["otlp"]
    assert json.dumps(failed).count(TOKEN) == 0
