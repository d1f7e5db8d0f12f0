"""In-process transport: `requests` calls to the sandbox's base URL are answered by `Sandbox.handle`
without a socket (through the `responses` library), so PyGithub runs its real code path.

A session that never retries (issueops' own, whose governor is the one retry policy) takes a
shorter way to the same `handle`: `responses` matches every registered route and keeps every
call it served in memory, which at benchmark scale costs more CPU than the sandbox itself and
grows without bound. Everything else (retrying clients, passthrough, extra routes) is unchanged.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any
from unittest import mock as patching
from urllib.parse import urlsplit

import requests
import responses
from requests.adapters import HTTPAdapter
from urllib3.response import HTTPResponse

from issueops.sandbox.http import SandboxTimeout, Served

_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD")


def _callback(sandbox: Served) -> Any:
    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(request.url or "")
        path = split.path + (f"?{split.query}" if split.query else "")
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        elif body is not None and not isinstance(body, bytes):
            body = b"".join(body)  # an iterable body
        try:
            reply = sandbox.handle(request.method or "GET", path, dict(request.headers), body)
        except SandboxTimeout as timeout:
            if timeout.kind == "connect":
                raise requests.exceptions.ConnectTimeout(str(timeout), request=request) from None
            raise requests.exceptions.ReadTimeout(str(timeout), request=request) from None
        return reply.status, reply.headers, reply.body

    return answer


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Body:
    """What `requests` reads of urllib3's response to a request that is not streamed: status,
    reason, headers and the body, read once. urllib3's own (built around a socket, its headers
    copied into a multi-dict) cost the client more CPU than the sandbox's answer."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = _reason(status)
        self.headers = headers
        self._body: bytes | None = body

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        del amt, decode_content  # one piece; the sandbox never compresses
        body, self._body = self._body, None
        if body:
            yield body

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        body, self._body = self._body or b"", None
        return body

    def release_conn(self) -> None:
        self._body = None

    def close(self) -> None:
        self._body = None

    @property
    def closed(self) -> bool:
        return self._body is None


def _direct(pattern: re.Pattern[str], answer: Any, fallback: Any) -> Any:
    """`HTTPAdapter.send` for sandbox URLs on a never-retrying adapter: `handle`, then the
    adapter's own `build_response`, as `responses` does but without matching or recording."""

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        retries = adapter.max_retries
        if not pattern.match(request.url or "") or retries.total != 0:
            return fallback(adapter, request, *args, **kwargs)
        status, headers, body = answer(request)
        if kwargs.get("stream", args[0] if args else False):  # read as it arrives: urllib3's own
            raw: Any = HTTPResponse(
                body=io.BytesIO(body),
                headers=headers,
                status=status,
                reason=_reason(status),
                preload_content=False,
                decode_content=False,
            )
        else:
            raw = _Body(status, headers, body)
        return adapter.build_response(request, raw)

    return send


def _prefix_pattern(base_url: str) -> str:
    """A regex for the base URL that also accepts the explicit default port (PyGithub adds `:80`)."""
    split = urlsplit(base_url)
    default = {"http": 80, "https": 443}.get(split.scheme)
    port = f":{split.port}" if split.port and split.port != default else f"(:{default})?"
    host = re.escape(split.hostname or "")
    return f"{re.escape(split.scheme)}://{host}{port}{re.escape(split.path.rstrip('/'))}"


@contextmanager
def activate(sandbox: Served, base_url: str | None = None) -> Iterator[responses.RequestsMock]:
    """Route every `requests` call to the sandbox's base URL through `sandbox.handle`.

    `base_url`, when given, replaces the sandbox's own first. Other URLs pass through to the
    network untouched; the yielded RequestsMock accepts extra `responses` routes (e.g. a feed).
    """
    if base_url is not None:
        sandbox.base_url = base_url
    prefix = _prefix_pattern(sandbox.base_url)
    pattern = re.compile(prefix + r"([/?].*)?\Z")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in _METHODS:
            mock.add_callback(method, pattern, callback=_callback(sandbox))
        mock.add_passthru(re.compile(r"^(?!" + prefix + r"([/?]|\Z))"))
        direct = _direct(pattern, _callback(sandbox), HTTPAdapter.send)  # `responses`' patched send
        with patching.patch.object(HTTPAdapter, "send", direct):
            yield mock
