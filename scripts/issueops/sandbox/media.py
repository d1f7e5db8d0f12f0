"""Media types and the headers GitHub puts on every API answer.

GitHub reads the `Accept` header: `application/vnd.github.raw` (also `.v3.raw` and `raw+json`)
asks the contents API for the file's bytes instead of the JSON object, and every answer says in
`X-GitHub-Media-Type` which media type it used (`github.v3; format=json`, `github.v3; param=raw`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VND = re.compile(
    r"application/vnd\.github(?:\.(?P<version>v3))?(?:\.(?P<param>[a-z-]+))?(?:\+(?P<format>json))?",
    re.IGNORECASE,
)

# Headers GitHub sends with every API answer, whatever the route (browser-facing policy).
STATIC_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": (
        "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, "
        "X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, "
        "X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, "
        "X-GitHub-Request-Id, Deprecation, Sunset"
    ),
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "origin-when-cross-origin, strict-origin-when-cross-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubdomains; preload",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "deny",
    "X-XSS-Protection": "0",
}


@dataclass(frozen=True, slots=True)
class MediaType:
    """What the client asked for: GitHub's `param` (raw, html, ...) and `format` (json)."""

    media: str | None  # the vnd.github type as the client wrote it, None for plain JSON / */*
    param: str | None
    format: str | None

    @property
    def raw(self) -> bool:
        return self.param == "raw"

    def header(self) -> str:
        """The `X-GitHub-Media-Type` value GitHub answers with."""
        if self.media is None:
            return "github.v3; format=json"
        out = "github.v3"
        if self.param:
            out += f"; param={self.param}"
        if self.format or not self.param:
            out += "; format=json"
        return out


def requested(accept: str | None) -> MediaType:
    """The first `application/vnd.github...` type in `Accept`; plain JSON when there is none."""
    for part in (accept or "").split(","):
        found = _VND.fullmatch(part.split(";", 1)[0].strip())
        if found:
            param = (found.group("param") or "").lower() or None
            return MediaType(found.group(0).lower(), param, found.group("format"))
    return MediaType(None, None, None)
