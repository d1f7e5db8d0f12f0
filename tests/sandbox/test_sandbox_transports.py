"""Transports (in-process through `responses`, HTTP on 127.0.0.1, the CLI) and injected faults."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sandbox_workout import workout
from sandbox_world import TOKENS, build_world

import github
from github import Auth, GithubRetry
from issueops.sandbox import Sandbox
from issueops.sandbox.inprocess import activate
from issueops.sandbox.server import RunningServer, serve

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts/issueops/sandbox/scenarios/demo.yml"
BOT = {"Authorization": f"token {TOKENS['bot']}"}


@pytest.fixture
def server() -> Iterator[tuple[Sandbox, RunningServer]]:
    sb = build_world()
    running = serve(sb)
    try:
        yield sb, running
    finally:
        running.stop()


def test_full_workout_over_http(server: tuple[Sandbox, RunningServer]) -> None:
    sb, running = server
    assert sb.base_url == running.url
    with requests.Session() as session:
        replies = workout(session, running.url)
    assert (
        replies["issues_page"]
        .headers["Link"]
        .startswith(f"<{running.url}/repositories/{sb.state.repo.id}/issues?")
    )
    assert replies["issue"].json()["url"] == f"{running.url}/repos/acme/ops/issues/1"
    assert replies["issue"].json()["html_url"] == f"{running.url}/acme/ops/issues/1"


def test_pygithub_over_http(server: tuple[Sandbox, RunningServer]) -> None:
    sb, running = server
    gh = github.Github(
        auth=Auth.Token(TOKENS["bot"]),
        base_url=running.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    repo = gh.get_repo("acme/ops")
    assert [i.number for i in repo.get_issues(state="all")][:2] == [6, 5]
    repo.get_issue(2).create_comment("over a socket")
    assert sb.ledger[-1].status == 201


def test_control_endpoints_over_http(server: tuple[Sandbox, RunningServer]) -> None:
    sb, running = server
    fault = {"status": 502, "route": r"/issues/\d+/comments$", "method": "POST", "apply": True}
    assert requests.post(f"{running.url}/_sandbox/faults", json=fault, timeout=5).status_code == 201
    reply = requests.post(
        f"{running.url}/repos/acme/ops/issues/1/comments",
        json={"body": "lost answer"},
        headers=BOT,
        timeout=5,
    )
    assert reply.status_code == 502
    assert sb.comments[sb.issues[1].comment_ids[-1]].body == "lost answer"
    ledger = requests.get(f"{running.url}/_sandbox/ledger", timeout=5).json()
    assert ledger["entries"][-1]["status"] == 502
    assert ledger["entries"][-1]["fault"] is True
    assert requests.post(
        f"{running.url}/_sandbox/clock", json={"advance_seconds": 3600}, timeout=5
    ).json() == {"now": "2025-01-06T10:00:00Z"}
    assert requests.get(f"{running.url}/_sandbox/state", timeout=5).json()["repo"] == "acme/ops"
    assert requests.post(f"{running.url}/_sandbox/faults", json={"bogus": 1}, timeout=5).status_code == 422


def test_timeout_fault_over_http_drops_the_connection(server: tuple[Sandbox, RunningServer]) -> None:
    sb, running = server
    sb.faults.add(timeout="read", route="/issues/1$")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{running.url}/repos/acme/ops/issues/1", headers=BOT, timeout=5)
    assert requests.get(f"{running.url}/repos/acme/ops/issues/1", headers=BOT, timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("kind", "error"),
    [("read", requests.exceptions.ReadTimeout), ("connect", requests.exceptions.ConnectTimeout)],
    ids=["read-timeout", "connect-timeout"],
)
def test_timeout_fault_in_process(kind: str, error: type[Exception]) -> None:
    sb = build_world()
    sb.faults.add(timeout=kind, method="GET")
    with activate(sb), pytest.raises(error):
        requests.get(f"{sb.base_url}/repos/acme/ops/issues", headers=BOT, timeout=5)


def test_fault_on_the_nth_matching_request_for_count_times() -> None:
    sb = build_world()
    sb.faults.add(status=503, route="/issues$", nth=2, times=2, retry_after=7)
    statuses = [sb.handle("GET", "/repos/acme/ops/issues", BOT, None) for _ in range(5)]
    assert [r.status for r in statuses] == [200, 503, 503, 200, 200]
    assert statuses[1].headers["retry-after"] == "7"
    assert [e.counted for e in sb.ledger] == [True, False, False, True, True]


def test_probability_faults_are_reproducible_with_a_seed() -> None:
    def run() -> list[int]:
        sb = build_world()
        sb.faults.add(status=500, probability=0.5, seed=42, times=None)
        return [sb.handle("GET", "/repos/acme/ops/issues/1", BOT, None).status for _ in range(20)]

    first = run()
    assert first == run()
    assert 0 < first.count(500) < 20


def test_applied_502_on_a_comment_post_duplicates_it_under_pygithub_retries() -> None:
    """The hazard the pipeline must handle: PyGithub retries POST, so an applied 502 duplicates."""
    sb = build_world()
    sb.faults.add(status=502, route=r"/issues/1/comments$", method="POST", apply=True)
    retry = GithubRetry(total=3, backoff_factor=0)
    with activate(sb):
        gh = github.Github(
            auth=Auth.Token(TOKENS["bot"]),
            base_url=sb.base_url,
            retry=retry,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        gh.get_repo("acme/ops").get_issue(1).create_comment("status")
    bodies = [sb.comments[c].body for c in sb.issues[1].comment_ids]
    assert bodies.count("status") == 2


def test_inprocess_passes_other_urls_and_accepts_extra_routes() -> None:
    sb = build_world()
    with activate(sb, base_url="https://api.sandbox.example") as mock:
        mock.get("https://status.example.com/feed", body="<feed/>")
        assert requests.get("https://status.example.com/feed", timeout=5).text == "<feed/>"
        reply = requests.get("https://api.sandbox.example:443/repos/acme/ops", headers=BOT, timeout=5)
        assert reply.json()["url"] == "https://api.sandbox.example/repos/acme/ops"


def test_cli_serve_reports_scenario_errors_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("repo: acme/ops\nusers:\n  - {login: x, permission: owner}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "issueops", "sandbox", "serve", "--scenario", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert f"{bad}:3:" in done.stderr + done.stdout


@pytest.mark.parametrize(
    "spec",
    [
        {"bogus": 1},
        {"nth": "2"},
        {"status": 1000},
        {"timeout": "slow"},
        {"timeout": "connect", "apply": True},
    ],
    ids=["unknown-field", "nth-as-text", "status-out-of-range", "unknown-timeout", "connect-timeout-applied"],
)
def test_bad_fault_specs_are_422_with_a_reason(spec: dict[str, object]) -> None:
    sb = build_world()
    reply = sb.handle("POST", "/_sandbox/faults", {}, json.dumps(spec).encode())
    assert reply.status == 422
    assert reply.json()["message"]
    assert len(sb.faults) == 0
