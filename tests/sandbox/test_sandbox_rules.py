"""The cross-cutting rules: identity, permissions, pagination, ETags, rate limits, the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_world import LOGINS, TOKENS, build_world, call, link_urls

from issueops.sandbox import Limits, Sandbox

REPO = "/repos/acme/ops"


# --- identity ----------------------------------------------------------------------------------


def test_unknown_token_is_401_bad_credentials_uncounted() -> None:
    sb = build_world()
    reply = call(sb, "GET", f"{REPO}/issues", "no-such-token")
    assert reply.status == 401
    body = reply.json()
    assert body["message"] == "Bad credentials"
    assert body["status"] == "401"
    assert body["documentation_url"].startswith("https://docs.github.com/")
    assert sb.ledger[-1].counted is False


@pytest.mark.parametrize("scheme", ["token", "Bearer", "bearer"], ids=["token", "Bearer", "lowercase-bearer"])
def test_both_authorization_schemes_identify_the_user(scheme: str) -> None:
    sb = build_world()
    reply = sb.handle("GET", "/user", {"Authorization": f"{scheme} {TOKENS['write']}"}, None)
    assert reply.status == 200
    assert reply.json()["login"] == "wes"
    assert sb.ledger[-1].login == "wes"


def test_anonymous_reads_a_public_repo_but_cannot_write() -> None:
    sb = build_world()
    assert call(sb, "GET", f"{REPO}/issues", None).status == 200
    denied = call(sb, "POST", f"{REPO}/issues/1/comments", None, {"body": "hi"})
    assert denied.status == 401
    assert denied.json()["message"] == "Requires authentication"
    assert call(sb, "GET", f"{REPO}/issues", None).headers["x-ratelimit-limit"] == "60"


@pytest.mark.parametrize(
    ("role", "status"),
    [("none", 404), (None, 404), ("read", 200), ("admin", 200), ("team", 200)],
    ids=["non-collaborator", "anonymous", "reader", "admin", "team-granted"],
)
def test_private_repo_is_hidden_from_people_without_access(role: str | None, status: int) -> None:
    sb = build_world(private=True)
    assert call(sb, "GET", f"{REPO}/issues/1", role).status == status


# --- permissions ----------------------------------------------------------------------------------

PERMISSION_CASES = [
    # (case id, method, path, body, role, expected status)
    ("read cannot create a label", "POST", f"{REPO}/labels", {"name": "x1", "color": "ffffff"}, "read", 403),
    (
        "triage cannot create a label",
        "POST",
        f"{REPO}/labels",
        {"name": "x2", "color": "ffffff"},
        "triage",
        403,
    ),
    ("write creates a label", "POST", f"{REPO}/labels", {"name": "x3", "color": "ffffff"}, "write", 201),
    ("team-granted write creates a label", "POST", f"{REPO}/labels", {"name": "x4"}, "team", 201),
    ("read cannot label an issue", "POST", f"{REPO}/issues/1/labels", {"labels": ["security"]}, "read", 403),
    ("triage labels an issue", "POST", f"{REPO}/issues/1/labels", {"labels": ["security"]}, "triage", 200),
    (
        "triage cannot invent a label",
        "POST",
        f"{REPO}/issues/1/labels",
        {"labels": ["new-one"]},
        "triage",
        403,
    ),
    ("write invents a label", "POST", f"{REPO}/issues/1/labels", {"labels": ["new-one"]}, "write", 200),
    ("read can comment", "POST", f"{REPO}/issues/1/comments", {"body": "hi"}, "read", 201),
    (
        "non-collaborator can comment (public)",
        "POST",
        f"{REPO}/issues/1/comments",
        {"body": "hi"},
        "none",
        201,
    ),
    ("read can open an issue", "POST", f"{REPO}/issues", {"title": "t"}, "read", 201),
    ("read cannot edit another's issue", "PATCH", f"{REPO}/issues/6", {"title": "t"}, "read", 403),
    ("author edits own issue", "PATCH", f"{REPO}/issues/1", {"title": "t"}, "read", 200),
    ("triage closes an issue", "PATCH", f"{REPO}/issues/6", {"state": "closed"}, "triage", 200),
    (
        "read cannot create a ref",
        "POST",
        f"{REPO}/git/refs",
        {"ref": "refs/heads/x", "sha": "0"},
        "read",
        403,
    ),
    ("maintain may merge-level writes", "POST", f"{REPO}/git/blobs", {"content": "x"}, "maintain", 201),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "status"),
    [case[1:] for case in PERMISSION_CASES],
    ids=[case[0] for case in PERMISSION_CASES],
)
def test_permissions(method: str, path: str, body: Any, role: str, status: int) -> None:
    sb = build_world()
    reply = call(sb, method, path, role, body)
    assert reply.status == status, reply.body


def test_reader_issue_labels_are_silently_dropped() -> None:
    sb = build_world()
    reply = call(
        sb, "POST", f"{REPO}/issues", "read", {"title": "t", "labels": ["security"], "assignees": ["wes"]}
    )
    assert reply.status == 201
    assert reply.json()["labels"] == []
    assert reply.json()["assignees"] == []


@pytest.mark.parametrize(
    ("login", "permission", "role_name"),
    [
        ("alice", "admin", "admin"),
        ("mona", "write", "maintain"),
        ("wes", "write", "write"),
        ("tess", "read", "triage"),
        ("rita", "read", "read"),
        ("tom", "write", "write"),
    ],
    ids=["admin", "maintain-reads-as-write", "write", "triage-reads-as-read", "read", "team-granted-write"],
)
def test_collaborator_permission_answers_like_github(login: str, permission: str, role_name: str) -> None:
    body = call(build_world(), "GET", f"{REPO}/collaborators/{login}/permission").json()
    assert (body["permission"], body["role_name"], body["user"]["login"]) == (permission, role_name, login)


@pytest.mark.parametrize("login", ["nick", "ghost-user"], ids=["non-collaborator", "unknown-user"])
def test_collaborator_permission_404_for_non_collaborators(login: str) -> None:
    assert call(build_world(), "GET", f"{REPO}/collaborators/{login}/permission").status == 404


def test_team_membership() -> None:
    sb = build_world()
    member = call(sb, "GET", "/orgs/acme/teams/ops-approvers/memberships/tom")
    assert member.status == 200
    assert member.json()["state"] == "active"
    assert call(sb, "GET", "/orgs/acme/teams/ops-approvers/memberships/nick").status == 404


# --- pagination and ETags -----------------------------------------------------------------------


def test_link_header_on_a_middle_page() -> None:
    sb = build_world()
    reply = call(sb, "GET", f"{REPO}/issues?state=all&per_page=2&page=2")
    assert len(reply.json()) == 2
    links = link_urls(reply)
    assert set(links) == {"prev", "next", "last", "first"}
    assert (
        links["next"]
        == f"http://sandbox.test/repositories/{sb.state.repo.id}/issues?state=all&per_page=2&page=3"
    )
    assert links["last"].endswith("page=3")
    assert links["first"].endswith("page=1")


def test_single_page_has_no_link_and_per_page_caps_at_100() -> None:
    sb = build_world()
    for n in range(120):
        sb.add_issue(f"bulk {n}")
    assert "Link" not in call(sb, "GET", f"{REPO}/labels").headers
    assert len(call(sb, "GET", f"{REPO}/issues?per_page=500").json()) == 100
    assert len(call(sb, "GET", f"{REPO}/issues").json()) == 30


def test_etag_304_is_not_counted_and_changes_after_a_write() -> None:
    sb = build_world()
    first = call(sb, "GET", f"{REPO}/issues/1")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = call(sb, "GET", f"{REPO}/issues/1", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    assert sb.ledger[-1].counted is False
    call(sb, "POST", f"{REPO}/issues/1/comments", body={"body": "bump"})
    assert call(sb, "GET", f"{REPO}/issues/1", headers={"If-None-Match": etag}).status == 200


def test_etag_differs_between_viewers() -> None:
    sb = build_world()
    assert (
        call(sb, "GET", f"{REPO}/issues/1", "bot").headers["ETag"]
        != call(sb, "GET", f"{REPO}/issues/1", "read").headers["ETag"]
    )


# --- rate limits -----------------------------------------------------------------------------------


def test_primary_limit_exhausts_then_resets_on_the_virtual_clock() -> None:
    sb = Sandbox(limits=Limits(core=3))
    sb.add_user("bot", token="t", permission="write")
    headers = {"Authorization": "token t"}
    replies = [sb.handle("GET", "/repos/acme/ops/issues", headers, None) for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 200, 403]
    assert replies[2].headers["x-ratelimit-remaining"] == "0"
    limited = replies[3]
    assert limited.json()["message"].startswith(f"API rate limit exceeded for user ID {sb.users['bot'].id}.")
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-resource"] == "core"
    assert sb.ledger[-1].counted is False
    reset = int(limited.headers["x-ratelimit-reset"])
    sb.clock.advance(reset - sb.clock.timestamp())
    fresh = sb.handle("GET", "/repos/acme/ops/issues", headers, None)
    assert fresh.status == 200
    assert fresh.headers["x-ratelimit-remaining"] == "2"


def test_rate_limit_endpoint_is_free_and_reports_budgets() -> None:
    sb = build_world()
    call(sb, "GET", f"{REPO}/issues")
    body = call(sb, "GET", "/rate_limit").json()
    assert body["resources"]["core"]["used"] == 1
    assert body["resources"]["search"]["limit"] == 30
    assert sb.ledger[-1].counted is False


def test_per_user_limit_override() -> None:
    sb = Sandbox()
    sb.add_user("actions", token="gh", permission="write", rate_limit=1000)
    assert (
        sb.handle("GET", "/rate_limit", {"Authorization": "token gh"}, None).json()["rate"]["limit"] == 1000
    )


def test_secondary_content_limit_answers_403_with_retry_after() -> None:
    sb = Sandbox(limits=Limits(content_per_minute=2))
    sb.add_user("bot", token="t", permission="write")
    sb.add_issue("x")
    headers = {"Authorization": "token t"}
    body = b'{"body": "hi"}'
    statuses = [
        sb.handle("POST", "/repos/acme/ops/issues/1/comments", headers, body).status for _ in range(2)
    ]
    blocked = sb.handle("POST", "/repos/acme/ops/issues/1/comments", headers, body)
    assert statuses == [201, 201]
    assert blocked.status == 403
    assert blocked.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert int(blocked.headers["retry-after"]) > 0
    sb.clock.advance(int(blocked.headers["retry-after"]))
    assert sb.handle("POST", "/repos/acme/ops/issues/1/comments", headers, body).status == 201
    assert len(sb.issues[1].comment_ids) == 3


def test_search_has_its_own_budget() -> None:
    sb = build_world()
    reply = call(sb, "GET", "/search/issues?q=repo:acme/ops+disk")
    assert reply.headers["x-ratelimit-resource"] == "search"
    assert reply.headers["x-ratelimit-limit"] == "30"
    for _ in range(29):
        call(sb, "GET", "/search/issues?q=repo:acme/ops+disk")
    assert call(sb, "GET", "/search/issues?q=repo:acme/ops+disk").status == 403
    assert call(sb, "GET", f"{REPO}/issues").status == 200
    sb.clock.advance(60)
    assert call(sb, "GET", "/search/issues?q=repo:acme/ops+disk").status == 200


# --- ledger -------------------------------------------------------------------------------------------


def test_ledger_records_method_path_status_counted_write_and_login() -> None:
    sb = build_world()
    call(sb, "POST", f"{REPO}/issues/1/comments", "write", {"body": "x"})
    entry = sb.ledger[-1]
    assert (entry.method, entry.path, entry.status, entry.counted, entry.write, entry.login) == (
        "POST",
        f"{REPO}/issues/1/comments",
        201,
        True,
        True,
        LOGINS["write"],
    )


def test_control_endpoints_are_neither_counted_nor_recorded() -> None:
    sb = build_world()
    call(sb, "GET", f"{REPO}/issues")
    assert (
        sb.handle("POST", "/_sandbox/clock", {}, b'{"advance_seconds": 30}')
        .json()["now"]
        .endswith("09:00:30Z")
    )
    ledger = sb.handle("GET", "/_sandbox/ledger", {}, None).json()
    assert ledger["count"] == 1
    assert ledger["entries"][0]["path"] == f"{REPO}/issues"
    assert len(sb.ledger) == 1
    assert sb.handle("POST", "/_sandbox/clock", {}, b'{"now": "2030-01-01T00:00:00Z"}').json()["now"] == (
        "2030-01-01T00:00:00Z"
    )
    assert sb.handle("POST", "/_sandbox/clock", {}, b'{"now": "2020-01-01T00:00:00Z"}').status == 422


def test_malformed_json_is_400() -> None:
    sb = build_world()
    reply = sb.handle("POST", f"{REPO}/issues", {"Authorization": f"token {TOKENS['bot']}"}, b"{nope")
    assert reply.status == 400
    assert reply.json()["message"] == "Problems parsing JSON"
