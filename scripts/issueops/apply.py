"""Turn planned actions into port calls, each one idempotent.

Every action first checks the world as last read (and as changed by this run's own writes) and
does nothing when it is already so. Replaying a plan after a crash therefore never doubles a
comment, a label, an item or a PR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from issueops.core.comments import CARD_KEY, FOLDED, bot_comment, card_sections, marked, render_card
from issueops.core.errors import GitHubError
from issueops.core.model import (
    CLOSED_PR_KEY,
    Action,
    AddLabels,
    Assign,
    AssignAgent,
    CloseItem,
    ClosePullRequest,
    Comment,
    CreateItem,
    DeleteBranch,
    DeleteComment,
    MergePullRequest,
    OpenPullRequest,
    PullRequest,
    React,
    RemoveLabel,
    Transition,
    Unassign,
    UpdateBody,
    UpsertComment,
    WorkItem,
    marker,
)
from issueops.core.states import check_transition, label_changes, parse_state
from issueops.github.port import GitHubPort
from issueops.stages import copilot

EventSink = Callable[..., object]


@dataclass
class ItemState:
    """What this run knows of one item: the snapshot, updated by its own writes."""

    item: WorkItem
    comments: list[Comment] = field(default_factory=list)
    pull_request: PullRequest | None = None
    pulls_read: bool = False  # this run listed the PRs: `pull_request` None means there is none
    branch_missing: bool = False  # this run listed the branches and none was this item's

    def bot_comment(self, key: str, bot_login: str) -> Comment | None:
        return bot_comment(self.comments, key, bot_login)


@dataclass
class ApplyResult:
    writes: int = 0
    created_items: list[WorkItem] = field(default_factory=list)


class Applier:
    """Applies one item's actions; `emit` records telemetry for transitions."""

    def __init__(
        self,
        port: GitHubPort,
        *,
        bot_login: str,
        emit: EventSink,
        base_branch: str = "main",
        agent_port: GitHubPort | None = None,
        agent_token_env: str = "ISSUEOPS_COPILOT_TOKEN",  # noqa: S107 (a variable name)
        now: datetime | None = None,
    ):
        self.port = port
        self.bot_login = bot_login
        self.emit = emit
        self.base_branch = base_branch
        # What this run created, for the end-of-run check against an overlapping run's copies.
        self.commented: dict[int, ItemState] = {}
        self.created_comments: list[Comment] = []
        self.created_items: list[CreateItem] = []
        # Comments this run created or edited: a card among them is edited again without reading
        # it first (one request an edit fewer). Only another run's edit of the same card in
        # between could be lost, and the only other writer of a card a run is working on is a
        # commands run's status, which every commands run writes again from the item's history.
        self.written: set[int] = set()
        self.agent_port = agent_port  # the user token's port: only for AssignAgent
        self.agent_token_env = agent_token_env
        self.now = now or datetime.now(UTC)

    def apply(
        self, actions: list[Action], state: ItemState | None, *, workflow: str | None = None
    ) -> ApplyResult:
        result = ApplyResult()
        for action in actions:
            self._apply_one(action, state, result, workflow)
        return result

    # --- one action -----------------------------------------------------------------------

    def _apply_one(
        self, action: Action, state: ItemState | None, result: ApplyResult, workflow: str | None
    ) -> None:
        if isinstance(action, CreateItem):
            created = self.port.create_item(action.title, action.body, action.labels)
            result.created_items.append(created)
            self.created_items.append(action)
            result.writes += 1
            source = next((x[len("source::") :] for x in action.labels if x.startswith("source::")), "")
            self.emit("item.created", item=created.number, source=source, source_key=action.source_key)
            return
        if isinstance(action, ClosePullRequest):
            self._close_pull_request(action, state, result)
            return
        if isinstance(action, DeleteBranch):
            self.port.delete_branch(action.branch)
            result.writes += 1
            return
        if state is None:
            raise ValueError(f"{type(action).__name__} needs an item state")
        item = state.item
        if isinstance(action, Transition):
            self._transition(action, state, result, workflow)
        elif isinstance(action, AddLabels):
            missing = [label for label in action.labels if label not in item.labels]
            if missing:
                self.port.add_labels(item.number, missing)
                state.item = replace(item, labels=(*item.labels, *missing))
                result.writes += 1
        elif isinstance(action, RemoveLabel):
            if action.label in item.labels:
                self.port.remove_label(item.number, action.label)
                state.item = replace(item, labels=tuple(x for x in item.labels if x != action.label))
                result.writes += 1
        elif isinstance(action, UpsertComment):
            self._upsert_comment(action, state, result)
        elif isinstance(action, DeleteComment):
            if any(c.id == action.comment_id for c in state.comments):
                if action.key == CARD_KEY:
                    self._keep_sections(action.comment_id, state, result)
                self.port.delete_comment(action.comment_id)
                state.comments = [c for c in state.comments if c.id != action.comment_id]
                result.writes += 1
        elif isinstance(action, React):
            self.port.add_reaction(item.number, action.content, action.comment_id)
            result.writes += 1
        elif isinstance(action, Assign):
            missing = [login for login in action.logins if login not in item.assignees]
            if missing:
                self.port.add_assignees(item.number, missing)
                state.item = replace(item, assignees=(*item.assignees, *missing))
                result.writes += 1
        elif isinstance(action, AssignAgent):
            self._assign_agent(action, state, result, workflow)
        elif isinstance(action, Unassign):
            present = [login for login in action.logins if login in item.assignees]
            if present:
                self.port.remove_assignees(item.number, present)
                state.item = replace(item, assignees=tuple(x for x in item.assignees if x not in present))
                result.writes += 1
        elif isinstance(action, UpdateBody):
            if item.body == action.expected_body and item.body != action.body:
                fresh = self.port.get_item(item.number)
                if fresh.body == action.expected_body:  # a person's edit since our read wins
                    self.port.update_item(item.number, body=action.body)
                    state.item = replace(fresh, body=action.body)
                    result.writes += 1
        elif isinstance(action, CloseItem):
            if item.state != "closed":
                self.port.update_item(item.number, state="closed", state_reason=action.reason)
                state.item = replace(item, state="closed", state_reason=action.reason)
                result.writes += 1
        elif isinstance(action, OpenPullRequest):
            self._open_pull_request(action, state, result)
        elif isinstance(action, MergePullRequest):
            pr = state.pull_request
            if pr is None or not pr.merged:
                self.port.merge_pull_request(action.pr_number, action.head_sha)
                if pr is not None:
                    state.pull_request = replace(pr, merged=True, state="closed")
                result.writes += 1
        else:  # pragma: no cover - the Action union is closed
            raise TypeError(f"unknown action {action!r}")

    def _transition(
        self, action: Transition, state: ItemState, result: ApplyResult, workflow: str | None
    ) -> None:
        from_state = parse_state(f"state::{action.from_state}") if action.from_state else None
        target = parse_state(f"state::{action.to_state}")
        if target is None:
            raise ValueError(f"unknown target state {action.to_state!r}")
        check_transition(from_state, target, action.cause)
        add, remove = label_changes(state.item.labels, target)
        if not add and not remove:
            return
        # Add the new state first, then remove the others: a crash in between leaves both, which
        # the next run resolves from the transition table (see states.resolve_state).
        if add:
            self.port.add_labels(state.item.number, add)
            result.writes += 1
        for label in remove:
            self.port.remove_label(state.item.number, label)
            result.writes += 1
        labels = [x for x in state.item.labels if x not in remove] + add
        state.item = replace(state.item, labels=tuple(labels))
        self.emit(
            "item.transition",
            item=state.item.number,
            **{"from": action.from_state, "to": action.to_state},
            cause=action.cause,
            workflow=workflow,
        )

    def _assign_agent(
        self, action: AssignAgent, state: ItemState, result: ApplyResult, workflow: str | None
    ) -> None:
        """Assign with the user token, then read the assignees back with the bot's: GitHub
        answers 201 and drops an assignee it will not take. Either way the outcome is recorded
        on the status comment; a refusal hands the item to its owner."""
        if copilot.has_copilot(state.item.assignees):
            return
        env = self.agent_token_env
        reason, code = "", ""
        if self.agent_port is None:
            reason, code = f"no user token: `${env}` is not set for this run.", "no_token"
        else:
            try:
                self.agent_port.assign_agent(action.item, action.login, copilot.agent_assignment(action))
                result.writes += 1
            except GitHubError as exc:
                reason, code = f"GitHub refused the assignment ({exc.code}, HTTP {exc.status}).", "refused"
            if not code and not getattr(self.agent_port, "dry_run", False):  # dry run: nothing to read
                state.item = self.port.get_item(action.item)
                if not copilot.has_copilot(state.item.assignees):
                    reason = (
                        "GitHub accepted the request but Copilot is not among the assignees read back "
                        "(it drops the assignee for an installation token, or when Copilot coding agent "
                        "is not enabled for the repository)."
                    )
                    code = "dropped"
        if code:
            steps, event = copilot.refused(action, reason, code, env, self.now)
        else:
            steps, event = copilot.handed(action, self.now)
        for step in steps:
            self._apply_one(step, state, result, workflow)
        name = str(event.pop("event"))
        self.emit(name, **event)

    def _upsert_comment(self, action: UpsertComment, state: ItemState, result: ApplyResult) -> None:
        body = marked(action.key, action.body)
        existing = state.bot_comment(action.key, self.bot_login)
        if action.key in FOLDED and (existing is None or marker(CARD_KEY) in existing.body):
            self._upsert_section(action.key, body, state, result)
        elif existing is None:
            self._create_comment(state, body, result)
        elif existing.body.strip() != body.strip():
            self._edit_comment(state, existing, body, result)

    def _upsert_section(self, key: str, section: str, state: ItemState, result: ApplyResult) -> None:
        """One section of the item's card: the card is created with it, or edited in place. A card
        this run has not written yet is read again just before the edit, so a section another run
        wrote since this run read the item is kept (the edit replaces the whole body)."""
        card = state.bot_comment(CARD_KEY, self.bot_login)
        if card is None:
            self._create_comment(state, render_card({key: section}), result)
            return
        if card_sections(card.body).get(key, "").strip() == section.strip():
            return
        if card.id in self.written:  # as this run left it: no read (see `written`)
            body = render_card({**card_sections(card.body), key: section})
            try:
                self._edit_comment(state, card, body, result)
                return
            except GitHubError as exc:  # deleted since (an overlapping run's duplicate repair)
                if exc.code != "not_found":
                    raise
                self.written.discard(card.id)
        comments = self.port.list_item_comments(state.item.number)
        fresh = next((c for c in comments if c.id == card.id), None) or bot_comment(
            comments, CARD_KEY, self.bot_login
        )  # deleted since: the copy the duplicate repair kept, if any
        state.comments = [c for c in state.comments if c.id != card.id]
        if fresh is None:
            self._create_comment(state, render_card({key: section}), result)
            return
        state.comments = [c for c in state.comments if c.id != fresh.id] + [fresh]
        sections = card_sections(fresh.body)
        if sections.get(key, "").strip() != section.strip():
            self._edit_comment(state, fresh, render_card({**sections, key: section}), result)

    def _keep_sections(self, doomed: int, state: ItemState, result: ApplyResult) -> None:
        """Before a newer copy of the card goes (the duplicate repair), the sections only it has
        move to the card that stays, read as they are now: the run that made the copy may have
        written to it since the repair was planned."""
        comments = self.port.list_item_comments(state.item.number)
        copy = next((c for c in comments if c.id == doomed), None)
        kept = bot_comment([c for c in comments if c.id != doomed], CARD_KEY, self.bot_login)
        if copy is None or kept is None:
            return
        sections = card_sections(kept.body)
        extra = {k: v for k, v in card_sections(copy.body).items() if k not in sections}
        state.comments = [c for c in state.comments if c.id != kept.id] + [kept]
        if extra:
            self._edit_comment(state, kept, render_card({**sections, **extra}), result)

    def _create_comment(self, state: ItemState, body: str, result: ApplyResult) -> None:
        created = self.port.create_comment(state.item.number, body)
        self.written.add(created.id)
        state.comments.append(created)
        self.commented[state.item.number] = state
        self.created_comments.append(created)
        result.writes += 1

    def _edit_comment(self, state: ItemState, existing: Comment, body: str, result: ApplyResult) -> None:
        self.port.edit_comment(existing.id, body)
        self.written.add(existing.id)
        state.comments = [replace(c, body=body) if c.id == existing.id else c for c in state.comments]
        result.writes += 1

    def _close_pull_request(
        self, action: ClosePullRequest, state: ItemState | None, result: ApplyResult
    ) -> None:
        """The explanation first (looked for on the PR, so a replay never posts it twice), then the
        close. The item's state is not needed: the PR's item may be closed or gone."""
        pr = state.pull_request if state is not None else None
        if pr is not None and pr.number == action.pr_number and pr.state == "closed":
            return
        if action.body:
            comments = self.port.list_item_comments(action.pr_number)
            if bot_comment(comments, CLOSED_PR_KEY, self.bot_login) is None:
                created = self.port.create_comment(action.pr_number, marked(CLOSED_PR_KEY, action.body))
                result.writes += 1
                # An overlapping run closing the same PR may have posted its note too: the
                # end-of-run check (SettleStage) looks, as for any marked comment this run made.
                pr_item = WorkItem(action.pr_number, "", "", created.author, state="closed")
                self.commented[action.pr_number] = ItemState(pr_item, [*comments, created])
                self.created_comments.append(created)
        self.port.close_pull_request(action.pr_number)
        result.writes += 1
        if state is not None and pr is not None and pr.number == action.pr_number:
            state.pull_request = replace(pr, state="closed")

    def _open_pull_request(self, action: OpenPullRequest, state: ItemState, result: ApplyResult) -> None:
        existing = state.pull_request
        if existing is None and not state.pulls_read:
            existing = self.port.find_pull_request(action.branch)
        if existing is not None and (existing.state == "open" or existing.merged):
            state.pull_request = existing
            return
        self.port.commit_files(
            action.branch,
            action.base,
            dict(action.files),
            action.commit_message,
            known_missing=state.branch_missing,
        )
        state.branch_missing = False
        state.pull_request = self.port.create_pull_request(
            action.branch, action.base, action.title, action.body
        )
        result.writes += 2
