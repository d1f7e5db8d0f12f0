"""Issue comments: per issue, repository-wide, and one by id."""

from __future__ import annotations

from issueops.sandbox.http import ApiError, Ctx, Reply
from issueops.sandbox.models import Comment
from issueops.sandbox.pagination import memo_listing, paginate
from issueops.sandbox.routes.common import (
    at_least,
    choice,
    comment_or_404,
    direction,
    issue_or_404,
    require_login,
    since_param,
    string_field,
)
from issueops.sandbox.routing import route


@route("GET", "/repos/{owner}/{repo}/issues/comments")
def list_repo_comments(ctx: Ctx) -> Reply:
    """Every comment in the repository (one paginated call), oldest first unless sorted otherwise."""
    since = since_param(ctx)
    sort = choice(ctx, "sort", ("created", "updated"), "created") if "sort" in ctx.query else None

    def listing() -> list[Comment]:
        items = [c for c in ctx.state.comments.values() if since is None or c.updated_at >= since]
        if sort is not None:
            descending = direction(ctx, "asc")  # no default in the description; oldest first, as unsorted
            items.sort(
                key=lambda c: (c.updated_at if sort == "updated" else c.created_at, c.id), reverse=descending
            )
        return items

    return paginate(ctx, memo_listing(ctx, listing), ctx.render.comment)


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.comment(comment_or_404(ctx)))


def _may_change(ctx: Ctx, comment: Comment) -> str:
    """The author, or anyone with write access, may edit or delete a comment."""
    actor = require_login(ctx)
    if comment.user.lower() != actor.lower() and not at_least(ctx, "write"):
        raise ApiError(403, "Must have push access to repository.")
    return actor


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_comment(ctx: Ctx) -> Reply:
    comment = comment_or_404(ctx)
    _may_change(ctx, comment)
    body = string_field(ctx.json(), "body", "IssueComment", required=True)
    assert body is not None
    ctx.state.edit_comment(comment, body)
    return Reply(200, ctx.render.comment(comment))


@route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def delete_comment(ctx: Ctx) -> Reply:
    comment = comment_or_404(ctx)
    _may_change(ctx, comment)
    ctx.state.delete_comment(comment)
    return Reply(204)


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_issue_comments(ctx: Ctx) -> Reply:
    issue = issue_or_404(ctx)
    since = since_param(ctx)
    comments = ctx.state.comments
    items = [comments[i] for i in issue.comment_ids if since is None or comments[i].updated_at >= since]
    return paginate(ctx, items, ctx.render.comment)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", creates=True)
def create_comment(ctx: Ctx) -> Reply:
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    body = string_field(ctx.json(), "body", "IssueComment", required=True)
    assert body is not None
    if issue.locked and not at_least(ctx, "write"):
        raise ApiError(403, "Unable to create comment because issue is locked.")
    comment = ctx.state.add_comment(issue.number, actor, body)
    rendered = ctx.render.comment(comment)
    return Reply(201, rendered, {"Location": rendered["url"]})
