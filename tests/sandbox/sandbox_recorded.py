"""Real recorded GitHub exchanges (npm `@octokit/fixtures`) replayed against the sandbox.

Each scenario the sandbox can serve is seeded into the state the recording started from, its
requests are sent in order, and every answer is compared with the recorded one: status, header
names, `Link` rels, and the JSON body's field set and value types. The only differences allowed
are the rows of `EXCEPTIONS`, each with its reason.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from issueops.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fidelity/node_modules/@octokit/fixtures/scenarios/api.github.com"
ORG = "octokit-fixture-org"
TOKEN = "0000000000000000000000000000000000000001"  # the recordings' (normalised) token
HEAD, PARENT = "0" * 39 + "1", "0" * 39 + "2"  # the recordings' placeholder commit shas


@dataclass(frozen=True)
class Allowed:
    """One reviewed difference: `kind` of difference at `where` (header names or JSON paths:
    space-separated globs), in scenarios matching `scenario` (glob). Every extra field is one
    the current REST description documents (a test checks the names)."""

    kind: str  # "missing header" | "extra header" | "missing field" | "extra field"
    where: str
    reason: str
    scenario: str = "*"


# The exceptions table. Nothing else may differ from the recordings.
EXCEPTIONS: tuple[Allowed, ...] = (
    Allowed(
        "missing header",
        "x-oauth-scopes",
        "sent for classic personal access tokens only; the sandbox's tokens have no OAuth scopes",
    ),
    Allowed(
        "missing header",
        "x-accepted-oauth-scopes",
        "the same: OAuth scope headers belong to classic tokens",
    ),
    Allowed(
        "missing header",
        "content-length",
        "transport framing: set by the HTTP server (sandbox/server.py), not by the API answer",
    ),
    Allowed("missing header", "connection", "transport framing: the recorder asked for `close`"),
    Allowed(
        "extra header",
        "vary",
        "GitHub sends it; @octokit/fixtures' normaliser deletes it from every recording",
    ),
    Allowed(
        "extra header",
        "x-github-api-version-selected",
        "GitHub added it (API versioning, late 2022) after these recordings were made",
    ),
    Allowed(
        "extra field",
        "*.user_view_type",
        "GitHub added it to user objects in 2024, after the recordings",
    ),
    Allowed(
        "extra field",
        "$.custom_properties $.has_discussions $.merge_commit_title $.merge_commit_message "
        "$.squash_merge_commit_title $.squash_merge_commit_message",
        "repository settings GitHub added after the 2022 recording",
        "get-repository",
    ),
    Allowed(
        "extra field",
        "*.closed_by *.type *.sub_issues_summary *.issue_dependencies_summary *.pinned_comment",
        "issue fields newer than the recordings (issue types, sub-issues, dependencies, pins 2025; "
        "closed_by is now sent with issues in lists too)",
    ),
    Allowed(
        "extra field", "$.search_type", "search answers say lexical/semantic since 2025", "search-issues"
    ),
    Allowed(
        "extra field", "*.verification.verified_at", "added to commit verification in 2024", "create-file"
    ),
    Allowed("extra field", "$.status", "error bodies carry the status as a string since 2024", "errors"),
)


@dataclass(frozen=True)
class Recorded:
    scenario: str
    index: int
    method: str
    path: str
    status: int
    request_headers: dict[str, str]
    body: Any
    headers: dict[str, str]
    response: Any


@cache
def recording(name: str) -> tuple[Recorded, ...]:
    raw = json.loads((FIXTURES / name / "normalized-fixture.json").read_text(encoding="utf-8"))
    return tuple(
        Recorded(
            name,
            index,
            item["method"].upper(),
            item["path"],
            int(item["status"]),
            {k: str(v) for k, v in item.get("reqheaders", {}).items()},
            item.get("body"),
            {k.lower(): str(v) for k, v in item["headers"].items()},
            item.get("response"),
        )
        for index, item in enumerate(raw)
    )


# --- the state each recording started from -------------------------------------------------------


def base_world(name: str, *, default_branch: str = "main") -> Sandbox:
    sb = Sandbox(f"{ORG}/{name}", default_branch=default_branch)
    sb.add_user("octokit-fixture-user-a", token=TOKEN, permission="admin")
    return sb


def _hello_world() -> Sandbox:
    sb = base_world("hello-world", default_branch="master")
    sb.commit_files("master", {"README.md": "# hello-world"}, "Initial commit")
    return sb


def _labels() -> Sandbox:
    sb = base_world("labels")
    for name in ("bug", "documentation", "duplicate", "enhancement", "good first issue"):
        sb.add_label(name, "d73a4a", "A default label").default = True
    return sb


def _paginate() -> Sandbox:
    sb = base_world("paginate-issues")
    for n in range(1, 14):
        sb.add_issue(f"Test issue {n}", None, "octokit-fixture-user-a")
    return sb


def _search() -> Sandbox:
    sb = base_world("search-issues")
    sb.add_issue("The doors don’t open", 'I tried "open sesame" as seen on TV', "octokit-fixture-user-a")
    sb.add_issue("Sesame seeds split without a pop!", "I’ve waited all year long", "octokit-fixture-user-a")
    return sb


def _git_refs() -> Sandbox:
    sb = base_world("git-refs")
    sb.commit_files("main", {"second.md": "two\n"}, "Second commit")
    return sb


SCENARIOS: dict[str, Callable[[], Sandbox]] = {
    "get-root": lambda: base_world("root"),
    "get-repository": _hello_world,
    "get-content": _hello_world,
    "git-refs": _git_refs,
    "labels": _labels,
    "errors": lambda: base_world("errors"),
    "add-labels-to-issue": lambda: base_world("add-labels-to-issue"),
    "paginate-issues": _paginate,
    "search-issues": _search,
    "create-file": lambda: base_world("create-file"),
}

# Recorded scenarios the sandbox does not serve, and why (docs/sandbox.md lists them too).
NOT_SERVED = {
    "add-and-remove-repository-collaborator": "collaborator invitations are not modelled",
    "branch-protection": "branch protection is not modelled",
    "create-status": "commit statuses are not modelled",
    "get-archive": "archive downloads are not modelled",
    "get-organization": "organisations exist only as the repository owner",
    "lock-issue": "locking is not modelled",
    "mark-notifications-as-read": "notifications are not modelled",
    "markdown": "Markdown rendering is not modelled",
    "project-cards": "projects are not modelled",
    "release-assets": "releases are not modelled",
    "release-assets-conflict": "releases are not modelled",
    "rename-repository": "renames and their 301/307 redirects are not modelled",
}


def placeholders(sb: Sandbox) -> dict[str, str]:
    """The recordings' placeholder values -> this sandbox's real ones (for request bodies/paths)."""
    head = sb.state.branch_sha(sb.state.repo.default_branch) or ""
    parents = sb.state.git.commits[head].parents
    return {
        HEAD: head,
        PARENT: parents[0] if parents else head,
        "/repositories/1000": f"/repositories/{sb.state.repo.id}",
    }


def substitute(text: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        text = text.replace(old, new)
    return text


# --- comparison ------------------------------------------------------------------------------------


def link_rels(value: str | None) -> set[str]:
    return set(re.findall(r'rel="([a-z]+)"', value or ""))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array", type(None): "null"}[type(value)]


def shape_differences(recorded: Any, served: Any, path: str = "$") -> list[tuple[str, str]]:
    """(kind, json path) for every field present on one side only, or whose type differs;
    null against a value is a value difference (nullable fields), not a shape one."""
    out: list[tuple[str, str]] = []
    if recorded is None or served is None:
        return out
    if _kind(recorded) != _kind(served):
        return [("type", f"{path}: recorded {_kind(recorded)}, served {_kind(served)}")]
    if isinstance(recorded, dict):
        for key in sorted(set(recorded) | set(served)):
            where = f"{path}.{key}"
            if key not in served:
                out.append(("missing field", where))
            elif key not in recorded:
                out.append(("extra field", where))
            else:
                out += shape_differences(recorded[key], served[key], where)
    elif isinstance(recorded, list) and recorded and served:
        out += shape_differences(recorded[0], served[0], f"{path}[]")
    return out


def allowed(scenario: str, kind: str, where: str) -> Allowed | None:
    for row in EXCEPTIONS:
        in_scope = row.kind == kind and fnmatch.fnmatchcase(scenario, row.scenario)
        if in_scope and any(fnmatch.fnmatchcase(where, glob) for glob in row.where.split()):
            return row
    return None
