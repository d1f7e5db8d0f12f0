"""Repository labels and the labels on an issue."""

from __future__ import annotations

import re
from typing import Any

from issueops.sandbox.clock import http_date
from issueops.sandbox.http import ApiError, Ctx, Reply, invalid, not_found
from issueops.sandbox.models import Issue
from issueops.sandbox.pagination import paginate
from issueops.sandbox.routes.common import at_least, issue_or_404, require_login, string_field
from issueops.sandbox.routing import route

_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")


def _color(data: dict[str, Any], default: str | None) -> str | None:
    value = string_field(data, "color", "Label")
    if value is None:
        return default
    value = value.lstrip("#")
    if not _COLOR.match(value):
        raise invalid("Label", "color")
    return value.lower()


@route("GET", "/repos/{owner}/{repo}/labels")
def list_labels(ctx: Ctx) -> Reply:
    return paginate(ctx, list(ctx.state.labels.values()), ctx.render.label)


@route("POST", "/repos/{owner}/{repo}/labels", need="write", creates=True)
def create_label(ctx: Ctx) -> Reply:
    data = ctx.json()
    name = string_field(data, "name", "Label", required=True)
    assert name is not None
    if not name.strip():
        raise invalid("Label", "name", "missing_field")
    if ctx.state.find_label(name) is not None:
        raise invalid("Label", "name", "already_exists")
    color = _color(data, "ededed")
    assert color is not None
    label = ctx.state.add_label(name, color, string_field(data, "description", "Label"))
    return Reply(201, ctx.render.label(label), {"Location": ctx.render.label(label)["url"]})


@route("GET", "/repos/{owner}/{repo}/labels/{name}")
def get_label(ctx: Ctx) -> Reply:
    label = ctx.state.find_label(ctx.params["name"])
    if label is None:
        raise not_found()
    changed = label.updated_at or ctx.state.repo.created_at
    return Reply(200, ctx.render.label(label), {"Last-Modified": http_date(changed)})


@route("PATCH", "/repos/{owner}/{repo}/labels/{name}", need="write")
def update_label(ctx: Ctx) -> Reply:
    state = ctx.state
    label = state.find_label(ctx.params["name"])
    if label is None:
        raise not_found()
    data = ctx.json()
    new_name = string_field(data, "new_name", "Label")
    if new_name is not None and new_name != label.name:
        other = state.find_label(new_name)
        if other is not None and other is not label:
            raise invalid("Label", "name", "already_exists")
        state.rename_label(label, new_name)
    label.color = _color(data, label.color) or label.color
    if "description" in data:
        label.description = string_field(data, "description", "Label")
    label.updated_at = state.clock.now()
    return Reply(200, ctx.render.label(label))


@route("DELETE", "/repos/{owner}/{repo}/labels/{name}", need="write")
def delete_label(ctx: Ctx) -> Reply:
    label = ctx.state.find_label(ctx.params["name"])
    if label is None:
        raise not_found()
    ctx.state.delete_label(label)
    return Reply(204)


# --- labels on an issue ------------------------------------------------------------------------


def _names(ctx: Ctx) -> list[str]:
    """Accepts `{"labels": [...]}`, a bare array, and label objects with a `name` (as GitHub does)."""
    data = ctx.json_any()
    raw = data.get("labels", []) if isinstance(data, dict) else data
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise invalid("Label", "labels")
    names: list[str] = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(item["name"])
        elif isinstance(item, str):
            names.append(item)
        else:
            raise invalid("Label", "labels")
    return names


def _may_create_missing(ctx: Ctx, names: list[str]) -> None:
    """Adding an unknown label creates it, which needs push access; GitHub refuses it like this."""
    if any(ctx.state.find_label(n) is None for n in names) and not at_least(ctx, "write"):
        raise ApiError(
            403,
            "You do not have permission to create labels on this repository.",
            errors=[{"resource": "Repository", "field": "label", "code": "unauthorized"}],
        )


def _labels_reply(ctx: Ctx, issue: Issue) -> Reply:
    return Reply(200, ctx.render.issue_labels(issue))


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def list_issue_labels(ctx: Ctx) -> Reply:
    issue = issue_or_404(ctx)
    found = [label for label in (ctx.state.find_label(n) for n in issue.labels) if label is not None]
    return paginate(ctx, found, ctx.render.label)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", need="triage")
def add_issue_labels(ctx: Ctx) -> Reply:
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    names = _names(ctx)
    _may_create_missing(ctx, names)
    ctx.state.add_labels(issue, names, actor)
    return _labels_reply(ctx, issue)


@route("PUT", "/repos/{owner}/{repo}/issues/{issue_number}/labels", need="triage")
def set_issue_labels(ctx: Ctx) -> Reply:
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    names = _names(ctx)
    _may_create_missing(ctx, names)
    ctx.state.set_labels(issue, names, actor)
    return _labels_reply(ctx, issue)


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels", need="triage")
def remove_all_issue_labels(ctx: Ctx) -> Reply:
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    ctx.state.set_labels(issue, [], actor)
    return Reply(204)


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", need="triage")
def remove_issue_label(ctx: Ctx) -> Reply:
    """404 "Label does not exist" when the label is not on the issue, as GitHub answers."""
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    if not ctx.state.remove_label(issue, ctx.params["name"], actor):
        raise ApiError(404, "Label does not exist")
    return _labels_reply(ctx, issue)
