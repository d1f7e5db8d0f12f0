"""Request and reply values shared by the router and the route handlers, and GitHub's error bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from issueops.sandbox.models import User
    from issueops.sandbox.ratelimit import RateLimiter
    from issueops.sandbox.render import Renderer
    from issueops.sandbox.store import SandboxState

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """Raised by a handler to answer with GitHub's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        documentation_url: str = DOCS,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "documentation_url": self.documentation_url}
        if self.errors is not None:
            out["errors"] = self.errors
        out["status"] = str(self.status)
        return out


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(resource: str, field_name: str, code: str = "invalid", **extra: Any) -> ApiError:
    """422 Validation Failed with one entry in `errors`, as GitHub reports bad input."""
    error: dict[str, Any] = {"resource": resource, "code": code, "field": field_name, **extra}
    return ApiError(422, "Validation Failed", errors=[error])


@dataclass(slots=True)
class Reply:
    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (a raw media type); sent as is instead of `body`


@dataclass(slots=True)
class Ctx:
    """What a handler sees: the request, the acting user, the state and the URL renderer."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: Mapping[str, str]  # lower-case names
    raw_body: bytes | None
    params: dict[str, str]
    actor: User | None
    state: SandboxState
    render: Renderer
    limiter: RateLimiter
    _json: Any = None

    @property
    def login(self) -> str | None:
        return self.actor.login if self.actor else None

    def json_any(self) -> Any:
        """The parsed JSON body (an empty object when there is none)."""
        if self._json is None:
            if not self.raw_body:
                self._json = {}
            else:
                try:
                    self._json = json.loads(self.raw_body)
                except ValueError as exc:
                    raise ApiError(400, "Problems parsing JSON") from exc
        return self._json

    def json(self) -> dict[str, Any]:
        """The JSON object body; GitHub answers 400 "Problems parsing JSON" otherwise."""
        data = self.json_any()
        if not isinstance(data, dict):
            raise ApiError(400, "Problems parsing JSON")
        return dict(data)

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError as exc:
            raise not_found() from exc

    def query_int(self, name: str, default: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise invalid("Query", name) from exc


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SandboxTimeout(Exception):
    """The request got no answer (an injected `timeout` fault): `kind` is "read" or "connect"."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"sandbox injected a {kind} timeout")
        self.kind = kind
