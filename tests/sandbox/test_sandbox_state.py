"""What requests do to the state: timestamps, events with their actor, shared numbers, merges."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sandbox_world import LOGINS, TOKENS, build_world

from issueops.sandbox import Sandbox, SandboxResponse

REPO = "/repos/acme/ops"


def call(sb: Sandbox, method: str, path: str, role: str = "bot", body: Any = None) -> SandboxResponse:
    payload = None if body is None else json.dumps(body).encode()
    return sb.handle(method, path, {"Authorization": f"token {TOKENS[role]}"}, payload)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", f"{REPO}/issues/1", {"body": "new body"}),
        ("PATCH", f"{REPO}/issues/1", {"title": "new title"}),
        ("POST", f"{REPO}/issues/1/comments", {"body": "a comment"}),
        ("POST", f"{REPO}/issues/1/labels", {"labels": ["security"]}),
        ("DELETE", f"{REPO}/issues/1/labels/state%3A%3Atriage", None),
        ("PUT", f"{REPO}/issues/1/labels", {"labels": ["security"]}),
        ("POST", f"{REPO}/issues/1/assignees", {"assignees": ["wes"]}),
        ("PATCH", f"{REPO}/issues/1", {"state": "closed"}),
    ],
    ids=[
        "body edit",
        "rename",
        "comment",
        "label added",
        "label removed",
        "labels set",
        "assigned",
        "closed",
    ],
)
def test_issue_updated_at_bumps(method: str, path: str, body: Any) -> None:
    sb = build_world()
    before = call(sb, "GET", f"{REPO}/issues/1").json()["updated_at"]
    sb.clock.advance(60)
    assert call(sb, method, path, body=body).status < 300
    after = call(sb, "GET", f"{REPO}/issues/1").json()["updated_at"]
    assert after > before


def test_reading_or_reacting_does_not_bump_updated_at() -> None:
    sb = build_world()
    before = sb.issues[1].updated_at
    sb.clock.advance(60)
    call(sb, "POST", f"{REPO}/issues/1/reactions", body={"content": "eyes"})
    call(sb, "GET", f"{REPO}/issues/1/comments")
    assert sb.issues[1].updated_at == before


def test_comment_updated_at_moves_only_on_edit() -> None:
    sb = build_world()
    created = call(sb, "POST", f"{REPO}/issues/1/comments", body={"body": "v1"}).json()
    assert created["created_at"] == created["updated_at"]
    sb.clock.advance(120)
    call(sb, "POST", f"{REPO}/issues/comments/{created['id']}/reactions", body={"content": "+1"})
    assert (
        call(sb, "GET", f"{REPO}/issues/comments/{created['id']}").json()["updated_at"]
        == created["updated_at"]
    )
    edited = call(sb, "PATCH", f"{REPO}/issues/comments/{created['id']}", body={"body": "v2"}).json()
    assert edited["updated_at"] > edited["created_at"]


@pytest.mark.parametrize(
    ("method", "path", "body", "event"),
    [
        ("POST", f"{REPO}/issues/1/labels", {"labels": ["security"]}, "labeled"),
        ("PUT", f"{REPO}/issues/1/labels", {"labels": []}, "unlabeled"),
        ("DELETE", f"{REPO}/issues/1/labels/state%3A%3Atriage", None, "unlabeled"),
        ("DELETE", f"{REPO}/issues/1/labels", None, "unlabeled"),
        ("PATCH", f"{REPO}/issues/1", {"labels": ["security"]}, "labeled"),
        ("POST", f"{REPO}/issues/1/assignees", {"assignees": ["wes"]}, "assigned"),
        ("PATCH", f"{REPO}/issues/1", {"state": "closed", "state_reason": "not_planned"}, "closed"),
        ("PATCH", f"{REPO}/issues/1", {"title": "Renamed"}, "renamed"),
    ],
    ids=[
        "add labels",
        "set labels",
        "remove one label",
        "remove all labels",
        "patch labels",
        "assign",
        "close",
        "rename",
    ],
)
def test_every_route_records_events_with_the_acting_user(
    method: str, path: str, body: Any, event: str
) -> None:
    sb = build_world()
    assert call(sb, method, path, "triage", body).status < 300
    events = call(sb, "GET", f"{REPO}/issues/1/events").json()
    mine = [e for e in events if e["event"] == event and e["actor"]["login"] == LOGINS["triage"]]
    assert mine, events


def test_seeded_labels_have_events_by_the_author() -> None:
    sb = build_world()
    events = call(sb, "GET", f"{REPO}/issues/1/events").json()
    assert [(e["event"], e["label"]["name"], e["actor"]["login"]) for e in events] == [
        ("labeled", "state::triage", "rita"),
        ("labeled", "source::monitor", "rita"),
    ]


def test_removing_an_absent_label_is_404_label_does_not_exist() -> None:
    reply = call(build_world(), "DELETE", f"{REPO}/issues/1/labels/security")
    assert reply.status == 404
    assert reply.json()["message"] == "Label does not exist"


def test_duplicate_reaction_answers_200_with_the_same_reaction() -> None:
    sb = build_world()
    first = call(sb, "POST", f"{REPO}/issues/1/reactions", body={"content": "rocket"})
    second = call(sb, "POST", f"{REPO}/issues/1/reactions", body={"content": "rocket"})
    assert (first.status, second.status) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert call(sb, "GET", f"{REPO}/issues/1").json()["reactions"]["rocket"] == 1


def test_numbers_are_shared_by_issues_and_pull_requests_and_lists_include_pulls() -> None:
    sb = build_world()
    pull = sb.add_pull("Change", "feature/x", files={"a.txt": "a\n"})
    issue = call(sb, "POST", f"{REPO}/issues", body={"title": "after the PR"}).json()
    assert issue["number"] == pull.number + 1
    listed = call(sb, "GET", f"{REPO}/issues?per_page=100").json()
    as_issue = next(i for i in listed if i["number"] == pull.number)
    assert as_issue["pull_request"]["url"].endswith(f"/pulls/{pull.number}")
    assert as_issue["html_url"].endswith(f"/acme/ops/pull/{pull.number}")
    assert call(sb, "GET", f"{REPO}/pulls/{issue['number']}").status == 404


def test_merge_into_default_branch_closes_referenced_issue_as_completed() -> None:
    sb = build_world()
    pull = sb.add_pull("Postmortem", "pm/1", body="Fixes #2 and closes #3", files={"pm.md": "# PM\n"})
    head = sb.refs["refs/heads/pm/1"]
    merged = call(sb, "PUT", f"{REPO}/pulls/{pull.number}/merge", body={"sha": head})
    assert merged.status == 200
    assert merged.json()["merged"] is True
    for n in (2, 3):
        issue = call(sb, "GET", f"{REPO}/issues/{n}").json()
        assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
        closed = [e for e in call(sb, "GET", f"{REPO}/issues/{n}/events").json() if e["event"] == "closed"]
        assert closed[0]["commit_id"] == merged.json()["sha"]
    assert sb.file("main", "pm.md") == "# PM\n"
    assert call(sb, "GET", f"{REPO}/issues/4").json()["state"] == "open"


def test_merge_conflict_is_405_and_stale_sha_is_409() -> None:
    sb = build_world()
    pull = sb.add_pull("Edit readme", "edit", files={"README.md": "branch\n"})
    assert call(sb, "PUT", f"{REPO}/pulls/{pull.number}/merge", body={"sha": "0" * 40}).status == 409
    sb.commit_files("main", {"README.md": "main\n"})
    assert call(sb, "GET", f"{REPO}/pulls/{pull.number}").json()["mergeable"] is False
    reply = call(sb, "PUT", f"{REPO}/pulls/{pull.number}/merge", body={})
    assert reply.status == 405
    assert reply.json()["message"] == "Pull Request is not mergeable"


def test_merge_into_another_branch_closes_nothing() -> None:
    sb = build_world()
    sb.commit_files("release", {"r.txt": "r\n"})
    pull = sb.add_pull("To release", "fix", base="release", body="Closes #2", files={"f.txt": "f\n"})
    assert call(sb, "PUT", f"{REPO}/pulls/{pull.number}/merge", body={}).status == 200
    assert sb.issues[2].state == "open"


def test_commit_files_is_idempotent_for_identical_content() -> None:
    sb = build_world()
    first = sb.commit_files("work", {"a.md": "same\n"})
    assert sb.commit_files("work", {"a.md": "same\n"}) == first


def test_contents_and_trees_round_trip_nested_paths() -> None:
    sb = build_world()
    sha = sb.commit_files("work", {"a/b/c.md": "deep\n", "a/top.md": "top\n"})
    tree = call(sb, "GET", f"{REPO}/git/trees/{sha}?recursive=1").json()
    assert {e["path"] for e in tree["tree"]} >= {"a", "a/b", "a/b/c.md", "a/top.md", "README.md"}
    listing = call(sb, "GET", f"{REPO}/contents/a?ref=work").json()
    assert sorted((e["name"], e["type"]) for e in listing) == [("b", "dir"), ("top.md", "file")]


def test_search_qualifiers() -> None:
    sb = build_world()
    sb.add_issue("Closed thing", "x", "wes", state="closed", labels=["security"])

    def hits(q: str) -> list[int]:
        return [
            i["number"]
            for i in call(sb, "GET", f"/search/issues?q={q}&sort=created&order=asc").json()["items"]
        ]

    assert hits("repo:acme/ops+is:issue+is:open+label:workflow::access-request") == [6]
    assert hits("repo:acme/ops+is:closed") == [7]
    assert hits("repo:acme/ops+author:nick") == [6]
    assert hits("repo:acme/ops+db-3+in:title") == [3]
    assert hits("repo:acme/ops+-label:state::triage+is:open") == [6]
    assert hits("repo:other/repo") == []
    assert hits("repo:acme/ops+no:label") == []
