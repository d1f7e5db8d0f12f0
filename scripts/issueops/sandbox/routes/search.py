"""Issue search: a reasonable subset of GitHub's query language, on its own 30-per-minute budget."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from issueops.sandbox.clock import parse_time
from issueops.sandbox.http import ApiError, Ctx, Reply
from issueops.sandbox.models import Issue
from issueops.sandbox.pagination import link_header, page_window
from issueops.sandbox.routes.common import choice
from issueops.sandbox.routing import route
from issueops.sandbox.store import SandboxState

Test = Callable[[Issue], bool]


def _missing_q() -> ApiError:
    return ApiError(
        422, "Validation Failed", errors=[{"resource": "Search", "field": "q", "code": "missing"}]
    )


def _date_test(field: str, expr: str) -> Test:
    """`>=2025-01-01`, `<2025-01-02T10:00:00Z`, `2025-01-01..2025-01-31`, or one day."""

    def get(issue: Issue) -> datetime:
        if field == "updated":
            return issue.updated_at
        if field == "closed":
            return issue.closed_at or datetime.max.replace(tzinfo=UTC)
        return issue.created_at

    if ".." in expr:
        low_raw, high_raw = expr.split("..", 1)
        low = parse_time(low_raw) if low_raw not in ("", "*") else None
        high = parse_time(high_raw) if high_raw not in ("", "*") else None
        return lambda i: (low is None or get(i) >= low) and (high is None or get(i) <= high)
    for op, compare in _COMPARATORS:
        if expr.startswith(op):
            when = parse_time(expr[len(op) :])
            return lambda i: compare(get(i), when)
    day = parse_time(expr).date()
    return lambda i: get(i).date() == day


_COMPARATORS: tuple[tuple[str, Callable[[datetime, datetime], bool]], ...] = (
    (">=", lambda a, b: a >= b),
    ("<=", lambda a, b: a <= b),
    (">", lambda a, b: a > b),
    ("<", lambda a, b: a < b),
)


def _is_test(value: str) -> Test:
    tests: dict[str, Test] = {
        "issue": lambda i: i.pull is None,
        "pr": lambda i: i.pull is not None,
        "pull-request": lambda i: i.pull is not None,
        "open": lambda i: i.state == "open",
        "closed": lambda i: i.state == "closed",
        "merged": lambda i: bool(i.pull and i.pull.merged),
        "unmerged": lambda i: bool(i.pull and not i.pull.merged and i.state == "closed"),
    }
    if value not in tests:
        raise ApiError(
            422, "Validation Failed", errors=[{"resource": "Search", "field": "q", "code": "invalid"}]
        )
    return tests[value]


def _qualifier(state: SandboxState, key: str, value: str) -> Test:
    lowered = value.lower()
    if key == "repo":
        matches_repo = lowered == state.repo.full_name.lower()
        return lambda i: matches_repo
    if key in ("is", "type", "state"):
        return _is_test(lowered)
    if key == "label":
        options = {o.lower() for o in value.split(",")}
        return lambda i: any(n.lower() in options for n in i.labels)
    if key == "no":
        return (lambda i: not i.labels) if lowered == "label" else (lambda i: not i.assignees)
    if key == "author":
        return lambda i: i.user.lower() == lowered
    if key == "assignee":
        return lambda i: lowered in {a.lower() for a in i.assignees}
    if key == "mentions":
        return lambda i: f"@{lowered}" in (i.body or "").lower()
    try:
        return _date_test(key, value)
    except ValueError as exc:
        raise ApiError(
            422, "Validation Failed", errors=[{"resource": "Search", "field": "q", "code": "invalid"}]
        ) from exc


_QUALIFIERS = {
    "repo",
    "is",
    "type",
    "state",
    "label",
    "no",
    "author",
    "assignee",
    "mentions",
    "created",
    "updated",
    "closed",
}


def _negated(test: Test) -> Test:
    return lambda i: not test(i)


def compile_query(state: SandboxState, q: str) -> tuple[list[Test], list[str], set[str]]:
    """(filters, free-text terms, fields the terms search)."""
    try:
        tokens = shlex.split(q)
    except ValueError:
        tokens = q.split()
    tests: list[Test] = []
    terms: list[str] = []
    fields: set[str] = set()
    for token in tokens:
        negate = token.startswith("-") and ":" in token
        key, sep, value = token.removeprefix("-").partition(":") if negate else token.partition(":")
        key = key.lower()
        if sep and key == "in":
            fields.update(f.lower() for f in value.split(","))
        elif sep and key in _QUALIFIERS:
            test = _qualifier(state, key, value)
            tests.append(_negated(test) if negate else test)
        else:
            terms.append(token.lower())
    return tests, terms, fields or {"title", "body"}


@route("GET", "/search/issues", need=None, resource="search")
def search_issues(ctx: Ctx) -> Reply:
    q = ctx.query.get("q", "").strip()
    if not q:
        raise _missing_q()
    state = ctx.state
    if state.level(ctx.login) < 1:
        return Reply(200, {"total_count": 0, "incomplete_results": False, "items": []})
    tests, terms, fields = compile_query(state, q)
    hits: list[Issue] = []
    for issue in state.issues.values():
        if not all(t(issue) for t in tests):
            continue
        if terms:
            parts = []
            if "title" in fields:
                parts.append(issue.title)
            if "body" in fields:
                parts.append(issue.body or "")
            if "comments" in fields:
                parts.extend(state.comments[c].body for c in issue.comment_ids)
            haystack = "\n".join(parts).lower()
            if not all(term in haystack for term in terms):
                continue
        hits.append(issue)
    sort = choice(ctx, "sort", ("comments", "reactions", "created", "updated", "best-match"), "best-match")
    descending = choice(ctx, "order", ("asc", "desc"), "desc") == "desc"

    def key(issue: Issue) -> tuple[Any, int]:
        if sort == "comments":
            return len(issue.comment_ids), issue.number
        if sort == "reactions":
            return len(issue.reactions), issue.number
        if sort == "updated":
            return issue.updated_at, issue.number
        return issue.created_at, issue.number

    hits.sort(key=key, reverse=descending)
    hits = hits[:1000]
    page, per_page, last = page_window(ctx, len(hits))
    start = (page - 1) * per_page
    items = []
    for issue in hits[start : start + per_page]:
        item = ctx.render.issue(issue)
        item["score"] = 1.0
        items.append(item)
    body = {"total_count": len(hits), "incomplete_results": False, "items": items, "search_type": "lexical"}
    reply = Reply(200, body)
    link = link_header(ctx, page, last)
    if link:
        reply.headers["Link"] = link
    return reply
