"""API cost of reading and writing 1,000 managed items: ours vs naive PyGithub, from the sandbox ledger.

Every figure is counted by the sandbox (what the server saw), not by the code under test; time
for the write part is the sandbox's virtual clock, which only the governor's waits move.

Data: 1,000 open managed issues (state/workflow/risk labels), each with one comment; 940 of the
comments are a month old, 60 were written in the last hour (after the previous run's cursor).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from github import Auth, Github
from issueops.github.adapter import PyGithubAdapter
from issueops.github.cache import EtagCache
from issueops.github.clock import LinkedClock
from issueops.github.governor import Governor, GovernorSettings
from issueops.sandbox.inprocess import activate
from issueops.sandbox.sandbox import Sandbox

ITEMS = 1000
RECENT_COMMENTS = 60
WRITES = 200
BOT, NAIVE = "bot-token", "naive-token"
T = TypeVar("T")


def build() -> Sandbox:
    sandbox = Sandbox("acme/ops")
    sandbox.add_user("issueops-bot", token=BOT, permission="write", type="Bot")
    sandbox.add_user("naive-bot", token=NAIVE, permission="write", type="Bot")
    sandbox.add_user("alice", token="alice-token", permission="admin")
    now = sandbox.clock.now()
    month_ago = now - timedelta(days=30)
    for n in range(1, ITEMS + 1):
        sandbox.add_issue(
            f"Item {n}",
            f"Body of item {n}\n<!-- issueops:source:bench:{n} -->",
            "alice",
            labels=["state::assigned", "workflow::triage", "risk::low"],
            created_at=month_ago + timedelta(minutes=n),
        )
    recent = set(range(1, ITEMS + 1, ITEMS // RECENT_COMMENTS))
    recent = set(sorted(recent)[:RECENT_COMMENTS])
    for n in range(1, ITEMS + 1):
        at = now - timedelta(minutes=30) if n in recent else month_ago + timedelta(minutes=n, seconds=30)
        sandbox.add_comment(n, "alice", f"a comment on {n}", created_at=at, updated_at=at)
    return sandbox


@dataclass
class Cost:
    made: int
    counted: int
    not_modified: int
    wall: float


def measure(sandbox: Sandbox, work: Callable[[], T]) -> tuple[T, Cost]:
    start = len(sandbox.ledger)
    began = time.perf_counter()
    result = work()
    wall = time.perf_counter() - began
    served = sandbox.ledger[start:]
    return result, Cost(
        made=len(served),
        counted=sum(1 for e in served if e.counted),
        not_modified=sum(1 for e in served if e.status == 304),
        wall=wall,
    )


def governor(sandbox: Sandbox, **settings: object) -> Governor:
    return Governor(
        GovernorSettings(**settings),  # type: ignore[arg-type]
        clock=LinkedClock(sandbox.clock.now, sandbox.clock.advance),
        cache=EtagCache(None),
    )


def row(label: str, cost: Cost, extra: str = "") -> None:
    print(
        f"  {label:<46} made {cost.made:>5}  counted {cost.counted:>5}  304 {cost.not_modified:>4}"
        f"  wall {cost.wall:6.2f} s  {extra}"
    )


def reads(sandbox: Sandbox) -> tuple[Cost, Cost]:
    """Each listing twice with one adapter (cold cache, then warm), as two consecutive runs would."""
    cursor = sandbox.clock.now() - timedelta(hours=2)  # the previous run's start

    def adapter() -> PyGithubAdapter:
        return PyGithubAdapter("acme/ops", api_url=sandbox.base_url, token=BOT, governor=governor(sandbox))

    def full(port: PyGithubAdapter) -> int:
        items = port.list_items()
        oldest = min(i.created_at for i in items if i.created_at is not None)
        return len(items) + len(port.list_comments(since=oldest))  # as snapshot.read_snapshot does

    def incremental(port: PyGithubAdapter) -> int:
        return len(port.list_items()) + len(port.list_comments(since=cursor))

    print(f"Reads: {ITEMS} open managed items, {ITEMS} comments ({RECENT_COMMENTS} since the last run)")
    colds: list[Cost] = []
    for label, read in (("all comments", full), ("comments since cursor", incremental)):
        port = adapter()
        seen, cold = measure(sandbox, lambda: read(port))  # noqa: B023 (called at once)
        row(f"ours, cold: issues + {label}", cold, f"({seen} objects)")
        _, warm = measure(sandbox, lambda: read(port))  # noqa: B023
        row("ours, again, nothing changed", warm)
        colds.append(cold)
    return colds[0], colds[1]


def naive(sandbox: Sandbox) -> Cost:
    # Plain PyGithub as a naive script would use it: defaults (per_page=30, GithubRetry), except
    # its sleeping throttle (0.25 s a request), switched off so the benchmark does not sleep for
    # real; that changes no request count.
    client = Github(
        auth=Auth.Token(NAIVE),
        base_url=sandbox.base_url,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )

    def work() -> int:
        repo = client.get_repo("acme/ops")
        total = 0
        for listed in repo.get_issues(state="open"):
            issue = repo.get_issue(listed.number)
            total += sum(1 for _ in issue.get_comments())
        return total

    _, cost = measure(sandbox, work)
    return cost


def writes(per_minute: int) -> tuple[Cost, float, int]:
    sandbox = build_small()
    with activate(sandbox):
        gov = governor(sandbox, writes_per_minute=per_minute)
        port = PyGithubAdapter("acme/ops", api_url=sandbox.base_url, token=BOT, governor=gov)
        start = sandbox.clock.now()

        def work() -> None:
            for n in range(1, WRITES + 1):
                port.create_comment(n, f"<!-- issueops:status -->\nstatus of {n}")

        _, cost = measure(sandbox, work)
        elapsed = (sandbox.clock.now() - start).total_seconds()
        limited = sum(1 for e in sandbox.ledger if e.status in (403, 429))
    return cost, elapsed, limited


def build_small() -> Sandbox:
    sandbox = Sandbox("acme/ops")
    sandbox.add_user("issueops-bot", token=BOT, permission="write", type="Bot")
    sandbox.add_user("alice", token="alice-token", permission="admin")
    for n in range(1, WRITES + 1):
        sandbox.add_issue(f"Item {n}", "body", "alice", labels=["state::assigned"])
    return sandbox


def main() -> None:
    began = time.perf_counter()
    sandbox = build()
    print(f"(sandbox with {ITEMS} items built in {time.perf_counter() - began:.2f} s)")
    with activate(sandbox):
        cold_full, cold_inc = reads(sandbox)
        cost = naive(sandbox)
    row("naive PyGithub: list + per-item get + comments", cost)
    print(
        f"  naive / ours: {cost.counted / cold_full.counted:.0f}x (all comments), "
        f"{cost.counted / cold_inc.counted:.0f}x (since cursor); unchanged re-read: "
        f"{cost.counted} counted naive vs 0 ours"
    )
    floor = float(WRITES - 1)  # one write a second: the first at t=0, the last at t=WRITES-1
    print(f"\nWrites: {WRITES} comments, virtual clock; 1-write-a-second floor {floor:.0f} s")
    for per_minute, label in ((60, "default config (60/min, 1 s gap)"), (30, "writes_per_minute: 30")):
        cost, elapsed, limited = writes(per_minute)
        window_floor = max(floor, ((WRITES - 1) // per_minute) * 60.0 + (WRITES - 1) % per_minute)
        print(
            f"  {label:<34} elapsed {elapsed:6.0f} s = {elapsed / floor:.2f}x the 1/s floor "
            f"({(elapsed / window_floor - 1) * 100:+.1f}% vs its own {window_floor:.0f} s floor); "
            f"secondary-limit answers {limited}; wall {cost.wall:.2f} s"
        )


if __name__ == "__main__":
    main()
