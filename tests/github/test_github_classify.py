"""Failure classification, idempotency and object naming: pure tables."""

from __future__ import annotations

import pytest

from issueops.github.classify import (
    classify,
    describe_target,
    is_auth_exchange,
    is_idempotent,
    is_rate_limited,
    retry_after_seconds,
)

SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."

CLASSIFY_CASES = [
    ("ok", 200, {}, "", "ok", None),
    ("created", 201, {}, "", "ok", None),
    ("not modified", 304, {}, "", "not_modified", None),
    ("429 always rate limited", 429, {}, "", "rate_limited", "rate_limited"),
    ("403 with retry-after", 403, {"retry-after": "2"}, "", "rate_limited", "rate_limited"),
    ("403 primary exhausted", 403, {"x-ratelimit-remaining": "0"}, "", "rate_limited", "rate_limited"),
    ("403 secondary message", 403, {}, SECONDARY, "rate_limited", "rate_limited"),
    (
        "403 plain denial",
        403,
        {"x-ratelimit-remaining": "12"},
        "Resource not accessible",
        "final",
        "authorization_denied",
    ),
    ("401 bad credentials", 401, {}, "Bad credentials", "final", "authorization_denied"),
    ("404", 404, {}, "Not Found", "final", "not_found"),
    ("410 gone", 410, {}, "", "final", "not_found"),
    ("409 contention", 409, {}, "Reference update failed", "final", "contention"),
    ("422 validation", 422, {}, "Validation Failed", "final", "validation"),
    ("400 bad request", 400, {}, "", "final", "validation"),
    ("500", 500, {}, "", "retryable", "upstream_unavailable"),
    ("502", 502, {}, "", "retryable", "upstream_unavailable"),
    ("504 timeout", 504, {}, "", "retryable", "timeout"),
]


@pytest.mark.parametrize(
    ("status", "headers", "message", "kind", "code"),
    [c[1:] for c in CLASSIFY_CASES],
    ids=[c[0] for c in CLASSIFY_CASES],
)
def test_classify(status: int, headers: dict[str, str], message: str, kind: str, code: str | None) -> None:
    outcome = classify(status, headers, message)
    assert (outcome.kind, outcome.code) == (kind, code)


def test_retry_after_parsed() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_not_rate_limited_for_other_statuses() -> None:
    assert not is_rate_limited(500, {"retry-after": "1"}, SECONDARY)


IDEMPOTENT_CASES = [
    ("get", "GET", "/repos/a/b/issues", True),
    ("patch comment", "PATCH", "/repos/a/b/issues/comments/5", True),
    ("delete label", "DELETE", "/repos/a/b/issues/3/labels/x", True),
    ("put merge", "PUT", "/repos/a/b/pulls/3/merge", True),
    ("add labels", "POST", "/repos/a/b/issues/3/labels", True),
    ("add assignees", "POST", "/repos/a/b/issues/3/assignees", True),
    ("reaction", "POST", "/repos/a/b/issues/comments/9/reactions", True),
    ("git tree", "POST", "/repos/a/b/git/trees", True),
    ("create label", "POST", "/repos/a/b/labels", True),
    ("comment", "POST", "/repos/a/b/issues/3/comments", False),
    ("issue", "POST", "/repos/a/b/issues", False),
    ("pull", "POST", "/repos/a/b/pulls", False),
    ("ref", "POST", "/repos/a/b/git/refs", False),
    ("enterprise prefix comment", "POST", "/api/v3/repos/a/b/issues/3/comments", False),
]


@pytest.mark.parametrize(
    ("method", "path", "expected"), [c[1:] for c in IDEMPOTENT_CASES], ids=[c[0] for c in IDEMPOTENT_CASES]
)
def test_is_idempotent(method: str, path: str, expected: bool) -> None:
    assert is_idempotent(method, path) is expected


TARGET_CASES = [
    ("issue comments", "/repos/acme/ops/issues/42/comments", "acme/ops#42"),
    ("comment", "/repos/acme/ops/issues/comments/7", "acme/ops comment 7"),
    ("pull", "/api/v3/repos/acme/ops/pulls/9/merge", "acme/ops#9"),
    ("branch", "/repos/acme/ops/git/ref/heads/issueops/4-x", "acme/ops branch issueops/4-x"),
    ("label", "/repos/acme/ops/labels/state%3A%3Adone", "acme/ops label state::done"),
    ("permission", "/repos/acme/ops/collaborators/bob/permission", "acme/ops collaborator bob"),
    ("team", "/orgs/acme/teams/ops/memberships/bob", "team acme/ops member bob"),
    ("repo listing", "/repos/acme/ops/issues?page=2", "acme/ops"),
    ("search", "/search/issues?q=x", "issue search"),
]


@pytest.mark.parametrize(
    ("path", "expected"), [c[1:] for c in TARGET_CASES], ids=[c[0] for c in TARGET_CASES]
)
def test_describe_target(path: str, expected: str) -> None:
    assert describe_target(path) == expected


def test_auth_exchange_recognised() -> None:
    assert is_auth_exchange("POST", "/app/installations/12/access_tokens")
    assert not is_auth_exchange("POST", "/repos/a/b/issues")
