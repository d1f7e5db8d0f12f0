"""Pull requests: open, list, get, update (close, reopen, retitle, rebase), merge (a merge into the
default branch closes `Closes #N` issues)."""

from __future__ import annotations

import re

from issueops.sandbox.http import ApiError, Ctx, Reply, invalid, not_found
from issueops.sandbox.models import Issue, PullInfo
from issueops.sandbox.pagination import memo_listing, paginate
from issueops.sandbox.routes.common import at_least, choice, issue_or_404, require_login, string_field
from issueops.sandbox.routing import route

_CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<n>\d+)",
    re.IGNORECASE,
)


def _branch_of(ctx: Ctx, spec: str) -> str:
    """`owner:branch` or `branch`; another owner means a fork, which the sandbox does not have."""
    owner, sep, branch = spec.partition(":")
    if not sep:
        return spec
    if owner.lower() != ctx.state.repo.owner.lower():
        return ""
    return branch


def _pull_or_404(ctx: Ctx) -> Issue:
    issue = issue_or_404(ctx, "pull_number")
    if issue.pull is None:
        raise not_found()
    return issue


def _pull_info(ctx: Ctx) -> tuple[Issue, PullInfo]:
    """The pull request of the path, with what it adds to its issue record."""
    issue = _pull_or_404(ctx)
    assert issue.pull is not None
    return issue, issue.pull


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(ctx: Ctx) -> Reply:
    state_filter = choice(ctx, "state", ("open", "closed", "all"), "open")
    sort = choice(ctx, "sort", ("created", "updated", "popularity", "long-running"), "created")
    default_dir = "desc" if sort == "created" or "sort" not in ctx.query else "asc"
    descending = choice(ctx, "direction", ("asc", "desc"), default_dir) == "desc"
    head = _branch_of(ctx, ctx.query["head"]) if ctx.query.get("head") else None
    base = ctx.query.get("base")

    def listing() -> list[Issue]:
        items = [
            i
            for i in ctx.state.pull_requests(head)
            if i.pull is not None
            and (state_filter == "all" or i.state == state_filter)
            and (base is None or i.pull.base_ref == base)
        ]
        items.sort(
            key=lambda i: (i.updated_at if sort == "updated" else i.created_at, i.number), reverse=descending
        )
        return items

    return paginate(ctx, memo_listing(ctx, listing), lambda i: ctx.render.pull(i, full=False))


@route("POST", "/repos/{owner}/{repo}/pulls", creates=True)
def create_pull(ctx: Ctx) -> Reply:
    login = require_login(ctx)
    state = ctx.state
    data = ctx.json()
    title = string_field(data, "title", "PullRequest", required=True)
    head_spec = string_field(data, "head", "PullRequest", required=True)
    base = string_field(data, "base", "PullRequest", required=True)
    assert title is not None and head_spec is not None and base is not None
    head = _branch_of(ctx, head_spec)
    head_sha, base_sha = state.branch_sha(head) if head else None, state.branch_sha(base)
    if head_sha is None:
        raise invalid("PullRequest", "head")
    if base_sha is None:
        raise invalid("PullRequest", "base")
    if not at_least(ctx, "write"):
        raise ApiError(403, "Must have push access to repository.")
    owner = state.repo.owner
    _refuse_duplicate(ctx, head, base)
    if head_sha == base_sha or state.git.is_ancestor(head_sha, base_sha):
        raise _custom(f"No commits between {base} and {head}")
    merge_base = state.git.merge_base(head_sha, base_sha) or base_sha
    info = PullInfo(head, head_sha, base, merge_base, owner, draft=bool(data.get("draft", False)))
    info.maintainer_can_modify = bool(data.get("maintainer_can_modify", False))
    issue = state.add_issue(title, string_field(data, "body", "PullRequest"), login, pull=info)
    rendered = ctx.render.pull(issue, full=True)
    return Reply(201, rendered, {"Location": rendered["url"]})


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.pull(_pull_or_404(ctx), full=True))


@route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}")
def update_pull(ctx: Ctx) -> Reply:
    """Title, body, base and state. The author or write access may edit; triage may only close or
    reopen. A merged PR cannot change state or base; reopening needs its head branch and no other
    open PR for the same head and base (422 otherwise, as GitHub)."""
    login = require_login(ctx)
    state = ctx.state
    issue, pull = _pull_info(ctx)
    data = ctx.json()
    title = string_field(data, "title", "PullRequest")
    body = string_field(data, "body", "PullRequest")
    base = string_field(data, "base", "PullRequest")
    new_state = data.get("state")
    if new_state is not None and new_state not in ("open", "closed"):
        raise invalid("PullRequest", "state")
    if title is not None and not title.strip():
        raise invalid("PullRequest", "title")
    author = issue.user.lower() == login.lower()
    edits = title is not None or "body" in data or base is not None or "maintainer_can_modify" in data
    if not author and not at_least(ctx, "write" if edits else "triage"):
        raise ApiError(403, "Must have push access to repository.")
    if base is not None and base != pull.base_ref:
        if pull.merged:
            raise _custom(f"Cannot change the base branch of a merged pull request #{issue.number}.")
        if state.branch_sha(base) is None:
            raise invalid("PullRequest", "base")
    if new_state is not None and new_state != issue.state:
        _check_state_change(ctx, issue, new_state, base or pull.base_ref)
    if title is not None:
        state.rename(issue, title, login)
    if "body" in data:
        state.edit_body(issue, body)
    if base is not None:
        state.change_base(issue, base)
    if "maintainer_can_modify" in data:
        pull.maintainer_can_modify = bool(data["maintainer_can_modify"])
    if new_state is not None and new_state != issue.state:
        state.set_state(issue, new_state, None, login)
        issue.state_reason = None  # pull requests carry no state reason
    return Reply(200, ctx.render.pull(issue, full=True))


def _custom(message: str) -> ApiError:
    return ApiError(
        422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "custom", "message": message}]
    )


def _check_state_change(ctx: Ctx, issue: Issue, new_state: str, base: str) -> None:
    pull = issue.pull
    assert pull is not None
    if pull.merged:
        raise _custom("state cannot be changed. The pull request has already been merged.")
    if new_state != "open":
        return
    if ctx.state.branch_sha(pull.head_ref) is None:
        raise _custom(f"state cannot be changed. The {pull.head_ref} branch has been deleted.")
    _refuse_duplicate(ctx, pull.head_ref, base)


def _refuse_duplicate(ctx: Ctx, head: str, base: str) -> None:
    """One open pull request per head and base."""
    for other in ctx.state.pull_requests(head):
        pull = other.pull
        if pull and other.state == "open" and pull.head_ref == head and pull.base_ref == base:
            raise _custom(f"A pull request already exists for {ctx.state.repo.owner}:{head}.")


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def check_merged(ctx: Ctx) -> Reply:
    _, pull = _pull_info(ctx)
    if not pull.merged:
        raise not_found()
    return Reply(204)


@route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", need="write", creates=True)
def merge_pull(ctx: Ctx) -> Reply:
    """405 when not mergeable, 409 when `sha` is not the head; a merge into the default branch
    closes the issues the title/body reference with `Closes #N`."""
    login = require_login(ctx)
    state = ctx.state
    issue, pull = _pull_info(ctx)
    data = ctx.json()
    method = data.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise invalid("PullRequest", "merge_method")
    if pull.merged or issue.state != "open" or pull.draft:
        raise ApiError(405, "Pull Request is not mergeable")
    head = state.branch_sha(pull.head_ref)
    sha = data.get("sha")
    if sha is not None and sha != head:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    title = (
        data.get("commit_title")
        or f"Merge pull request #{issue.number} from {state.repo.owner}/{pull.head_ref}"
    )
    message = str(title) + (
        f"\n\n{data['commit_message']}" if data.get("commit_message") else f"\n\n{issue.title}"
    )
    merged = state.merge_pull(issue, login, message)
    if merged is None:
        raise ApiError(405, "Pull Request is not mergeable")
    if pull.base_ref == state.repo.default_branch:
        _close_referenced(ctx, issue, merged, login)
    return Reply(200, {"sha": merged, "merged": True, "message": "Pull Request successfully merged"})


def _close_referenced(ctx: Ctx, pull: Issue, commit: str, actor: str) -> None:
    state = ctx.state
    for match in _CLOSING.finditer(f"{pull.title}\n{pull.body or ''}"):
        repo = match.group("repo")
        if repo and repo.lower() != state.repo.full_name.lower():
            continue
        target = state.get_issue(int(match.group("n")))
        if target is not None and target.pull is None and target.state == "open":
            state.set_state(target, "closed", "completed", actor, commit_id=commit)
