"""The sandbox's state and the domain operations every route and seeder goes through.

Mutations live here (not in the routes) so that a label added by any route, or by seeding,
records the same `labeled` event with the acting user and bumps the issue's `updated_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from issueops.sandbox.agent import CopilotAgent
from issueops.sandbox.clock import VirtualClock
from issueops.sandbox.gitstore import FILE_MODE, GitStore
from issueops.sandbox.models import (
    PERMISSION_LEVELS,
    Comment,
    Event,
    Issue,
    Label,
    PullInfo,
    Reaction,
    Team,
    User,
)


@dataclass(frozen=True, slots=True)
class RepoInfo:
    owner: str
    name: str
    id: int
    private: bool
    default_branch: str
    description: str | None
    created_at: datetime

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class SandboxState:
    """Everything the sandbox knows: one repository, its people, issues, comments and git data."""

    def __init__(
        self,
        repo: str = "acme/ops",
        *,
        clock: VirtualClock | None = None,
        private: bool = False,
        default_branch: str = "main",
        description: str | None = "IssueOps sandbox repository",
    ) -> None:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repo must be OWNER/NAME, got {repo!r}")
        self.clock = clock or VirtualClock()
        self._next_id = 1_000_001
        self.repo = RepoInfo(
            owner, name, self.next_id(), private, default_branch, description, self.clock.now()
        )
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.teams: dict[str, Team] = {}
        self.labels: dict[str, Label] = {}
        self.issues: dict[int, Issue] = {}
        self.comments: dict[int, Comment] = {}
        self.pulls_by_head: dict[str, list[int]] = {}  # head branch -> its pull requests' numbers
        self.serial = 0  # moves on every write request: a listing's pages reuse one filtered list
        self.open_issues = 0  # issues and pull requests open now (the repository's `open_issues_count`)
        self.listings: dict[object, tuple[int, list[Any]]] = {}  # see pagination.memo_listing
        self.git = GitStore()
        self.contributors: set[str] = set()  # authors of merged pull requests (lower-case)
        self._next_number = 1
        self.agent = CopilotAgent()  # Copilot's coding agent (off unless the scenario enables it)
        self.add_user(owner, type="Organization")
        self.commit_files(default_branch, {"README.md": f"# {name}\n"}, "Initial commit", user=owner)

    # --- ids and people ------------------------------------------------------------------
    def next_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def reserve_id(self, value: int) -> int:
        """Take an id from elsewhere (a snapshot's comment ids): later ids never collide with it."""
        self._next_id = max(self._next_id, value + 1)
        return value

    def add_user(
        self,
        login: str,
        *,
        token: str | None = None,
        permission: str = "none",
        type: str = "User",
        name: str | None = None,
        email: str | None = None,
    ) -> User:
        """Add (or update) a person; `permission` is their direct permission on the repository."""
        if permission not in PERMISSION_LEVELS:
            raise ValueError(f"user {login}: permission must be one of {', '.join(PERMISSION_LEVELS)}")
        user = self.users.get(login.lower())
        if user is None:
            user = User(login=login, id=self.next_id(), created_at=self.clock.now())
            self.users[login.lower()] = user
        user.type, user.permission, user.name, user.email = type, permission, name, email
        if token:
            if user.token and user.token != token:
                self.tokens.pop(user.token, None)
            user.token = token
            self.tokens[token] = user.login
        return user

    def user(self, login: str) -> User:
        """The user by login, created on first mention (a non-collaborator) so any author renders."""
        found = self.users.get(login.lower())
        return found if found is not None else self.add_user(login)

    def find_user(self, login: str) -> User | None:
        return self.users.get(login.lower())

    def user_for_token(self, token: str) -> User | None:
        login = self.tokens.get(token)
        return self.users[login.lower()] if login else None

    def add_team(
        self,
        slug: str,
        members: Iterable[str] = (),
        *,
        permission: str | None = None,
        maintainers: Iterable[str] = (),
        name: str | None = None,
    ) -> Team:
        if permission is not None and permission not in PERMISSION_LEVELS:
            raise ValueError(f"team {slug}: permission must be one of {', '.join(PERMISSION_LEVELS)}")
        team = Team(slug=slug, id=self.next_id(), name=name or slug, permission=permission)
        for login in members:
            team.members.append(self.user(login).login)
        for login in maintainers:
            team.maintainers.append(self.user(login).login)
        self.teams[slug.lower()] = team
        return team

    def team_of(self, login: str) -> list[Team]:
        key = login.lower()
        return [t for t in self.teams.values() if key in {m.lower() for m in [*t.members, *t.maintainers]}]

    def permission(self, login: str | None) -> str:
        """Effective repo permission: the direct one or the best a team grants (like GitHub)."""
        if login is None:
            return "none"
        if login.lower() == self.repo.owner.lower():
            return "admin"
        user = self.find_user(login)
        best = user.permission if user else "none"
        for team in self.team_of(login):
            if team.permission and PERMISSION_LEVELS[team.permission] > PERMISSION_LEVELS[best]:
                best = team.permission
        return best

    def level(self, login: str | None) -> int:
        """Access level for checks: on a public repository everyone can at least read."""
        level = PERMISSION_LEVELS[self.permission(login)]
        return max(level, 0 if self.repo.private else PERMISSION_LEVELS["read"])

    def author_association(self, login: str) -> str:
        if login.lower() == self.repo.owner.lower():
            return "OWNER"
        if self.team_of(login):
            return "MEMBER"
        if self.permission(login) != "none":
            return "COLLABORATOR"
        if login.lower() in self.contributors:
            return "CONTRIBUTOR"
        return "NONE"

    # --- labels --------------------------------------------------------------------------
    def add_label(self, name: str, color: str = "ededed", description: str | None = None) -> Label:
        """Create a repo label, or update the colour/description of an existing one."""
        label = self.labels.get(name.lower())
        if label is None:
            label = Label(
                id=self.next_id(), name=name, color=color.lstrip("#").lower(), description=description
            )
            self.labels[name.lower()] = label
        else:
            label.color, label.description = color.lstrip("#").lower(), description
        label.updated_at = self.clock.now()
        return label

    def find_label(self, name: str) -> Label | None:
        return self.labels.get(name.lower())

    def rename_label(self, label: Label, new_name: str) -> None:
        old = label.name
        del self.labels[old.lower()]
        label.name = new_name
        self.labels[new_name.lower()] = label
        for issue in self.issues.values():
            issue.labels = [new_name if n == old else n for n in issue.labels]

    def delete_label(self, label: Label) -> None:
        del self.labels[label.name.lower()]
        for issue in self.issues.values():
            if label.name in issue.labels:
                issue.labels.remove(label.name)

    def pull_requests(self, head: str | None = None) -> list[Issue]:
        """Pull requests (all, or those from `head`) in number order, from the index."""
        if head is not None:
            numbers = self.pulls_by_head.get(head, [])
        else:
            numbers = sorted(n for ns in self.pulls_by_head.values() for n in ns)
        return [self.issues[n] for n in numbers]

    # --- issues --------------------------------------------------------------------------
    def _event(
        self, issue: Issue, event: str, actor: str, when: datetime | None = None, **fields: object
    ) -> Event:
        record = Event(self.next_id(), issue.number, event, actor, when or self.clock.now(), **fields)  # type: ignore[arg-type]
        issue.events.append(record)
        return record

    def record_event(self, issue: Issue, event: str, actor: str, when: datetime, **fields: object) -> Event:
        """An event another actor causes (the agent's cross-reference, ready for review...)."""
        record = self._event(issue, event, actor, when, **fields)
        self._touch(issue, when)
        return record

    def _touch(self, issue: Issue, when: datetime | None = None) -> None:
        issue.updated_at = max(issue.updated_at, when or self.clock.now())

    def add_issue(
        self,
        title: str,
        body: str | None = None,
        user: str | None = None,
        *,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        state: str = "open",
        state_reason: str | None = None,
        created_at: datetime | None = None,
        comments: Iterable[Mapping[str, object]] = (),
        pull: PullInfo | None = None,
        number: int | None = None,
    ) -> Issue:
        """Create an issue as `user` (default: the repo owner); labels record `labeled` events.
        `number` keeps a number from elsewhere (a snapshot of a real repository has gaps)."""
        when = created_at or self.clock.now()
        author = self.user(user or self.repo.owner).login
        if number is not None and (number < 1 or number in self.issues):
            raise ValueError(f"issue number {number} is taken or invalid")
        number = number if number is not None else self._next_number
        issue = Issue(number, self.next_id(), title, body, author, when, when, pull=pull)
        self._next_number = max(self._next_number, number + 1)
        self.issues[issue.number] = issue
        self.open_issues += 1  # created open; `set_state` below closes it when asked
        if pull is not None:
            self.pulls_by_head.setdefault(pull.head_ref, []).append(issue.number)
        self.add_labels(issue, labels, author, when=when)
        self.assign(issue, assignees, author, when=when)
        for spec in comments:
            self.add_comment(
                issue.number,
                str(spec.get("user", author)),
                str(spec.get("body", "")),
                created_at=spec.get("created_at") if isinstance(spec.get("created_at"), datetime) else None,  # type: ignore[arg-type]
                updated_at=spec.get("updated_at") if isinstance(spec.get("updated_at"), datetime) else None,  # type: ignore[arg-type]
            )
        if state == "closed":
            self.set_state(issue, "closed", state_reason or "completed", author, when=issue.updated_at)
        return issue

    def get_issue(self, number: int) -> Issue | None:
        return self.issues.get(number)

    def add_labels(
        self, issue: Issue, names: Iterable[str], actor: str, when: datetime | None = None
    ) -> None:
        """Apply labels (creating missing repo labels), one `labeled` event each newly applied."""
        changed = False
        for name in names:
            label = self.find_label(name) or self.add_label(name)
            if label.name not in issue.labels:
                issue.labels.append(label.name)
                self._event(issue, "labeled", actor, when, label=(label.name, label.color))
                changed = True
        if changed:
            self._touch(issue, when)

    def remove_label(self, issue: Issue, name: str, actor: str, when: datetime | None = None) -> bool:
        label = self.find_label(name)
        if label is None or label.name not in issue.labels:
            return False
        issue.labels.remove(label.name)
        self._event(issue, "unlabeled", actor, when, label=(label.name, label.color))
        self._touch(issue, when)
        return True

    def set_labels(self, issue: Issue, names: Iterable[str], actor: str) -> None:
        wanted = [(self.find_label(n) or self.add_label(n)).name for n in names]
        for name in list(issue.labels):
            if name not in wanted:
                self.remove_label(issue, name, actor)
        self.add_labels(issue, wanted, actor)

    def assign(self, issue: Issue, logins: Iterable[str], actor: str, when: datetime | None = None) -> None:
        changed = False
        for login in logins:
            user = self.user(login)
            if user.login not in issue.assignees and len(issue.assignees) < 10:
                issue.assignees.append(user.login)
                self._event(issue, "assigned", actor, when, assignee=user.login, assigner=actor)
                changed = True
        if changed:
            self._touch(issue, when)

    def unassign(self, issue: Issue, logins: Iterable[str], actor: str) -> None:
        for login in logins:
            match = next((a for a in issue.assignees if a.lower() == login.lower()), None)
            if match is not None:
                issue.assignees.remove(match)
                self._event(issue, "unassigned", actor, assignee=match, assigner=actor)
                self._touch(issue)

    def set_state(
        self,
        issue: Issue,
        state: str,
        reason: str | None,
        actor: str,
        *,
        when: datetime | None = None,
        commit_id: str | None = None,
    ) -> None:
        when = when or self.clock.now()
        if state == issue.state:
            if state == "closed" and reason and reason != issue.state_reason:
                issue.state_reason = reason
                self._touch(issue, when)
            return
        issue.state = state
        self.open_issues += 1 if state == "open" else -1
        if state == "closed":
            issue.state_reason = reason or "completed"
            issue.closed_at, issue.closed_by = when, actor
            self._event(issue, "closed", actor, when, commit_id=commit_id, state_reason=issue.state_reason)
        else:
            issue.state_reason = "reopened"
            issue.closed_at = None
            self._event(issue, "reopened", actor, when)
        self._touch(issue, when)

    def rename(self, issue: Issue, title: str, actor: str) -> None:
        if title != issue.title:
            self._event(issue, "renamed", actor, rename=(issue.title, title))
            issue.title = title
            self._touch(issue)

    def edit_body(self, issue: Issue, body: str | None) -> None:
        if body != issue.body:
            issue.body = body
            self._touch(issue)

    # --- comments and reactions -----------------------------------------------------------
    def add_comment(
        self,
        number: int,
        user: str,
        body: str,
        *,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        comment_id: int | None = None,
    ) -> Comment:
        """Post a comment; `updated_at` later than `created_at` makes it an edited comment.
        `comment_id` keeps an id from elsewhere (the bot's approval record names comments by id)."""
        issue = self.issues[number]
        when = created_at or self.clock.now()
        if comment_id is not None and comment_id in self.comments:
            raise ValueError(f"comment id {comment_id} is taken")
        # A kept id moves the id counter past it, so a new comment never replaces a kept one.
        comment_id = self.next_id() if comment_id is None else self.reserve_id(comment_id)
        comment = Comment(
            comment_id,
            number,
            self.user(user).login,
            body,
            when,
            max(when, updated_at or when),
        )
        self.comments[comment.id] = comment
        issue.comment_ids.append(comment.id)
        self._touch(issue, when)
        return comment

    def edit_comment(self, comment: Comment, body: str) -> None:
        comment.body = body
        comment.updated_at = self.clock.now()

    def delete_comment(self, comment: Comment) -> None:
        del self.comments[comment.id]
        issue = self.issues[comment.issue_number]
        issue.comment_ids.remove(comment.id)
        self._touch(issue)

    def react(self, target: list[Reaction], user: str, content: str) -> tuple[Reaction, bool]:
        """Add a reaction unless this user already reacted so; returns (reaction, created)."""
        login = self.user(user).login
        for existing in target:
            if existing.user == login and existing.content == content:
                return existing, False
        reaction = Reaction(self.next_id(), login, content, self.clock.now())
        target.append(reaction)
        return reaction, True

    # --- git ---------------------------------------------------------------------------------
    def branch_sha(self, branch: str) -> str | None:
        return self.git.refs.get(f"refs/heads/{branch}")

    def commit_files(
        self,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        *,
        user: str | None = None,
        base: str | None = None,
    ) -> str:
        """Commit files onto `branch` (created from `base` or the default branch when missing).

        A value of None deletes the path. Returns the new head sha (or the old one if nothing changed).
        """
        head = self.branch_sha(branch) or (
            self.branch_sha(base or self.repo.default_branch) if self.git.refs else None
        )
        current = self.git.flatten(self.git.commits[head].tree) if head else {}
        updated = dict(current)
        for path, content in files.items():
            clean = path.strip("/")
            if content is None:
                updated.pop(clean, None)
            else:
                data = content.encode() if isinstance(content, str) else content
                updated[clean] = (FILE_MODE, self.git.put_blob(data))
        if head and updated == current:
            self.git.refs[f"refs/heads/{branch}"] = head
            return head
        author = self.user(user or self.repo.owner)
        tree = self.git.build_tree(updated)
        sha = self.git.put_commit(
            tree,
            [head] if head else [],
            message,
            (author.name or author.login, author.email or f"{author.login}@users.noreply.sandbox.test"),
            self.clock.now(),
        )
        self.git.refs[f"refs/heads/{branch}"] = sha
        return sha

    def add_pull(
        self,
        title: str,
        head: str,
        *,
        base: str | None = None,
        body: str | None = None,
        user: str | None = None,
        draft: bool = False,
        files: Mapping[str, str] | None = None,
        number: int | None = None,
        created_at: datetime | None = None,
    ) -> Issue:
        """Open a pull request from `head` into `base`; `files` are committed to `head` first."""
        base = base or self.repo.default_branch
        if files:
            self.commit_files(head, files, title, user=user, base=base)
        head_sha, base_sha = self.branch_sha(head), self.branch_sha(base)
        if head_sha is None or base_sha is None:
            raise ValueError(
                f"pull request {title!r}: branch {head if head_sha is None else base} does not exist"
            )
        info = PullInfo(head, head_sha, base, base_sha, self.repo.owner, draft=draft)
        return self.add_issue(title, body, user, pull=info, number=number, created_at=created_at)

    def change_base(self, issue: Issue, base: str) -> None:
        """Point a pull request at another base branch."""
        pull = issue.pull
        assert pull is not None
        if base == pull.base_ref:
            return
        pull.base_ref = base
        pull.base_sha = self.branch_sha(base) or pull.base_sha
        self._touch(issue)

    def mergeable(self, issue: Issue) -> bool | None:
        pull = issue.pull
        if pull is None or pull.merged or issue.state != "open":
            return None
        head, base = self.branch_sha(pull.head_ref), self.branch_sha(pull.base_ref)
        if head is None or base is None:
            return False
        return self.git.three_way(self.git.merge_base(head, base), base, head) is not None

    def merge_pull(self, issue: Issue, actor: str, message: str) -> str | None:
        """Merge into the base branch with a merge commit; None when it conflicts."""
        pull = issue.pull
        assert pull is not None
        head, base = self.branch_sha(pull.head_ref), self.branch_sha(pull.base_ref)
        if head is None or base is None:
            return None
        files = self.git.three_way(self.git.merge_base(head, base), base, head)
        if files is None:
            return None
        author = self.user(actor)
        sha = self.git.put_commit(
            self.git.build_tree(files),
            [base, head],
            message,
            (author.name or author.login, author.email or f"{author.login}@users.noreply.sandbox.test"),
            self.clock.now(),
        )
        self.git.refs[f"refs/heads/{pull.base_ref}"] = sha
        now = self.clock.now()
        pull.merged, pull.merged_at, pull.merged_by, pull.merge_commit_sha = True, now, author.login, sha
        self.contributors.add(issue.user.lower())
        pull.head_sha = head
        self._event(issue, "merged", actor, commit_id=sha)
        self.set_state(issue, "closed", None, actor)
        issue.state_reason = None
        return sha
