"""Issue events (who applied which label, assignments, closes) and a timeline built from them."""

from __future__ import annotations

from typing import Any

from issueops.sandbox.clock import iso
from issueops.sandbox.http import Ctx, Reply
from issueops.sandbox.pagination import paginate
from issueops.sandbox.routes.common import issue_or_404
from issueops.sandbox.routing import route

TIMELINE_ONLY = frozenset({"cross-referenced"})


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/events")
def list_issue_events(ctx: Ctx) -> Reply:
    """The issue events API: a cross-reference is on the timeline only."""
    events = [e for e in issue_or_404(ctx).events if e.event not in TIMELINE_ONLY]
    return paginate(ctx, events, ctx.render.event)


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/timeline")
def list_timeline(ctx: Ctx) -> Reply:
    """Events and comments merged in time order (comments as `commented` items)."""
    issue = issue_or_404(ctx)
    items: list[tuple[Any, int, dict[str, Any]]] = []
    for event in issue.events:
        items.append((event.created_at, event.id, {"kind": "event", "event": event}))
    for cid in issue.comment_ids:
        comment = ctx.state.comments[cid]
        items.append((comment.created_at, comment.id, {"kind": "comment", "comment": comment}))
    items.sort(key=lambda t: (t[0], t[1]))

    def render(item: tuple[Any, int, dict[str, Any]]) -> dict[str, Any]:
        payload = item[2]
        if payload["kind"] == "event":
            return ctx.render.event(payload["event"])
        comment = payload["comment"]
        out = ctx.render.comment(comment)
        out["event"] = "commented"
        out["actor"] = ctx.render.user(comment.user)
        out["created_at"] = iso(comment.created_at)
        return out

    return paginate(ctx, items, render)
