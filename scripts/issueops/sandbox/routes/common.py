"""Small helpers the route modules share: lookups that 404, permission checks, input validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from issueops.sandbox.clock import parse_time
from issueops.sandbox.http import ApiError, Ctx, invalid, not_found
from issueops.sandbox.models import PERMISSION_LEVELS, Comment, Issue


def issue_or_404(ctx: Ctx, name: str = "issue_number") -> Issue:
    issue = ctx.state.get_issue(ctx.int_param(name))
    if issue is None:
        raise not_found()
    return issue


def comment_or_404(ctx: Ctx) -> Comment:
    comment = ctx.state.comments.get(ctx.int_param("comment_id"))
    if comment is None:
        raise not_found()
    return comment


def level(ctx: Ctx) -> int:
    return ctx.state.level(ctx.login)


def at_least(ctx: Ctx, need: str) -> bool:
    return level(ctx) >= PERMISSION_LEVELS[need]


def require(ctx: Ctx, need: str, message: str | None = None) -> None:
    """403 (or 401 when anonymous) unless the actor has `need` on the repository."""
    if ctx.actor is None:
        raise ApiError(401, "Requires authentication")
    if not at_least(ctx, need):
        raise ApiError(403, message or "Must have push access to repository.")


def require_login(ctx: Ctx) -> str:
    if ctx.actor is None:
        raise ApiError(401, "Requires authentication")
    return ctx.actor.login


def string_field(data: dict[str, Any], key: str, resource: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise invalid(resource, key, "missing_field")
        return None
    if not isinstance(value, str):
        raise invalid(resource, key)
    return value


def string_list(data: dict[str, Any], key: str, resource: str) -> list[str] | None:
    """A list of names; GitHub also accepts objects with a `name` key for labels."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(resource, key)
    out: list[str] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append(item["name"])
        elif isinstance(item, str):
            out.append(item)
        else:
            raise invalid(resource, key)
    return out


def since_param(ctx: Ctx) -> datetime | None:
    raw = ctx.query.get("since")
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise invalid("Query", "since") from exc


def choice(ctx: Ctx, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = ctx.query.get(name) or default
    if value not in allowed:
        raise invalid("Query", name)
    return value


def direction(ctx: Ctx, default: str) -> bool:
    """True for descending."""
    return choice(ctx, "direction", ("asc", "desc"), default) == "desc"
