"""Push one run's metrics to a Prometheus Pushgateway, the batch-job way.

Job `issueops`, grouped by repository and command: each push replaces its group, so the last run of
each command is what Prometheus scrapes. Counters stay counters across runs: before pushing, the
group's current values are read from the gateway and the run's figures added to them (a gateway
restarted without persistence starts them again from zero, which Prometheus reads as a counter
reset). `issueops_last_success_timestamp_seconds` is carried over by a failed run, so "no
successful run for N hours" can be alerted on.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from issueops.telemetry.endpoints import http_url
from issueops.telemetry.run_metrics import GROUPING, ITEMS_BY_STATE, JOB, METRICS, STATE_LABEL, Run

CARRIED = ("issueops_last_success_timestamp_seconds",)  # gauges a run keeps when it has no value


def grouping_key(run: Run) -> dict[str, str]:
    return dict(zip(GROUPING, (run.figures.repo, run.figures.command), strict=True))


def push_run(url: str, run: Run, *, timeout: float) -> None:
    """Read the group's counters, add this run, push the group (PUT). Raises on any failure."""
    base = http_url(url, what="Pushgateway")
    group = grouping_key(run)
    previous = read_group(base, group, timeout=timeout)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(run, previous))
    push_to_gateway(base, job=JOB, registry=registry, grouping_key=group, timeout=timeout)


def read_group(base: str, group: Mapping[str, str], *, timeout: float) -> dict[str, float]:
    """The unlabelled samples of this job and group that the gateway holds now, by sample name."""
    # `base` passed http_url: http or https only.
    request = urllib.request.Request(f"{base.rstrip('/')}/metrics", headers={"Accept": "text/plain"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
        text = reply.read().decode("utf-8")
    wanted = {"job": JOB, **group}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("issueops_"):
            continue
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "instance"}
            if labels == wanted:
                found[sample.name] = sample.value
    return found


class _RunCollector(Collector):
    def __init__(self, run: Run, previous: Mapping[str, float]) -> None:
        self.run = run
        self.previous = previous

    def collect(self) -> Iterator[Metric]:
        for metric in METRICS:
            value = metric.value(self.run)
            if metric.kind == "counter":
                before = self.previous.get(metric.exposed, 0.0)
                yield CounterMetricFamily(metric.prom, metric.help, value=before + float(value or 0))
                continue
            if value is None and metric.prom in CARRIED:
                value = self.previous.get(metric.prom)
            if value is not None:
                yield GaugeMetricFamily(metric.prom, metric.help, value=float(value))
        states = self.run.figures.items_by_state
        if states is not None:
            family = GaugeMetricFamily(ITEMS_BY_STATE.prom, ITEMS_BY_STATE.help, labels=[STATE_LABEL])
            for state, count in sorted(states.items()):
                family.add_metric([state], float(count))
            yield family
