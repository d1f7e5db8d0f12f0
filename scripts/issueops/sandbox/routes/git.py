"""Git data: refs, commits, trees (with inline `content`) and blobs."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from issueops.sandbox.clock import http_date, parse_time
from issueops.sandbox.gitstore import FILE_MODE
from issueops.sandbox.http import ApiError, Ctx, Reply, invalid, not_found
from issueops.sandbox.pagination import memo_listing, paginate
from issueops.sandbox.routes.common import require_login
from issueops.sandbox.routing import route

_SHA = re.compile(r"^[0-9a-f]{40}$")
_MODES = {"100644", "100755", "040000", "160000", "120000"}


def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/{ref}"


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref}")
def get_ref(ctx: Ctx) -> Reply:
    ref = _full_ref(ctx.params["ref"])
    sha = ctx.state.git.refs.get(ref)
    if sha is None:
        raise not_found()
    return Reply(200, ctx.render.ref(ref, sha), {"X-Poll-Interval": "300"})


@route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}")
def list_matching_refs(ctx: Ctx) -> Reply:
    prefix = _full_ref(ctx.params["ref"])

    def listing() -> list[tuple[str, str]]:
        return sorted((r, s) for r, s in ctx.state.git.refs.items() if r.startswith(prefix))

    reply = paginate(ctx, memo_listing(ctx, listing), lambda pair: ctx.render.ref(pair[0], pair[1]))
    reply.headers["X-Poll-Interval"] = "300"
    return reply


_REF_SCHEMA = "/repos/{owner}/{repo}/git/ref/{ref}"
_REFS_SCHEMA = "/repos/{owner}/{repo}/git/matching-refs/{ref}"


@route(
    "GET", "/repos/{owner}/{repo}/git/refs/{ref}", optional_tail=True, schema_of=(_REF_SCHEMA, _REFS_SCHEMA)
)
def get_refs_legacy(ctx: Ctx) -> Reply:
    """GitHub's older read of refs, still answered though no longer described: `/git/refs`
    lists every ref, `/git/refs/heads/main` is that ref (an object), and a partial name lists
    the refs it prefixes (an array, 404 when none). Clients poll it: `X-Poll-Interval`."""
    git = ctx.state.git
    name = ctx.params["ref"].strip("/")
    headers = {"X-Poll-Interval": "300", "Last-Modified": _last_modified(ctx)}
    full = _full_ref(name) if name else "refs/"
    if name and full in git.refs:
        return Reply(200, ctx.render.ref(full, git.refs[full]), headers)
    refs = sorted((r, s) for r, s in git.refs.items() if r.startswith(full.rstrip("/") + "/"))
    if not refs:
        raise not_found()
    reply = paginate(ctx, refs, lambda pair: ctx.render.ref(pair[0], pair[1]))
    reply.headers.update(headers)
    return reply


def _last_modified(ctx: Ctx) -> str:
    """The refs' Last-Modified: the newest commit a ref points at."""
    git = ctx.state.git
    return http_date(max(git.commits[sha].date for sha in git.refs.values()))


@route("POST", "/repos/{owner}/{repo}/git/refs", need="write", creates=True)
def create_ref(ctx: Ctx) -> Reply:
    data = ctx.json()
    ref, sha = data.get("ref"), data.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or sha not in ctx.state.git.commits:
        raise ApiError(422, "Object does not exist")
    if ref in ctx.state.git.refs:
        raise ApiError(422, "Reference already exists")
    ctx.state.git.refs[ref] = sha
    rendered = ctx.render.ref(ref, sha)
    return Reply(201, rendered, {"Location": rendered["url"]})


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}", need="write")
def update_ref(ctx: Ctx) -> Reply:
    git = ctx.state.git
    ref = _full_ref(ctx.params["ref"])
    if ref not in git.refs:
        raise ApiError(422, "Reference does not exist")
    data = ctx.json()
    sha = data.get("sha")
    if not isinstance(sha, str) or sha not in git.commits:
        raise ApiError(422, "Object does not exist")
    if not data.get("force") and not git.is_ancestor(git.refs[ref], sha):
        raise ApiError(422, "Update is not a fast forward")
    git.refs[ref] = sha
    return Reply(200, ctx.render.ref(ref, sha))


@route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", need="write")
def delete_ref(ctx: Ctx) -> Reply:
    ref = _full_ref(ctx.params["ref"])
    if ref not in ctx.state.git.refs:
        raise ApiError(422, "Reference does not exist")
    if ref == f"refs/heads/{ctx.state.repo.default_branch}":
        raise ApiError(422, "Cannot delete the default branch")
    del ctx.state.git.refs[ref]
    return Reply(204)


@route("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}")
def get_commit(ctx: Ctx) -> Reply:
    commit = ctx.state.git.commits.get(ctx.params["commit_sha"])
    if commit is None:
        raise not_found()
    return Reply(200, ctx.render.git_commit(commit))


def _identity(data: dict[str, Any], key: str, fallback: tuple[str, str]) -> tuple[str, str]:
    value = data.get(key)
    if value is None:
        return fallback
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("name"), str)
        or not isinstance(value.get("email"), str)
    ):
        raise invalid("Commit", key)
    return value["name"], value["email"]


@route("POST", "/repos/{owner}/{repo}/git/commits", need="write", creates=True)
def create_commit(ctx: Ctx) -> Reply:
    login = require_login(ctx)
    git = ctx.state.git
    data = ctx.json()
    message, tree, parents = data.get("message"), data.get("tree"), data.get("parents", [])
    if not isinstance(message, str):
        raise invalid("Commit", "message", "missing_field")
    if not isinstance(tree, str) or tree not in git.trees:
        raise ApiError(422, "Tree SHA does not exist")
    if not isinstance(parents, list) or any(not isinstance(p, str) or p not in git.commits for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    user = ctx.state.user(login)
    author = _identity(
        data, "author", (user.name or user.login, user.email or f"{user.login}@users.noreply.sandbox.test")
    )
    when = ctx.state.clock.now()
    raw_date = (data.get("author") or {}).get("date") if isinstance(data.get("author"), dict) else None
    if isinstance(raw_date, str):
        try:
            when = parse_time(raw_date)
        except ValueError as exc:
            raise invalid("Commit", "author") from exc
    sha = git.put_commit(tree, list(parents), message, author, when)
    rendered = ctx.render.git_commit(git.commits[sha])
    return Reply(201, rendered, {"Location": rendered["url"]})


def _blob_content(content: Any, encoding: Any) -> bytes:
    if not isinstance(content, str):
        raise invalid("Blob", "content", "missing_field")
    if encoding in (None, "utf-8", "utf8"):
        return content.encode()
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise invalid("Blob", "content") from exc
    raise invalid("Blob", "encoding")


@route("POST", "/repos/{owner}/{repo}/git/trees", need="write", creates=True)
def create_tree(ctx: Ctx) -> Reply:
    """Entries may carry inline `content` (a blob is made) or a `sha`; `sha: null` deletes a path."""
    git = ctx.state.git
    data = ctx.json()
    entries = data.get("tree")
    if not isinstance(entries, list):
        raise invalid("Tree", "tree", "missing_field")
    base = data.get("base_tree")
    if base is not None and (not isinstance(base, str) or base not in git.trees):
        raise ApiError(422, "base_tree is not a valid tree oid")
    files = git.flatten(base) if base else {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ApiError(422, "Invalid tree info")
        path = entry["path"].strip("/")
        mode = str(entry.get("mode", FILE_MODE))
        kind = entry.get("type", "blob")
        if mode not in _MODES or kind not in ("blob", "tree", "commit"):
            raise ApiError(422, f"Invalid tree info: mode {mode!r} / type {kind!r} at {path}")
        if "content" in entry and entry["content"] is not None:
            files[path] = (mode, git.put_blob(str(entry["content"]).encode()))
        elif "sha" in entry and entry["sha"] is None:
            for existing in [p for p in files if p == path or p.startswith(path + "/")]:
                del files[existing]
        elif isinstance(entry.get("sha"), str):
            sha = entry["sha"]
            if kind == "tree":
                if sha not in git.trees:
                    raise ApiError(422, f"Invalid tree info: tree {sha} does not exist")
                for sub, value in git.flatten(sha).items():
                    files[f"{path}/{sub}"] = value
            else:
                if sha not in git.blobs:
                    raise ApiError(422, f"Invalid tree info: blob {sha} does not exist")
                files[path] = (mode, sha)
        else:
            raise ApiError(422, "Must supply either tree.sha or tree.content")
    sha = git.build_tree(files)
    rendered = ctx.render.tree(git, sha, recursive=False)
    return Reply(201, rendered, {"Location": rendered["url"]})


@route("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}")
def get_tree(ctx: Ctx) -> Reply:
    """A tree by sha; a commit sha or branch name resolves to its tree, as GitHub allows."""
    git = ctx.state.git
    key = ctx.params["tree_sha"]
    sha = key if key in git.trees else None
    if sha is None and key in git.commits:
        sha = git.commits[key].tree
    if sha is None and (branch := ctx.state.branch_sha(key)) is not None:
        sha = git.commits[branch].tree
    if sha is None:
        raise not_found()
    recursive = ctx.query.get("recursive", "") not in ("", "0", "false")
    return Reply(200, ctx.render.tree(git, sha, recursive))


@route("POST", "/repos/{owner}/{repo}/git/blobs", need="write", creates=True)
def create_blob(ctx: Ctx) -> Reply:
    data = ctx.json()
    sha = ctx.state.git.put_blob(_blob_content(data.get("content"), data.get("encoding")))
    url = f"{ctx.render.repo_url}/git/blobs/{sha}"
    return Reply(201, {"url": url, "sha": sha}, {"Location": url})


@route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}")
def get_blob(ctx: Ctx) -> Reply:
    sha = ctx.params["file_sha"]
    content = ctx.state.git.blobs.get(sha)
    if content is None or not _SHA.match(sha):
        raise not_found()
    return Reply(200, ctx.render.blob(sha, content))
