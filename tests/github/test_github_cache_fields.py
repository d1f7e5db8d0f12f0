"""The cache keeps only the fields the adapter reads, and every read answers the same from it;
an item's label history is remembered at its `updated_at` and read again once it moves.

Through real PyGithub against the in-process sandbox; requests counted from its ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from issueops.github.adapter import SETTLED_SECONDS, PyGithubAdapter
from issueops.github.cache import EtagCache
from issueops.github.clock import LinkedClock
from issueops.github.governor import Governor, GovernorSettings
from issueops.sandbox.inprocess import activate
from issueops.sandbox.sandbox import Sandbox

TOKEN = "bot-token"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox("acme/ops")
    sb.add_user("issueops-bot", token=TOKEN, permission="write", type="Bot")
    sb.add_user("alice", token="alice-token", permission="admin")
    sb.add_team("ops-approvers", ["alice"])
    sb.add_label("state::triage", "ededed", "Waiting for triage")
    sb.commit_files("main", {"README.md": "hello\n", "docs/a.md": "a\n"}, "init")
    for n in range(1, 4):
        sb.add_issue(
            f"item {n}",
            f"body {n}",
            "alice",
            labels=["state::triage", "content"],
            assignees=["alice"],
            comments=[{"user": "alice", "body": f"first on {n}"}],
        )
    sb.add_pull("PR for 1", "issueops/1-item", files={"deliverables/1.md": "x\n"}, body="Closes #1")
    sb.clock.advance(3600)
    with activate(sb):
        yield sb


def _adapter(sb: Sandbox, cache: EtagCache | None) -> PyGithubAdapter:
    governor = Governor(GovernorSettings(), clock=LinkedClock(sb.clock.now, sb.clock.advance), cache=cache)
    return PyGithubAdapter("acme/ops", api_url=sb.base_url, token=TOKEN, governor=governor)


READS: dict[str, Callable[[PyGithubAdapter], Any]] = {
    "whoami": lambda p: p.whoami(),
    "default branch": lambda p: p.default_branch(),
    "open items": lambda p: p.list_items(state="open"),
    "closed items": lambda p: p.list_items(state="closed", labels=["state::triage"]),
    "one item": lambda p: p.get_item(2),
    "all comments": lambda p: p.list_comments(),
    "item comments": lambda p: p.list_item_comments(1),
    "label events": lambda p: p.list_label_events(1),
    "permission": lambda p: p.get_permission("alice"),
    "team member": lambda p: p.is_team_member("ops-approvers", "alice"),
    "pull requests": lambda p: p.list_pull_requests(state="all"),
    "pull request by branch": lambda p: p.find_pull_request("issueops/1-item"),
    "branches": lambda p: p.list_branches("issueops/"),
    "search": lambda p: p.search_issues("repo:acme/ops is:issue item", 10),
}


@pytest.mark.parametrize("read", list(READS.values()), ids=list(READS))
def test_every_read_answers_the_same_from_the_slim_cache(sandbox: Sandbox, read: Callable[..., Any]) -> None:
    whole = read(_adapter(sandbox, None))  # no cache: whole bodies
    cache = EtagCache(None)
    first = read(_adapter(sandbox, cache))  # a 200, answered as the cache keeps it
    start = len(sandbox.ledger)
    replayed = read(_adapter(sandbox, cache))  # a 304, answered from the cache
    assert first == whole and replayed == whole
    # GitHub's search answers no conditional request (a 200 each time); every other read is a 304
    assert all(e.status == 304 for e in sandbox.ledger[start:] if not e.path.startswith("/search/"))


def test_a_cached_issue_page_is_a_fraction_of_the_body(sandbox: Sandbox) -> None:
    cache = EtagCache(None)
    _adapter(sandbox, cache).list_items(state="open")
    whole = sandbox.handle(
        "GET", "/repos/acme/ops/issues?state=open&per_page=100", {"Authorization": f"token {TOKEN}"}, None
    ).body
    (key,) = [k for k in cache._entries if "/issues" in k]
    entry = cache.get(key)
    assert entry is not None and "node_id" not in entry.body and "avatar_url" not in entry.body
    assert len(entry.body) * 4 < len(whole)


def _events_read(sb: Sandbox, since: int) -> int:
    return sum(1 for e in sb.ledger[since:] if e.path.split("?")[0].endswith("/events"))


def test_label_history_is_remembered_while_updated_at_stands(sandbox: Sandbox) -> None:
    cache = EtagCache(None)
    item = _adapter(sandbox, cache).get_item(1)
    first = _adapter(sandbox, cache).list_label_events(1, as_of=item.updated_at)

    start = len(sandbox.ledger)
    again = _adapter(sandbox, cache).list_label_events(1, as_of=item.updated_at)
    assert again == first and _events_read(sandbox, start) == 0  # not even a 304

    sandbox.handle(  # a person labels it: updated_at moves, the history is read again
        "POST",
        "/repos/acme/ops/issues/1/labels",
        {"Authorization": "token alice-token"},
        b'{"labels": ["urgent"]}',
    )
    moved = _adapter(sandbox, cache).get_item(1)
    assert moved.updated_at != item.updated_at
    start = len(sandbox.ledger)
    fresh = _adapter(sandbox, cache).list_label_events(1, as_of=moved.updated_at)
    assert _events_read(sandbox, start) == 1
    assert [e.label for e in fresh][-1] == "urgent"


def test_no_version_means_no_memo(sandbox: Sandbox) -> None:
    cache = EtagCache(None)
    _adapter(sandbox, cache).list_label_events(2)
    start = len(sandbox.ledger)
    _adapter(sandbox, cache).list_label_events(2)
    assert _events_read(sandbox, start) == 1  # a conditional read (a 304), not a memo


def test_a_history_changed_this_very_moment_is_not_remembered(sandbox: Sandbox) -> None:
    """`updated_at` has whole seconds: a history read right after a change could miss a second
    change in the same second, so only an item unchanged for a while is remembered."""
    sandbox.handle(
        "POST",
        "/repos/acme/ops/issues/3/labels",
        {"Authorization": "token alice-token"},
        b'{"labels": ["urgent"]}',
    )
    cache = EtagCache(None)
    item = _adapter(sandbox, cache).get_item(3)
    _adapter(sandbox, cache).list_label_events(3, as_of=item.updated_at)
    start = len(sandbox.ledger)
    _adapter(sandbox, cache).list_label_events(3, as_of=item.updated_at)
    assert _events_read(sandbox, start) == 1

    sandbox.clock.advance(SETTLED_SECONDS)
    _adapter(sandbox, cache).list_label_events(3, as_of=item.updated_at)  # now remembered
    start = len(sandbox.ledger)
    _adapter(sandbox, cache).list_label_events(3, as_of=item.updated_at)
    assert _events_read(sandbox, start) == 0
    assert item.updated_at is not None and sandbox.clock.now() - item.updated_at >= timedelta(
        seconds=SETTLED_SECONDS
    )
