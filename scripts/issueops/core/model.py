"""Snapshots of GitHub objects and the actions planners emit.

Everything here is plain, immutable data: the GitHub adapter converts PyGithub objects into
these at the boundary, planners read them and return actions, and the applier turns actions
back into port calls. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
WRITE_PERMISSIONS: frozenset[str] = frozenset({"admin", "maintain", "write"})

MARKER_PREFIX = "issueops:"


def marker(key: str) -> str:
    """The hidden HTML comment that tags a bot comment or body section with a stable key."""
    return f"<!-- {MARKER_PREFIX}{key} -->"


@dataclass(frozen=True)
class Actor:
    login: str
    type: str = "User"  # "User" | "Bot" | "Organization"

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


@dataclass(frozen=True)
class Comment:
    id: int
    issue_number: int
    author: Actor
    body: str
    created_at: datetime
    updated_at: datetime
    # the commenter's `author_association` as GitHub reports it (OWNER, MEMBER, COLLABORATOR,
    # CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, MANNEQUIN, NONE); "" when unknown
    association: str = ""

    @property
    def edited(self) -> bool:
        """GitHub bumps updated_at on edit; reactions do not touch it."""
        return self.updated_at > self.created_at

    def has_marker(self, key: str) -> bool:
        return marker(key) in self.body


@dataclass(frozen=True)
class LabelEvent:
    """One `labeled`/`unlabeled` entry from the issue's event history; `closed`/`reopened`
    entries come along (with an empty label) so a planner can tell when the item was closed."""

    event: Literal["labeled", "unlabeled", "closed", "reopened"]
    label: str
    actor: Actor
    created_at: datetime


@dataclass(frozen=True)
class PullRequest:
    number: int
    head_branch: str
    head_sha: str
    base_branch: str
    state: Literal["open", "closed"]
    merged: bool
    title: str = ""
    body: str = ""
    updated_at: datetime | None = None
    author: Actor | None = None  # who opened it (the sweep closes only the pipeline's own PRs)
    draft: bool = False
    merged_at: datetime | None = None


@dataclass(frozen=True)
class WorkItem:
    """An issue as the pipeline sees it (never a pull request)."""

    number: int
    title: str
    body: str
    author: Actor
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    state: Literal["open", "closed"] = "open"
    state_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    comment_count: int = 0
    locked: bool = False

    def labels_with_prefix(self, prefix: str) -> tuple[str, ...]:
        return tuple(label for label in self.labels if label.startswith(prefix))

    def label_value(self, prefix: str) -> str | None:
        """The suffix of the first label in a `family::` (e.g. `risk::high` -> `high`)."""
        found = self.labels_with_prefix(prefix)
        return found[0][len(prefix) :] if found else None


@dataclass(frozen=True)
class SearchHit:
    """An issue elsewhere found by a `github_search` intake source."""

    repo: str
    number: int
    title: str
    html_url: str
    state: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ItemContext:
    """A work item together with what a stage needs to decide about it."""

    item: WorkItem
    comments: tuple[Comment, ...] = ()
    label_events: tuple[LabelEvent, ...] = ()
    pull_request: PullRequest | None = None


# ---------------------------------------------------------------------------------------------
# Actions: what a planner wants done. Each is applied idempotently (the applier checks the
# world first), so replaying a plan after a crash never doubles anything.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddLabels:
    item: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class RemoveLabel:
    item: int
    label: str


@dataclass(frozen=True)
class Transition:
    """Move an item to a new state; the applier adds the new state label, then removes the others."""

    item: int
    from_state: str | None
    to_state: str
    cause: str


@dataclass(frozen=True)
class UpsertComment:
    """Create, or edit in place, the bot's comment carrying `marker(key)`."""

    item: int
    key: str
    body: str


@dataclass(frozen=True)
class DeleteComment:
    """Delete one of the bot's own comments (a duplicate of the one marked `key` that is kept);
    one already gone is not an error. Never a person's comment: the planner checks the author."""

    item: int
    comment_id: int
    key: str


@dataclass(frozen=True)
class React:
    """A reaction on a comment (comment_id) or on the issue itself (comment_id None)."""

    item: int
    content: str
    comment_id: int | None = None


@dataclass(frozen=True)
class Assign:
    item: int
    logins: tuple[str, ...]


@dataclass(frozen=True)
class Unassign:
    item: int
    logins: tuple[str, ...]


@dataclass(frozen=True)
class CreateItem:
    """Open a new work item; `source_key` is the dedup key hidden in its body."""

    source_key: str
    title: str
    body: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class UpdateBody:
    item: int
    body: str
    expected_body: str  # the body we read: a person's edit since then wins, we skip


@dataclass(frozen=True)
class CloseItem:
    item: int
    reason: Literal["completed", "not_planned"] = "completed"


@dataclass(frozen=True)
class OpenPullRequest:
    """Commit `files` onto `branch` (created from `base`) and open a PR that closes the item."""

    item: int
    branch: str
    base: str
    files: tuple[tuple[str, str], ...]  # (path, content)
    title: str
    body: str
    commit_message: str


@dataclass(frozen=True)
class MergePullRequest:
    item: int
    pr_number: int
    head_sha: str


# The marker key of the one comment the pipeline leaves on a PR it closes (see ClosePullRequest).
CLOSED_PR_KEY = "orphan-closed"


@dataclass(frozen=True)
class ClosePullRequest:
    """Close a deliverable PR without merging; `body`, when given, is posted on the PR first as the
    bot's comment marked `CLOSED_PR_KEY` (once: a comment already there is not posted again)."""

    item: int
    pr_number: int
    reason: str
    body: str = ""


@dataclass(frozen=True)
class DeleteBranch:
    """Delete a deliverable branch; one already gone is not an error."""

    item: int
    branch: str


@dataclass(frozen=True)
class AssignAgent:
    """Assign a coding agent (Copilot) the documented way: the assignee plus an `agent_assignment`
    (target repository, base branch, instructions in `body`, optional custom agent), sent with
    the user token. A refusal or a silently dropped assignee hands the item to `fallback_owner`."""

    item: int
    login: str
    target_repo: str
    base_branch: str
    body: str  # custom_instructions: never written to telemetry
    custom_agent: str | None = None
    fallback_owner: str | None = None
    workflow: str | None = None


@dataclass(frozen=True)
class CrossReference:
    """A `cross-referenced` timeline event whose source is a pull request: what the item's
    timeline says of a PR that mentions it (read from the PR's issue object in the event)."""

    number: int
    author: str
    state: Literal["open", "closed"]
    merged: bool
    draft: bool
    body: str
    created_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None


Action = (
    AddLabels
    | RemoveLabel
    | Transition
    | UpsertComment
    | DeleteComment
    | React
    | Assign
    | Unassign
    | CreateItem
    | UpdateBody
    | CloseItem
    | OpenPullRequest
    | MergePullRequest
    | ClosePullRequest
    | DeleteBranch
    | AssignAgent
)


@dataclass(frozen=True)
class ItemFailure:
    """Why an item could not proceed: class, code, and what a person should do."""

    failure_class: Literal["transient", "permanent"]
    failure_code: str
    hint: str


@dataclass
class Plan:
    """The actions for one item (or for the run, item None), with the reasons shown to people."""

    item: int | None
    actions: list[Action] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)  # telemetry to record on apply

    def moves_to(self, state: str) -> bool:
        """Whether the plan moves its item to `state` (a `state::` label)."""
        return any(isinstance(a, Transition) and a.to_state == state for a in self.actions)

    def extend(self, other: Plan) -> None:
        """Append another plan for the same item (a sub-planner's part) to this one."""
        self.actions += other.actions
        self.reasons += other.reasons
        self.events += other.events
