"""`issueops snapshot`: the repository as it stands, written as a sandbox scenario for `whatif`.

It reads what the pipeline reads (open items, closed items still under the pipeline, their
comments, the pipeline's pull requests and branches) plus what only a replay needs: each managed
item's label history with who applied each label, and the permission of everyone who appears.
Reads go through the governor like any run: budgeted, paced and conditional, so a second snapshot
soon after the first costs almost nothing. People's text is kept as written (the file is as
sensitive as the issues themselves); no token is ever written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from issueops.app import load_definitions, open_session, server_now
from issueops.config.settings import Config
from issueops.core.errors import GitHubError
from issueops.core.model import Comment, LabelEvent, PullRequest, WorkItem
from issueops.core.options import Options
from issueops.github.port import GitHubPort
from issueops.snapshot import is_managed, load_pulls, read_closed_active, read_snapshot

BRANCH_PREFIX = "issueops/"


@dataclass(frozen=True)
class Captured:
    """A scenario and what it holds, for the command's summary."""

    scenario: dict[str, Any]
    items: int
    managed: int
    pulls: int
    people: int
    unreadable_permissions: tuple[str, ...]


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None


def _comment(comment: Comment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": comment.id,
        "user": comment.author.login,
        "body": comment.body,
        "created_at": iso(comment.created_at),
    }
    if comment.edited:
        out["edited"] = iso(comment.updated_at)
    return out


def _event(event: LabelEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event": event.event,
        "actor": event.actor.login,
        "created_at": iso(event.created_at),
    }
    if event.label:
        out["label"] = event.label
    return out


def _issue(item: WorkItem, comments: list[Comment], events: list[LabelEvent] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": item.number,
        "title": item.title,
        "body": item.body,
        "user": item.author.login,
        "labels": list(item.labels),
        "assignees": list(item.assignees),
        "created_at": iso(item.created_at),
    }
    if item.state == "closed":
        out["state"] = "closed"
        out["state_reason"] = item.state_reason or "completed"
    if events:
        out["events"] = [_event(e) for e in events]
    if comments:
        out["comments"] = [_comment(c) for c in comments]
    return out


def _pull(pr: PullRequest) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": pr.number,
        "title": pr.title,
        "head": pr.head_branch,
        "base": pr.base_branch,
        "body": pr.body,
    }
    if pr.author is not None:
        out["user"] = pr.author.login
    return out


def _people(
    items: Iterable[tuple[WorkItem, list[Comment], list[LabelEvent] | None]],
    pulls: Iterable[PullRequest],
    config: Config,
) -> list[str]:
    seen: dict[str, str] = {}

    def note(login: str | None) -> None:
        if login:
            seen.setdefault(login.casefold(), login)

    for item, comments, events in items:
        note(item.author.login)
        for login in item.assignees:
            note(login)
        for comment in comments:
            note(comment.author.login)
        for event in events or []:
            note(event.actor.login)
    for pr in pulls:
        note(pr.author.login if pr.author else None)
    for login in config.approvers.users:
        note(login)
    return sorted(seen.values(), key=str.casefold)


def capture(port: GitHubPort, config: Config, *, bot_login: str, now: datetime) -> Captured:
    """Read the repository through `port` and describe it as a sandbox scenario."""
    snap = read_snapshot(port)
    read_closed_active(port, snap)
    load_pulls(port, snap)
    rows: list[tuple[WorkItem, list[Comment], list[LabelEvent] | None]] = []
    for number in sorted(snap.items):
        state = snap.items[number]
        events = port.list_label_events(number) if is_managed(state.item) else None
        rows.append((state.item, state.comments, events))
    pulls = [
        pr
        for pr in snap.pulls
        if pr.state == "open" and not pr.merged and pr.head_branch.startswith(BRANCH_PREFIX)
    ]
    branches = sorted({*port.list_branches(BRANCH_PREFIX), *(pr.head_branch for pr in pulls)})
    default = port.default_branch()
    people = _people(rows, pulls, config)
    users: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for login in people:
        user: dict[str, Any] = {"login": login}
        if login.endswith("[bot]"):
            user["type"] = "Bot"
        if login.casefold() != bot_login.casefold():
            try:
                user["permission"] = port.get_permission(login)
            except GitHubError:
                unreadable.append(login)  # the token cannot read it: the replay treats them as `none`
        users.append(user)
    teams = []
    for slug in config.approvers.teams:
        members = []
        for login in people:
            try:
                if port.is_team_member(slug, login):
                    members.append(login)
            except GitHubError:
                unreadable.append(f"{slug}:{login}")
        teams.append({"slug": slug.lstrip("@").rpartition("/")[2], "members": members})
    labels = sorted({label for item, _, events in rows for label in item.labels} | _event_labels(rows))
    scenario: dict[str, Any] = {
        "repo": port.repo,
        "bot": bot_login,
        "default_branch": default,
        "clock": {"start": iso(now)},
        "users": users,
        "teams": teams,
        "labels": [{"name": name} for name in labels],
        "branches": {name: {"from": default} for name in branches},
        "issues": [_issue(item, comments, events) for item, comments, events in rows],
        "pulls": [_pull(pr) for pr in pulls],
    }
    return Captured(
        scenario,
        items=len(rows),
        managed=sum(1 for item, _, _ in rows if is_managed(item)),
        pulls=len(pulls),
        people=len(people),
        unreadable_permissions=tuple(unreadable),
    )


def _event_labels(rows: Iterable[tuple[WorkItem, list[Comment], list[LabelEvent] | None]]) -> set[str]:
    return {event.label for _, _, events in rows for event in events or []}


def write_snapshot(opts: Options, out: Path, *, port_factory: Any = None, clock: Any = None) -> Captured:
    """Capture the repository named by `opts` into `out` (YAML, readable by the owner only)."""
    config, _, _ = load_definitions(opts)
    with open_session(opts, "snapshot", config, clock=clock, port_factory=port_factory) as session:
        bot = opts.bot_login or config.bot_login or session.port.whoami().login
        now = server_now(session.governor) or datetime.now(UTC)
        captured = capture(session.port, config, bot_login=bot, now=now)
    header = (
        f"# issueops snapshot of {captured.scenario['repo']} at {captured.scenario['clock']['start']}.\n"
        "# People's text is kept as written: treat this file like the issues themselves.\n"
    )
    text = header + yaml.safe_dump(captured.scenario, sort_keys=False, allow_unicode=True, width=100)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    partial.replace(out)
    return captured
