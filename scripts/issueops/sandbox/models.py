"""The sandbox's state records: plain dataclasses, rendered to GitHub's JSON shapes on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PERMISSION_LEVELS: dict[str, int] = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
REACTION_CONTENTS: tuple[str, ...] = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass(slots=True)
class User:
    login: str
    id: int
    type: str = "User"  # "User" or "Bot"
    permission: str = "none"  # the direct repo permission
    token: str | None = None
    name: str | None = None
    email: str | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class Team:
    slug: str
    id: int
    name: str
    members: list[str] = field(default_factory=list)
    maintainers: list[str] = field(default_factory=list)
    permission: str | None = None  # repo permission granted to every member


@dataclass(slots=True)
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False
    updated_at: datetime | None = None  # its Last-Modified; None: as old as the repository


@dataclass(slots=True)
class Reaction:
    id: int
    user: str
    content: str
    created_at: datetime


@dataclass(slots=True)
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime
    reactions: list[Reaction] = field(default_factory=list)


@dataclass(slots=True)
class Event:
    """One issue event (labeled, unlabeled, assigned, unassigned, closed, reopened, renamed, merged...)."""

    id: int
    issue_number: int
    event: str
    actor: str
    created_at: datetime
    label: tuple[str, str] | None = None  # (name, color)
    assignee: str | None = None
    assigner: str | None = None
    rename: tuple[str, str] | None = None  # (from, to)
    commit_id: str | None = None
    state_reason: str | None = None


@dataclass(slots=True)
class PullInfo:
    """What a pull request adds to its issue record (numbers are shared with issues)."""

    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    head_owner: str
    draft: bool = False
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    maintainer_can_modify: bool = False


@dataclass(slots=True)
class Issue:
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    labels: list[str] = field(default_factory=list)  # label names, in the order applied
    assignees: list[str] = field(default_factory=list)
    locked: bool = False
    comment_ids: list[int] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    pull: PullInfo | None = None

    @property
    def is_pull(self) -> bool:
        return self.pull is not None


@dataclass(slots=True)
class GitCommit:
    sha: str
    tree: str
    parents: list[str]
    message: str
    author_name: str
    author_email: str
    date: datetime
    committer_name: str = "GitHub"
    committer_email: str = "noreply@github.com"


@dataclass(slots=True)
class TreeEntry:
    name: str
    mode: str  # "100644" file, "100755" executable, "040000" tree
    type: str  # "blob" or "tree"
    sha: str
