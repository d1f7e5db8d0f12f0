"""`issueops demo`: the whole pipeline on a sandbox scenario, narrated.

It starts the sandbox GitHub on 127.0.0.1, runs monitor, assign and process through the real
PyGithub client, has operators approve by comment with their own tokens, runs again to `done`,
shows that a further run changes nothing, and ends with a report from the telemetry. Write
pacing runs on the sandbox's virtual clock, so the demo takes seconds, not minutes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import requests

from issueops.app import run_stages
from issueops.core.options import Options
from issueops.core.states import State, current_state
from issueops.github.clock import LinkedClock
from issueops.output import human_summary
from issueops.runner import RunSummary
from issueops.sandbox import Sandbox
from issueops.sandbox.scenario import from_scenario
from issueops.sandbox.server import serve
from issueops.sources.base import FetchError, FetchResult

DEMO_SCENARIO = Path(__file__).parent / "sandbox" / "scenarios" / "demo.yml"
FEED_URL = "https://status.example.com/history.atom"
HEALTH_URL = "https://api.example.com/healthz"

_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Acme status</title>
  <id>tag:status.example.com,2026:history</id>
  <updated>2026-11-23T08:40:00Z</updated>
  <entry>
    <id>tag:status.example.com,2026:incident-981</id>
    <title>Elevated error rates on the payments API</title>
    <link href="https://status.example.com/incidents/981"/>
    <updated>2026-11-23T08:40:00Z</updated>
    <summary type="html">Resolved. Root cause under investigation; cc @everyone see #12
      &lt;script&gt;alert(1)&lt;/script&gt;</summary>
  </entry>
  <entry>
    <id>tag:status.example.com,2026:incident-977</id>
    <title>Delayed webhooks for EU customers</title>
    <link href="https://status.example.com/incidents/977"/>
    <updated>2026-11-22T17:05:00Z</updated>
    <summary>Webhooks were delayed up to 40 minutes.</summary>
  </entry>
</feed>
"""


class DemoWeb:
    """Canned answers for the demo's intake sources (no network): a feed, and a health check
    that fails on the first look and has recovered by the next."""

    def __init__(self) -> None:
        self.health_checks = 0

    def __call__(self, url: str, timeout: float) -> FetchResult:
        del timeout
        json_type = {"content-type": "application/json"}
        if url == FEED_URL:
            return FetchResult(200, _FEED.encode(), 35.0, {"content-type": "application/atom+xml"})
        if url == HEALTH_URL:
            self.health_checks += 1
            if self.health_checks == 1:
                return FetchResult(503, b'{"status": "degraded"}', 1200.0, json_type)
            return FetchResult(200, b'{"status": "ok"}', 80.0, json_type)
        raise FetchError(f"{url}: not reachable from the demo")


def _states(sandbox: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in sandbox.issues.values():
        labels = [label if isinstance(label, str) else label.name for label in issue.labels]
        state = current_state(labels)
        key = state.value if state else "unmanaged"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _awaiting(sandbox: Sandbox) -> list[tuple[int, str, str]]:
    """(number, risk, author) of each open item waiting for approval."""
    found = []
    for number, issue in sorted(sandbox.issues.items()):
        labels = [label if isinstance(label, str) else label.name for label in issue.labels]
        if current_state(labels) is State.AWAITING_APPROVAL and issue.state == "open":
            risk = next((x[len("risk::") :] for x in labels if x.startswith("risk::")), "high")
            author = issue.user if isinstance(issue.user, str) else issue.user.login
            found.append((number, risk, author))
    return found


ALL_STAGES = ("commands", "monitor", "assign", "process", "sweep")


def _bot_writes(sandbox: Sandbox) -> int:
    return sum(1 for entry in sandbox.ledger if entry.write and entry.login == "issueops-bot")


def _comment_as(base_url: str, repo: str, token: str, number: int, body: str) -> None:
    reply = requests.post(
        f"{base_url}/repos/{repo}/issues/{number}/comments",
        json={"body": body},
        headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"},
        timeout=10,
    )
    reply.raise_for_status()


def run_demo(opts: Options, *, scenario: Path | None, say: Callable[[str], None]) -> int:
    sandbox = from_scenario(scenario or DEMO_SCENARIO)
    server = serve(sandbox, 0)
    workdir = Path(tempfile.mkdtemp(prefix="issueops-demo-"))
    repo = sandbox.summary().get("repo", "acme/ops")
    env = {**opts.env, "GITHUB_TOKEN": sandbox.token_of("issueops-bot") or "bot-token"}
    env.pop("GITHUB_ACTIONS", None)
    run_opts = replace(
        opts,
        repo=str(repo),
        api_url=server.url,
        telemetry_dir=workdir / "telemetry",
        env=env,
        json_output=False,
    )
    clock = LinkedClock(read=sandbox.clock.now, advance=sandbox.clock.advance)
    cache = workdir / "etags.json"
    web = DemoWeb()

    def stage(title: str, names: tuple[str, ...]) -> RunSummary:
        say(f"\n== {title} ==")
        summary = run_stages(
            run_opts,
            names,
            clock=clock,
            now=sandbox.clock.now(),
            fetch=web,
            cache_path=cache,
        )
        say(human_summary(summary))
        say(f"states now: {_states(sandbox)}")
        return summary

    try:
        say(
            f"Sandbox GitHub for {repo} at {server.url} ({len(sandbox.issues)} issues); "
            f"telemetry in {workdir}"
        )
        stage("1. monitor: intake sources open work items", ("monitor",))
        stage("2. assign: workflow, risk and owner for each triage item", ("assign",))
        stage("3. process: deliverables, PRs, guidance; gates wait for approval", ("process",))
        approvers = ["alice", "gina", "bob"]
        for round_no in (1, 2, 3):
            waiting = _awaiting(sandbox)
            if not waiting:
                break
            say(f"\n== {3 + round_no}. operators approve by comment (round {round_no}) ==")
            for number, risk, author in waiting:
                needed = 2 if risk == "high" else 1
                people = [p for p in approvers if p != author][:needed]
                for login in people:
                    _comment_as(server.url, str(repo), sandbox.token_of(login) or "", number, "/approve")
                say(f"  #{number} ({risk} risk): /approve by {', '.join(people)}")
            stage("   commands, then process", ("commands", "process"))
        stage("7. the scheduled run: every stage, sweep included (SLA reminders)", ALL_STAGES)
        before = _bot_writes(sandbox)
        again = stage("8. the same run again: nothing left to change", ALL_STAGES)
        say(
            f"\nwrite requests sent by the second run: {_bot_writes(sandbox) - before} "
            f"(items changed: {again.items_changed})"
        )
        from issueops.telemetry.report import build_report, render

        say("\n== 9. report from the telemetry ==")
        say(render(build_report(workdir / "telemetry", since=None, until=None, workflow=None), "md"))
    finally:
        server.stop()
    return 0
