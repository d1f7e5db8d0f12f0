"""The Sandbox: state + route table + the cross-cutting rules (identity, permissions, faults, rate
limits, ETags, ledger) applied to every request, whatever transport delivered it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from issueops.sandbox.clock import VirtualClock, http_date, iso, parse_time
from issueops.sandbox.control import handle_control
from issueops.sandbox.etag import etag_for, matches
from issueops.sandbox.faults import Fault, FaultSet
from issueops.sandbox.http import DOCS, ApiError, Ctx, Reply, SandboxResponse, SandboxTimeout, not_found
from issueops.sandbox.inference import INFERENCE_PATH, InferenceStandIn, InferenceTimeout
from issueops.sandbox.ledger import Ledger, LedgerEntry
from issueops.sandbox.media import STATIC_HEADERS, requested
from issueops.sandbox.models import PERMISSION_LEVELS, Comment, Event, Issue, Label, Team, User
from issueops.sandbox.ratelimit import DOCS_PRIMARY, DOCS_SECONDARY, Limits, RateLimiter
from issueops.sandbox.raw import NOT_FOUND, serve_raw
from issueops.sandbox.raw import PREFIX as RAW_PREFIX
from issueops.sandbox.render import Renderer
from issueops.sandbox.routes import all_routes
from issueops.sandbox.routing import Route, Router
from issueops.sandbox.store import SandboxState

DEFAULT_BASE_URL = "http://sandbox.test"
_JSON_TYPE = "application/json; charset=utf-8"
_REASONS = {
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that. Please try resubmitting "
    "your request and contact us if the problem persists.",
}
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
_DENIED = {
    "triage": "Must have triage access to repository.",
    "write": "Must have push access to repository.",
    "maintain": "Must have maintain access to repository.",
    "admin": "Must have admin rights to Repository.",
}


def _encode(reply: Reply) -> bytes:
    """The answer's bytes: a raw media type's bytes as they are, else the JSON body in UTF-8."""
    if reply.raw is not None:
        return reply.raw
    return b"" if reply.body is None else json.dumps(reply.body, ensure_ascii=False).encode()


def _cache_headers(reply: Reply, route: Route, login: str | None, payload: bytes) -> None:
    """ETag and Cache-Control as GitHub sets them on a successful answer with a body, reads and
    writes alike; search answers are `no-cache` without an ETag. A single resource's `updated_at`
    becomes its `Last-Modified` (handlers set it for resources without one)."""
    if route.resource == "search":
        reply.headers["Cache-Control"] = "no-cache"
        return
    reply.headers["ETag"] = etag_for(payload, login)
    reply.headers["Cache-Control"] = f"{'private' if login else 'public'}, max-age=60, s-maxage=60"
    updated = reply.body.get("updated_at") if isinstance(reply.body, dict) else None
    if route.method == "GET" and isinstance(updated, str) and "Last-Modified" not in reply.headers:
        reply.headers["Last-Modified"] = http_date(parse_time(updated))


class Sandbox:
    """A stateful stand-in for the GitHub REST API subset the project uses."""

    def __init__(
        self,
        repo: str = "acme/ops",
        *,
        private: bool = False,
        default_branch: str = "main",
        clock: VirtualClock | None = None,
        limits: Limits | None = None,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.state = SandboxState(repo, clock=self.clock, private=private, default_branch=default_branch)
        self.limiter = RateLimiter(self.clock, limits)
        self.ledger = Ledger()
        self.faults = FaultSet()
        self.router = Router(all_routes())
        self.inference = InferenceStandIn()  # GitHub Models' chat completions, scripted
        self._lock = threading.RLock()
        self._base_url = ""
        self._render: Renderer
        self.base_url = base_url

    # --- configuration ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")
        self._render = Renderer(self.state, self._base_url)
        self._base_path = urlsplit(self._base_url).path.rstrip("/")

    @property
    def render(self) -> Renderer:
        return self._render

    # --- seeding (fast: no HTTP, no ledger) -------------------------------------------------
    def add_user(
        self,
        login: str,
        *,
        token: str | None = None,
        permission: str = "none",
        type: str = "User",
        name: str | None = None,
        email: str | None = None,
        rate_limit: int | None = None,
    ) -> User:
        user = self.state.add_user(
            login, token=token, permission=permission, type=type, name=name, email=email
        )
        if rate_limit is not None:
            self.limiter.overrides[user.login] = rate_limit
        return user

    def add_team(
        self,
        slug: str,
        members: Iterable[str] = (),
        *,
        permission: str | None = None,
        maintainers: Iterable[str] = (),
    ) -> Team:
        return self.state.add_team(slug, members, permission=permission, maintainers=maintainers)

    def add_label(self, name: str, color: str = "ededed", description: str | None = None) -> Label:
        return self.state.add_label(name, color, description)

    def add_issue(
        self,
        title: str,
        body: str | None = None,
        user: str | None = None,
        *,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        state: str = "open",
        state_reason: str | None = None,
        created_at: datetime | None = None,
        comments: Iterable[Mapping[str, Any]] = (),
    ) -> Issue:
        return self.state.add_issue(
            title,
            body,
            user,
            labels=labels,
            assignees=assignees,
            state=state,
            state_reason=state_reason,
            created_at=created_at,
            comments=comments,
        )

    def add_comment(
        self,
        number: int,
        user: str,
        body: str,
        *,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> Comment:
        return self.state.add_comment(number, user, body, created_at=created_at, updated_at=updated_at)

    def add_pull(
        self,
        title: str,
        head: str,
        *,
        base: str | None = None,
        body: str | None = None,
        user: str | None = None,
        draft: bool = False,
        files: Mapping[str, str] | None = None,
    ) -> Issue:
        return self.state.add_pull(title, head, base=base, body=body, user=user, draft=draft, files=files)

    def commit_files(
        self,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str = "Update files",
        *,
        user: str | None = None,
    ) -> str:
        return self.state.commit_files(branch, files, message, user=user)

    # --- readable state ------------------------------------------------------------------------
    @property
    def issues(self) -> dict[int, Issue]:
        return self.state.issues

    @property
    def comments(self) -> dict[int, Comment]:
        return self.state.comments

    @property
    def labels(self) -> dict[str, Label]:
        return self.state.labels

    @property
    def users(self) -> dict[str, User]:
        return self.state.users

    @property
    def teams(self) -> dict[str, Team]:
        return self.state.teams

    @property
    def refs(self) -> dict[str, str]:
        return self.state.git.refs

    @property
    def pulls(self) -> dict[int, Issue]:
        return {n: i for n, i in self.state.issues.items() if i.pull is not None}

    def events(self, number: int) -> list[Event]:
        return list(self.state.issues[number].events)

    def file(self, branch: str, path: str) -> str | None:
        """The text of `path` on `branch` (None when absent): for assertions on deliverables."""
        sha = self.state.branch_sha(branch)
        if sha is None:
            return None
        entry = self.state.git.lookup(self.state.git.commits[sha].tree, path)
        if entry is None or entry.type != "blob":
            return None
        return self.state.git.blobs[entry.sha].decode()

    def token_of(self, login: str) -> str | None:
        user = self.state.find_user(login)
        return user.token if user else None

    def summary(self) -> dict[str, Any]:
        """Counts for `GET /_sandbox/state` and the demo's narration."""
        issues = self.state.issues.values()
        return {
            "repo": self.state.repo.full_name,
            "base_url": self.base_url,
            "now": iso(self.clock.now()),
            "issues": sum(1 for i in issues if i.pull is None),
            "pulls": sum(1 for i in issues if i.pull is not None),
            "open": sum(1 for i in issues if i.state == "open"),
            "comments": len(self.state.comments),
            "labels": len(self.state.labels),
            "users": len(self.state.users),
            "requests": len(self.ledger),
            "counted": self.ledger.counted(),
        }

    # --- serving ---------------------------------------------------------------------------
    def handle(
        self, method: str, path_with_query: str, headers: Mapping[str, str], body: bytes | None
    ) -> SandboxResponse:
        """Serve one request. Raises SandboxTimeout when an injected fault says there is no answer."""
        split = urlsplit(path_with_query)
        path = split.path or "/"
        if self._base_path and (path == self._base_path or path.startswith(self._base_path + "/")):
            path = path[len(self._base_path) :] or "/"
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if path.startswith("/_sandbox/") or path == "/_sandbox":
                return handle_control(self, method.upper(), path, split.query, body)
            if path.startswith(RAW_PREFIX) and method.upper() in ("GET", "HEAD"):
                return self._raw(path, lower)
            self.clock.tick()
            self.state.agent.run_due(self.state)
            if INFERENCE_PATH.match(path):
                return self._infer(method.upper(), path, lower, body)
            response = self._serve(method.upper(), path, split.query, lower, body)
        response.headers["X-GitHub-Media-Type"] = requested(lower.get("accept")).header()
        return response

    def _infer(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> SandboxResponse:
        """GitHub Models' inference endpoint (not part of the REST description): faults and the
        ledger apply as to any request; it needs a token; what it answers is scripted."""
        actor, auth_error = self._authenticate(headers)
        login = actor.login if actor else None
        if auth_error is None and actor is None:
            auth_error = Reply(401, {"error": {"code": "unauthorized", "message": "Requires authentication"}})
        if auth_error is not None:
            return self._finish(method, path, login, auth_error, counted=False, write=True)
        fault = self.faults.pick(method, path)
        if fault is not None:
            return self._fault(fault, method, path, login, True, counted=False)
        if method != "POST":
            reply = Reply(405, {"error": {"code": "method_not_allowed", "message": "Use POST."}})
            return self._finish(method, path, login, reply, counted=False, write=True)
        try:
            status, extra, answer = self.inference.handle(body, int(self.clock.timestamp()))
        except InferenceTimeout:
            self._record(method, path, 0, False, True, login, None, fault=True)
            raise SandboxTimeout("read") from None
        return self._finish(method, path, login, Reply(status, answer, extra), counted=False, write=True)

    def _serve(
        self, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes | None
    ) -> SandboxResponse:
        full_path = path + (f"?{raw_query}" if raw_query else "")
        write = method not in ("GET", "HEAD")
        if write:
            self.state.serial += 1  # a listing walked across this write is built again
        self._render.begin_request()
        actor, auth_error = self._authenticate(headers)
        login = actor.login if actor else None
        if auth_error is not None:
            return self._finish(method, full_path, login, auth_error, counted=False, write=write)
        matched = self.match(method, path)
        fault = self.faults.pick(method, path)
        if fault is not None and not fault.apply:
            return self._fault(fault, method, full_path, login, write, counted=False)
        key = login or "anonymous"
        route = matched[0] if matched else None
        bucket = self.limiter.bucket(key, route.resource) if route and route.resource else None
        if route is None:
            bucket = self.limiter.bucket(key, "core")
        if bucket is not None and bucket.remaining == 0:
            reply = self._limited(actor, bucket)
            return self._finish(method, full_path, login, reply, counted=False, write=write, bucket=bucket)
        if route is not None and route.creates:
            wait = self.limiter.content_wait(key)
            if wait is not None:
                reply = Reply(
                    403,
                    {
                        "message": SECONDARY_MESSAGE
                        + f" If you reach out to GitHub Support for help, please include the request ID "
                        f"{self._request_id()}.",
                        "documentation_url": DOCS_SECONDARY,
                        "status": "403",
                    },
                    {"retry-after": str(wait)},
                )
                return self._finish(
                    method, full_path, login, reply, counted=False, write=write, bucket=bucket
                )
        if matched is None:
            reply = Reply(404, not_found().body())
        else:
            reply = self._run(
                matched[0], matched[1], method, self.canonical_path(path), raw_query, headers, body, actor
            )
        payload = _encode(reply)
        counted = bucket is not None
        if route is not None and 200 <= reply.status < 300 and payload:
            _cache_headers(reply, route, login, payload)
        if method == "GET" and reply.status == 200 and "ETag" in reply.headers:
            tag = reply.headers["ETag"]
            if matches(headers.get("if-none-match"), tag):
                return self._finish(
                    method,
                    full_path,
                    login,
                    Reply(304, None, {"ETag": tag}),
                    counted=False,
                    write=False,
                    bucket=bucket,
                )
        if bucket is not None:
            self.limiter.charge(bucket)
        if route is not None and route.creates and reply.status < 400:
            self.limiter.record_content(key)
        if fault is not None:
            return self._fault(fault, method, full_path, login, write, counted=counted, bucket=bucket)
        return self._finish(
            method, full_path, login, reply, counted=counted, write=write, bucket=bucket, payload=payload
        )

    def _raw(self, path: str, headers: Mapping[str, str]) -> SandboxResponse:
        """A `download_url` (raw.githubusercontent.com's part): outside the API and its limits."""
        actor, auth_error = self._authenticate(headers)
        if auth_error is not None:
            status, kind, payload = NOT_FOUND
        else:
            status, kind, payload = serve_raw(self.state, path, actor.login if actor else None)
        self._record("GET", path, status, False, False, actor.login if actor else None, None, fault=False)
        return SandboxResponse(status, {"Content-Type": kind, "Date": http_date(self.clock.now())}, payload)

    def canonical_path(self, path: str) -> str:
        """`/repositories/{id}/...` (the form of GitHub's own `Link` URLs) as `/repos/{owner}/{repo}/...`;
        another id is left alone, so it matches no route and answers 404 as an unknown repository does."""
        if not path.startswith("/repositories/"):
            return path
        ident, _, rest = path[len("/repositories/") :].partition("/")
        repo = self.state.repo
        if ident != str(repo.id):
            return path
        return f"/repos/{repo.owner}/{repo.name}" + (f"/{rest}" if rest else "")

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving `method path` (either URL form), with its parameters."""
        return self.router.match(method, self.canonical_path(path))

    def _authenticate(self, headers: Mapping[str, str]) -> tuple[User | None, Reply | None]:
        raw = headers.get("authorization", "").strip()
        if not raw:
            return None, None
        scheme, _, token = raw.partition(" ")
        token = token.strip()
        user = self.state.user_for_token(token) if scheme.lower() in ("token", "bearer") and token else None
        if user is None:
            body = {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            return None, Reply(401, body)
        return user, None

    def _run(
        self,
        route: Route,
        params: dict[str, str],
        method: str,
        path: str,
        raw_query: str,
        headers: dict[str, str],
        body: bytes | None,
        actor: User | None,
    ) -> Reply:
        decoded = {k: unquote(v) for k, v in params.items()}
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        ctx = Ctx(
            method,
            path,
            query,
            raw_query,
            headers,
            body,
            decoded,
            actor,
            self.state,
            self._render,
            self.limiter,
        )
        try:
            self._authorize(route, decoded, actor)
            return route.handler(ctx)
        except ApiError as err:
            return Reply(err.status, err.body(), err.headers)

    def _authorize(self, route: Route, params: Mapping[str, str], actor: User | None) -> None:
        """Repository visibility first (404 hides a private repo), then the route's permission need."""
        if route.repo_scoped:
            repo = self.state.repo
            if params["owner"].lower() != repo.owner.lower() or params["repo"].lower() != repo.name.lower():
                raise not_found()
            login = actor.login if actor else None
            level = self.state.level(login)
            if level < PERMISSION_LEVELS["read"]:
                raise not_found()
            if route.need is not None and level < PERMISSION_LEVELS[route.need]:
                if actor is None:
                    raise ApiError(401, "Requires authentication")
                raise ApiError(403, _DENIED.get(route.need, "Forbidden"))
        elif route.need is not None and route.need != "read" and actor is None:
            raise ApiError(401, "Requires authentication")

    def _limited(self, actor: User | None, bucket: Any) -> Reply:
        who = f"user ID {actor.id}" if actor else "127.0.0.1"
        stamp = self.clock.now().strftime("%Y-%m-%d %H:%M:%S")
        message = (
            f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, please include "
            f"the request ID {self._request_id()} and timestamp {stamp} UTC."
        )
        return Reply(403, {"message": message, "documentation_url": DOCS_PRIMARY, "status": "403"})

    def _request_id(self) -> str:
        return f"SBX0:{len(self.ledger) + 1:06X}"

    def _fault(
        self,
        fault: Fault,
        method: str,
        full_path: str,
        login: str | None,
        write: bool,
        *,
        counted: bool,
        bucket: Any = None,
    ) -> SandboxResponse:
        if fault.timeout:
            self._record(method, full_path, 0, counted, write, login, bucket, fault=True)
            raise SandboxTimeout(fault.timeout)
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
        if fault.message:
            message = fault.message
        elif fault.status in (403, 429) and fault.retry_after is not None:
            message = SECONDARY_MESSAGE
        else:
            message = _REASONS.get(fault.status, "Injected fault")
        body = {"message": message, "documentation_url": DOCS, "status": str(fault.status)}
        reply = Reply(fault.status, body, headers)
        return self._finish(
            method, full_path, login, reply, counted=counted, write=write, bucket=bucket, fault=True
        )

    def _finish(
        self,
        method: str,
        full_path: str,
        login: str | None,
        reply: Reply,
        *,
        counted: bool,
        write: bool,
        bucket: Any = None,
        payload: bytes | None = None,
        fault: bool = False,
    ) -> SandboxResponse:
        if payload is None:
            payload = _encode(reply)
        headers: dict[str, str] = dict(STATIC_HEADERS)
        if payload:
            headers["Content-Type"] = _JSON_TYPE
        if bucket is not None and not fault:
            headers.update(bucket.headers(self.clock.timestamp()))
        headers["X-GitHub-Api-Version-Selected"] = "2022-11-28"
        headers["X-GitHub-Request-Id"] = self._request_id()
        headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        headers["Date"] = http_date(self.clock.now())
        headers.update(reply.headers)
        self._record(method, full_path, reply.status, counted, write, login, bucket, fault=fault)
        return SandboxResponse(reply.status, headers, payload)

    def _record(
        self,
        method: str,
        full_path: str,
        status: int,
        counted: bool,
        write: bool,
        login: str | None,
        bucket: Any,
        *,
        fault: bool,
    ) -> None:
        self.ledger.append(
            LedgerEntry(
                seq=len(self.ledger) + 1,
                at=iso(self.clock.now()),
                method=method,
                path=full_path,
                status=status,
                counted=counted,
                write=write,
                login=login,
                resource=bucket.resource if bucket is not None else None,
                fault=fault,
            )
        )
