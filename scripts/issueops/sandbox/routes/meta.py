"""Identity and access: /rate_limit, the repository, the authenticated user, collaborator
permission and team membership."""

from __future__ import annotations

from issueops.sandbox.http import ApiError, Ctx, Reply, not_found
from issueops.sandbox.models import PERMISSION_LEVELS
from issueops.sandbox.routes.common import require_login
from issueops.sandbox.routing import route

# GitHub's legacy `permission` values: maintain reads as write and triage as read (role_name keeps the role).
_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


# GET / : GitHub's hypermedia index (`{base}` is the API root; `{web}` the web root, the same here).
_ROOT = {
    "current_user_url": "{base}/user",
    "current_user_authorizations_html_url": "{web}/settings/connections/applications{{/client_id}}",
    "authorizations_url": "{base}/authorizations",
    "code_search_url": "{base}/search/code?q={{query}}{{&page,per_page,sort,order}}",
    "commit_search_url": "{base}/search/commits?q={{query}}{{&page,per_page,sort,order}}",
    "emails_url": "{base}/user/emails",
    "emojis_url": "{base}/emojis",
    "events_url": "{base}/events",
    "feeds_url": "{base}/feeds",
    "followers_url": "{base}/user/followers",
    "following_url": "{base}/user/following{{/target}}",
    "gists_url": "{base}/gists{{/gist_id}}",
    "hub_url": "{base}/hub",
    "issue_search_url": "{base}/search/issues?q={{query}}{{&page,per_page,sort,order}}",
    "issues_url": "{base}/issues",
    "keys_url": "{base}/user/keys",
    "label_search_url": "{base}/search/labels?q={{query}}&repository_id={{repository_id}}{{&page,per_page}}",
    "notifications_url": "{base}/notifications",
    "organization_url": "{base}/orgs/{{org}}",
    "organization_repositories_url": "{base}/orgs/{{org}}/repos{{?type,page,per_page,sort}}",
    "organization_teams_url": "{base}/orgs/{{org}}/teams",
    "public_gists_url": "{base}/gists/public",
    "rate_limit_url": "{base}/rate_limit",
    "repository_url": "{base}/repos/{{owner}}/{{repo}}",
    "repository_search_url": "{base}/search/repositories?q={{query}}{{&page,per_page,sort,order}}",
    "current_user_repositories_url": "{base}/user/repos{{?type,page,per_page,sort}}",
    "starred_url": "{base}/user/starred{{/owner}}{{/repo}}",
    "starred_gists_url": "{base}/gists/starred",
    "topic_search_url": "{base}/search/topics?q={{query}}{{&page,per_page}}",
    "user_url": "{base}/users/{{user}}",
    "user_organizations_url": "{base}/user/orgs",
    "user_repositories_url": "{base}/users/{{user}}/repos{{?type,page,per_page,sort}}",
    "user_search_url": "{base}/search/users?q={{query}}{{&page,per_page,sort,order}}",
}


@route("GET", "/", need=None)
def get_root(ctx: Ctx) -> Reply:
    """The API root: links to the rest of the API (anonymous callers get it too)."""
    base = ctx.render.base
    return Reply(200, {key: url.format(base=base, web=base) for key, url in _ROOT.items()})


@route("GET", "/rate_limit", need=None, resource=None)
def get_rate_limit(ctx: Ctx) -> Reply:
    """Not counted against the primary limit, as on GitHub, yet it carries the core
    `x-ratelimit-*` headers as GitHub's answer does."""
    key = ctx.login or "anonymous"
    bucket = ctx.limiter.bucket(key, "core")
    return Reply(200, ctx.limiter.overview(key), bucket.headers(ctx.limiter.clock.timestamp()))


@route("GET", "/user", need=None)
def get_authenticated_user(ctx: Ctx) -> Reply:
    """An installation token (a `[bot]` account: GITHUB_TOKEN, a GitHub App's) has no user to
    show: GitHub answers 403 "Resource not accessible by integration"."""
    login = require_login(ctx)
    user = ctx.state.find_user(login)
    if user is not None and user.type == "Bot" and login.endswith("[bot]"):
        raise ApiError(
            403,
            "Resource not accessible by integration",
            documentation_url="https://docs.github.com/rest/users/users#get-the-authenticated-user",
        )
    return Reply(200, ctx.render.private_user(login))


@route("GET", "/repos/{owner}/{repo}")
def get_repo(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.repository(viewer=ctx.login))


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def get_collaborator_permission(ctx: Ctx) -> Reply:
    """Effective permission (direct or through a team); a non-collaborator is 404, as GitHub answers."""
    user = ctx.state.find_user(ctx.params["username"])
    if user is None:
        raise not_found()
    role = ctx.state.permission(user.login)
    if role == "none":
        raise not_found()
    collaborator = ctx.render.user(user.login) or {}
    level = PERMISSION_LEVELS[role]
    collaborator["permissions"] = {
        "admin": level >= 5,
        "maintain": level >= 4,
        "push": level >= 3,
        "triage": level >= 2,
        "pull": level >= 1,
    }
    collaborator["role_name"] = role
    return Reply(200, {"permission": _LEGACY[role], "role_name": role, "user": collaborator})


@route("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", need=None)
def get_team_membership(ctx: Ctx) -> Reply:
    state = ctx.state
    if ctx.actor is None or ctx.params["org"].lower() != state.repo.owner.lower():
        raise not_found()
    team = state.teams.get(ctx.params["team_slug"].lower())
    if team is None:
        raise not_found()
    wanted = ctx.params["username"].lower()
    if any(m.lower() == wanted for m in team.maintainers):
        role = "maintainer"
    elif any(m.lower() == wanted for m in team.members):
        role = "member"
    else:
        raise not_found()
    login = state.user(ctx.params["username"]).login
    return Reply(200, ctx.render.team_membership(ctx.params["org"], team.id, login, role))
