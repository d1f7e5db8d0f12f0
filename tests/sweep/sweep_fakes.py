"""Builders and an in-memory applier for the sweep tests.

`FakeWorld` applies a plan the way the real applier would (idempotently, as the bot), and
records the bot's own label events and comments, so a re-plan sees exactly what GitHub would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import (
    Action,
    Actor,
    AddLabels,
    Assign,
    CloseItem,
    Comment,
    ItemContext,
    LabelEvent,
    PullRequest,
    RemoveLabel,
    Transition,
    Unassign,
    UpsertComment,
    WorkItem,
    marker,
)
from issueops.core.states import check_transition, label_changes, parse_state

BOT_LOGIN = "issueops-bot"
BOT = Actor(BOT_LOGIN, "Bot")
OTHER_BOT = Actor("github-actions[bot]", "Bot")
ALICE = Actor("alice")
BOB = Actor("bob")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def labeled(label: str, actor: Actor, hours: float) -> LabelEvent:
    return LabelEvent("labeled", label, actor, at(hours))


def unlabeled(label: str, actor: Actor, hours: float) -> LabelEvent:
    return LabelEvent("unlabeled", label, actor, at(hours))


def comment(cid: int, author: Actor, body: str, hours: float, edited: float | None = None) -> Comment:
    created = at(hours)
    return Comment(cid, 1, author, body, created, at(edited) if edited is not None else created)


def pull(
    number: int = 7,
    *,
    state: str = "open",
    merged: bool = False,
    updated: float | None = None,
    branch: str = "issueops/1-disk-full",
    author: Actor = BOT,
) -> PullRequest:
    return PullRequest(
        number=number,
        head_branch=branch,
        head_sha="abc123",
        base_branch="main",
        state="open" if state == "open" else "closed",
        merged=merged,
        updated_at=at(updated) if updated is not None else None,
        author=author,
    )


def work_item(
    labels: Iterable[str] = (),
    *,
    number: int = 1,
    state: str = "open",
    reason: str | None = None,
    assignees: Sequence[str] = ("alice",),
    author: Actor = ALICE,
) -> WorkItem:
    return WorkItem(
        number=number,
        title="Disk full on db-1",
        body="The disk is full.",
        author=author,
        labels=tuple(labels),
        assignees=tuple(assignees),
        state="open" if state == "open" else "closed",
        state_reason=reason,
        created_at=T0,
        updated_at=T0,
    )


def workflow(name: str = "incident", *, close_item: bool = True, **sla: object) -> WorkflowSchema:
    return WorkflowSchema.model_validate(
        {
            "name": name,
            "description": "Production incidents",
            "risk": "medium",
            "match": {"labels": ["incident"]},
            "owners": {"pool": ["alice"]},
            "publish": {"close_item": close_item},
            "sla": sla,
        }
    )


def config(**sla: object) -> Config:
    return Config.model_validate({"sla": sla} if sla else {})


class FakeWorld:
    """One item on a pretend GitHub; `apply` does what the runner's applier does, as the bot."""

    def __init__(self, ctx: ItemContext, *, bot: Actor = BOT):
        self.item = ctx.item
        self.comments = list(ctx.comments)
        self.events = list(ctx.label_events)
        self.pull_request = ctx.pull_request
        self.bot = bot
        self.writes = 0
        self._next_id = 1000

    def context(self) -> ItemContext:
        return ItemContext(self.item, tuple(self.comments), tuple(self.events), self.pull_request)

    def apply(self, actions: Sequence[Action], now: datetime) -> None:
        for action in actions:
            self._apply(action, now)

    def _add(self, labels: Iterable[str], now: datetime) -> None:
        for label in labels:
            if label not in self.item.labels:
                self.item = replace(self.item, labels=(*self.item.labels, label))
                self.events.append(LabelEvent("labeled", label, self.bot, now))
                self.writes += 1

    def _remove(self, label: str, now: datetime) -> None:
        if label in self.item.labels:
            self.item = replace(self.item, labels=tuple(x for x in self.item.labels if x != label))
            self.events.append(LabelEvent("unlabeled", label, self.bot, now))
            self.writes += 1

    def _apply(self, action: Action, now: datetime) -> None:
        if isinstance(action, Transition):
            source = parse_state(f"state::{action.from_state}") if action.from_state else None
            target = parse_state(f"state::{action.to_state}")
            assert target is not None, action
            check_transition(source, target, action.cause)
            add, remove = label_changes(self.item.labels, target)
            self._add(add, now)
            for label in remove:
                self._remove(label, now)
        elif isinstance(action, AddLabels):
            self._add(action.labels, now)
        elif isinstance(action, RemoveLabel):
            self._remove(action.label, now)
        elif isinstance(action, UpsertComment):
            self._upsert(action, now)
        elif isinstance(action, Assign):
            missing = tuple(x for x in action.logins if x not in self.item.assignees)
            if missing:
                self.item = replace(self.item, assignees=(*self.item.assignees, *missing))
                self.writes += 1
        elif isinstance(action, Unassign):
            if any(x in self.item.assignees for x in action.logins):
                self.item = replace(
                    self.item, assignees=tuple(x for x in self.item.assignees if x not in action.logins)
                )
                self.writes += 1
        elif isinstance(action, CloseItem):
            if self.item.state != "closed":
                self.item = replace(self.item, state="closed", state_reason=action.reason, closed_at=now)
                self.writes += 1
        else:
            raise AssertionError(f"the sweep should not plan {action!r}")

    def _upsert(self, action: UpsertComment, now: datetime) -> None:
        tag = marker(action.key)
        body = action.body if action.body.startswith(tag) else f"{tag}\n{action.body}"
        for index, existing in enumerate(self.comments):
            if existing.author.login == self.bot.login and tag in existing.body:
                if existing.body.strip() != body.strip():
                    self.comments[index] = replace(existing, body=body, updated_at=now)
                    self.writes += 1
                return
        self._next_id += 1
        self.comments.append(Comment(self._next_id, self.item.number, self.bot, body, now, now))
        self.writes += 1

    def state_labels(self) -> list[str]:
        return sorted(x for x in self.item.labels if x.startswith("state::"))

    def bot_comment(self, key_prefix: str) -> list[Comment]:
        tag = marker(key_prefix)[: -len(" -->")]
        return [c for c in self.comments if c.author == self.bot and tag in c.body]
