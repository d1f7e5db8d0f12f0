"""The sandbox's indexes answer exactly as its scans did (issue #15): a listing walked page by
page sees a write served in between, the duplicate-PR rule holds, `?head=` finds its PRs."""

from __future__ import annotations

import json
from typing import Any

from issueops.sandbox.sandbox import Sandbox

AUTH = {"Authorization": "token bot-token"}


def _sandbox(issues: int) -> Sandbox:
    sb = Sandbox("acme/ops")
    sb.add_user("issueops-bot", token="bot-token", permission="write", type="Bot")
    for n in range(issues):
        sb.add_issue(f"item {n}", "body", "issueops-bot")
    return sb


def _get(sb: Sandbox, path: str) -> Any:
    reply = sb.handle("GET", path, AUTH, None)
    assert reply.status == 200, reply.status
    return json.loads(reply.body)


def _numbers(page: Any) -> list[int]:
    return [entry["number"] for entry in page]


def test_a_walk_without_writes_pages_through_one_list() -> None:
    sb = _sandbox(25)
    pages = [_get(sb, f"/repos/acme/ops/issues?per_page=10&page={p}") for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sorted(n for p in pages for n in _numbers(p)) == list(range(1, 26))


def test_a_write_between_pages_is_seen_by_the_next_page() -> None:
    sb = _sandbox(25)
    first = _get(sb, "/repos/acme/ops/issues?per_page=10&page=1&sort=created&direction=asc")
    closed = sb.handle("PATCH", "/repos/acme/ops/issues/11", AUTH, b'{"state": "closed"}')
    assert closed.status == 200
    second = _get(sb, "/repos/acme/ops/issues?per_page=10&page=2&sort=created&direction=asc")
    assert _numbers(first) == list(range(1, 11))
    assert _numbers(second) == list(range(12, 22))  # #11 is gone, as a fresh listing says


def test_each_caller_and_query_has_its_own_walk() -> None:
    sb = _sandbox(25)
    _get(sb, "/repos/acme/ops/issues?per_page=10&page=1&direction=asc")
    descending = _get(sb, "/repos/acme/ops/issues?per_page=10&page=2&direction=desc")
    assert _numbers(descending) == list(range(15, 5, -1))


def test_pull_requests_by_head_and_the_duplicate_rule() -> None:
    sb = _sandbox(3)
    sb.commit_files("topic-a", {"a.md": "a\n"}, "a")
    sb.commit_files("topic-b", {"b.md": "b\n"}, "b")
    body = {"title": "A", "head": "topic-a", "base": "main"}
    created = sb.handle("POST", "/repos/acme/ops/pulls", AUTH, json.dumps(body).encode())
    assert created.status == 201
    again = sb.handle("POST", "/repos/acme/ops/pulls", AUTH, json.dumps(body).encode())
    assert again.status == 422 and "already exists" in json.loads(again.body)["errors"][0]["message"]
    other = {"title": "B", "head": "topic-b", "base": "main"}
    assert sb.handle("POST", "/repos/acme/ops/pulls", AUTH, json.dumps(other).encode()).status == 201
    on_a = _get(sb, "/repos/acme/ops/pulls?head=acme:topic-a&state=all")
    assert [p["head"]["ref"] for p in on_a] == ["topic-a"]
    assert len(_get(sb, "/repos/acme/ops/pulls?state=all")) == 2
    closed = sb.handle("PATCH", f"/repos/acme/ops/pulls/{on_a[0]['number']}", AUTH, b'{"state": "closed"}')
    assert closed.status == 200
    reopened_as_new = sb.handle("POST", "/repos/acme/ops/pulls", AUTH, json.dumps(body).encode())
    assert reopened_as_new.status == 201  # only an *open* PR on the same head and base blocks


def test_the_open_issue_count_follows_every_close_reopen_and_new_item() -> None:
    """Kept as a count instead of a scan per rendered repository (a page of pull requests renders
    it 200 times): what it says must be what a scan would say."""
    sb = _sandbox(4)
    sb.add_issue("closed from the start", "body", "issueops-bot", state="closed")

    def counted() -> int:
        repo = _get(sb, "/repos/acme/ops")
        assert repo["open_issues"] == repo["open_issues_count"]
        scan = sum(1 for issue in sb.state.issues.values() if issue.state == "open")
        assert repo["open_issues_count"] == scan
        return int(repo["open_issues_count"])

    assert counted() == 4
    assert sb.handle("PATCH", "/repos/acme/ops/issues/2", AUTH, b'{"state": "closed"}').status == 200
    assert counted() == 3
    assert sb.handle("PATCH", "/repos/acme/ops/issues/2", AUTH, b'{"state": "closed"}').status == 200
    assert counted() == 3  # closing a closed issue changes nothing
    assert sb.handle("PATCH", "/repos/acme/ops/issues/5", AUTH, b'{"state": "open"}').status == 200
    assert counted() == 4
    sb.commit_files("topic", {"t.md": "t\n"}, "t")
    pull = {"title": "T", "head": "topic", "base": "main"}
    assert sb.handle("POST", "/repos/acme/ops/pulls", AUTH, json.dumps(pull).encode()).status == 201
    assert counted() == 5  # an open pull request counts, as on GitHub


def test_matching_refs_walks_of_two_prefixes_stay_apart() -> None:
    sb = _sandbox(0)
    for name in ("a/1", "a/2", "a/3", "b/1", "b/2", "b/3"):
        sb.commit_files(name, {f"{name}.md": "x\n"}, name)

    def refs(prefix: str, page: int) -> list[str]:
        return [
            r["ref"]
            for r in _get(sb, f"/repos/acme/ops/git/matching-refs/heads/{prefix}?per_page=2&page={page}")
        ]

    assert refs("a", 1) == ["refs/heads/a/1", "refs/heads/a/2"]
    assert refs("b", 2) == ["refs/heads/b/3"]  # not the second page of the walk of `a`
    assert refs("a", 2) == ["refs/heads/a/3"]
