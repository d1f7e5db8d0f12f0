"""A tiny in-memory item that applies plans the way the applier does, for replay tests.

Permissions are handed to the planner only for `logins_to_check(...)`: a planner that needed a
lookup it did not ask for would see "none" and the case would fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from issueops.approvals.engine import find_status_record
from issueops.approvals.record import StatusRecord
from issueops.config.settings import Config, Risk
from issueops.core.model import (
    Actor,
    AddLabels,
    Assign,
    Comment,
    ItemContext,
    LabelEvent,
    Permission,
    Plan,
    PullRequest,
    React,
    RemoveLabel,
    Transition,
    Unassign,
    UpsertComment,
    WorkItem,
    marker,
)
from issueops.core.states import check_transition, label_changes, parse_state
from issueops.stages.commands import logins_to_check, plan_commands

BOT = "issueops-bot"
AUTHOR = "olivia"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

PERMISSIONS: dict[str, Permission] = {
    "alice": "admin",
    "bob": "write",
    "carol": "maintain",
    "dave": "read",
    "erin": "triage",
    "frank": "none",
    "gina": "none",  # member of the configured approver team
    "olivia": "write",  # the item's author
}
TEAM_MEMBERS = frozenset({"gina"})
BOTS = frozenset({"renovate[bot]"})


@dataclass
class World:
    config: Config = field(default_factory=Config)
    risk: Risk = "low"
    labels: list[str] = field(default_factory=lambda: ["state::awaiting-approval"])
    title: str = "Rotate the staging certificate"
    body: str = "Please rotate it before Friday."
    head_sha: str | None = None
    state: str = "open"
    assignees: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    label_events: list[LabelEvent] = field(default_factory=list)
    reacted: dict[int, set[str]] = field(default_factory=dict)
    events: list[dict[str, object]] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    lookups: list[set[str]] = field(default_factory=list)
    pass_reacted: bool = True  # False: the runner does not tell which comments carry our reactions
    ticks: int = 0
    next_id: int = 100

    # --- time and ids -------------------------------------------------------------------
    def now(self) -> datetime:
        self.ticks += 1
        return T0 + timedelta(minutes=self.ticks)

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    # --- what people do -----------------------------------------------------------------
    def say(self, login: str, body: str, *, edited: bool = False, association: str = "") -> Comment:
        at = self.now()
        actor = Actor(login, "Bot" if login in BOTS or login == BOT else "User")
        later = at + timedelta(seconds=30) if edited else at
        comment = Comment(self._id(), 1, actor, body, at, later, association)
        self.comments.append(comment)
        return comment

    def edit(self, comment_id: int, body: str | None = None) -> None:
        at = self.now()
        self.comments = [
            replace(c, body=body if body is not None else c.body, updated_at=at) if c.id == comment_id else c
            for c in self.comments
        ]

    def label(self, login: str, name: str, event: Literal["labeled", "unlabeled"] = "labeled") -> None:
        at = self.now()
        actor = Actor(login, "Bot" if login in BOTS or login == BOT else "User")
        self.label_events.append(LabelEvent(event, name, actor, at))
        if event == "labeled" and name not in self.labels:
            self.labels.append(name)
        if event == "unlabeled" and name in self.labels:
            self.labels.remove(name)

    def silent_label(self, name: str) -> None:
        """A label whose labeled event is missing from the history (unknown applier)."""
        self.labels.append(name)

    # --- the pipeline -------------------------------------------------------------------
    def item(self) -> WorkItem:
        return WorkItem(
            number=1,
            title=self.title,
            body=self.body,
            author=Actor(AUTHOR),
            labels=tuple(self.labels),
            assignees=tuple(self.assignees),
            state="open" if self.state == "open" else "closed",
        )

    def ctx(self) -> ItemContext:
        pr = None
        if self.head_sha:
            pr = PullRequest(7, "issueops/item-1", self.head_sha, "main", "open", False)
        return ItemContext(self.item(), tuple(self.comments), tuple(self.label_events), pr)

    def plan(self) -> Plan:
        ctx = self.ctx()
        reacted = {cid: frozenset(found) for cid, found in self.reacted.items()} if self.pass_reacted else {}
        wanted = logins_to_check(ctx, BOT, config=self.config, reacted=reacted)
        self.lookups.append(wanted)
        permissions = {login: PERMISSIONS.get(login.lower(), "none") for login in wanted}
        approvers = frozenset(x for x in wanted if x.lower() in TEAM_MEMBERS)
        return plan_commands(
            ctx,
            config=self.config,
            risk=self.risk,
            bot_login=BOT,
            permissions=permissions,
            approver_logins=approvers,
            now=T0,
            head_sha=self.head_sha,
            reacted=reacted,
        )

    def run(self) -> Plan:
        plan = self.plan()
        self.apply(plan)
        self.plans.append(plan)
        self.events += plan.events
        return plan

    def apply(self, plan: Plan) -> None:
        bot = Actor(BOT, "Bot")
        for action in plan.actions:
            if isinstance(action, React):
                assert action.comment_id is not None
                self.reacted.setdefault(action.comment_id, set()).add(action.content)
            elif isinstance(action, AddLabels):
                for name in action.labels:
                    if name not in self.labels:
                        self.label(BOT, name)
            elif isinstance(action, RemoveLabel):
                if action.label in self.labels:
                    self.label(BOT, action.label, "unlabeled")
            elif isinstance(action, Transition):
                current = parse_state(f"state::{action.from_state}")
                target = parse_state(f"state::{action.to_state}")
                assert target is not None
                assert f"state::{action.from_state}" in self.labels, (action, self.labels)
                check_transition(current, target, action.cause)
                add, remove = label_changes(self.labels, target)
                for name in add:
                    self.label(BOT, name)
                for name in remove:
                    self.label(BOT, name, "unlabeled")
            elif isinstance(action, UpsertComment):
                tag = marker(action.key)
                body = action.body if action.body.startswith(tag) else f"{tag}\n{action.body}"
                mine = [c for c in self.comments if c.author.login == BOT and tag in c.body]
                if mine:
                    self.edit(mine[0].id, body)
                else:
                    at = self.now()
                    self.comments.append(Comment(self._id(), 1, bot, body, at, at))
            elif isinstance(action, Assign):
                self.assignees += [x for x in action.logins if x not in self.assignees]
            elif isinstance(action, Unassign):
                self.assignees = [x for x in self.assignees if x not in action.logins]
            else:  # pragma: no cover
                raise AssertionError(f"unexpected action {action!r}")

    # --- what tests look at -------------------------------------------------------------
    def state_label(self) -> str | None:
        found = [x for x in self.labels if x.startswith("state::")]
        return found[0][len("state::") :] if len(found) == 1 else None

    def record(self) -> StatusRecord | None:
        return find_status_record(self.ctx(), BOT)

    def bot_comment(self, key: str) -> Comment | None:
        tag = marker(key)
        mine = [c for c in self.comments if c.author.login == BOT and tag in c.body]
        return mine[0] if mine else None

    def upserts(self, key: str) -> int:
        return sum(1 for p in self.plans for a in p.actions if isinstance(a, UpsertComment) and a.key == key)

    def event_pairs(self, name: str, field_name: str = "reason") -> set[tuple[str, str]]:
        return {(str(e["login"]), str(e.get(field_name))) for e in self.events if e["event"] == name}
