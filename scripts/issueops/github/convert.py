"""GitHub REST JSON -> the project's own models, at the boundary and nowhere else.

The adapter converts the JSON PyGithub's Requester returns instead of reading attributes of
PyGithub objects: an attribute missing from a listed object makes PyGithub fetch the whole
object again (one hidden request per item). A payload without a field we rely on is a
`ContractError`, which the adapter reports as `invalid_contract`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, cast

from issueops.core.model import (
    Actor,
    Comment,
    CrossReference,
    LabelEvent,
    Permission,
    PullRequest,
    SearchHit,
    WorkItem,
)

PERMISSIONS: tuple[Permission, ...] = ("admin", "maintain", "write", "triage", "read", "none")


class ContractError(ValueError):
    """A GitHub answer without the shape the REST description promises."""


def require(data: Any, key: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ContractError(f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ContractError(f"field {key!r} has type {type(value).__name__}")
    return value


def parse_time(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ContractError(f"timestamp {value!r} is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ContractError(f"timestamp {value!r}: {exc}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def actor(data: Any) -> Actor:
    if data is None:  # a deleted account ("ghost")
        return Actor("ghost")
    return Actor(login=str(require(data, "login", str)), type=str(data.get("type") or "User"))


def is_pull_request(data: Any) -> bool:
    return isinstance(data, dict) and data.get("pull_request") is not None


def work_item(data: Any) -> WorkItem:
    state = require(data, "state", str)
    return WorkItem(
        number=int(require(data, "number", int)),
        title=str(require(data, "title", str)),
        body=str(data.get("body") or ""),
        author=actor(data.get("user")),
        labels=tuple(str(require(label, "name", str)) for label in data.get("labels") or ()),
        assignees=tuple(str(require(user, "login", str)) for user in data.get("assignees") or ()),
        state="closed" if state == "closed" else "open",
        state_reason=data.get("state_reason"),
        created_at=parse_time(data.get("created_at")),
        updated_at=parse_time(data.get("updated_at")),
        closed_at=parse_time(data.get("closed_at")),
        comment_count=int(data.get("comments") or 0),
        locked=bool(data.get("locked", False)),
    )


_ISSUE_URL = re.compile(r"/issues/(\d+)$")


def comment(data: Any, issue_number: int | None = None) -> Comment:
    if issue_number is None:
        match = _ISSUE_URL.search(str(require(data, "issue_url", str)))
        if match is None:
            raise ContractError(f"issue_url {data.get('issue_url')!r} does not end in /issues/<number>")
        issue_number = int(match.group(1))
    created = parse_time(require(data, "created_at"))
    updated = parse_time(data.get("updated_at")) or created
    if created is None or updated is None:
        raise ContractError("comment without created_at")
    return Comment(
        id=int(require(data, "id", int)),
        issue_number=issue_number,
        author=actor(data.get("user")),
        body=str(data.get("body") or ""),
        created_at=created,
        updated_at=updated,
        association=str(data.get("author_association") or ""),
    )


def label_event(data: Any) -> LabelEvent | None:
    """A `labeled`/`unlabeled` entry of an issue's events, or a `closed`/`reopened` one (label
    empty); None for every other event."""
    event = require(data, "event", str)
    if event not in ("labeled", "unlabeled", "closed", "reopened"):
        return None
    created = parse_time(require(data, "created_at"))
    if created is None:
        raise ContractError("event without created_at")
    labelled = event in ("labeled", "unlabeled")
    return LabelEvent(
        event=cast(Literal["labeled", "unlabeled", "closed", "reopened"], event),
        label=str(require(require(data, "label", dict), "name", str)) if labelled else "",
        actor=actor(data.get("actor")),
        created_at=created,
    )


def cross_reference(data: Any) -> CrossReference | None:
    """A timeline `cross-referenced` event whose source is a pull request of the same repository
    (GitHub records one when a PR's body or a commit mentions the issue); None otherwise."""
    if require(data, "event", str) != "cross-referenced":
        return None
    source = data.get("source") or {}
    issue = source.get("issue") if isinstance(source, dict) else None
    if not isinstance(issue, dict) or not isinstance(issue.get("pull_request"), dict):
        return None
    created = parse_time(require(issue, "created_at"))
    if created is None:
        raise ContractError("cross-referenced pull request without created_at")
    pr = issue["pull_request"]
    merged_at = parse_time(pr.get("merged_at"))
    return CrossReference(
        number=int(require(issue, "number", int)),
        author=actor(issue.get("user")).login,
        state="closed" if require(issue, "state", str) == "closed" else "open",
        merged=merged_at is not None,
        draft=bool(issue.get("draft")),
        body=str(issue.get("body") or ""),
        created_at=created,
        closed_at=parse_time(issue.get("closed_at")),
        merged_at=merged_at,
    )


def label_event_json(event: LabelEvent) -> dict[str, Any]:
    """The fields `label_event` reads, for a remembered history (the inverse of `label_event`)."""
    return {
        "event": event.event,
        "label": {"name": event.label},
        "actor": {"login": event.actor.login, "type": event.actor.type},
        "created_at": iso(event.created_at),
    }


def pull_request(data: Any) -> PullRequest:
    head = require(data, "head", dict)
    base = require(data, "base", dict)
    merged = bool(data.get("merged") or data.get("merged_at"))
    return PullRequest(
        number=int(require(data, "number", int)),
        head_branch=str(require(head, "ref", str)),
        head_sha=str(require(head, "sha", str)),
        base_branch=str(require(base, "ref", str)),
        state="closed" if require(data, "state", str) == "closed" else "open",
        merged=merged,
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        updated_at=parse_time(data.get("updated_at")),
        author=actor(data.get("user")),
        draft=bool(data.get("draft")),
        merged_at=parse_time(data.get("merged_at")),
    )


_REPO_URL = re.compile(r"/repos/([^/]+/[^/]+)$")


def search_hit(data: Any) -> SearchHit:
    match = _REPO_URL.search(str(require(data, "repository_url", str)))
    if match is None:
        raise ContractError(f"repository_url {data.get('repository_url')!r} is not a repository URL")
    return SearchHit(
        repo=match.group(1),
        number=int(require(data, "number", int)),
        title=str(require(data, "title", str)),
        html_url=str(data.get("html_url") or ""),
        state=str(require(data, "state", str)),
        updated_at=parse_time(data.get("updated_at")),
    )


def permission(data: Any) -> Permission:
    """`role_name` is the fine-grained role (maintain, triage); `permission` the legacy one."""
    for key in ("role_name", "permission"):
        value = data.get(key) if isinstance(data, dict) else None
        if value in PERMISSIONS:
            return cast(Permission, value)
    raise ContractError(f"permission answer without a known role: {data!r:.200}")
