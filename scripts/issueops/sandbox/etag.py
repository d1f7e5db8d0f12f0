"""Weak ETags for GET responses; a matching `If-None-Match` is answered 304 without a body."""

from __future__ import annotations

import hashlib


def etag_for(body: bytes, viewer: str | None) -> str:
    """GitHub's ETags vary with the authenticated user (`Vary: Authorization`), so the viewer is hashed in."""
    digest = hashlib.sha1(body, usedforsecurity=False)
    digest.update(b"\0" + (viewer or "").encode())
    return f'W/"{digest.hexdigest()}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """True when the client's validator list names this ETag (weak comparison, `*` matches all)."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        validator = candidate.strip()
        if validator == "*" or validator.removeprefix("W/") == bare:
            return True
    return False
