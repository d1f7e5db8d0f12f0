"""Export one run's events (as OpenTelemetry logs) and metrics over OTLP/HTTP (protobuf).

The official SDK builds the records and the official exporter sends them, so any OTLP receiver
(a collector, Grafana Cloud, Datadog, Honeycomb) takes them as they are. Each is sent once, at the
end of the run, and the result is checked: a refused export raises, so the caller can warn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource

from issueops.telemetry.endpoints import http_url
from issueops.telemetry.run_metrics import GROUPING, ITEMS_BY_STATE, METRICS, STATE_LABEL, Run

SERVICE_NAME = "issueops"
SCOPE = "issueops"
# Events that mean something went wrong get severity WARN; every other event is INFO.
WARN_EVENTS = frozenset({"item.failed", "api.budget_stop", "telemetry.export_failed", "drift.flagged"})
_ENVELOPE_ONLY = ("v", "prev", "seq")  # the hash chain stays in the JSONL file


class OtlpExportError(RuntimeError):
    """The receiver refused the export or could not be reached."""


def signal_url(endpoint: str, signal: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the signal's path is appended (the OTLP spec)."""
    return f"{endpoint.rstrip('/')}/v1/{signal}"


def export_run(endpoint: str, run: Run, *, timeout: float) -> None:
    """Send the run's events as logs, then its metrics; raises OtlpExportError on a failure."""
    figures = run.figures
    endpoint = http_url(endpoint, what="OTLP")
    resource = Resource.create(
        {"service.name": SERVICE_NAME, "issueops.run_id": figures.run_id, **_attributes(run)}
    )
    with _quiet_sdk():
        logs = _log_records(run.tally.records, resource)
        if logs:
            result = OTLPLogExporter(endpoint=signal_url(endpoint, "logs"), timeout=timeout).export(logs)
            if result is not LogRecordExportResult.SUCCESS:
                raise OtlpExportError(
                    f"{signal_url(endpoint, 'logs')} did not accept {len(logs)} log records"
                )
        data = _metrics_data(run, resource)
        exporter = OTLPMetricExporter(endpoint=signal_url(endpoint, "metrics"), timeout=timeout)
        if exporter.export(data) is not MetricExportResult.SUCCESS:
            raise OtlpExportError(f"{signal_url(endpoint, 'metrics')} did not accept the run's metrics")


def _attributes(run: Run) -> dict[str, str]:
    return dict(zip(GROUPING, (run.figures.repo, run.figures.command), strict=True))


def _log_records(records: Sequence[Mapping[str, Any]], resource: Resource) -> tuple[Any, ...]:
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger(SCOPE)
    for record in records:
        event = str(record.get("event", ""))
        warn = event in WARN_EVENTS
        logger.emit(
            timestamp=_nanos(record.get("ts")),
            severity_number=SeverityNumber.WARN if warn else SeverityNumber.INFO,
            severity_text="WARN" if warn else "INFO",
            body=event,
            event_name=event,
            attributes={k: _attribute(v) for k, v in record.items() if k not in _ENVELOPE_ONLY},
        )
    logs = memory.get_finished_logs()
    provider.shutdown()
    return logs


def _metrics_data(run: Run, resource: Resource) -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
    meter = provider.get_meter(SCOPE)
    attributes = _attributes(run)
    for metric in METRICS:
        value = metric.value(run)
        if value is None:
            continue
        if metric.kind == "counter":
            meter.create_counter(metric.otel, unit=metric.unit, description=metric.help).add(
                value, attributes
            )
        else:
            meter.create_gauge(metric.otel, unit=metric.unit, description=metric.help).set(value, attributes)
    if run.figures.items_by_state is not None:
        gauge = meter.create_gauge(
            ITEMS_BY_STATE.otel, unit=ITEMS_BY_STATE.unit, description=ITEMS_BY_STATE.help
        )
        for state, count in sorted(run.figures.items_by_state.items()):
            gauge.set(count, {**attributes, STATE_LABEL: state})
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def _attribute(value: Any) -> str | int | float | bool | list[str]:
    """OTLP attributes hold scalars and lists of strings; anything else travels as JSON text."""
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _nanos(ts: Any) -> int | None:
    if not isinstance(ts, str):
        return None
    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1_000_000_000)
    except ValueError:
        return None


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    """The SDK logs its own export errors; the caller reports one warning instead."""
    sdk_logger = logging.getLogger("opentelemetry")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        sdk_logger.setLevel(level)
