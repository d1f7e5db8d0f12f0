"""The shipped Prometheus alert rules and Grafana dashboard (docs/observability/) are checked by
Prometheus's own `promtool`: the rules load, each alert fires on its condition in promtool's unit
tests, every dashboard query parses, and every metric they name is one issueops exports.
In CI (CI=true) a missing promtool is a failure, not a skip: `.ci/run` installs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from issueops.telemetry.run_metrics import ITEMS_BY_STATE, METRICS

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "docs" / "observability"
RULES = OBSERVABILITY / "issueops-alerts.yml"
RULE_TESTS = OBSERVABILITY / "issueops-alerts.test.yml"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
TELEMETRY_DOC = ROOT / "docs" / "telemetry.md"
EXPORTED = {m.exposed for m in (*METRICS, ITEMS_BY_STATE)}
METRIC_NAME = re.compile(r"\bissueops_[a-z_]+\b")
ALERTS = {
    "IssueOpsItemFailureRateHigh",
    "IssueOpsBudgetStops",
    "IssueOpsApprovalStale",
    "IssueOpsRunsMissing",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        message = "promtool is missing (Debian: apt-get install prometheus)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must have it: .ci/run installs it when running as root")
        pytest.skip(message)
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [(panel["title"], target["expr"]) for panel in panels for target in panel["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_alert_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above is not vacuous: a rule with a broken expression fails it."""
    broken = tmp_path / "broken.yml"
    rule = {"alert": "Broken", "expr": "sum by (repository (issueops_runs_total)"}
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [rule]}]}), encoding="utf-8")
    done = promtool("check", "rules", str(broken))
    assert done.returncode != 0 and "parse error" in (done.stdout + done.stderr)


def test_each_alert_fires_on_its_condition() -> None:
    assert {rule["alert"] for rule in alert_rules()} >= ALERTS
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text(encoding="utf-8")))
    assert tested == {rule["alert"] for rule in alert_rules()}, "every alert has a promtool unit test"
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """Each query becomes a recording rule (Grafana's variables filled in) that promtool parses."""
    queries = dashboard_queries()
    assert len(queries) >= 10
    rules = [
        {"record": f"issueops:dashboard_query_{n}", "expr": expr.replace("$repository", "acme/ops")}
        for n, (_, expr) in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_and_alerts_name_only_exported_metrics() -> None:
    texts = [expr for _, expr in dashboard_queries()] + [rule["expr"] for rule in alert_rules()]
    named = {name for text in texts for name in METRIC_NAME.findall(text)}
    assert named - EXPORTED == set()
    for metric in ("issueops_items", "issueops_approvals_pending", "issueops_items_failed_total"):
        assert metric in named
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and {v["name"] for v in dashboard["templating"]["list"]} == {
        "datasource",
        "repository",
    }


def test_docs_list_every_metric_with_its_type() -> None:
    text = TELEMETRY_DOC.read_text(encoding="utf-8")
    rows = {
        cells[0].strip("` "): [c.strip() for c in cells[1:]]
        for line in text.splitlines()
        if line.startswith("| `issueops_")
        for cells in [line.strip("|").split("|")]
    }
    for metric in (*METRICS, ITEMS_BY_STATE):
        assert metric.exposed in rows, f"docs/telemetry.md does not list {metric.exposed}"
        assert rows[metric.exposed][0] == metric.kind, metric.exposed
        assert f"`{metric.otel}`" in rows[metric.exposed][2], metric.exposed
