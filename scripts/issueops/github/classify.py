"""Pure decisions about one HTTP answer: what it means, whether to retry, what to call it.

No I/O here: the governor feeds in a status, headers and the error message, and gets back one
of `ok`, `not_modified`, `rate_limited`, `transient` or `permanent` with the project's failure
code (see `issueops.core.errors`). Tests drive it table by table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from issueops.core.errors import GitHubError

Kind = Literal["ok", "not_modified", "rate_limited", "retryable", "final"]


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    code: str | None = None  # an issueops.core.errors code when the answer is a failure
    retry_after: float | None = None  # seconds, from the `retry-after` header


class UncertainWrite(GitHubError):
    """A non-idempotent write failed in a way that may have taken effect (5xx, timeout).

    It is never retried blindly: the adapter first checks whether the first attempt landed
    (e.g. looks for the comment body it sent) and only then sends again.
    """


class DryRunViolation(AssertionError):
    """A write reached the HTTP layer during a dry run: a bug, never a user error (exit 3)."""


_RATE_LIMIT_TEXT = (
    "api rate limit exceeded",
    "secondary rate limit",
    "abuse detection",
    "please retry your request again later",
    "please wait a few minutes before you try again",
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after` as seconds (GitHub sends an integer); None when absent or unreadable."""
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def is_rate_limited(status: int, headers: Mapping[str, str], message: str) -> bool:
    """429 always; 403 when it carries `retry-after`, an exhausted primary budget, or the text."""
    if status == 429:
        return True
    if status != 403:
        return False
    if _header(headers, "retry-after") is not None:
        return True
    if _header(headers, "x-ratelimit-remaining") == "0":
        return True
    lowered = message.lower()
    return any(text in lowered for text in _RATE_LIMIT_TEXT)


def code_for_status(status: int) -> str:
    """The failure code of a non-rate-limit error status."""
    if status in (401, 403):
        return "authorization_denied"
    if status in (404, 410):
        return "not_found"
    if status == 409:
        return "contention"
    if status == 504:
        return "timeout"
    if status >= 500:
        return "upstream_unavailable"
    return "validation"  # 400, 405, 422 and the other 4xx: the request itself was refused


def classify(status: int, headers: Mapping[str, str], message: str = "") -> Outcome:
    if status == 304:
        return Outcome("not_modified")
    if 200 <= status < 400:
        return Outcome("ok")
    if is_rate_limited(status, headers, message):
        return Outcome("rate_limited", "rate_limited", retry_after_seconds(headers))
    code = code_for_status(status)
    if code in ("upstream_unavailable", "timeout"):
        return Outcome("retryable", code)
    return Outcome("final", code)


# --- which writes may simply be sent again --------------------------------------------------

_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_IDEMPOTENT_POSTS = tuple(
    re.compile(pattern)
    for pattern in (
        r"/issues/\d+/labels$",  # adding labels that are there already changes nothing
        r"/issues/\d+/assignees$",
        r"/reactions$",  # the same reaction twice is answered 200 with the first one
        r"/git/(blobs|trees)$",  # content-addressed: the same input gives the same sha
        r"/git/commits$",  # an unreferenced duplicate commit object is harmless
        r"/repos/[^/]+/[^/]+/labels$",  # a duplicate label is refused (422), not doubled
        r"/app/installations/\d+/access_tokens$",
        r"/inference/chat/completions$",  # GitHub Models: an answer changes nothing but quota
    )
)


def is_idempotent(method: str, path: str) -> bool:
    """May this request be sent again after a failure without risking a duplicate?"""
    method = method.upper()
    if method in _SAFE_METHODS:
        return True
    bare = urlsplit(path).path.rstrip("/")
    return method == "POST" and any(p.search(bare) for p in _IDEMPOTENT_POSTS)


def is_auth_exchange(method: str, path: str) -> bool:
    """The GitHub App installation-token exchange: authentication, not a repository write."""
    return method.upper() == "POST" and bool(
        re.search(r"/app/installations/\d+/access_tokens$", urlsplit(path).path.rstrip("/"))
    )


# --- naming the object a request was about ---------------------------------------------------

_TARGETS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)", "{0}/{1} comment {2}"),
        (r"/repos/([^/]+)/([^/]+)/(?:issues|pulls)/(\d+)", "{0}/{1}#{2}"),
        (r"/repos/([^/]+)/([^/]+)/git/refs?/heads/(.+?)$", "{0}/{1} branch {2}"),
        (r"/repos/([^/]+)/([^/]+)/labels/(.+?)$", "{0}/{1} label {2}"),
        (r"/repos/([^/]+)/([^/]+)/collaborators/([^/]+)", "{0}/{1} collaborator {2}"),
        (r"/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)", "team {0}/{1} member {2}"),
        (r"/repos/([^/]+)/([^/]+)", "{0}/{1}"),
        (r"/search/issues", "issue search"),
        (r"/user$", "the authenticated user"),
    )
)


def describe_target(path: str) -> str:
    """`/repos/acme/ops/issues/42/comments` -> `acme/ops#42`: what an error message names."""
    bare = unquote(urlsplit(path).path)
    for pattern, template in _TARGETS:
        match = pattern.search(bare)
        if match:
            return template.format(*match.groups())
    return bare or "/"


_LIKELY_PERMISSION: tuple[tuple[str, str], ...] = (
    (" branch ", "contents: write"),
    (" label ", "issues: write"),
    ("#", "issues: write (pull-requests: write for a pull request)"),
    (" comment ", "issues: write"),
    ("team ", "members: read (an organisation permission of the GitHub App)"),
)


def auth_hint(status: int | None, accepted: str | None, target: str) -> str:
    """401: the token itself is bad. 403: it lacks a permission, named from GitHub's
    `X-Accepted-GitHub-Permissions` header when sent (`issues=write`), else the likely one."""
    if status == 401:
        return (
            "the token is invalid or expired (GitHub answered 401 Bad credentials): create a new one "
            "and put it in $GITHUB_TOKEN (or the variable --token-env names)"
        )
    named = [part.strip().replace("=", ": ").replace("_", "-") for part in (accepted or "").split(";")]
    need = " or ".join(p for p in named if p) or next(
        (perm for marker, perm in _LIKELY_PERMISSION if marker in f" {target} "),
        "issues, contents and pull-requests: write",
    )
    return f"the token lacks the permission {need}; grant it (see docs/operations.md, token permissions)"


HINTS: dict[str, str] = {
    "timeout": "GitHub did not answer in time; the next run retries automatically.",
    "upstream_unavailable": "GitHub answered 5xx after retries; the next run retries automatically.",
    "rate_limited": "GitHub kept answering with a rate limit; the next run continues.",
    "contention": "The object changed at the same time (e.g. a branch moved); the next run retries.",
    "not_found": "It does not exist or the token cannot see it; check the name and the token's access.",
    "validation": "GitHub refused the request as invalid; check the values sent (labels, branch, body).",
    "authorization_denied": "The token lacks a permission (issues, contents, pull-requests: write?).",
    "invalid_contract": "GitHub's answer did not have the expected shape; check --api-url.",
}
