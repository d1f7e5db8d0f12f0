"""A small seeded world shared by the sandbox tests: one user per permission level, a team,
labels, issues with comments, and a recorder that keeps every exchange for schema checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from issueops.sandbox import Sandbox, SandboxResponse

TOKENS = {
    "bot": "bot-token",
    "admin": "alice-token",
    "maintain": "mona-token",
    "write": "wes-token",
    "triage": "tess-token",
    "read": "rita-token",
    "none": "nick-token",
    "team": "tom-token",
}
LOGINS = {
    "bot": "issueops-bot",
    "admin": "alice",
    "maintain": "mona",
    "write": "wes",
    "triage": "tess",
    "read": "rita",
    "none": "nick",
    "team": "tom",
}


def call(
    sb: Sandbox,
    method: str,
    path: str,
    role: str | None = "bot",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> SandboxResponse:
    sent = dict(headers or {})
    if role is not None:
        sent["Authorization"] = f"token {TOKENS.get(role, role)}"
    payload = None if body is None else json.dumps(body).encode()
    return sb.handle(method, path, sent, payload)


def link_urls(reply: SandboxResponse) -> dict[str, str]:
    """rel -> URL from the `Link` header."""
    out = {}
    for part in reply.headers.get("Link", "").split(","):
        if part.strip():
            url, rel = part.split(";")
            out[rel.strip().removeprefix('rel="').rstrip('"')] = url.strip()[1:-1]
    return out


def build_world(*, private: bool = False) -> Sandbox:
    sb = Sandbox("acme/ops", private=private)
    sb.add_user("issueops-bot", token=TOKENS["bot"], permission="write", type="Bot")
    for role in ("admin", "maintain", "write", "triage", "read", "none"):
        sb.add_user(LOGINS[role], token=TOKENS[role], permission=role)
    sb.add_user("tom", token=TOKENS["team"])
    sb.add_team("ops-approvers", ["alice", "tom"], permission="write")
    sb.add_label("security", "d73a4a", "Security relevant")
    sb.add_label("state::triage", "fbca04")
    for n in range(1, 6):
        issue = sb.add_issue(
            f"Incident {n}: disk full on db-{n}",
            f"Disk usage above 95% on db-{n}. cc @alice",
            "rita",
            labels=["state::triage", "source::monitor"],
        )
        sb.add_comment(issue.number, "alice", f"Looking at db-{n}")
    sb.add_issue(
        "Access request for bob", "Please grant read access", "nick", labels=["workflow::access-request"]
    )
    return sb


@dataclass
class Exchange:
    method: str
    path: str
    template: str | None
    schema_of: tuple[str, ...]  # a legacy route: the described operations its bodies follow
    status: int
    body: Any
    headers: dict[str, str]


def _body(reply: SandboxResponse) -> Any:
    """The JSON body (None when empty or not JSON: a raw media type's text)."""
    if not reply.body or not reply.headers.get("Content-Type", "").startswith("application/json"):
        return None
    return json.loads(reply.body)


class Recorder:
    """Wraps `sandbox.handle` so every answered request is kept with its route template."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.exchanges: list[Exchange] = []
        original = sandbox.handle

        def handle(method: str, path: str, headers: Any, body: bytes | None) -> SandboxResponse:
            reply = original(method, path, headers, body)
            clean = path.split("?", 1)[0]
            if clean.startswith(("http://", "https://")):
                clean = "/" + clean.split("/", 3)[3]
            matched = sandbox.match(method.upper(), clean)
            self.exchanges.append(
                Exchange(
                    method.upper(),
                    path,
                    matched[0].template if matched else None,
                    matched[0].schema_of if matched else (),
                    reply.status,
                    _body(reply),
                    reply.headers,
                )
            )
            return reply

        sandbox.handle = handle  # type: ignore[method-assign]
