"""A sandbox GitHub of several repositories behind one base URL, with GitHub Apps installed on them.

The single-repository `Sandbox` stays as it is: the fleet is a front that routes
`/repos/{owner}/{repo}/...` to one `Sandbox` per repository (all sharing one virtual clock, one
rate limiter and one lock, as one GitHub would) and serves the App routes (`/app*`,
`/installation/*`) itself. An installation token is checked here (expiry, repositories,
permissions) and then acts in the repository's sandbox as the app's `<slug>[bot]` account.
See docs/sandbox.md.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from issueops.sandbox.apps import DOCS_APP_JWT, App, AppRegistry, Installation, InstallationToken, permits
from issueops.sandbox.clock import VirtualClock, iso
from issueops.sandbox.http import DOCS, ApiError, Reply, SandboxResponse
from issueops.sandbox.ledger import Ledger, LedgerEntry
from issueops.sandbox.ratelimit import Limits, RateLimiter
from issueops.sandbox.render import node_id
from issueops.sandbox.sandbox import DEFAULT_BASE_URL, Sandbox

_JSON_TYPE = "application/json; charset=utf-8"
_REPO_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)(?P<rest>/.*)?$")
_REPO_ID_PATH = re.compile(r"^/repositories/(?P<id>[0-9]+)(?P<rest>/.*)?$")
_ORG_PATH = re.compile(r"^/orgs/(?P<org>[^/]+)/")
_SEARCH_REPO = re.compile(r"(?:^|\s)repo:(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)")
_INSTALLATION_TOKENS = re.compile(r"^/app/installations/(?P<installation_id>[0-9]+)/access_tokens$")
_FIRST_REPO_ID = 700_000_001
NOT_ACCESSIBLE = "Resource not accessible by integration"
DOCS_INSTALLATION = "https://docs.github.com/rest/apps/installations"

# The App routes the front serves, as GitHub's REST description names them.
FRONT_ROUTES = [
    ("GET", "/app"),
    ("GET", "/app/installations"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/repos/{owner}/{repo}/installation"),
    ("GET", "/installation/repositories"),
]

# The installation permission a repository route needs: the first prefix that matches the path
# after /repos/{owner}/{repo} (GitHub's "Permissions required for GitHub Apps").
_PERMISSION_FOR = [
    ("/issues", "issues"),
    ("/labels", "issues"),
    ("/assignees", "issues"),
    ("/pulls", "pull_requests"),
    ("/contents", "contents"),
    ("/git/", "contents"),
    ("/branches", "contents"),
    ("/commits", "contents"),
    ("/merges", "contents"),
    ("/collaborators", "metadata"),
    ("", "metadata"),
]


def _permission_for(rest: str) -> str:
    for prefix, name in _PERMISSION_FOR:
        if rest.startswith(prefix):
            return name
    return "metadata"


def _internal_token(installation: Installation) -> str:
    """What an installation token becomes inside a repository's sandbox: the bot's own credential."""
    return f"sandbox-installation-{installation.id}"


class Fleet:
    """Several sandbox repositories and the GitHub Apps installed on them, behind one base URL."""

    def __init__(
        self,
        *,
        clock: VirtualClock | None = None,
        limits: Limits | None = None,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.limiter = RateLimiter(self.clock, limits)
        self.apps = AppRegistry(self.clock)
        self.repos: dict[str, Sandbox] = {}  # by lower-case full name
        self.topics: dict[str, list[str]] = {}
        self.ledger = Ledger()  # the requests the front serves itself (the App routes)
        self._lock = threading.RLock()
        self._base_url = ""
        self._base_path = ""
        self.base_url = base_url

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")
        self._base_path = urlsplit(self._base_url).path.rstrip("/")
        for sandbox in self.repos.values():
            sandbox.base_url = self._base_url

    # --- seeding ---------------------------------------------------------------------------
    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        default_branch: str = "main",
        topics: Iterable[str] = (),
    ) -> Sandbox:
        """A repository of its own (issues, labels, git data, people), on the fleet's clock."""
        sandbox = Sandbox(
            full_name,
            private=private,
            default_branch=default_branch,
            clock=self.clock,
            base_url=self.base_url,
        )
        return self.adopt(sandbox, topics=topics)

    def adopt(self, sandbox: Sandbox, *, topics: Iterable[str] = ()) -> Sandbox:
        """Take a seeded sandbox (e.g. `build_sandbox(scenario)`) into the fleet, before it served
        anything: from now on it reads the fleet's clock and charges the fleet's rate limiter."""
        full_name = sandbox.state.repo.full_name
        key = full_name.lower()
        if key in self.repos:
            raise ValueError(f"{full_name}: the fleet already has this repository")
        if len(sandbox.ledger):
            raise ValueError(f"{full_name}: adopt a sandbox before it serves requests")
        if sandbox.clock is not self.clock:
            self.clock.set(max(self.clock.now(), sandbox.clock.now()))
            sandbox.clock = sandbox.state.clock = self.clock
        self.limiter.overrides.update(sandbox.limiter.overrides)
        sandbox.limiter = self.limiter  # one GitHub: one budget per account across repositories
        sandbox._lock = self._lock  # one GitHub: requests are served one at a time
        sandbox.state.repo = replace(sandbox.state.repo, id=_FIRST_REPO_ID + len(self.repos))
        sandbox.base_url = self.base_url
        self.repos[key] = sandbox
        self.topics[key] = list(topics)
        for installation in self.apps.installations.values():
            if self._covers(installation, key):
                self._seat_bot(installation, sandbox)
        return sandbox

    def repo(self, full_name: str) -> Sandbox:
        return self.repos[full_name.lower()]

    def add_app(
        self,
        slug: str,
        public_key: str,
        *,
        owner: str,
        app_id: int | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> App:
        return self.apps.add_app(slug, public_key, owner=owner, app_id=app_id, permissions=permissions)

    def install(
        self,
        app: App,
        account: str,
        repositories: Iterable[str] | None = None,
        *,
        permissions: Mapping[str, str] | None = None,
    ) -> Installation:
        """Install `app` on `account`'s named repositories (or all of them, now and later)."""
        installation = self.apps.install(app, account, repositories, permissions=permissions)
        for key, sandbox in self.repos.items():
            if self._covers(installation, key):
                self._seat_bot(installation, sandbox)
        return installation

    def _covers(self, installation: Installation, key: str) -> bool:
        if installation.repositories is None:
            return key.split("/", 1)[0] == installation.account.lower()
        return key in (r.lower() for r in installation.repositories)

    def _seat_bot(self, installation: Installation, sandbox: Sandbox) -> None:
        level = "write" if any(v in ("write", "admin") for v in installation.permissions.values()) else "read"
        sandbox.add_user(
            installation.app.bot_login, token=_internal_token(installation), permission=level, type="Bot"
        )

    def reachable(self, installation: Installation) -> list[str]:
        """The full names an installation can reach, in creation order."""
        return [s.state.repo.full_name for k, s in self.repos.items() if self._covers(installation, k)]

    # --- reading ---------------------------------------------------------------------------
    def requests(self) -> list[LedgerEntry]:
        """Every request served, front and repositories, in no particular order across ledgers."""
        out: list[LedgerEntry] = list(self.ledger)
        for sandbox in self.repos.values():
            out.extend(sandbox.ledger)
        return out

    # --- serving ---------------------------------------------------------------------------
    def handle(
        self, method: str, path_with_query: str, headers: Mapping[str, str], body: bytes | None
    ) -> SandboxResponse:
        split = urlsplit(path_with_query)
        path = split.path or "/"
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path) :]
        method = method.upper()
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            try:
                if path == "/app" or path.startswith("/app/") or path.endswith("/installation"):
                    return self._serve_app(method, path, split.query, lower, body)
                if path == "/installation/repositories":
                    return self._serve_installation(method, path, split.query, lower)
                return self._delegate(method, path, split.query, lower, body)
            except ApiError as err:
                return self._answer(
                    method, path, split.query, Reply(err.status, err.body(), err.headers), None
                )

    # The App routes (JWT) ------------------------------------------------------------------
    def _serve_app(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
    ) -> SandboxResponse:
        self.clock.tick()
        repo_match = _REPO_PATH.match(path)
        if repo_match and repo_match.group("rest") != "/installation":
            return self._delegate(method, path, query, headers, body)
        app = self._app_from(headers)
        who = app.bot_login
        if method == "GET" and path == "/app":
            return self._answer(method, path, query, Reply(200, self._integration(app)), who)
        if method == "GET" and path == "/app/installations":
            mine = [self._installation(i) for i in self.apps.installations.values() if i.app is app]
            return self._answer(method, path, query, Reply(200, mine), who)
        tokens = _INSTALLATION_TOKENS.match(path)
        if method == "POST" and tokens:
            installation = self.apps.installations.get(int(tokens.group("installation_id")))
            if installation is None or installation.app is not app:
                raise ApiError(404, "Not Found", documentation_url=DOCS_INSTALLATION)
            wanted = json.loads(body) if body else {}
            if not isinstance(wanted, dict):
                raise ApiError(400, "Problems parsing JSON")
            minted = self.apps.mint(
                installation,
                self.reachable(installation),
                repositories=wanted.get("repositories"),
                permissions=wanted.get("permissions"),
            )
            return self._answer(method, path, query, Reply(201, self._token_body(minted)), who)
        if method == "GET" and repo_match:
            key = f"{unquote(repo_match.group('owner'))}/{unquote(repo_match.group('repo'))}".lower()
            for installation in self.apps.installations.values():
                if installation.app is app and key in self.repos and self._covers(installation, key):
                    return self._answer(
                        method, path, query, Reply(200, self._installation(installation)), who
                    )
            raise ApiError(404, "Not Found", documentation_url=DOCS_INSTALLATION)
        raise ApiError(404, "Not Found")

    def _app_from(self, headers: Mapping[str, str]) -> App:
        scheme, _, credential = headers.get("authorization", "").strip().partition(" ")
        if not credential:
            raise ApiError(401, "Requires authentication", documentation_url=DOCS_APP_JWT)
        if scheme.lower() != "bearer" or credential.count(".") != 2:
            raise ApiError(401, "A JSON web token could not be decoded", documentation_url=DOCS_APP_JWT)
        return self.apps.app_for_jwt(credential.strip())

    # The installation's own routes (installation token) --------------------------------------
    def _serve_installation(
        self, method: str, path: str, query: str, headers: dict[str, str]
    ) -> SandboxResponse:
        self.clock.tick()
        minted = self._installation_token(headers)
        if minted is None:
            raise ApiError(403, NOT_ACCESSIBLE, documentation_url=DOCS_INSTALLATION)
        if method != "GET":
            raise ApiError(404, "Not Found")
        params = dict(parse_qsl(query))
        per_page = max(1, min(100, int(params.get("per_page") or 30)))
        page = max(1, int(params.get("page") or 1))
        names = [n for n in self.reachable(minted.installation) if n.lower() in minted.repositories]
        bot = minted.installation.app.bot_login
        rows = []
        for name in names[(page - 1) * per_page : page * per_page]:
            sandbox = self.repos[name.lower()]
            row = sandbox.render.repository(viewer=bot)
            row["topics"] = list(self.topics[name.lower()])
            rows.append(row)
        reply = Reply(
            200,
            {
                "total_count": len(names),
                "repository_selection": minted.installation.selection,
                "repositories": rows,
            },
        )
        if page * per_page < len(names):
            reply.headers["Link"] = (
                f'<{self.base_url}/installation/repositories?per_page={per_page}&page={page + 1}>; rel="next"'
            )
        return self._answer(method, path, query, reply, bot)

    def _installation_token(self, headers: Mapping[str, str]) -> InstallationToken | None:
        """The live installation token the request carries; 401 Bad credentials when it expired."""
        _, _, credential = headers.get("authorization", "").strip().partition(" ")
        credential = credential.strip()
        if not credential.startswith("ghs_"):
            return None
        minted = self.apps.token(credential)
        if minted is None:
            raise ApiError(401, "Bad credentials", documentation_url=DOCS)
        return minted

    # Everything else: the repository's own sandbox -------------------------------------------
    def _delegate(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
    ) -> SandboxResponse:
        minted = self._installation_token(headers)
        target, rest = self._target(path, query, headers)
        if target is None:
            raise ApiError(404, "Not Found")
        forwarded = dict(headers)
        if minted is not None:
            self._check_scope(minted, target, rest, method)
            forwarded["authorization"] = f"token {_internal_token(minted.installation)}"
        return target.handle(method, path + (f"?{query}" if query else ""), forwarded, body)

    def _target(self, path: str, query: str, headers: Mapping[str, str]) -> tuple[Sandbox | None, str | None]:
        """The repository sandbox that answers this path, and the path after the repository."""
        found = _REPO_PATH.match(path)
        if found:
            key = f"{unquote(found.group('owner'))}/{unquote(found.group('repo'))}".lower()
            return self.repos.get(key), found.group("rest") or ""
        by_id = _REPO_ID_PATH.match(path)
        if by_id:
            wanted = int(by_id.group("id"))
            for sandbox in self.repos.values():
                if sandbox.state.repo.id == wanted:
                    return sandbox, by_id.group("rest") or ""
            return None, None
        searched = (
            _SEARCH_REPO.search(dict(parse_qsl(query)).get("q", "")) if path.startswith("/search/") else None
        )
        if searched:
            return self.repos.get(searched.group("repo").lower()), None
        org = _ORG_PATH.match(path)
        for sandbox in self.repos.values():
            if org is None or sandbox.state.repo.owner.lower() == org.group("org").lower():
                return sandbox, None
        return None, None

    def _check_scope(self, minted: InstallationToken, target: Sandbox, rest: str | None, method: str) -> None:
        """A token reaches only its repositories (a private one outside reads as absent) and acts
        only within its permissions, as GitHub answers an installation token."""
        if rest is None:
            return
        name = target.state.repo.full_name
        if name.lower() not in minted.repositories:
            if target.state.repo.private or method != "GET":
                if target.state.repo.private:
                    raise ApiError(404, "Not Found")
                raise ApiError(403, NOT_ACCESSIBLE)
            return
        need = "read" if method in ("GET", "HEAD") else "write"
        if not permits(minted.permissions, _permission_for(rest), need):
            raise ApiError(403, NOT_ACCESSIBLE)

    # --- bodies ----------------------------------------------------------------------------
    def _account(self, login: str) -> dict[str, Any]:
        for sandbox in self.repos.values():
            if sandbox.state.repo.owner.lower() == login.lower():
                rendered = sandbox.render.user(sandbox.state.repo.owner)
                if rendered is not None:
                    return rendered
        raise ApiError(404, "Not Found")

    def _integration(self, app: App) -> dict[str, Any]:
        created = iso(self.clock.now())
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("A", app.id),
            "client_id": app.client_id,
            "owner": self._account(app.owner),
            "name": app.name,
            "description": None,
            "external_url": f"https://{app.slug}.example",
            "html_url": f"{self.base_url}/apps/{app.slug}",
            "created_at": created,
            "updated_at": created,
            "permissions": dict(app.permissions),
            "events": ["issues", "issue_comment"],
            "installations_count": sum(1 for i in self.apps.installations.values() if i.app is app),
        }

    def _installation(self, installation: Installation) -> dict[str, Any]:
        account = self._account(installation.account)
        created = iso(self.clock.now())
        base = f"{self.base_url}/app/installations/{installation.id}"
        return {
            "id": installation.id,
            "account": account,
            "repository_selection": installation.selection,
            "access_tokens_url": f"{base}/access_tokens",
            "repositories_url": f"{self.base_url}/installation/repositories",
            "html_url": f"{self.base_url}/organizations/{installation.account}/settings/installations/"
            f"{installation.id}",
            "app_id": installation.app.id,
            "client_id": installation.app.client_id,
            "target_id": account["id"],
            "target_type": account["type"],
            "permissions": dict(installation.permissions),
            "events": ["issues", "issue_comment"],
            "created_at": created,
            "updated_at": created,
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "app_slug": installation.app.slug,
            "suspended_by": None,
            "suspended_at": None,
            "contact_email": None,
        }

    def _token_body(self, minted: InstallationToken) -> dict[str, Any]:
        out: dict[str, Any] = {
            "token": minted.token,
            "expires_at": iso(minted.expires_at),
            "permissions": dict(minted.permissions),
            "repository_selection": minted.installation.selection,
        }
        return out

    def _answer(self, method: str, path: str, query: str, reply: Reply, login: str | None) -> SandboxResponse:
        payload = b"" if reply.body is None else json.dumps(reply.body, ensure_ascii=False).encode()
        headers = {
            "Content-Type": _JSON_TYPE,
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": f"SBXF:{len(self.ledger) + 1:06X}",
            "Date": self.clock.now().strftime("%a, %d %b %Y %H:%M:%S GMT"),
            **reply.headers,
        }
        self.ledger.append(
            LedgerEntry(
                seq=len(self.ledger) + 1,
                at=iso(self.clock.now()),
                method=method,
                path=path + (f"?{query}" if query else ""),
                status=reply.status,
                counted=False,
                write=method not in ("GET", "HEAD"),
                login=login,
            )
        )
        return SandboxResponse(reply.status, headers, payload)
