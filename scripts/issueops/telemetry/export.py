"""Send each run's telemetry to the monitoring stack people already run, when they ask for it.

- Prometheus Pushgateway: `$ISSUEOPS_PUSHGATEWAY_URL`, else config `telemetry.pushgateway`.
- OpenTelemetry over OTLP/HTTP: the standard `$OTEL_EXPORTER_OTLP_ENDPOINT`.

Attach the exporter to the run's sink when the run starts (it counts and keeps the events as they
are written, already scrubbed of secrets) and call `finish` with the run's figures when it ends.
An endpoint that cannot be reached or refuses never fails the run: one warning on stderr and a
`telemetry.export_failed` event in the JSONL file, per endpoint.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from issueops.telemetry.endpoints import safe_url
from issueops.telemetry.run_metrics import EventTally, Run, RunFigures
from issueops.telemetry.sink import TelemetrySink, scrub

PUSHGATEWAY_ENV = "ISSUEOPS_PUSHGATEWAY_URL"
OTLP_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TIMEOUT_SECONDS = 5.0  # per request; a dead endpoint costs the run at most a few of these


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass
class RunExporter:
    """The run's exporters: none, one or both, chosen by the environment and the config."""

    sink: TelemetrySink
    pushgateway: str | None = None
    otlp_endpoint: str | None = None
    timeout: float = TIMEOUT_SECONDS
    warn: Callable[[str], None] = _stderr
    tally: EventTally = field(default_factory=EventTally)
    failures: list[str] = field(default_factory=list)

    @classmethod
    def attach(
        cls,
        sink: TelemetrySink,
        env: Mapping[str, str],
        *,
        pushgateway: str | None = None,
        warn: Callable[[str], None] = _stderr,
    ) -> RunExporter:
        """An exporter listening to `sink` (from now on), its endpoints read from `env`/config."""
        exporter = cls(
            sink,
            pushgateway=(env.get(PUSHGATEWAY_ENV) or "").strip() or pushgateway or None,
            otlp_endpoint=(env.get(OTLP_ENV) or "").strip() or None,
            warn=warn,
        )
        if exporter.enabled:
            sink.listeners.append(exporter.tally)
        return exporter

    @property
    def enabled(self) -> bool:
        return bool(self.pushgateway or self.otlp_endpoint)

    def finish(self, figures: RunFigures) -> None:
        """Push the run's metrics and send its events; a failure is reported, never raised."""
        if not self.enabled:
            return
        run = Run(figures, self.tally)
        if self.pushgateway:
            self._attempt("pushgateway", self.pushgateway, lambda url: _push(url, run, self.timeout))
        if self.otlp_endpoint:
            self._attempt("otlp", self.otlp_endpoint, lambda url: _otlp(url, run, self.timeout))

    def _attempt(self, target: str, url: str, send: Callable[[str], None]) -> None:
        try:
            send(url)
        except Exception as exc:  # any failure of an optional export: the run goes on
            secrets = self.sink.secrets()
            where, error = scrub(safe_url(url), secrets), scrub(f"{type(exc).__name__}: {exc}", secrets)
            self.failures.append(target)
            self.warn(
                f"could not export telemetry to {target} at {where}: {error}; the run itself is unaffected"
            )
            self.sink.emit("telemetry.export_failed", target=target, endpoint=where, error=error)


# The exporters' libraries are imported only by a run that exports (and a failing import is an
# export failure like any other).
def _push(url: str, run: Run, timeout: float) -> None:
    from issueops.telemetry.pushgateway import push_run

    push_run(url, run, timeout=timeout)


def _otlp(url: str, run: Run, timeout: float) -> None:
    from issueops.telemetry.otlp import export_run

    export_run(url, run, timeout=timeout)
