"""Issues: list, get, create, update, and assignees."""

from __future__ import annotations

from typing import Any

from issueops.sandbox.agent import REQUEST_NAMES
from issueops.sandbox.http import ApiError, Ctx, Reply, invalid
from issueops.sandbox.models import Issue
from issueops.sandbox.pagination import memo_listing, paginate
from issueops.sandbox.routes.common import (
    at_least,
    choice,
    direction,
    issue_or_404,
    require_login,
    since_param,
    string_field,
    string_list,
)
from issueops.sandbox.routing import route
from issueops.sandbox.store import SandboxState

STATE_REASONS = ("completed", "not_planned", "reopened", "duplicate")


def assignable(state: SandboxState, login: str) -> bool:
    """Collaborators, organisation (team) members and the owner can be assigned."""
    user = state.find_user(login)
    return user is not None and (state.permission(user.login) != "none" or bool(state.team_of(user.login)))


def _filtered(ctx: Ctx) -> list[Issue]:
    state_filter = choice(ctx, "state", ("open", "closed", "all"), "open")
    sort = choice(ctx, "sort", ("created", "updated", "comments"), "created")
    descending = direction(ctx, "desc")
    since = since_param(ctx)
    wanted = [n.strip().lower() for n in ctx.query.get("labels", "").split(",") if n.strip()]
    creator = ctx.query.get("creator", "").lower()
    assignee = ctx.query.get("assignee", "").lower()
    mentioned = ctx.query.get("mentioned", "").lower()
    out: list[Issue] = []
    for issue in ctx.state.issues.values():
        if state_filter != "all" and issue.state != state_filter:
            continue
        if since is not None and issue.updated_at < since:
            continue
        if wanted:
            have = {n.lower() for n in issue.labels}
            if not all(w in have for w in wanted):
                continue
        if creator and issue.user.lower() != creator:
            continue
        if assignee:
            names = {a.lower() for a in issue.assignees}
            if (assignee == "none" and names) or (assignee == "*" and not names):
                continue
            if assignee not in ("none", "*") and assignee not in names:
                continue
        if mentioned and f"@{mentioned}" not in (issue.body or "").lower():
            continue
        out.append(issue)

    def key(issue: Issue) -> tuple[Any, int]:
        if sort == "updated":
            return issue.updated_at, issue.number
        if sort == "comments":
            return len(issue.comment_ids), issue.number
        return issue.created_at, issue.number

    out.sort(key=key, reverse=descending)
    return out


@route("GET", "/repos/{owner}/{repo}/issues")
def list_issues(ctx: Ctx) -> Reply:
    """Pull requests are included (with a `pull_request` key), as GitHub does."""
    return paginate(ctx, memo_listing(ctx, lambda: _filtered(ctx)), ctx.render.issue)


@route("POST", "/repos/{owner}/{repo}/issues", creates=True)
def create_issue(ctx: Ctx) -> Reply:
    """Anyone who can read may open an issue; labels and assignees need push access (else dropped)."""
    actor = require_login(ctx)
    data = ctx.json()
    title = data.get("title")
    if isinstance(title, int) and not isinstance(title, bool):
        title = str(title)
    if not isinstance(title, str) or not title.strip():
        raise invalid("Issue", "title", "missing_field")
    body = string_field(data, "body", "Issue")
    labels = string_list(data, "labels", "Issue") or []
    assignees = string_list(data, "assignees", "Issue") or []
    single = string_field(data, "assignee", "Issue")
    if single:
        assignees = [single, *assignees]
    state = ctx.state
    if not at_least(ctx, "write"):
        labels, assignees = [], []
    for login in assignees:
        if not assignable(state, login):
            raise invalid("Issue", "assignees", value=login)
    issue = state.add_issue(title, body, actor)
    state.add_labels(issue, labels, actor)
    state.assign(issue, assignees, actor)
    return Reply(
        201,
        ctx.render.issue(issue),
        {"Location": f"{ctx.render.repo_url}/issues/{issue.number}"},
    )


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}")
def get_issue(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.issue(issue_or_404(ctx)))


@route("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", need="read")
def update_issue(ctx: Ctx) -> Reply:
    """Issue authors and triage-or-better users may edit; label/assignee changes by others are dropped."""
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    state = ctx.state
    triage = at_least(ctx, "triage")
    if not triage and issue.user.lower() != actor.lower():
        raise ApiError(403, "Must have push access to repository.")
    data = ctx.json()
    title = data.get("title")
    if title is not None and (
        not isinstance(title, str | int) or isinstance(title, bool) or not str(title).strip()
    ):
        raise invalid("Issue", "title")
    body = string_field(data, "body", "Issue")
    new_state = data.get("state")
    if new_state is not None and new_state not in ("open", "closed"):
        raise invalid("Issue", "state")
    reason = data.get("state_reason")
    if reason is not None and reason not in STATE_REASONS:
        raise invalid("Issue", "state_reason")
    labels = string_list(data, "labels", "Issue")
    assignees = string_list(data, "assignees", "Issue")
    single = data.get("assignee", ...)
    if assignees is not None:
        for login in assignees:
            if not assignable(state, login):
                raise invalid("Issue", "assignees", value=login)
    if title is not None:
        state.rename(issue, str(title), actor)
    if "body" in data:
        state.edit_body(issue, body)
    if triage:
        if labels is not None:
            state.set_labels(issue, labels, actor)
        if assignees is not None or single is not ...:
            wanted = assignees if assignees is not None else ([single] if isinstance(single, str) else [])
            state.unassign(
                issue, [a for a in issue.assignees if a.lower() not in {w.lower() for w in wanted}], actor
            )
            state.assign(issue, [w for w in wanted if assignable(state, w)], actor)
    target = new_state or issue.state
    if new_state is not None or reason is not None:
        if target == "closed":
            if reason == "reopened":
                raise invalid("Issue", "state_reason")
            state.set_state(
                issue, "closed", reason or ("completed" if issue.state == "open" else None), actor
            )
        else:
            state.set_state(issue, "open", None, actor)
    return Reply(200, ctx.render.issue(issue))


def _logins(ctx: Ctx) -> list[str]:
    data = ctx.json()
    value = data.get("assignees", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("Issue", "assignees")
    return list(value)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/assignees", creates=True)
def add_assignees(ctx: Ctx) -> Reply:
    """Assignees who cannot be assigned, or a caller without triage, are silently ignored (as GitHub).
    Copilot's coding agent (`copilot-swe-agent[bot]`, with an optional `agent_assignment`) is
    taken only from a user token and when the agent is enabled (see sandbox.agent)."""
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    logins = _logins(ctx)
    agent = ctx.state.agent
    wanted = [login for login in logins if login.lower() not in REQUEST_NAMES]
    assignment = ctx.json().get("agent_assignment")
    if assignment is not None and not isinstance(assignment, dict):
        raise invalid("Issue", "agent_assignment")
    if at_least(ctx, "triage"):
        ctx.state.assign(issue, [login for login in wanted if assignable(ctx.state, login)], actor)
        if len(wanted) < len(logins) and agent.accepts(ctx.state, actor) and not issue.is_pull:
            agent.assign(ctx.state, issue.number, actor, assignment)
    return Reply(201, ctx.render.issue(issue))


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/assignees")
def remove_assignees(ctx: Ctx) -> Reply:
    actor = require_login(ctx)
    issue = issue_or_404(ctx)
    logins = _logins(ctx)
    if at_least(ctx, "triage"):
        ctx.state.unassign(issue, logins, actor)
    return Reply(200, ctx.render.issue(issue))
