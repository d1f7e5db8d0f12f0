"""The sandbox's own speed: seeding, requests through `handle`, through `requests` in-process,
through PyGithub, and over HTTP. Figures are wall-clock on this machine (informative, not asserted)."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from github import Auth, Github
from issueops.sandbox import Sandbox
from issueops.sandbox.inprocess import activate
from issueops.sandbox.server import serve

ISSUES = 1000
COMMENTS_PER_ISSUE = 3
HEADERS = {"Authorization": "token bot-token"}


def _timed(label: str, count: int, work: Callable[[], object]) -> None:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    rate = f", {count / elapsed:,.0f}/s" if count else ""
    print(f"{label:<52} {elapsed * 1000:8.1f} ms{rate}")


def _seeded() -> Sandbox:
    sb = Sandbox()
    sb.add_user("issueops-bot", token="bot-token", permission="write", type="Bot")
    for n in range(ISSUES):
        issue = sb.add_issue(f"Item {n}", "body", "issueops-bot", labels=["state::triage", "workflow::x"])
        for k in range(COMMENTS_PER_ISSUE):
            sb.add_comment(issue.number, "issueops-bot", f"comment {k}")
    return sb


def main() -> None:
    _timed(f"seed {ISSUES} issues + {ISSUES * COMMENTS_PER_ISSUE} comments", 0, _seeded)
    sb = _seeded()
    _timed(
        "handle: GET issue x1000",
        1000,
        lambda: [sb.handle("GET", f"/repos/acme/ops/issues/{n}", HEADERS, None) for n in range(1, 1001)],
    )
    _timed(
        "handle: list all issues, per_page=100",
        10,
        lambda: [
            sb.handle("GET", f"/repos/acme/ops/issues?per_page=100&page={p}", HEADERS, None)
            for p in range(1, 11)
        ],
    )
    _timed(
        "handle: POST label x1000",
        1000,
        lambda: [
            sb.handle("POST", f"/repos/acme/ops/issues/{n}/labels", HEADERS, b'{"labels": ["risk::low"]}')
            for n in range(1, 1001)
        ],
    )
    with activate(sb), requests.Session() as session:
        _timed(
            "requests in-process: GET issue x500",
            500,
            lambda: [
                session.get(f"{sb.base_url}/repos/acme/ops/issues/{n}", headers=HEADERS)
                for n in range(1, 501)
            ],
        )
        gh = Github(
            auth=Auth.Token("bot-token"), base_url=sb.base_url, seconds_between_requests=0, retry=None
        )
        _timed(
            "PyGithub in-process: list 1000 issues", 10, lambda: list(gh.get_repo("acme/ops").get_issues())
        )
    running = serve(sb)
    try:
        with requests.Session() as session:
            _timed(
                "HTTP 127.0.0.1: GET issue x300",
                300,
                lambda: [
                    session.get(f"{running.url}/repos/acme/ops/issues/{n}", headers=HEADERS)
                    for n in range(1, 301)
                ],
            )
    finally:
        running.stop()
    print(f"ledger entries: {len(sb.ledger)}, counted: {sb.ledger.counted()}")


if __name__ == "__main__":
    main()
