"""What-if end to end: a repository captured over HTTP by `issueops snapshot`, replayed by
`issueops whatif` under the current and a proposed config, reporting exactly the items that end
differently, and sending nothing to the repository it captured."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_world import CONFIG, SCHEMAS, World, world, write_config

from issueops.capture import write_snapshot
from issueops.core.options import Options
from issueops.core.states import current_state
from issueops.sandbox import Sandbox
from issueops.sandbox.scenario import from_scenario, load_scenario
from issueops.sandbox.server import serve
from issueops.whatif import run_whatif

REPO_ROOT = Path(__file__).resolve().parents[2]

BACKLOG: dict[str, Any] = {
    "repo": "acme/ops",
    "clock": "2025-01-06T09:00:00Z",
    "users": [
        {"login": "issueops-bot", "token": "bot-token", "permission": "write", "type": "Bot"},
        {"login": "alice", "token": "alice-token", "permission": "admin"},
        {"login": "bob", "token": "bob-token", "permission": "maintain"},
        {"login": "carol", "token": "carol-token", "permission": "write"},
        {"login": "dave", "token": "dave-token", "permission": "write"},
        {"login": "erin", "token": "erin-token", "permission": "triage"},
    ],
    "teams": [{"slug": "ops-approvers", "members": ["bob"]}],
    "issues": [
        {
            "title": "Docs: fix typo in the on-call handbook",
            "user": "erin",
            "labels": ["state::triage", "docs"],
        },
        {
            "title": "Incident: checkout API returning 503s",
            "user": "erin",
            "labels": ["state::triage", "incident"],
            "body": "Root cause unknown.",
        },
        {
            "title": "Rotate the deploy keys of the billing service",
            "user": "erin",
            "labels": ["state::triage"],
        },
        {"title": "Docs: proofread the release notes", "user": "erin", "labels": ["state::triage", "docs"]},
    ],
}


def _served(sandbox: Sandbox) -> Any:
    return serve(sandbox, 0)


def _captured(tmp: Path, sandbox: Sandbox, config: Path = CONFIG) -> Path:
    """Snapshot the sandbox over HTTP, as the CLI does against GitHub."""
    running = _served(sandbox)
    try:
        out = tmp / "scenario.yml"
        opts = Options(
            repo="acme/ops",
            api_url=running.url,
            config_path=config,
            schemas_dir=SCHEMAS,
            telemetry_dir=tmp / "snapshot-telemetry",
            env={"GITHUB_TOKEN": "bot-token"},
        )
        write_snapshot(opts, out)
        return out
    finally:
        running.stop()


@pytest.fixture(scope="module")
def backlog(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """The backlog after one assisted run: items assigned, deliverables in progress, one at a gate."""
    tmp = tmp_path_factory.mktemp("whatif")
    w = world(from_scenario(copy.deepcopy(BACKLOG)), tmp / "world")
    summary = w.run(("assign", "process"))
    assert summary.items_failed == 0, summary.failures
    return w, _captured(tmp, w.sandbox)


@pytest.fixture(scope="module")
def assigned(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """The backlog after `assign` only: nothing processed yet. (Since issue #16 one run takes an
    item as far as the policy allows, so after a full run every low-risk item already waits at
    the publishing gate, where a laxer profile no longer changes its course.)"""
    tmp = tmp_path_factory.mktemp("whatif-assigned")
    w = world(from_scenario(copy.deepcopy(BACKLOG)), tmp / "world")
    summary = w.run(("assign",))
    assert summary.items_failed == 0, summary.failures
    return w, _captured(tmp, w.sandbox)


def _whatif(
    tmp: Path, scenario: Path, *, config: Path = CONFIG, schemas: Path | None = None, hours: int = 3
) -> Any:
    opts = Options(repo="acme/ops", config_path=CONFIG, schemas_dir=SCHEMAS, telemetry_dir=tmp / "t", env={})
    return run_whatif(
        opts,
        load_scenario(scenario),
        proposed_config=config,
        proposed_schemas=schemas,
        hours=hours,
        workdir=tmp,
    )


def _schemas_with(tmp: Path, name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    target = tmp / "schemas"
    subprocess.run(["cp", "-r", str(SCHEMAS), str(target)], check=True)
    path = target / f"{name}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def _items_where(sandbox: Sandbox, test: Callable[[Any], bool]) -> set[int]:
    return {n for n, issue in sandbox.issues.items() if issue.pull is None and test(issue)}


def test_the_snapshot_keeps_numbers_labels_history_and_permissions(backlog: tuple[World, Path]) -> None:
    w, path = backlog
    data = load_scenario(path)
    text = path.read_text(encoding="utf-8")
    assert not [u for u in load_scenario(path)["users"] if "token" in u], "no user carries a token"
    assert not [u["token"] for u in BACKLOG["users"] if u["token"] in text], "no token value is kept"
    issues = {spec["number"]: spec for spec in data["issues"]}
    for number, issue in w.sandbox.issues.items():
        if issue.pull is not None:
            continue
        assert sorted(issues[number]["labels"]) == sorted(issue.labels)
        actors = {e["actor"] for e in issues[number]["events"]}
        assert "issueops-bot" in actors and "erin" in actors  # who applied each label is kept
    users = {u["login"]: u.get("permission") for u in data["users"]}
    assert users["erin"] == "triage" and users["carol"] == "write"
    pulls = [p for p in data["pulls"] if p["head"].startswith("issueops/")]
    assert {p["number"] for p in pulls} == {n for n, i in w.sandbox.issues.items() if i.pull is not None}


def test_a_rebuilt_snapshot_captures_the_same_scenario(backlog: tuple[World, Path], tmp_path: Path) -> None:
    _, path = backlog
    first = load_scenario(path)
    rebuilt = from_scenario(first)
    rebuilt.add_user("issueops-bot", token="bot-token", permission="write", type="Bot")  # never captured
    again = load_scenario(_captured(tmp_path, rebuilt))
    for key in ("issues", "pulls", "labels", "branches", "teams", "bot", "default_branch"):
        assert again[key] == first[key], key
    assert sorted(again["users"], key=lambda u: u["login"]) == sorted(
        first["users"], key=lambda u: u["login"]
    )


def test_the_same_config_ends_the_same_and_nothing_reaches_the_captured_repository(
    backlog: tuple[World, Path], tmp_path: Path
) -> None:
    w, path = backlog
    before = len(w.sandbox.ledger)
    result = _whatif(tmp_path, path)
    assert result.differing == []
    assert result.baseline.requests == result.proposed.requests > 0
    assert len(w.sandbox.ledger) == before


@pytest.mark.parametrize(
    "case",
    ["policy profile autonomous", "a match rule routes the unmatched item", "a shorter SLA reminds sooner"],
)
def test_a_proposal_reports_exactly_the_items_it_changes(
    case: str, backlog: tuple[World, Path], assigned: tuple[World, Path], tmp_path: Path
) -> None:
    w, path = assigned if case == "policy profile autonomous" else backlog
    sandbox = w.sandbox
    config, schemas, hours = CONFIG, None, 3
    if case == "policy profile autonomous":
        # assisted stops low risk at the publishing gate; autonomous publishes it: those items only
        config = write_config(tmp_path / "proposed", profile="autonomous")
        expected = _items_where(sandbox, lambda i: "risk::low" in i.labels)
        changed = {"state"}
    elif case == "a match rule routes the unmatched item":
        schemas = _schemas_with(
            tmp_path,
            "access-request",
            lambda d: d["match"].update(
                title_patterns=[*d["match"]["title_patterns"], "(?i)deploy keys"], min_score=2
            ),
        )
        expected = _items_where(sandbox, lambda i: "deploy keys" in i.title)
        changed = {"workflow", "risk", "owner"}
    else:
        schemas = _schemas_with(tmp_path, "content-review", lambda d: d["sla"].update(reminder_hours=1))
        expected = _items_where(sandbox, lambda i: "workflow::content-review" in i.labels)
        # Since issue #16 the backlog's review items already wait at the publishing gate after
        # one run: the sooner SLA notice there is a reminder or an escalation, a comment either way.
        changed = {"comments"}
        hours = 4
    assert expected, "the backlog must hold an item this case changes"
    result = _whatif(tmp_path, path, config=config, schemas=schemas, hours=hours)
    differing = {number: set(diff) for number, diff in result.differing}
    assert set(differing) == expected, result.differing
    for fields in differing.values():
        assert changed <= fields, fields
        if case == "a shorter SLA reminds sooner":
            assert fields & {"reminders", "escalations"}, fields


def test_the_cli_writes_markdown_and_json_and_the_workflow_runs_it_read_only(
    assigned: tuple[World, Path], tmp_path: Path
) -> None:
    _, path = assigned
    proposed = write_config(tmp_path / "proposed", profile="autonomous")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    base = [sys.executable, "-m", "issueops", "--config", str(CONFIG), "--schemas", str(SCHEMAS)]
    args = ["whatif", "--scenario", str(path), "--proposed-config", str(proposed), "--hours", "2"]
    shown = subprocess.run([*base, *args], capture_output=True, text=True, env=env, check=True)
    assert (
        "item(s) end differently" in shown.stdout and "| item | what | current | proposed |" in shown.stdout
    )
    as_json = subprocess.run([*base, "--json", *args], capture_output=True, text=True, env=env, check=True)
    document = json.loads(as_json.stdout)
    assert document["items"] and all(entry["differences"] for entry in document["items"])
    assert {"requests", "requests_counted", "writes", "states"} <= set(document["baseline"])
    workflow = yaml.safe_load(
        (REPO_ROOT / ".github/workflows/issueops-whatif.yml").read_text(encoding="utf-8")
    )
    job = next(iter(workflow["jobs"].values()))
    assert set(job["permissions"].values()) == {"read"}


def test_the_demo_round_trips(tmp_path: Path) -> None:
    """The demo's final state, snapshotted and replayed with its own config, ends where it is."""
    from test_e2e_pipeline import _approve_waiting, demo_world

    w = demo_world(tmp_path / "demo")
    w.run()
    for _ in range(3):
        if not _approve_waiting(w):
            break
        w.run()
    w.run()  # as the demo ends: a scheduled run, then one that finds nothing left to change
    assert w.run().items_changed == 0
    final = {
        n: (current_state(i.labels), i.state)
        for n, i in w.sandbox.issues.items()
        if i.pull is None and i.labels
    }
    path = _captured(tmp_path, w.sandbox)
    result = _whatif(tmp_path / "replay", path, hours=1)
    assert result.differing == []
    for number, outcome in result.baseline.outcomes.items():
        state, open_or_closed = final[number]
        assert state is not None and outcome.state.split(" ")[0] == state.value.removeprefix("state::")
        assert outcome.state.endswith("(closed)") == (open_or_closed == "closed")
