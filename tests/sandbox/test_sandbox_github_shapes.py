"""Regression tests for issue #18: the sandbox answers the way recorded GitHub answers.

One section per finding: pagination URLs, routes GitHub serves, media types, headers, fields,
and scenario text with JSON surrogate-pair escapes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
from sandbox_world import TOKENS, build_world, call, link_urls

from issueops.core.errors import ConfigError
from issueops.sandbox import Sandbox
from issueops.sandbox.inprocess import activate
from issueops.sandbox.scenario import build_sandbox, load_scenario

REPO = "/repos/acme/ops"


# --- pagination links name the repository by id, and those URLs are served --------------------------


def test_link_urls_use_repositories_id_and_answer_the_same_page() -> None:
    sb = build_world()
    first = call(sb, "GET", f"{REPO}/issues?state=all&per_page=2")
    links = link_urls(first)
    prefix = f"{sb.base_url}/repositories/{sb.state.repo.id}/issues?"
    assert links["next"] == prefix + "state=all&per_page=2&page=2"
    assert links["last"] == prefix + "state=all&per_page=2&page=3"
    by_id = call(sb, "GET", links["next"].removeprefix(sb.base_url))
    by_name = call(sb, "GET", f"{REPO}/issues?state=all&per_page=2&page=2")
    assert by_id.status == by_name.status == 200
    assert by_id.json() == by_name.json()
    assert link_urls(by_id) == link_urls(by_name)  # both name the repository by id
    assert set(link_urls(by_id)) == {"prev", "next", "last", "first"}


@pytest.mark.parametrize(
    "path",
    [
        "/repositories/999/issues",  # another repository's id
        "/repositories/abc/issues",
        "/repositories/",
    ],
)
def test_repositories_path_of_another_id_is_404(path: str) -> None:
    assert call(build_world(), "GET", path).status == 404


def test_repositories_id_alone_is_the_repository() -> None:
    sb = build_world()
    reply = call(sb, "GET", f"/repositories/{sb.state.repo.id}")
    assert reply.status == 200
    assert reply.json()["full_name"] == "acme/ops"


def test_private_repository_by_id_stays_hidden() -> None:
    sb = build_world(private=True)
    assert call(sb, "GET", f"/repositories/{sb.state.repo.id}/issues", "none").status == 404
    assert call(sb, "GET", f"/repositories/{sb.state.repo.id}/issues", "read").status == 200


# --- routes GitHub serves ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{REPO}/contents", f"{REPO}/contents/"])
def test_root_directory_listing(path: str) -> None:
    sb = build_world()
    sb.commit_files("main", {"docs/a.md": "a\n"}, "docs")
    reply = call(sb, "GET", path)
    assert reply.status == 200
    entries = {e["path"]: e for e in reply.json()}
    assert {"README.md", "docs"} <= set(entries)
    assert entries["docs"]["type"] == "dir"
    assert entries["README.md"]["url"] == f"{sb.base_url}{REPO}/contents/README.md?ref=main"


def test_git_refs_legacy_reads() -> None:
    sb = build_world()
    sb.commit_files("feature/x", {"x.md": "x\n"}, "x")
    every = call(sb, "GET", f"{REPO}/git/refs/")
    assert every.status == 200
    assert [r["ref"] for r in every.json()] == ["refs/heads/feature/x", "refs/heads/main"]
    assert call(sb, "GET", f"{REPO}/git/refs").json() == every.json()
    one = call(sb, "GET", f"{REPO}/git/refs/heads/main")
    assert one.status == 200
    assert one.json()["ref"] == "refs/heads/main"  # an exact name is the ref itself
    prefix = call(sb, "GET", f"{REPO}/git/refs/heads/feature")
    assert [r["ref"] for r in prefix.json()] == ["refs/heads/feature/x"]  # a partial name lists
    assert call(sb, "GET", f"{REPO}/git/refs/heads/nope").status == 404


def test_delete_a_comment_reaction_and_an_issue_reaction() -> None:
    sb = build_world()
    comment_id = next(iter(sb.comments))
    made = call(sb, "POST", f"{REPO}/issues/comments/{comment_id}/reactions", body={"content": "eyes"})
    path = f"{REPO}/issues/comments/{comment_id}/reactions/{made.json()['id']}"
    assert call(sb, "DELETE", path, "admin").status == 403  # someone else's reaction
    assert call(sb, "DELETE", path).status == 204
    assert sb.comments[comment_id].reactions == []
    assert call(sb, "DELETE", path).status == 404
    on_issue = call(sb, "POST", f"{REPO}/issues/1/reactions", body={"content": "heart"}).json()["id"]
    assert call(sb, "DELETE", f"{REPO}/issues/1/reactions/{on_issue}").status == 204
    assert sb.issues[1].reactions == []


def test_api_root() -> None:
    sb = build_world()
    reply = call(sb, "GET", "/", None)
    assert reply.status == 200
    assert reply.json()["repository_url"] == f"{sb.base_url}/repos/{{owner}}/{{repo}}"


def test_api_root_under_a_path_prefix() -> None:
    sb = Sandbox("acme/ops", base_url="http://ghe.test/api/v3")
    assert (
        sb.handle("GET", "/api/v3", {}, None).json()["rate_limit_url"] == "http://ghe.test/api/v3/rate_limit"
    )


def test_unknown_route_is_githubs_404() -> None:
    reply = call(build_world(), "GET", f"{REPO}/releases")
    assert reply.status == 404
    assert reply.json()["message"] == "Not Found"


# --- media types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_header"),
    [
        ("application/vnd.github.raw", "github.v3; param=raw"),
        ("application/vnd.github.v3.raw", "github.v3; param=raw"),
        ("application/vnd.github.raw+json", "github.v3; param=raw; format=json"),
    ],
)
def test_raw_media_types_answer_the_file_text(accept: str, media_header: str) -> None:
    sb = build_world()
    sb.commit_files("main", {"notes/ü.md": "héllo 😭\n"}, "notes")
    reply = call(sb, "GET", f"{REPO}/contents/notes/%C3%BC.md", headers={"Accept": accept})
    assert reply.status == 200
    assert reply.body == "héllo 😭\n".encode()
    assert reply.headers["Content-Type"] == f"{accept}; charset=utf-8"
    assert reply.headers["X-GitHub-Media-Type"] == media_header
    assert "ETag" in reply.headers


def test_json_media_type_is_the_object() -> None:
    sb = build_world()
    reply = call(sb, "GET", f"{REPO}/contents/README.md", headers={"Accept": "application/vnd.github+json"})
    assert base64.b64decode(reply.json()["content"]) == b"# ops\n"
    assert reply.headers["X-GitHub-Media-Type"] == "github.v3; format=json"


def test_download_url_resolves_to_the_text() -> None:
    sb = build_world()
    sb.commit_files("feature/x", {"docs/a b.md": "A\n"}, "a")
    entry = call(sb, "GET", f"{REPO}/contents/docs/a%20b.md?ref=feature/x").json()
    with activate(sb):
        got = requests.get(entry["download_url"], timeout=5)
        missing = requests.get(entry["download_url"].replace("a%20b", "zz"), timeout=5)
    assert (got.status_code, got.text, got.headers["Content-Type"]) == (
        200,
        "A\n",
        "text/plain; charset=utf-8",
    )
    assert missing.status_code == 404
    assert sb.ledger[-1].counted is False  # raw downloads are outside the API's rate limit


def test_download_url_of_a_private_repository_needs_access() -> None:
    sb = build_world(private=True)
    url = call(sb, "GET", f"{REPO}/contents/README.md", "read").json()["download_url"]
    path = url.removeprefix(sb.base_url)
    assert sb.handle("GET", path, {}, None).status == 404
    assert sb.handle("GET", path, {"Authorization": f"token {TOKENS['read']}"}, None).body == b"# ops\n"


# --- headers -----------------------------------------------------------------------------------------


def test_write_answers_carry_an_etag() -> None:
    sb = build_world()
    created = call(sb, "POST", f"{REPO}/issues", body={"title": "x"})
    edited = call(sb, "PATCH", f"{REPO}/issues/1", body={"title": "y"})
    assert created.status == 201 and created.headers["ETag"].startswith('W/"')
    assert edited.headers["ETag"] != created.headers["ETag"]
    assert "ETag" not in call(sb, "DELETE", f"{REPO}/labels/security").headers  # 204: no body


def test_single_resources_have_last_modified_lists_do_not() -> None:
    sb = build_world()
    sb.clock.advance(3600)
    call(sb, "PATCH", f"{REPO}/issues/2", body={"title": "renamed"})
    issue = call(sb, "GET", f"{REPO}/issues/2")
    assert issue.headers["Last-Modified"] == "Mon, 06 Jan 2025 10:00:00 GMT"
    assert "Last-Modified" in call(sb, "GET", REPO).headers
    assert "Last-Modified" in call(sb, "GET", f"{REPO}/labels/security").headers
    assert "Last-Modified" in call(sb, "GET", f"{REPO}/contents/README.md").headers
    assert "Last-Modified" not in call(sb, "GET", f"{REPO}/issues").headers


def test_rate_limit_has_the_headers_and_every_resource_and_is_free() -> None:
    sb = build_world()
    call(sb, "GET", f"{REPO}/issues")
    reply = call(sb, "GET", "/rate_limit")
    assert reply.headers["x-ratelimit-resource"] == "core"
    assert reply.headers["x-ratelimit-used"] == "1"  # the issue list, not this request
    assert reply.headers["x-ratelimit-remaining"] == "4999"
    resources = reply.json()["resources"]
    assert {"core", "search", "graphql", "integration_manifest", "code_search", "scim"} <= set(resources)
    assert call(sb, "GET", "/rate_limit").headers["x-ratelimit-used"] == "1"


def test_every_api_answer_names_its_media_type_and_githubs_static_headers() -> None:
    sb = build_world()
    for reply in (call(sb, "GET", REPO), call(sb, "GET", f"{REPO}/nope"), call(sb, "GET", REPO, "bad")):
        assert reply.headers["X-GitHub-Media-Type"] == "github.v3; format=json"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Access-Control-Allow-Origin"] == "*"


def test_refs_carry_a_poll_interval() -> None:
    sb = build_world()
    for path in ("git/ref/heads/main", "git/matching-refs/heads/", "git/refs/", "git/refs/heads/main"):
        assert call(sb, "GET", f"{REPO}/{path}").headers["X-Poll-Interval"] == "300", path


def test_search_is_no_cache_without_etag() -> None:
    reply = call(build_world(), "GET", "/search/issues?q=repo:acme/ops+disk")
    assert reply.headers["Cache-Control"] == "no-cache"
    assert "ETag" not in reply.headers


# --- fields ------------------------------------------------------------------------------------------


def test_repository_of_an_organisation_has_organization_and_merge_settings() -> None:
    body = call(build_world(), "GET", REPO).json()
    assert body["organization"]["login"] == "acme"
    assert body["organization"]["type"] == "Organization"
    assert body["allow_update_branch"] is False
    assert body["squash_merge_commit_title"] == "COMMIT_OR_PR_TITLE"
    assert body["merge_commit_title"] == "MERGE_MESSAGE"
    assert body["temp_clone_token"] == ""  # the bot can push
    assert "temp_clone_token" not in call(build_world(), "GET", REPO, "read").json()


def test_issue_has_the_newer_fields_in_lists_and_alone() -> None:
    sb = build_world()
    call(sb, "PATCH", f"{REPO}/issues/2", body={"state": "closed"})
    alone = call(sb, "GET", f"{REPO}/issues/2").json()
    listed = next(i for i in call(sb, "GET", f"{REPO}/issues?state=closed").json() if i["number"] == 2)
    for body in (alone, listed):
        assert body["closed_by"]["login"] == "issueops-bot"
        assert body["sub_issues_summary"] == {"total": 0, "completed": 0, "percent_completed": 0}
        assert body["issue_dependencies_summary"]["total_blocked_by"] == 0
        assert body["type"] is None
        assert body["pinned_comment"] is None
    assert call(sb, "GET", f"{REPO}/issues/1").json()["closed_by"] is None


def test_issue_without_a_body_has_null() -> None:
    sb = build_world()
    seeded = sb.add_issue("no body")
    scenario = build_sandbox({"repo": "acme/ops", "issues": [{"title": "no body"}]})
    posted = call(sb, "POST", f"{REPO}/issues", body={"title": "posted without body"}).json()
    assert call(sb, "GET", f"{REPO}/issues/{seeded.number}").json()["body"] is None
    assert scenario.render.issue(scenario.issues[1])["body"] is None
    assert posted["body"] is None


# --- scenario text with JSON surrogate-pair escapes ----------------------------------------------------


def test_json_scenario_with_surrogate_pairs_loads_and_serves(tmp_path: Path) -> None:
    data = {
        "repo": "acme/ops",
        "users": [{"login": "bot", "token": "t", "permission": "write"}],
        "issues": [
            {"title": "Sad \U0001f62d", "body": "crying \U0001f62d face", "labels": ["\U0001f525 hot"]}
        ],
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")  # ensure_ascii: \ud83d\ude2d escapes
    assert "\\ud83d\\ude2d" in path.read_text(encoding="utf-8")
    sb = build_sandbox(load_scenario(path))
    for route in ("/repos/acme/ops/issues", "/repos/acme/ops/issues/1", "/repos/acme/ops/labels"):
        reply = sb.handle("GET", route, {"Authorization": "token t"}, None)
        assert reply.status == 200, reply.body
    issue = sb.handle("GET", "/repos/acme/ops/issues/1", {}, None).json()
    assert issue["title"] == "Sad \U0001f62d"
    assert issue["labels"][0]["name"] == "\U0001f525 hot"


def test_a_lone_surrogate_in_a_scenario_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text('{"repo": "acme/ops",\n "issues": [{"title": "half \\ud83d"}]}', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_scenario(path)
    assert "title: a lone surrogate" in str(raised.value)
    assert str(path) in str(raised.value)
