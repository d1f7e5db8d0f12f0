"""Where the governor meets PyGithub: its HTTP connection, the one door every request passes.

PyGithub's Requester sends every request — REST calls, pagination, lazy completion, redirects,
the GitHub App token exchange, from every Requester it derives (`withAuth`, `withLazy`) —
through a "connection" object built from a class it lets you replace
(`Requester.injectConnectionClasses`, a public hook). We replace it with governed subclasses:
while an adapter call is running (`governing(governor)`), each request goes through
`Governor.send`; with no governor active they behave exactly like PyGithub's own classes, so
other PyGithub users in the process are unaffected. A request carrying our User-Agent with no
governor active is refused loudly: the adapter can never bypass its own policy by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from github.Requester import (
    HTTPRequestsConnectionClass,
    HTTPSRequestsConnectionClass,
    Requester,
    RequestsResponse,
)
from requests.structures import CaseInsensitiveDict

from issueops.github.governor import Governor, HttpReply, HttpRequest, TransportError

USER_AGENT = "issueops (PyGithub)"

_ACTIVE: ContextVar[Governor | None] = ContextVar("issueops_governor", default=None)
_SESSIONS: dict[tuple[str, str, int, object], tuple[requests.Session, dict[str, Any]]] = {}


class UngovernedRequest(RuntimeError):
    """The adapter's own client sent a request outside `governing()`: a bug (exit 3)."""


@contextmanager
def governing(governor: Governor) -> Iterator[Governor]:
    """Route this context's PyGithub requests through `governor`."""
    token = _ACTIVE.set(governor)
    try:
        yield governor
    finally:
        _ACTIVE.reset(token)


def install() -> None:
    """Make PyGithub build governed connections (idempotent; call before creating a client)."""
    Requester.injectConnectionClasses(GovernedHTTPConnection, GovernedHTTPSConnection)


def _session(protocol: str, host: str, port: int, verify: object) -> tuple[requests.Session, dict[str, Any]]:
    """One pooled session per server: injected classes are built per request, sessions are not.

    With it, the settings requests would take from the environment on every request (proxies,
    `REQUESTS_CA_BUNDLE`): read once here, since looking the proxies up again costs more than
    the request itself when the environment is large.
    """
    key = (protocol, host, port, verify)
    found = _SESSIONS.get(key)
    if found is None:
        session = requests.Session()
        session.auth = Requester.noopAuth  # as PyGithub: never fall back to ~/.netrc
        session.mount(f"{protocol}://", requests.adapters.HTTPAdapter(max_retries=0))
        url = f"{protocol}://{host}:{port}/"
        settings = session.merge_environment_settings(url, {}, None, verify, None)  # type: ignore[arg-type]
        session.trust_env = False  # already applied, from `settings`
        found = _SESSIONS[key] = (session, {k: settings[k] for k in ("proxies", "verify", "cert")})
    return found


def _send(session: requests.Session, settings: dict[str, Any], request: HttpRequest, timeout: Any) -> Any:
    """One exchange on the session's pooled adapter: `Session.request` without what it adds here.

    `Session.request` merges per-request parameters, cookies, auth and hooks into the request and
    walks redirects; this client sends none of those (no cookies, no-op auth, redirects not
    followed, the environment read once in `_session`), and that merging cost more CPU than the
    rest of the request at scale. What remains is what goes on the wire: the session's default
    headers (`Accept-Encoding`, `Connection`...) under the request's own, the URL and the body,
    prepared by requests itself and sent by the session's adapter (connection pool, TLS, proxies).
    """
    headers = CaseInsensitiveDict(session.headers)
    headers.update(request.headers)
    prepared = requests.PreparedRequest()
    prepared.prepare_method(request.method)
    prepared.prepare_url(request.url, None)
    prepared.prepare_headers({k: v for k, v in headers.items() if v is not None})
    prepared.prepare_body(request.body, None)
    adapter = session.get_adapter(request.url)
    return adapter.send(prepared, stream=False, timeout=timeout, **settings)


class _Reply:
    """The small part of PyGithub's response object that its Requester reads."""

    def __init__(self, reply: HttpReply) -> None:
        self.status = reply.status
        self.headers = reply.headers
        self._body = reply.body

    def getheaders(self) -> Any:
        return self.headers.items()

    def read(self) -> str:
        return self._body

    def iter_content(self, chunk_size: int | None = 1) -> Iterator[bytes]:
        data = self._body.encode("utf-8")
        size = chunk_size or len(data) or 1
        for start in range(0, len(data), size):
            yield data[start : start + size]

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise requests.HTTPError(f"{self.status}")


class _Governed:
    """Shared by the HTTP and HTTPS variants; the attributes mirror PyGithub's classes."""

    protocol: str
    host: str
    port: int
    timeout: int | None
    verify: object
    verb: str
    url: str
    input: Any
    headers: dict[str, str]
    stream: bool
    _plain_class: Any

    def _setup(self, host: str, port: int | None, default_port: int, args: dict[str, Any]) -> None:
        self.host = host
        self.port = port if port else default_port
        self.timeout = args.get("timeout")
        self.verify = args.get("verify", True)
        self._args = args
        self._plain: Any = None

    def request(self, verb: str, url: str, input: Any, headers: dict[str, str], stream: bool = False) -> None:
        self.verb, self.url, self.input, self.headers, self.stream = verb, url, input, headers, stream

    def getresponse(self) -> Any:
        governor = _ACTIVE.get()
        if governor is None:
            if self.headers.get("User-Agent") == USER_AGENT:
                raise UngovernedRequest(f"{self.verb} {self.url} was sent outside the API governor")
            return self._plain_response()
        full_url = f"{self.protocol}://{self.host}:{self.port}{self.url}"
        reply = governor.send(
            HttpRequest(self.verb, full_url, dict(self.headers), self.input), self._exchange
        )
        return _Reply(reply)

    def _exchange(self, request: HttpRequest) -> HttpReply:
        session, settings = _session(self.protocol, self.host, self.port, self.verify)
        try:
            response = _send(session, settings, request, self.timeout)
        except requests.Timeout as exc:
            raise TransportError("timeout", f"{type(exc).__name__} talking to {self.host}") from None
        except (requests.ConnectionError, requests.exceptions.RetryError) as exc:
            raise TransportError("connection", f"{type(exc).__name__} talking to {self.host}") from None
        headers = dict(response.headers.lower_items())
        return HttpReply(response.status_code, headers, response.text or "")

    def _plain_response(self) -> RequestsResponse:
        """No governor: exactly PyGithub's own connection behaviour (its retry, its session)."""
        if self._plain is None:
            args = dict(self._args)
            self._plain = self._plain_class(self.host, self.port, **args)
        self._plain.request(self.verb, self.url, self.input, self.headers, self.stream)
        response: RequestsResponse = self._plain.getresponse()
        return response

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
            self._plain = None


class GovernedHTTPConnection(_Governed, HTTPRequestsConnectionClass):
    _plain_class = HTTPRequestsConnectionClass

    def __init__(self, host: str, port: int | None = None, strict: bool = False, **kwargs: Any) -> None:
        self.protocol = "http"
        self._setup(host, port, 80, kwargs)


class GovernedHTTPSConnection(_Governed, HTTPSRequestsConnectionClass):
    _plain_class = HTTPSRequestsConnectionClass

    def __init__(self, host: str, port: int | None = None, strict: bool = False, **kwargs: Any) -> None:
        self.protocol = "https"
        self._setup(host, port, 443, kwargs)
