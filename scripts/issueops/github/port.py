"""The narrow interface the stages need from GitHub, in the project's own models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

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


class LabelSpec(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def color(self) -> str: ...

    @property
    def description(self) -> str: ...


class GitHubPort(Protocol):
    """Every call may raise `issueops.core.errors.GitHubError` (classified) or `BudgetExhausted`.

    Writes are idempotent where the operation allows it; with dry-run the adapter sends no
    write at all and returns what the write would have produced.
    """

    repo: str  # "owner/name"

    # --- identity and reads -------------------------------------------------------------
    def whoami(self) -> Actor: ...

    def list_items(
        self, *, labels: Sequence[str] = (), state: str = "open", since: datetime | None = None
    ) -> list[WorkItem]:
        """Issues (never PRs), all pages, `per_page=100`, conditional where possible."""

    def get_item(self, number: int) -> WorkItem: ...

    def list_comments(self, *, since: datetime | None = None) -> list[Comment]:
        """Repository-wide comment listing (one paginated call for every issue)."""

    def list_item_comments(self, number: int) -> list[Comment]: ...

    def list_label_events(self, number: int, *, as_of: datetime | None = None) -> list[LabelEvent]:
        """The item's labeled/unlabeled events. `as_of`: the item's `updated_at` in this run's
        listing; a history read before at that same `updated_at` is still whole (labelling an
        item moves it), so it comes from the cache without a request."""

    def list_cross_references(self, number: int) -> list[CrossReference]:
        """The pull requests the item's timeline shows referencing it (`cross-referenced`)."""

    def get_permission(self, login: str) -> Permission:
        """Collaborator permission; a non-collaborator's 404 is `none`."""

    def is_team_member(self, team_slug: str, login: str) -> bool: ...

    def find_pull_request(self, head_branch: str) -> PullRequest | None: ...

    def list_pull_requests(self, *, state: str = "all") -> list[PullRequest]: ...

    def default_branch(self) -> str: ...

    def list_branches(self, prefix: str) -> list[str]:
        """Branch names starting with `prefix` (one request: the matching-refs listing)."""

    def search_issues(self, query: str, limit: int) -> list[SearchHit]:
        """GitHub issue search (its own 30/min limit); `limit` caps the hits read."""

    # --- writes -----------------------------------------------------------------------
    def add_labels(self, number: int, labels: Sequence[str]) -> None: ...

    def remove_label(self, number: int, label: str) -> None:
        """Removing a label that is not there is not an error."""

    def create_comment(self, number: int, body: str) -> Comment: ...

    def edit_comment(self, comment_id: int, body: str) -> None: ...

    def delete_comment(self, comment_id: int) -> None:
        """Deleting a comment that is already gone is not an error."""

    def add_reaction(self, number: int, content: str, comment_id: int | None = None) -> None: ...

    def add_assignees(self, number: int, logins: Sequence[str]) -> None: ...

    def remove_assignees(self, number: int, logins: Sequence[str]) -> None: ...

    def assign_agent(self, number: int, login: str, agent_assignment: Mapping[str, str]) -> tuple[str, ...]:
        """Assign a coding agent with its `agent_assignment`; needs a user token. Returns the
        assignees GitHub answered with (it drops an assignee it will not take, silently)."""

    def create_item(self, title: str, body: str, labels: Sequence[str]) -> WorkItem: ...

    def update_item(
        self,
        number: int,
        *,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
    ) -> None: ...

    def commit_files(
        self,
        branch: str,
        base: str,
        files: Mapping[str, str],
        message: str,
        *,
        known_missing: bool = False,
    ) -> str:
        """Create `branch` from `base` if missing and commit `files` in one commit; returns the
        head sha. Files already identical on the branch produce no new commit. `known_missing`:
        the caller listed the branches this run and this one was not there (saves a read; a
        branch that exists after all is still handled)."""

    def create_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def merge_pull_request(self, number: int, sha: str) -> None: ...

    def close_pull_request(self, number: int) -> None:
        """Close a PR without merging; closing a closed PR changes nothing."""

    def delete_branch(self, branch: str) -> None:
        """Delete a branch; one that is already gone is not an error."""

    def ensure_labels(self, specs: Iterable[LabelSpec]) -> list[str]:
        """Create or update labels to match; returns the names changed."""
