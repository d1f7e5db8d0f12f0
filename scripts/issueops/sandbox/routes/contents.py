"""Branches and the contents API (read a file or directory at a ref; create or update a file)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from issueops.sandbox.clock import http_date
from issueops.sandbox.gitstore import FILE_MODE
from issueops.sandbox.http import ApiError, Ctx, Reply, invalid, not_found
from issueops.sandbox.media import requested
from issueops.sandbox.pagination import paginate
from issueops.sandbox.routes.common import require_login, string_field
from issueops.sandbox.routing import route


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(ctx: Ctx) -> Reply:
    names = sorted(r.removeprefix("refs/heads/") for r in ctx.state.git.refs if r.startswith("refs/heads/"))
    if ctx.query.get("protected") in ("true", "1"):
        names = []

    def render(name: str) -> dict[str, Any]:
        sha = ctx.state.git.refs[f"refs/heads/{name}"]
        return {
            "name": name,
            "commit": {"sha": sha, "url": f"{ctx.render.repo_url}/commits/{sha}"},
            "protected": False,
        }

    return paginate(ctx, names, render)


@route("GET", "/repos/{owner}/{repo}/branches/{branch}")
def get_branch(ctx: Ctx) -> Reply:
    name = ctx.params["branch"]
    sha = ctx.state.branch_sha(name)
    if sha is None:
        raise ApiError(404, "Branch not found")
    url = f"{ctx.render.repo_url}/branches/{name}"
    return Reply(
        200,
        {
            "name": name,
            "commit": ctx.render.commit(ctx.state.git.commits[sha]),
            "_links": {"self": url, "html": f"{ctx.render.repo_html}/tree/{name}"},
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            },
            "protection_url": f"{url}/protection",
        },
    )


def _resolve(ctx: Ctx, ref: str) -> str:
    """A branch name or commit sha to a commit sha (404 "No commit found for the ref ..." otherwise)."""
    git = ctx.state.git
    sha = ctx.state.branch_sha(ref) or (ref if ref in git.commits else None)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    return sha


@route("GET", "/repos/{owner}/{repo}/contents/{path}", optional_tail=True)
def get_content(ctx: Ctx) -> Reply:
    """A file or a directory (`/contents`, `/contents/`: the root). A raw media type
    (`application/vnd.github.raw`, `.v3.raw`, `raw+json`) gets a file's bytes as they are."""
    git = ctx.state.git
    ref = ctx.query.get("ref") or ctx.state.repo.default_branch
    commit = _resolve(ctx, ref)
    path = ctx.params["path"].strip("/")
    root = git.commits[commit].tree
    entry = git.lookup(root, path) if path else None
    if path and entry is None:
        raise not_found()
    modified = {"Last-Modified": http_date(git.commits[commit].date)}
    if entry is None or entry.type == "tree":
        items = []
        for child in git.trees[entry.sha if entry else root]:
            kind = "dir" if child.type == "tree" else "file"
            size = len(git.blobs.get(child.sha, b"")) if kind == "file" else 0
            child_path = f"{path}/{child.name}" if path else child.name
            items.append(ctx.render.content_entry(child_path, child.sha, kind, size, ref))
        return Reply(200, items, modified)
    content = git.blobs[entry.sha]
    media = requested(ctx.headers.get("accept"))
    if media.raw:
        return Reply(200, raw=content, headers={**modified, "Content-Type": f"{media.media}; charset=utf-8"})
    out = ctx.render.content_entry(path, entry.sha, "file", len(content), ref)
    out["content"] = base64.encodebytes(content).decode()
    out["encoding"] = "base64"
    return Reply(200, out, modified)


@route("PUT", "/repos/{owner}/{repo}/contents/{path}", need="write", creates=True)
def put_content(ctx: Ctx) -> Reply:
    """Create (201) or update (200) one file with a commit; updating needs the current blob `sha`."""
    login = require_login(ctx)
    state, git = ctx.state, ctx.state.git
    data = ctx.json()
    message = string_field(data, "message", "Content", required=True)
    raw = string_field(data, "content", "Content", required=True)
    assert message is not None and raw is not None
    try:
        content = base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise invalid("Content", "content") from exc
    branch = string_field(data, "branch", "Content") or state.repo.default_branch
    head = state.branch_sha(branch)
    if head is None:
        raise ApiError(404, f"Branch {branch} not found")
    path = ctx.params["path"].strip("/")
    existing = git.lookup(git.commits[head].tree, path)
    given = data.get("sha")
    if existing is not None:
        if given is None:
            raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if given != existing.sha:
            raise ApiError(409, f"{path} does not match {given}")
    files = git.flatten(git.commits[head].tree)
    files[path] = (FILE_MODE, git.put_blob(content))
    user = state.user(login)
    sha = git.put_commit(
        git.build_tree(files),
        [head],
        message,
        (user.name or user.login, user.email or f"{user.login}@users.noreply.sandbox.test"),
        state.clock.now(),
    )
    git.refs[f"refs/heads/{branch}"] = sha
    blob = files[path][1]
    entry = ctx.render.content_entry(path, blob, "file", len(content), branch)
    return Reply(
        201 if existing is None else 200,
        {"content": entry, "commit": ctx.render.git_commit(git.commits[sha])},
    )
