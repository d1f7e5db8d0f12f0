"""A tiny in-memory GitHub for planner tests: applies plans idempotently, like the real applier.

It holds issues, comments and deliverable PRs, and turns them back into the snapshots the
planners read, so a test can plan, apply, and re-plan to check that nothing is left to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from issueops.core.model import (
    Action,
    Actor,
    AddLabels,
    Assign,
    CloseItem,
    Comment,
    CreateItem,
    ItemContext,
    LabelEvent,
    MergePullRequest,
    OpenPullRequest,
    Plan,
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
from issueops.core.states import State, check_transition, label_changes

BOT = "issueops-bot"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def item(
    number: int,
    title: str = "Something happened",
    body: str = "",
    *,
    labels: tuple[str, ...] = ("state::triage",),
    author: str = "alice",
    assignees: tuple[str, ...] = (),
    state: str = "open",
) -> WorkItem:
    return WorkItem(
        number=number,
        title=title,
        body=body,
        author=Actor(author, "Bot" if author == BOT else "User"),
        labels=labels,
        assignees=assignees,
        state=state,  # type: ignore[arg-type]
        created_at=T0,
        updated_at=T0,
    )


@dataclass
class World:
    bot: str = BOT
    now: datetime = T0
    items: dict[int, WorkItem] = field(default_factory=dict)
    comments: dict[int, list[Comment]] = field(default_factory=dict)
    prs: dict[int, PullRequest] = field(default_factory=dict)
    files: dict[int, dict[str, str]] = field(default_factory=dict)
    label_events: dict[int, list[LabelEvent]] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    _ids: int = 1000

    # --- setup ------------------------------------------------------------------------------

    def add(self, work_item: WorkItem) -> WorkItem:
        self.items[work_item.number] = work_item
        return work_item

    def comment(self, number: int, body: str, author: str = BOT) -> Comment:
        self._ids += 1
        c = Comment(
            self._ids,
            number,
            Actor(author, "Bot" if author == self.bot else "User"),
            body,
            self.now,
            self.now,
        )
        self.comments.setdefault(number, []).append(c)
        return c

    def tick(self, minutes: int = 5) -> None:
        self.now += timedelta(minutes=minutes)

    # --- snapshots --------------------------------------------------------------------------

    def ctx(self, number: int) -> ItemContext:
        return ItemContext(
            self.items[number],
            tuple(self.comments.get(number, ())),
            tuple(self.label_events.get(number, ())),
            self.prs.get(number),
        )

    def contexts(self) -> list[ItemContext]:
        return [self.ctx(n) for n in sorted(self.items)]

    def bot_comment(self, number: int, key: str) -> Comment | None:
        tag = marker(key)
        return next(
            (c for c in self.comments.get(number, []) if c.author.login == self.bot and tag in c.body), None
        )

    # --- applying ---------------------------------------------------------------------------

    def apply(self, plans: list[Plan] | Plan) -> int:
        """Apply plans; returns the number of writes made (0 when everything was already so)."""
        before = len(self.writes)
        for plan in [plans] if isinstance(plans, Plan) else plans:
            for action in plan.actions:
                self._apply(action)
        return len(self.writes) - before

    def _label(self, number: int, label: str, event: str) -> None:
        self.label_events.setdefault(number, []).append(
            LabelEvent(event, label, Actor(self.bot, "Bot"), self.now)  # type: ignore[arg-type]
        )

    def _apply(self, action: Action) -> None:
        if isinstance(action, CreateItem):
            number = max(self.items, default=0) + 1
            self.items[number] = replace(
                item(number, action.title, action.body, labels=action.labels, author=self.bot),
                created_at=self.now,
            )
            self.writes.append(f"create #{number}")
            return
        it = self.items[action.item]
        n = it.number
        if isinstance(action, AddLabels):
            missing = [x for x in action.labels if x not in it.labels]
            if missing:
                self.items[n] = replace(it, labels=(*it.labels, *missing))
                for label in missing:
                    self._label(n, label, "labeled")
                self.writes.append(f"label #{n} {missing}")
        elif isinstance(action, RemoveLabel):
            if action.label in it.labels:
                self.items[n] = replace(it, labels=tuple(x for x in it.labels if x != action.label))
                self._label(n, action.label, "unlabeled")
                self.writes.append(f"unlabel #{n} {action.label}")
        elif isinstance(action, Transition):
            source = State(action.from_state) if action.from_state else None
            check_transition(source, State(action.to_state), action.cause)
            add, remove = label_changes(it.labels, State(action.to_state))
            if add or remove:
                self.items[n] = replace(it, labels=(*[x for x in it.labels if x not in remove], *add))
                for label in add:
                    self._label(n, label, "labeled")
                self.writes.append(f"transition #{n} -> {action.to_state}")
        elif isinstance(action, UpsertComment):
            body = (
                action.body
                if action.body.startswith(marker(action.key))
                else f"{marker(action.key)}\n{action.body}"
            )
            existing = self.bot_comment(n, action.key)
            if existing is None:
                self.comment(n, body)
                self.writes.append(f"comment #{n} {action.key}")
            elif existing.body.strip() != body.strip():
                self.comments[n] = [
                    replace(c, body=body, updated_at=self.now) if c.id == existing.id else c
                    for c in self.comments[n]
                ]
                self.writes.append(f"edit #{n} {action.key}")
        elif isinstance(action, Assign):
            missing = [x for x in action.logins if x not in it.assignees]
            if missing:
                self.items[n] = replace(it, assignees=(*it.assignees, *missing))
                self.writes.append(f"assign #{n} {missing}")
        elif isinstance(action, Unassign):
            present = [x for x in action.logins if x in it.assignees]
            if present:
                self.items[n] = replace(it, assignees=tuple(x for x in it.assignees if x not in present))
                self.writes.append(f"unassign #{n} {present}")
        elif isinstance(action, CloseItem):
            if it.state != "closed":
                self.items[n] = replace(it, state="closed", state_reason=action.reason)
                self.writes.append(f"close #{n}")
        elif isinstance(action, OpenPullRequest):
            pr = self.prs.get(n)
            if pr is None or (pr.state == "closed" and not pr.merged):
                self._ids += 1
                self.prs[n] = PullRequest(
                    self._ids,
                    action.branch,
                    f"sha{self._ids}",
                    action.base,
                    "open",
                    False,
                    action.title,
                    action.body,
                )
                self.files[n] = dict(action.files)
                self.writes.append(f"pr #{n} {action.branch}")
        elif isinstance(action, MergePullRequest):
            pr = self.prs[n]
            assert pr.number == action.pr_number and pr.head_sha == action.head_sha
            if not pr.merged:
                self.prs[n] = replace(pr, merged=True, state="closed")
                self.writes.append(f"merge #{n}")
        elif isinstance(action, UpdateBody):
            if it.body == action.expected_body and it.body != action.body:
                self.items[n] = replace(it, body=action.body)
                self.writes.append(f"body #{n}")
        elif isinstance(action, React):
            self.writes.append(f"react #{n}")
        else:  # pragma: no cover
            raise TypeError(action)
