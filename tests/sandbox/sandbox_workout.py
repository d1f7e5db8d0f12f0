"""Every route the sandbox serves, driven with plain `requests` (success and error cases).

`workout(session, base)` expects the world from `sandbox_world.build_world()` and asserts each
status as it goes; the fidelity test replays the recorded bodies against GitHub's description.
"""

from __future__ import annotations

import base64
from typing import Any

import requests
from sandbox_world import TOKENS

REPO = "/repos/acme/ops"


class Client:
    def __init__(self, session: requests.Session, base: str) -> None:
        self.session = session
        self.base = base.rstrip("/")

    def call(
        self,
        method: str,
        path: str,
        role: str | None = "bot",
        *,
        expect: int,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        sent.setdefault("Accept", "application/vnd.github+json")
        if role is not None:
            sent["Authorization"] = f"token {TOKENS.get(role, role)}"
        response = self.session.request(
            method, self.base + path, json=json, headers=sent, params=params, timeout=10
        )
        assert response.status_code == expect, (
            f"{method} {path} as {role}: expected {expect}, got {response.status_code}: {response.text[:300]}"
        )
        return response


def workout(session: requests.Session, base: str) -> dict[str, requests.Response]:
    c = Client(session, base)
    r: dict[str, requests.Response] = {}
    call = c.call

    # --- identity and access -------------------------------------------------------------
    r["rate_limit"] = call("GET", "/rate_limit", expect=200)
    r["root"] = call("GET", "/", expect=200)
    call("GET", "/", None, expect=200)
    r["user"] = call("GET", "/user", expect=200)
    call("GET", "/user", None, expect=401)
    r["repo"] = call("GET", REPO, expect=200)
    call("GET", REPO, None, expect=200)
    call("GET", "/repos/acme/other", expect=404)
    for login, role in (("alice", "admin"), ("mona", "maintain"), ("wes", "write"), ("tess", "triage")):
        r[f"perm_{role}"] = call("GET", f"{REPO}/collaborators/{login}/permission", expect=200)
    r["perm_team"] = call("GET", f"{REPO}/collaborators/tom/permission", expect=200)
    call("GET", f"{REPO}/collaborators/nick/permission", expect=404)
    call("GET", f"{REPO}/collaborators/nobody-at-all/permission", expect=404)
    r["team_member"] = call("GET", "/orgs/acme/teams/ops-approvers/memberships/alice", expect=200)
    call("GET", "/orgs/acme/teams/ops-approvers/memberships/nick", expect=404)
    call("GET", "/orgs/acme/teams/no-such-team/memberships/alice", expect=404)
    call("GET", REPO, "not-a-token", expect=401)
    call("GET", f"{REPO}/no/such/route", expect=404)

    # --- issues ----------------------------------------------------------------------------
    r["issues_page"] = call("GET", f"{REPO}/issues", params={"per_page": 2}, expect=200)
    etag = r["issues_page"].headers["ETag"]
    r["issues_304"] = call(
        "GET", f"{REPO}/issues", params={"per_page": 2}, headers={"If-None-Match": etag}, expect=304
    )
    call("GET", f"{REPO}/issues", params={"per_page": 2, "page": 2}, expect=200)
    call(
        "GET",
        f"{REPO}/issues",
        params={"labels": "state::triage,source::monitor", "state": "all"},
        expect=200,
    )
    call(
        "GET", f"{REPO}/issues", params={"sort": "updated", "direction": "asc", "creator": "rita"}, expect=200
    )
    call("GET", f"{REPO}/issues", params={"since": "2020-01-01T00:00:00Z", "assignee": "none"}, expect=200)
    call("GET", f"{REPO}/issues", params={"state": "sideways"}, expect=422)
    r["issue"] = call("GET", f"{REPO}/issues/1", expect=200)
    call("GET", f"{REPO}/issues/999", expect=404)
    r["issue_created"] = call(
        "POST",
        f"{REPO}/issues",
        json={"title": "New incident", "body": "Service down", "labels": ["security", "state::triage"]},
        expect=201,
    )
    created = r["issue_created"].json()["number"]
    r["issue_by_reader"] = call(
        "POST", f"{REPO}/issues", "read", json={"title": "Reader issue", "labels": ["security"]}, expect=201
    )
    call("POST", f"{REPO}/issues", json={"body": "no title"}, expect=422)
    call("POST", f"{REPO}/issues", None, json={"title": "anonymous"}, expect=401)
    r["issue_closed"] = call(
        "PATCH",
        f"{REPO}/issues/{created}",
        json={"state": "closed", "state_reason": "not_planned", "title": "Renamed incident"},
        expect=200,
    )
    r["issue_reopened"] = call("PATCH", f"{REPO}/issues/{created}", json={"state": "open"}, expect=200)
    call("PATCH", f"{REPO}/issues/{created}", "read", json={"title": "hijack"}, expect=403)
    call("PATCH", f"{REPO}/issues/1", "read", json={"body": "author edit"}, expect=200)
    call("PATCH", f"{REPO}/issues/1", json={"state_reason": "sideways"}, expect=422)

    # --- repository labels -------------------------------------------------------------------
    r["labels"] = call("GET", f"{REPO}/labels", expect=200)
    r["label_created"] = call(
        "POST",
        f"{REPO}/labels",
        json={"name": "risk::high", "color": "b60205", "description": "High"},
        expect=201,
    )
    call("POST", f"{REPO}/labels", json={"name": "risk::high", "color": "b60205"}, expect=422)
    call("POST", f"{REPO}/labels", json={"name": "bad", "color": "not-a-colour"}, expect=422)
    call("POST", f"{REPO}/labels", "read", json={"name": "by-reader", "color": "ffffff"}, expect=403)
    call("POST", f"{REPO}/labels", "triage", json={"name": "by-triager", "color": "ffffff"}, expect=403)
    r["label"] = call("GET", f"{REPO}/labels/security", expect=200)
    call("GET", f"{REPO}/labels/risk%3A%3Ahigh", expect=200)
    call("GET", f"{REPO}/labels/missing", expect=404)
    r["label_updated"] = call(
        "PATCH",
        f"{REPO}/labels/risk%3A%3Ahigh",
        json={"new_name": "risk::critical", "color": "000000"},
        expect=200,
    )
    call("POST", f"{REPO}/labels", json={"name": "temporary", "color": "eeeeee"}, expect=201)
    call("DELETE", f"{REPO}/labels/temporary", expect=204)

    # --- labels on an issue --------------------------------------------------------------------
    r["issue_labels"] = call("GET", f"{REPO}/issues/1/labels", expect=200)
    r["issue_labels_added"] = call(
        "POST",
        f"{REPO}/issues/1/labels",
        json={"labels": ["security", "workflow::incident-follow-up"]},
        expect=200,
    )
    call("POST", f"{REPO}/issues/1/labels", json=["risk::low"], expect=200)
    call("POST", f"{REPO}/issues/1/labels", "triage", json={"labels": ["security"]}, expect=200)
    call("POST", f"{REPO}/issues/1/labels", "triage", json={"labels": ["brand-new"]}, expect=403)
    call("POST", f"{REPO}/issues/1/labels", "read", json={"labels": ["security"]}, expect=403)
    r["issue_label_removed"] = call("DELETE", f"{REPO}/issues/1/labels/risk%3A%3Alow", expect=200)
    call("DELETE", f"{REPO}/issues/1/labels/risk%3A%3Alow", expect=404)
    r["issue_labels_set"] = call(
        "PUT", f"{REPO}/issues/2/labels", json={"labels": ["state::assigned"]}, expect=200
    )
    call("DELETE", f"{REPO}/issues/3/labels", expect=204)

    # --- comments ------------------------------------------------------------------------------
    r["comments"] = call("GET", f"{REPO}/issues/1/comments", expect=200)
    r["comment_created"] = call(
        "POST", f"{REPO}/issues/1/comments", json={"body": "Working on it"}, expect=201
    )
    comment_id = r["comment_created"].json()["id"]
    call("POST", f"{REPO}/issues/1/comments", json={}, expect=422)
    call("POST", f"{REPO}/issues/1/comments", None, json={"body": "anon"}, expect=401)
    r["repo_comments"] = call(
        "GET",
        f"{REPO}/issues/comments",
        params={"since": "2020-01-01T00:00:00Z", "per_page": 100},
        expect=200,
    )
    call("GET", f"{REPO}/issues/comments", params={"sort": "updated", "direction": "desc"}, expect=200)
    r["comment"] = call("GET", f"{REPO}/issues/comments/{comment_id}", expect=200)
    call("GET", f"{REPO}/issues/comments/1", expect=404)
    r["comment_updated"] = call(
        "PATCH", f"{REPO}/issues/comments/{comment_id}", json={"body": "Working on it (edited)"}, expect=200
    )
    call("PATCH", f"{REPO}/issues/comments/{comment_id}", "read", json={"body": "vandal"}, expect=403)
    spare = call("POST", f"{REPO}/issues/2/comments", json={"body": "to delete"}, expect=201).json()["id"]
    call("DELETE", f"{REPO}/issues/comments/{spare}", expect=204)

    # --- reactions ---------------------------------------------------------------------------------
    r["reaction_issue"] = call("POST", f"{REPO}/issues/1/reactions", json={"content": "eyes"}, expect=201)
    call("POST", f"{REPO}/issues/1/reactions", json={"content": "eyes"}, expect=200)
    call("POST", f"{REPO}/issues/1/reactions", json={"content": "shrug"}, expect=422)
    r["reactions_issue"] = call("GET", f"{REPO}/issues/1/reactions", expect=200)
    r["reaction_comment"] = call(
        "POST", f"{REPO}/issues/comments/{comment_id}/reactions", json={"content": "+1"}, expect=201
    )
    r["reactions_comment"] = call("GET", f"{REPO}/issues/comments/{comment_id}/reactions", expect=200)
    heart = call(
        "POST", f"{REPO}/issues/comments/{comment_id}/reactions", json={"content": "heart"}, expect=201
    ).json()["id"]
    call("DELETE", f"{REPO}/issues/comments/{comment_id}/reactions/{heart}", "admin", expect=403)
    call("DELETE", f"{REPO}/issues/comments/{comment_id}/reactions/{heart}", expect=204)
    call("DELETE", f"{REPO}/issues/comments/{comment_id}/reactions/{heart}", expect=404)
    rocket = call("POST", f"{REPO}/issues/1/reactions", json={"content": "rocket"}, expect=201).json()["id"]
    call("DELETE", f"{REPO}/issues/1/reactions/{rocket}", expect=204)

    # --- assignees, events, timeline ---------------------------------------------------------------
    r["assigned"] = call(
        "POST", f"{REPO}/issues/1/assignees", json={"assignees": ["wes", "tess"]}, expect=201
    )
    r["unassigned"] = call("DELETE", f"{REPO}/issues/1/assignees", json={"assignees": ["tess"]}, expect=200)
    r["events"] = call("GET", f"{REPO}/issues/1/events", expect=200)
    r["timeline"] = call("GET", f"{REPO}/issues/1/timeline", expect=200)

    # --- search --------------------------------------------------------------------------------------
    r["search"] = call(
        "GET",
        "/search/issues",
        params={"q": 'repo:acme/ops is:issue is:open label:"state::triage" disk', "per_page": 2},
        expect=200,
    )
    call("GET", "/search/issues", expect=422)

    # --- git data ------------------------------------------------------------------------------------
    r["ref_main"] = call("GET", f"{REPO}/git/ref/heads/main", expect=200)
    main_sha = r["ref_main"].json()["object"]["sha"]
    call("GET", f"{REPO}/git/ref/heads/nope", expect=404)
    r["matching_refs"] = call("GET", f"{REPO}/git/matching-refs/heads/", expect=200)
    r["refs_legacy_all"] = call("GET", f"{REPO}/git/refs/", expect=200)
    r["refs_legacy_one"] = call("GET", f"{REPO}/git/refs/heads/main", expect=200)
    call("GET", f"{REPO}/git/refs/heads/nope", expect=404)
    r["blob_created"] = call(
        "POST", f"{REPO}/git/blobs", json={"content": "hello\n", "encoding": "utf-8"}, expect=201
    )
    blob_sha = r["blob_created"].json()["sha"]
    r["blob"] = call("GET", f"{REPO}/git/blobs/{blob_sha}", expect=200)
    r["commit_main"] = call("GET", f"{REPO}/git/commits/{main_sha}", expect=200)
    base_tree = r["commit_main"].json()["tree"]["sha"]
    r["tree_created"] = call(
        "POST",
        f"{REPO}/git/trees",
        json={
            "base_tree": base_tree,
            "tree": [
                {
                    "path": "deliverables/1/report.md",
                    "mode": "100644",
                    "type": "blob",
                    "content": "# Report\n",
                },
                {"path": "deliverables/1/hello.txt", "mode": "100644", "type": "blob", "sha": blob_sha},
            ],
        },
        expect=201,
    )
    tree_sha = r["tree_created"].json()["sha"]
    r["tree"] = call("GET", f"{REPO}/git/trees/{tree_sha}", params={"recursive": "1"}, expect=200)
    r["commit_created"] = call(
        "POST",
        f"{REPO}/git/commits",
        json={"message": "Add report", "tree": tree_sha, "parents": [main_sha]},
        expect=201,
    )
    new_sha = r["commit_created"].json()["sha"]
    call("POST", f"{REPO}/git/commits", json={"message": "x", "tree": "0" * 40, "parents": []}, expect=422)
    r["ref_created"] = call(
        "POST", f"{REPO}/git/refs", json={"ref": "refs/heads/issueops/1-report", "sha": main_sha}, expect=201
    )
    call(
        "POST", f"{REPO}/git/refs", json={"ref": "refs/heads/issueops/1-report", "sha": main_sha}, expect=422
    )
    r["ref_updated"] = call(
        "PATCH", f"{REPO}/git/refs/heads/issueops/1-report", json={"sha": new_sha}, expect=200
    )
    call("PATCH", f"{REPO}/git/refs/heads/issueops/1-report", json={"sha": main_sha}, expect=422)
    call("POST", f"{REPO}/git/refs", json={"ref": "refs/heads/scratch", "sha": main_sha}, expect=201)
    call("DELETE", f"{REPO}/git/refs/heads/scratch", expect=204)
    call("POST", f"{REPO}/git/blobs", "read", json={"content": "x"}, expect=403)

    # --- branches and contents --------------------------------------------------------------------
    r["branches"] = call("GET", f"{REPO}/branches", expect=200)
    r["branch"] = call("GET", f"{REPO}/branches/issueops/1-report", expect=200)
    call("GET", f"{REPO}/branches/nope", expect=404)
    r["content_file"] = call(
        "GET", f"{REPO}/contents/deliverables/1/report.md", params={"ref": "issueops/1-report"}, expect=200
    )
    r["content_dir"] = call(
        "GET", f"{REPO}/contents/deliverables/1", params={"ref": "issueops/1-report"}, expect=200
    )
    call("GET", f"{REPO}/contents/missing.md", expect=404)
    r["content_root"] = call("GET", f"{REPO}/contents", expect=200)
    r["content_root_slash"] = call("GET", f"{REPO}/contents/", expect=200)
    encoded = base64.b64encode(b"# Notes\n").decode()
    r["content_created"] = call(
        "PUT",
        f"{REPO}/contents/notes/today.md",
        json={"message": "Add notes", "content": encoded, "branch": "issueops/1-report"},
        expect=201,
    )
    file_sha = r["content_created"].json()["content"]["sha"]
    call(
        "PUT",
        f"{REPO}/contents/notes/today.md",
        json={"message": "again", "content": encoded, "branch": "issueops/1-report"},
        expect=422,
    )
    call(
        "PUT",
        f"{REPO}/contents/notes/today.md",
        json={"message": "stale", "content": encoded, "branch": "issueops/1-report", "sha": blob_sha},
        expect=409,
    )
    r["content_updated"] = call(
        "PUT",
        f"{REPO}/contents/notes/today.md",
        json={
            "message": "Update notes",
            "content": base64.b64encode(b"# Notes v2\n").decode(),
            "branch": "issueops/1-report",
            "sha": file_sha,
        },
        expect=200,
    )

    # --- pull requests ----------------------------------------------------------------------------
    r["pull_created"] = call(
        "POST",
        f"{REPO}/pulls",
        json={
            "title": "Report for #1",
            "head": "acme:issueops/1-report",
            "base": "main",
            "body": "Closes #1",
        },
        expect=201,
    )
    number = r["pull_created"].json()["number"]
    head_sha = r["pull_created"].json()["head"]["sha"]
    call(
        "POST",
        f"{REPO}/pulls",
        json={"title": "dup", "head": "issueops/1-report", "base": "main"},
        expect=422,
    )
    call(
        "POST", f"{REPO}/pulls", json={"title": "none", "head": "no-such-branch", "base": "main"}, expect=422
    )
    r["pulls"] = call(
        "GET", f"{REPO}/pulls", params={"head": "acme:issueops/1-report", "state": "all"}, expect=200
    )
    r["pull"] = call("GET", f"{REPO}/pulls/{number}", expect=200)
    call("GET", f"{REPO}/pulls/1", expect=404)
    call("GET", f"{REPO}/pulls/{number}/merge", expect=404)
    call("PUT", f"{REPO}/pulls/{number}/merge", json={"sha": main_sha}, expect=409)
    call("PUT", f"{REPO}/pulls/{number}/merge", "read", json={"sha": head_sha}, expect=403)
    r["merged"] = call("PUT", f"{REPO}/pulls/{number}/merge", json={"sha": head_sha}, expect=200)
    call("PUT", f"{REPO}/pulls/{number}/merge", json={"sha": head_sha}, expect=405)
    call("GET", f"{REPO}/pulls/{number}/merge", expect=204)
    r["closed_by_merge"] = call("GET", f"{REPO}/issues/1", expect=200)
    r["pull_merged"] = call("GET", f"{REPO}/pulls/{number}", expect=200)
    r["issues_with_pulls"] = call(
        "GET", f"{REPO}/issues", params={"state": "all", "per_page": 100}, expect=200
    )
    _update_pulls(c, r, number)
    return r


def _update_pulls(c: Client, r: dict[str, requests.Response], merged: int) -> None:
    """PATCH a pull request: edit, close, reopen; a deleted head branch or a merge forbids reopening."""
    call = c.call
    r["pull_retitled"] = call(
        "PATCH", f"{REPO}/pulls/{merged}", json={"title": "Report (merged)"}, expect=200
    )
    call("PATCH", f"{REPO}/pulls/{merged}", json={"state": "open"}, expect=422)
    note = base64.b64encode(b"extra\n").decode()
    main_sha = call("GET", f"{REPO}/git/ref/heads/main", expect=200).json()["object"]["sha"]
    call("POST", f"{REPO}/git/refs", json={"ref": "refs/heads/issueops/2-extra", "sha": main_sha}, expect=201)
    call(
        "PUT",
        f"{REPO}/contents/extra.md",
        json={"message": "Extra", "content": note, "branch": "issueops/2-extra"},
        expect=201,
    )
    opened = call(
        "POST",
        f"{REPO}/pulls",
        json={"title": "Extra for #2", "head": "issueops/2-extra", "base": "main"},
        expect=201,
    )
    number = opened.json()["number"]
    call("PATCH", f"{REPO}/pulls/{number}", json={"state": "shut"}, expect=422)
    call("PATCH", f"{REPO}/pulls/{number}", json={"base": "no-such-branch"}, expect=422)
    call("PATCH", f"{REPO}/pulls/{number}", "triage", json={"title": "nope"}, expect=403)
    call("PATCH", f"{REPO}/pulls/{number}", "read", json={"state": "closed"}, expect=403)
    r["pull_closed"] = call("PATCH", f"{REPO}/pulls/{number}", "triage", json={"state": "closed"}, expect=200)
    call("PATCH", f"{REPO}/pulls/{number}", json={"state": "closed"}, expect=200)  # already closed: no-op
    r["pull_reopened"] = call(
        "PATCH", f"{REPO}/pulls/{number}", json={"state": "open", "body": "Reopened"}, expect=200
    )
    call("PATCH", f"{REPO}/pulls/{number}", json={"state": "closed"}, expect=200)
    call("DELETE", f"{REPO}/git/refs/heads/issueops/2-extra", expect=204)
    call("DELETE", f"{REPO}/git/refs/heads/issueops/2-extra", expect=422)
    r["refs_after_delete"] = call("GET", f"{REPO}/git/matching-refs/heads/issueops/", expect=200)
    assert "refs/heads/issueops/2-extra" not in {x["ref"] for x in r["refs_after_delete"].json()}
    call("GET", f"{REPO}/branches/issueops/2-extra", expect=404)
    call("PATCH", f"{REPO}/pulls/{number}", json={"state": "open"}, expect=422)
    r["pull_closed_branch_gone"] = call("GET", f"{REPO}/pulls/{number}", expect=200)
