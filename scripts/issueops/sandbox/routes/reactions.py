"""Reactions on issues and on issue comments (the bot's acknowledgements)."""

from __future__ import annotations

from issueops.sandbox.http import ApiError, Ctx, Reply, invalid, not_found
from issueops.sandbox.models import REACTION_CONTENTS, Reaction
from issueops.sandbox.pagination import paginate
from issueops.sandbox.routes.common import comment_or_404, issue_or_404, require_login
from issueops.sandbox.routing import route


def _create(ctx: Ctx, target: list[Reaction]) -> Reply:
    """201 for a new reaction, 200 with the existing one when this user already reacted so."""
    actor = require_login(ctx)
    content = ctx.json().get("content")
    if content not in REACTION_CONTENTS:
        raise invalid("Reaction", "content")
    reaction, created = ctx.state.react(target, actor, str(content))
    return Reply(201 if created else 200, ctx.render.reaction(reaction))


def _delete(ctx: Ctx, target: list[Reaction]) -> Reply:
    """204 once the reaction is gone; someone else's reaction is refused, a missing one is 404."""
    actor = require_login(ctx)
    wanted = ctx.int_param("reaction_id")
    for reaction in target:
        if reaction.id == wanted:
            if reaction.user.lower() != actor.lower():
                raise ApiError(403, "Forbidden")
            target.remove(reaction)
            return Reply(204)
    raise not_found()


def _list(ctx: Ctx, target: list[Reaction]) -> Reply:
    wanted = ctx.query.get("content")
    if wanted and wanted not in REACTION_CONTENTS:
        raise invalid("Reaction", "content")
    items = [r for r in target if not wanted or r.content == wanted]
    return paginate(ctx, items, ctx.render.reaction)


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", creates=True)
def create_comment_reaction(ctx: Ctx) -> Reply:
    return _create(ctx, comment_or_404(ctx).reactions)


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def list_comment_reactions(ctx: Ctx) -> Reply:
    return _list(ctx, comment_or_404(ctx).reactions)


@route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions/{reaction_id}")
def delete_comment_reaction(ctx: Ctx) -> Reply:
    return _delete(ctx, comment_or_404(ctx).reactions)


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/reactions/{reaction_id}")
def delete_issue_reaction(ctx: Ctx) -> Reply:
    return _delete(ctx, issue_or_404(ctx).reactions)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions", creates=True)
def create_issue_reaction(ctx: Ctx) -> Reply:
    return _create(ctx, issue_or_404(ctx).reactions)


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/reactions")
def list_issue_reactions(ctx: Ctx) -> Reply:
    return _list(ctx, issue_or_404(ctx).reactions)
