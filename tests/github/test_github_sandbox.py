"""The adapter and governor against the in-process sandbox GitHub, through real PyGithub code.

Counts come from the sandbox's ledger (what the server saw), time from its virtual clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.core.model import marker
from issueops.github.adapter import PyGithubAdapter
from issueops.github.cache import EtagCache
from issueops.github.classify import DryRunViolation
from issueops.github.clock import LinkedClock
from issueops.github.governor import Governor, GovernorSettings
from issueops.github.transport import UngovernedRequest, governing
from issueops.sandbox.inprocess import activate
from issueops.sandbox.sandbox import Sandbox

BOT_TOKEN = "bot-token-8f2a"


@dataclass
class World:
    sandbox: Sandbox
    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def governor(self, cache: EtagCache | None = None, **settings: object) -> Governor:
        return Governor(
            GovernorSettings(**settings),  # type: ignore[arg-type]
            clock=LinkedClock(self.sandbox.clock.now, self.sandbox.clock.advance),
            on_event=lambda name, fields: self.events.append((name, fields)),
            cache=cache if cache is not None else EtagCache(None),
        )

    def adapter(
        self, *, dry_run: bool = False, governor: Governor | None = None, **settings: Any
    ) -> PyGithubAdapter:
        return PyGithubAdapter(
            "acme/ops",
            api_url=self.sandbox.base_url,
            token=BOT_TOKEN,
            governor=governor or self.governor(**settings),
            dry_run=dry_run,
        )

    def mark(self) -> int:
        return len(self.sandbox.ledger)

    def served(self, since: int) -> list[tuple[str, str, int, bool]]:
        return [(e.method, e.path.split("?")[0], e.status, e.counted) for e in self.sandbox.ledger[since:]]

    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]


@pytest.fixture
def world() -> Iterator[World]:
    sandbox = Sandbox("acme/ops")
    sandbox.add_user("issueops-bot", token=BOT_TOKEN, permission="write", type="Bot")
    sandbox.add_user("alice", token="alice-token", permission="admin")
    sandbox.add_user("bob", token="bob-token", permission="triage")
    sandbox.add_team("ops-approvers", ["alice"])
    sandbox.add_label("state::triage", "ededed")
    sandbox.commit_files("main", {"README.md": "hello\n"}, "init")
    for n in range(1, 6):
        sandbox.add_issue(
            f"item {n}",
            f"body {n}",
            "alice",
            labels=["state::triage"],
            comments=[{"user": "alice", "body": f"first on {n}"}],
        )
    with activate(sandbox):
        yield World(sandbox)


# --- the exactly-once and retry behaviour ------------------------------------------------------


def test_502_on_comment_that_was_created_leaves_exactly_one(world: World) -> None:
    port = world.adapter()
    world.sandbox.faults.add(status=502, route=r"/issues/2/comments$", method="POST", apply=True)
    body = f"{marker('status')}\nworking on it"
    created = port.create_comment(2, body)
    mine = [c for c in world.sandbox.comments.values() if c.body == body]
    assert len(mine) == 1
    assert created.id == mine[0].id
    posts = [s for s in world.served(0) if s[0] == "POST"]
    assert len(posts) == 1  # checked, found, never re-posted


def test_502_on_comment_that_was_not_created_is_sent_again(world: World) -> None:
    port = world.adapter()
    world.sandbox.faults.add(status=502, route=r"/issues/2/comments$", method="POST")
    body = f"{marker('status')}\nsecond try"
    port.create_comment(2, body)
    assert sum(1 for c in world.sandbox.comments.values() if c.body == body) == 1
    assert [s[2] for s in world.served(0) if s[0] == "POST"] == [502, 201]


def test_502_on_issue_create_that_landed_leaves_one_issue(world: World) -> None:
    port = world.adapter()
    world.sandbox.faults.add(status=502, route=r"/repos/acme/ops/issues$", method="POST", apply=True)
    body = f"found something\n{marker('source:feed:abc')}"
    item = port.create_item("New finding", body, ["state::triage"])
    same = [i for i in world.sandbox.issues.values() if i.body == body]
    assert len(same) == 1
    assert item.number == same[0].number


def test_secondary_limit_with_retry_after_waits_two_virtual_seconds(world: World) -> None:
    port = world.adapter()
    world.sandbox.faults.add(
        status=403,
        retry_after=2,
        message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        route=r"/comments$",
        method="POST",
    )
    start = world.sandbox.clock.now()
    port.create_comment(1, "hello")
    assert (world.sandbox.clock.now() - start).total_seconds() == pytest.approx(2.0)
    waits = [f for n, f in world.events if n == "api.wait"]
    assert [w["seconds"] for w in waits] == [2.0]
    assert [s[2] for s in world.served(0) if s[0] == "POST"] == [403, 201]


def test_persistent_500_on_a_read_is_transient_after_bounded_retries(world: World) -> None:
    port = world.adapter(max_retries=3)
    world.sandbox.faults.add(status=500, route=r"/issues/3$", method="GET", times=None)
    with pytest.raises(GitHubError) as info:
        port.get_item(3)
    assert info.value.code == "upstream_unavailable"
    assert info.value.failure_class == "transient"
    assert "acme/ops#3" in str(info.value)
    assert len(world.served(0)) == 4
    assert world.event_names().count("api.wait") == 3


def test_read_timeout_is_retried(world: World) -> None:
    port = world.adapter()
    world.sandbox.faults.add(timeout="read", route=r"/issues/3$", method="GET")
    assert port.get_item(3).number == 3


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda port: port.get_item(999), "not_found"),
        (lambda port: port.update_item(1, state="closed"), "validation"),
        (lambda port: port.edit_comment(424242, "x"), "not_found"),
    ],
    ids=["404 read", "422 write", "404 write"],
)
def test_permanent_errors_are_not_retried(world: World, call: object, code: str) -> None:
    port = world.adapter()
    world.sandbox.faults.add(status=422, route=r"/issues/1$", method="PATCH")
    with pytest.raises(GitHubError) as info:
        call(port)  # type: ignore[operator]
    assert info.value.code == code
    assert info.value.failure_class == "permanent"
    assert len(world.served(0)) == 1


# --- budgets ---------------------------------------------------------------------------------------


def test_primary_budget_runs_out_stop_before_next_item(world: World) -> None:
    world.sandbox.limiter.overrides["issueops-bot"] = 12
    governor = world.governor(reserve=2, max_wait=60)
    port = world.adapter(governor=governor)
    done: list[int] = []
    with pytest.raises(BudgetExhausted):
        for number in range(1, 6):
            with governor.item_scope(3):
                port.get_item(number)
                port.add_labels(number, ["seen"])
                port.remove_label(number, "seen")
            done.append(number)
    assert done == [1, 2, 3]  # 9 counted, 3 left, reserve 2: item 4 (3 requests) never starts
    assert world.event_names()[-1] == "api.budget_stop"
    assert len(world.served(0)) == 9


def test_run_budget_stops_outside_items(world: World) -> None:
    port = world.adapter(max_requests=2)
    port.get_item(1)
    port.get_item(2)
    with pytest.raises(BudgetExhausted):
        port.get_item(3)
    assert len(world.served(0)) == 2


def test_primary_exhausted_waits_for_reset_when_close(world: World) -> None:
    world.sandbox.limiter.overrides["issueops-bot"] = 3
    port = world.adapter(reserve=0, max_wait=4000)
    for number in (1, 2, 3, 4):
        port.get_item(number)
    assert "api.wait" in world.event_names()
    assert world.served(0)[-1][2] == 200


# --- conditional reads -----------------------------------------------------------------------------


def test_second_identical_listing_is_all_304_and_free(world: World) -> None:
    port = world.adapter()
    port.list_items()
    port.list_comments()
    before = world.mark()
    items = port.list_items()
    comments = port.list_comments()
    again = world.served(before)
    assert len(items) == 5
    assert len(comments) == 5
    assert [s[2] for s in again] == [304, 304]
    assert not any(s[3] for s in again)
    assert port.governor.requests_counted == 2


def test_a_full_cached_last_page_does_not_hide_newer_pages(world: World) -> None:
    """A 304 on a full last page replays its old Link (no rel="next"): ask for the next page."""
    for n in range(95):
        world.sandbox.add_comment(1, "alice", f"more {n}")
    port = world.adapter()
    assert len(port.list_comments()) == 100
    world.sandbox.add_comment(2, "alice", "the 101st")
    comments = port.list_comments()
    assert len(comments) == 101
    assert comments[-1].body == "the 101st"


def test_cache_persists_between_runs(world: World, tmp_path: Path) -> None:
    path = tmp_path / "etags.json"
    first = world.adapter(governor=world.governor(cache=EtagCache.load(path)))
    first.list_items()
    first.close()
    second = world.adapter(governor=world.governor(cache=EtagCache.load(path)))
    before = world.mark()
    assert len(second.list_items()) == 5
    assert [s[2] for s in world.served(before)] == [304]
    assert second.governor.requests_counted == 0


# --- dry run ---------------------------------------------------------------------------------------


def test_dry_run_sends_no_write(world: World) -> None:
    port = world.adapter(dry_run=True)
    port.add_labels(1, ["x"])
    port.remove_label(1, "state::triage")
    comment = port.create_comment(1, "hi")
    port.edit_comment(5, "x")
    port.add_reaction(1, "+1")
    port.add_assignees(1, ["alice"])
    port.remove_assignees(1, ["alice"])
    item = port.create_item("t", "b", ["state::triage"])
    port.update_item(1, state="closed", state_reason="completed")
    sha = port.commit_files("issueops/1-x", "main", {"docs/x.md": "x\n"}, "m")
    pr = port.create_pull_request("issueops/1-x", "main", "t", "b")
    port.merge_pull_request(7, "abc")
    port.close_pull_request(7)
    port.delete_branch("issueops/1-x")
    changed = port.ensure_labels([_Spec("state::done", "0e8a16", "done")])
    assert world.sandbox.ledger.writes() == 0
    assert (comment.id, item.number, pr.number) == (0, 0, 0)
    assert len(sha) == 40
    assert changed == ["state::done"]
    assert len(port.simulated) >= 12


def test_dry_run_is_also_enforced_at_the_http_layer(world: World) -> None:
    port = world.adapter(dry_run=True)
    with governing(port.governor), pytest.raises(DryRunViolation):
        port._rq.requestJsonAndCheck("POST", "/repos/acme/ops/issues/1/comments", input={"body": "x"})
    assert world.sandbox.ledger.writes() == 0


def test_no_request_bypasses_the_governor(world: World) -> None:
    port = world.adapter()
    with pytest.raises(UngovernedRequest):
        port._rq.requestJsonAndCheck("GET", "/user")
    assert world.served(0) == []


def test_token_never_in_errors_or_events(world: World) -> None:
    port = world.adapter(max_retries=1)
    world.sandbox.faults.add(status=500, route=r"/issues/3$", method="GET", times=None)
    with pytest.raises(GitHubError) as info:
        port.get_item(3)
    assert BOT_TOKEN not in str(info.value) + info.value.hint
    assert BOT_TOKEN not in repr(world.events)


# --- every port method, round trip -----------------------------------------------------------------


@dataclass
class _Spec:
    name: str
    color: str
    description: str


def test_reads_round_trip(world: World) -> None:
    port = world.adapter()
    assert port.whoami().login == "issueops-bot"
    assert port.whoami().is_bot
    items = port.list_items(labels=["state::triage"])
    assert [i.number for i in items] == [1, 2, 3, 4, 5]
    assert items[0].labels == ("state::triage",)
    assert items[0].comment_count == 1
    assert port.get_item(2).title == "item 2"
    comments = port.list_comments()
    assert {c.issue_number for c in comments} == {1, 2, 3, 4, 5}
    assert port.list_item_comments(4)[0].body == "first on 4"
    assert port.get_permission("alice") == "admin"
    assert port.get_permission("bob") == "triage"
    assert port.get_permission("stranger") == "none"
    assert port.is_team_member("ops-approvers", "alice") is True
    assert port.is_team_member("ops-approvers", "bob") is False
    assert port.default_branch() == "main"


def test_whoami_of_an_installation_token_says_how_to_name_the_bot(world: World) -> None:
    world.sandbox.add_user("github-actions[bot]", token="ghs-actions", permission="write", type="Bot")
    port = PyGithubAdapter(
        "acme/ops", api_url=world.sandbox.base_url, token="ghs-actions", governor=world.governor()
    )
    with pytest.raises(GitHubError) as caught:
        port.whoami()
    assert caught.value.status == 403
    assert "--bot-login" in caught.value.hint and "github-actions[bot]" in caught.value.hint


def test_label_and_assignee_writes_round_trip(world: World) -> None:
    port = world.adapter()
    port.add_labels(1, ["state::assigned", "risk::low"])
    port.remove_label(1, "state::triage")
    port.remove_label(1, "not-there")  # not an error
    assert set(port.get_item(1).labels) == {"state::assigned", "risk::low"}
    events = port.list_label_events(1)
    assert [(e.event, e.label) for e in events][-3:] == [
        ("labeled", "state::assigned"),
        ("labeled", "risk::low"),
        ("unlabeled", "state::triage"),
    ]
    assert events[-1].actor.login == "issueops-bot"
    port.add_assignees(1, ["alice"])
    assert port.get_item(1).assignees == ("alice",)
    port.remove_assignees(1, ["alice"])
    assert port.get_item(1).assignees == ()


def test_comment_reaction_and_item_writes_round_trip(world: World) -> None:
    port = world.adapter()
    comment = port.create_comment(3, "status v1")
    port.edit_comment(comment.id, "status v2")
    assert port.list_item_comments(3)[-1].body == "status v2"
    port.add_reaction(3, "+1", comment.id)
    port.add_reaction(3, "eyes")
    created = port.create_item("Fresh", "a body", ["state::triage"])
    assert port.get_item(created.number).labels == ("state::triage",)
    port.update_item(created.number, body="new body")
    port.update_item(created.number, state="closed", state_reason="completed")
    after = port.get_item(created.number)
    assert (after.body, after.state, after.state_reason) == ("new body", "closed", "completed")


def test_ensure_labels_creates_and_updates_only_what_differs(world: World) -> None:
    port = world.adapter()
    specs = [_Spec("state::triage", "fbca04", "Needs triage"), _Spec("state::done", "0e8a16", "Done")]
    assert port.ensure_labels(specs) == ["state::triage", "state::done"]
    before = world.mark()
    assert port.ensure_labels(specs) == []
    assert all(s[0] == "GET" for s in world.served(before))


def test_commit_files_is_one_commit_and_safe_to_rerun(world: World) -> None:
    port = world.adapter()
    files = {"deliverables/1/plan.md": "# Plan\n", "README.md": "hello\n"}  # README is identical
    sha = port.commit_files("issueops/1-plan", "main", files, "Deliverable for #1")
    assert world.sandbox.refs["refs/heads/issueops/1-plan"] == sha
    assert world.sandbox.file("issueops/1-plan", "deliverables/1/plan.md") == "# Plan\n"
    before = world.mark()
    assert port.commit_files("issueops/1-plan", "main", files, "Deliverable for #1") == sha
    assert all(s[0] == "GET" for s in world.served(before))  # nothing written on a re-run
    newer = port.commit_files("issueops/1-plan", "main", {"deliverables/1/plan.md": "# Plan v2\n"}, "v2")
    assert newer != sha
    assert world.sandbox.file("issueops/1-plan", "deliverables/1/plan.md") == "# Plan v2\n"


def test_commit_files_known_missing_skips_the_branch_lookup(world: World) -> None:
    port = world.adapter()
    before = world.mark()
    sha = port.commit_files("issueops/3-new", "main", {"d/3.md": "three\n"}, "m", known_missing=True)
    paths = [served[1] for served in world.served(before)]
    assert not any("git/ref/heads/issueops" in path for path in paths), paths
    assert world.sandbox.refs["refs/heads/issueops/3-new"] == sha


def test_commit_files_known_missing_but_there_after_all_goes_on_its_head(world: World) -> None:
    port = world.adapter()
    first = port.commit_files("issueops/4-race", "main", {"a.md": "a\n"}, "one")
    sha = port.commit_files("issueops/4-race", "main", {"b.md": "b\n"}, "two", known_missing=True)
    assert world.sandbox.refs["refs/heads/issueops/4-race"] == sha != first
    assert world.sandbox.file("issueops/4-race", "a.md") == "a\n"  # built on the branch, not on main
    assert world.sandbox.file("issueops/4-race", "b.md") == "b\n"


def test_pull_request_round_trip(world: World) -> None:
    port = world.adapter()
    port.commit_files("issueops/2-fix", "main", {"fix.txt": "fixed\n"}, "Fix #2")
    pr = port.create_pull_request("issueops/2-fix", "main", "Fix #2", "Closes #2")
    assert (pr.head_branch, pr.base_branch, pr.state) == ("issueops/2-fix", "main", "open")
    again = port.create_pull_request("issueops/2-fix", "main", "Fix #2", "Closes #2")
    assert again.number == pr.number  # "already exists" returns the same PR
    found = port.find_pull_request("issueops/2-fix")
    assert found is not None
    assert found.number == pr.number
    assert port.find_pull_request("issueops/none") is None
    assert [p.number for p in port.list_pull_requests()] == [pr.number]
    port.merge_pull_request(pr.number, pr.head_sha)
    port.merge_pull_request(pr.number, pr.head_sha)  # merged already: not an error
    merged = port.find_pull_request("issueops/2-fix")
    assert merged is not None
    assert merged.merged


def test_close_pull_request_and_delete_branch_one_request_each(world: World) -> None:
    port = world.adapter()
    port.commit_files("issueops/2-fix", "main", {"fix.txt": "fixed\n"}, "Fix #2")
    port.commit_files("issueops/3-more", "main", {"more.txt": "more\n"}, "More #3")
    port.commit_files("feature/x", "main", {"x.txt": "x\n"}, "x")
    pr = port.create_pull_request("issueops/2-fix", "main", "Fix #2", "Closes #2")
    assert pr.author is not None and pr.author.login == "issueops-bot"
    start = world.mark()
    assert port.list_branches("issueops/") == ["issueops/2-fix", "issueops/3-more"]
    port.close_pull_request(pr.number)
    port.close_pull_request(pr.number)  # closed already: not an error, nothing changes
    port.delete_branch("issueops/2-fix")
    port.delete_branch("issueops/2-fix")  # gone already ("Reference does not exist"): not an error
    base = "/repos/acme/ops"
    assert [(m, path, status) for m, path, status, _ in world.served(start)] == [
        ("GET", f"{base}/git/matching-refs/heads/issueops", 200),
        ("PATCH", f"{base}/pulls/{pr.number}", 200),
        ("PATCH", f"{base}/pulls/{pr.number}", 200),
        ("DELETE", f"{base}/git/refs/heads/issueops/2-fix", 204),
        ("DELETE", f"{base}/git/refs/heads/issueops/2-fix", 422),
    ]
    assert port.list_branches("issueops/") == ["issueops/3-more"]
    closed = port.find_pull_request("issueops/2-fix")
    assert closed is not None and (closed.state, closed.merged) == ("closed", False)
    with pytest.raises(GitHubError) as refused:
        port.delete_branch("main")  # the default branch: GitHub refuses, and so do we
    assert refused.value.code == "validation"


def test_502_on_pull_request_create_that_landed_leaves_one(world: World) -> None:
    port = world.adapter()
    port.commit_files("issueops/3-x", "main", {"x.txt": "x\n"}, "x")
    world.sandbox.faults.add(status=502, route=r"/pulls$", method="POST", apply=True)
    pr = port.create_pull_request("issueops/3-x", "main", "X", "Closes #3")
    assert [p.number for p in port.list_pull_requests()] == [pr.number]


def test_search_issues(world: World) -> None:
    port = world.adapter()
    hits = port.search_issues("repo:acme/ops item", 3)
    assert len(hits) <= 3
    assert all(h.repo == "acme/ops" for h in hits)


def test_app_auth_construction_sends_nothing(world: World) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from issueops.github.adapter import AppAuth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    auth = AppAuth(app_id=123, private_key=pem, installation_id=456)
    port = PyGithubAdapter(
        "acme/ops", api_url=world.sandbox.base_url, app_auth=auth, governor=world.governor()
    )
    assert port.repo == "acme/ops"
    assert "PRIVATE KEY" not in repr(auth)
    assert world.served(0) == []


def test_enterprise_style_base_url_with_path_prefix() -> None:
    sandbox = Sandbox("acme/ops", base_url="http://ghe.test/api/v3")
    sandbox.add_user("issueops-bot", token=BOT_TOKEN, permission="write", type="Bot")
    for n in range(1, 151):
        sandbox.add_issue(f"item {n}", "", "issueops-bot")
    with activate(sandbox):
        port = World(sandbox).adapter()
        assert len(port.list_items()) == 150  # two pages, the second through the Link header
    assert [e.path.split("?")[0] for e in sandbox.ledger] == [
        "/repos/acme/ops/issues",
        f"/repositories/{sandbox.state.repo.id}/issues",  # GitHub's own next-page URL
    ]


# --- the real Link shape: next pages are /repositories/{id}/... URLs --------------------------------


def _add_items(world: World, count: int) -> None:
    for n in range(count):
        world.sandbox.add_issue(f"more {n}", None, "alice")


def test_next_pages_follow_repositories_id_urls_and_come_back_304(world: World) -> None:
    """Page 2 comes from GitHub's own Link URL; the ETag cache must serve it again as a 304."""
    _add_items(world, 145)
    port = world.adapter()
    assert len(port.list_items()) == 150
    by_id = f"/repositories/{world.sandbox.state.repo.id}/issues"
    assert [(p, s) for _, p, s, _ in world.served(0)] == [("/repos/acme/ops/issues", 200), (by_id, 200)]
    before = world.mark()
    assert len(port.list_items()) == 150
    assert [(p, s, c) for _, p, s, c in world.served(before)] == [
        ("/repos/acme/ops/issues", 304, False),
        (by_id, 304, False),
    ]


def test_a_change_on_a_repositories_id_page_is_seen(world: World) -> None:
    """A cached page 2 must not hide an edit to an item on it (its ETag changes: a 200)."""
    _add_items(world, 145)
    port = world.adapter()
    port.list_items()
    world.sandbox.state.issues[120].title = "edited on page two"
    before = world.mark()
    items = port.list_items()
    assert [s for _, _, s, _ in world.served(before)] == [304, 200]
    assert any(i.title == "edited on page two" for i in items)


def test_growth_past_a_full_cached_page_two_reads_page_three(world: World) -> None:
    """Page 2 full and cached (its Link has no next): the 201st item is still found."""
    _add_items(world, 195)
    port = world.adapter()
    assert len(port.list_items()) == 200
    world.sandbox.add_issue("the 201st", None, "alice")
    items = port.list_items()
    assert len(items) == 201
    assert items[-1].title == "the 201st"
    before = world.mark()
    assert len(port.list_items()) == 201
    assert [s for _, _, s, _ in world.served(before)] == [304, 304, 304]
