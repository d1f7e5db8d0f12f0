"""Content-creating writes per item, and runs of `issueops run` to `done` (issue #16).

GitHub allows about 500 content-creating requests an hour (its secondary limit), so what an item
costs in them caps the intake. Every figure comes from the sandbox's ledger: a request counts as
content-creating when the route it was served by is marked `creates` (sandbox/routing.py) and it
succeeded. They are split by what they made: comments, assignment, git objects (blobs, trees,
commits, refs, files written through the Contents API), the pull request, and the rest (the
merge, reactions to people's commands).

For each policy profile (`assisted`, shipped; `autonomous`) and each risk (one workflow of
workflow_schemas/ per risk), a fresh sandbox with ITEMS triage items of that workflow is driven
the way a repository runs: `issueops run` (all stages), and as soon as an item waits in
`state::awaiting-approval` its approvers comment `/approve`, each comment followed by the
`commands --event` run it triggers. Printed per item: the writes from intake until the item
waits at its last gate (before publishing; "-" where the profile has none), the writes to
`done`, and how many `run`s and event runs it took. Run with
`.venv/bin/python tests/bench/bench_writes.py` (`BENCH_WRITES_ITEMS=3` for a quick look).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from bench_pipeline import LIMITS, REPO, ROOT, quiet_web

from issueops.app import run_stages
from issueops.core.options import Options
from issueops.github.clock import LinkedClock
from issueops.sandbox.inprocess import activate
from issueops.sandbox.ledger import LedgerEntry
from issueops.sandbox.sandbox import Sandbox

ITEMS = int(os.environ.get("BENCH_WRITES_ITEMS", "12"))
MAX_RUNS = 8
ALL_STAGES = ("commands", "monitor", "assign", "process", "sweep")
BOT = "bot-token"
APPROVERS = ("alice", "gina")  # alice is listed in approvers.users, gina is in ops-approvers
KINDS = {  # risk -> (title, body, labels) of an item of the workflow with that risk
    "low": (
        "Review: blog post draft number {n}",
        "Please proofread https://example.com/blog/d-{n}.md",
        ("content",),
    ),
    "medium": (
        "Access request: grant deploy permission to svc-{n}",
        "### Request type\n\ngrant\n\n### Justification\n\nNeeded for the release train.",
        ("access-request",),
    ),
    "high": (
        "Incident: checkout API returning 503s (cluster {n})",
        "Alerts fired.\n\n### Severity\n\nsev2\n\nRoot cause: a bad config push.",
        ("incident",),
    ),
}
CATEGORIES = ("comments", "assignment", "git objects", "PR", "other")


def category(entry: LedgerEntry) -> str:
    path = urlsplit(entry.path).path
    if entry.method == "POST" and path.endswith("/comments"):
        return "comments"
    if path.endswith("/assignees"):
        return "assignment"
    if "/git/" in path or "/contents/" in path:
        return "git objects"
    if entry.method == "POST" and path.endswith("/pulls"):
        return "PR"
    return "other"


def creating(sandbox: Sandbox, entries: list[LedgerEntry]) -> Counter[str]:
    found: Counter[str] = Counter()
    for entry in entries:
        matched = sandbox.router.match(entry.method, urlsplit(entry.path).path)
        ours = entry.login == "issueops-bot" and entry.status < 400
        if ours and matched is not None and matched[0].creates:
            found[category(entry)] += 1
    return found


def build(risk: str) -> Sandbox:
    sandbox = Sandbox(REPO, limits=LIMITS)
    sandbox.add_user("issueops-bot", token=BOT, permission="write", type="Bot")
    for login, permission in (("alice", "admin"), ("bob", "maintain"), ("carol", "write")):
        sandbox.add_user(login, token=f"{login}-token", permission=permission)
    sandbox.add_user("dave", token="dave-token", permission="triage")
    sandbox.add_user("gina", token="gina-token")
    sandbox.add_team("ops-approvers", ["alice", "gina"], permission="write")
    sandbox.add_team("ops-leads", ["bob"], maintainers=["alice"])
    title, body, labels = KINDS[risk]
    for n in range(ITEMS):
        sandbox.add_issue(title.format(n=n), body.format(n=n), "carol", labels=("state::triage", *labels))
    return sandbox


@dataclass
class Trip:
    """One profile x risk: the writes to the last gate and to done, and the runs it took."""

    profile: str
    risk: str
    to_first: Counter[str] | None = None  # to the first wait in awaiting-approval
    to_gate: Counter[str] | None = None  # to the wait before publishing
    to_done: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    event_runs: int = 0
    done: int = 0
    event_requests: int = 0
    counted: int = 0  # every counted request of the bot's, intake to done (the primary limit)


class Driver:
    def __init__(self, sandbox: Sandbox, workdir: Path, profile: str):
        self.sandbox = sandbox
        self.workdir = workdir
        data = yaml.safe_load((ROOT / ".github" / "issueops.yml").read_text(encoding="utf-8"))
        data["policy"]["profile"] = profile
        data["sources"] = []
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "issueops.yml"
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        self.required = data["policy"]["required_approvals"]
        self.clock = LinkedClock(read=sandbox.clock.now, advance=sandbox.clock.advance)
        self.opts = Options(
            repo=REPO,
            api_url=sandbox.base_url,
            config_path=config,
            schemas_dir=ROOT / "workflow_schemas",
            telemetry_dir=workdir / "telemetry",
            max_requests=10_000_000,
            env={"GITHUB_TOKEN": BOT},
        )
        self.approved: set[tuple[int, bool]] = set()  # (item, had a PR) already approved
        self.event_requests = 0  # the most requests one commands run made

    def run(self, event_item: int | None = None) -> None:
        with activate(self.sandbox):
            summary = run_stages(
                self.opts,
                ["commands"] if event_item is not None else ALL_STAGES,
                event_item=event_item,
                clock=self.clock,
                now=self.sandbox.clock.now(),
                fetch=quiet_web,
                cache_path=self.workdir / "etags.json",
            )
        self.sandbox.clock.advance(60)
        if event_item is not None:
            self.event_requests = max(self.event_requests, summary.requests_made)

    def state(self, number: int) -> str:
        issue = self.sandbox.issues[number]
        names = [x if isinstance(x, str) else x.name for x in issue.labels]
        return next((x[len("state::") :] for x in names if x.startswith("state::")), "")

    def items(self) -> list[int]:
        return [n for n, issue in sorted(self.sandbox.issues.items()) if issue.pull is None]

    def waiting(self) -> list[int]:
        return [
            n
            for n in self.items()
            if self.state(n) == "awaiting-approval" and (n, self._has_pr(n)) not in self.approved
        ]

    def _has_pr(self, number: int) -> bool:
        return any(i.pull is not None and f"#{number})" in i.title for i in self.sandbox.issues.values())

    def approve(self, number: int, risk: str) -> int:
        """Each approver needed comments `/approve`; each comment triggers its commands run."""
        self.approved.add((number, self._has_pr(number)))
        for login in APPROVERS[: self.required[risk]]:
            token = self.sandbox.token_of(login) or ""
            reply = Sandbox.handle(
                self.sandbox,
                "POST",
                f"/repos/{REPO}/issues/{number}/comments",
                {"Authorization": f"token {token}", "Content-Type": "application/json"},
                json.dumps({"body": "/approve"}).encode(),
            )
            assert reply.status == 201, reply.body[:200]
            self.run(event_item=number)
        return self.required[risk]


def trip(profile: str, risk: str, workdir: Path) -> Trip:
    sandbox = build(risk)
    driver = Driver(sandbox, workdir, profile)
    result = Trip(profile, risk)
    start = len(sandbox.ledger)
    while result.runs < MAX_RUNS:
        driver.run()
        result.runs += 1
        while waiting := driver.waiting():
            if result.to_first is None:
                result.to_first = creating(sandbox, sandbox.ledger[start:])
            if result.to_gate is None and all(driver._has_pr(n) for n in waiting):
                result.to_gate = creating(sandbox, sandbox.ledger[start:])
            for number in waiting:
                result.event_runs += driver.approve(number, risk)
        if all(driver.state(n) == "done" for n in driver.items()):
            break
    result.event_requests = driver.event_requests
    result.done = sum(1 for n in driver.items() if driver.state(n) == "done")
    result.to_done = creating(sandbox, sandbox.ledger[start:])
    result.counted = sum(1 for e in sandbox.ledger[start:] if e.counted and e.login == "issueops-bot")
    return result


def per_item(counts: Counter[str] | None) -> list[str]:
    if counts is None:
        return ["-"] * (len(CATEGORIES) + 1)
    cells = [f"{counts[c] / ITEMS:.2f}" for c in CATEGORIES]
    return [*cells, f"**{sum(counts.values()) / ITEMS:.2f}**"]


def main() -> None:
    trips = []
    with tempfile.TemporaryDirectory() as tmp:
        for profile in ("assisted", "autonomous"):
            for risk in ("low", "medium", "high"):
                trips.append(trip(profile, risk, Path(tmp) / f"{profile}-{risk}"))
    heads = " | ".join(CATEGORIES)
    print(f"Content-creating writes per item ({ITEMS} items each), to the first `state::awaiting-approval`:")
    print(f"| profile | risk | {heads} | total |")
    print("| --- | --- |" + " ---: |" * (len(CATEGORIES) + 1))
    for t in trips:
        print(f"| `{t.profile}` | {t.risk} | " + " | ".join(per_item(t.to_first)) + " |")
    print("\nContent-creating writes per item to the wait before publishing (its deliverable's PR open):")
    print(f"| profile | risk | {heads} | total |")
    print("| --- | --- |" + " ---: |" * (len(CATEGORIES) + 1))
    for t in trips:
        print(f"| `{t.profile}` | {t.risk} | " + " | ".join(per_item(t.to_gate)) + " |")
    print("\nContent-creating writes per item to `state::done` (approvals' reactions under other):")
    print(f"| profile | risk | {heads} | total |")
    print("| --- | --- |" + " ---: |" * (len(CATEGORIES) + 1))
    for t in trips:
        print(f"| `{t.profile}` | {t.risk} | " + " | ".join(per_item(t.to_done)) + " |")
    print("\nRuns to `state::done`, approvals posted as soon as an item waits:")
    print(
        "| profile | risk | `issueops run` | commands runs per item | most requests of one "
        "| counted requests per item | items done |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for t in trips:
        each, counted = f"{t.event_runs / ITEMS:g}", f"{t.counted / ITEMS:.2f}"
        row = f"{t.runs} | {each} | {t.event_requests} | {counted} | {t.done}/{ITEMS}"
        print(f"| `{t.profile}` | {t.risk} | {row} |")


if __name__ == "__main__":
    main()
