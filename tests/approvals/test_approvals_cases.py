"""Named cases through the parser, the approval engine and the planner, with replay checks.

Each case is a list of steps (people comment, label, edit; the bot runs) and what must hold at
the end. After every case, planning again over the resulting history must produce nothing:
no action, no event (the replay is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from approvals_world import BOT, World

from issueops.config.settings import Config, Risk
from issueops.stages.commands import logins_to_check

Step = Callable[[World], None]
ZWSP = "\u200b"


def say(login: str, body: str, *, edited: bool = False, association: str = "") -> Step:
    def step(w: World) -> None:
        w.say(login, body, edited=edited, association=association)

    return step


def run() -> Step:
    def step(w: World) -> None:
        w.run()

    return step


def edit_body(text: str) -> Step:
    def step(w: World) -> None:
        w.body = text

    return step


def push(sha: str) -> Step:
    def step(w: World) -> None:
        w.head_sha = sha

    return step


def label(
    login: str, name: str = "approval::approved", event: Literal["labeled", "unlabeled"] = "labeled"
) -> Step:
    return lambda w: w.label(login, name, event)


def silent_label(name: str = "approval::approved") -> Step:
    return lambda w: w.silent_label(name)


def edit_comment(ordinal: int, body: str | None = None) -> Step:
    return lambda w: w.edit(_human_ids(w)[ordinal - 1], body)


def close() -> Step:
    def step(w: World) -> None:
        w.state = "closed"

    return step


def failed_after(previous: str) -> Step:
    """History as the applier leaves it: the new state added first, then the old one removed."""

    def step(w: World) -> None:
        w.labels = []
        w.label(BOT, f"state::{previous}")
        w.label(BOT, "state::failed")
        w.label(BOT, f"state::{previous}", "unlabeled")

    return step


def _human_ids(w: World) -> list[int]:
    return [c.id for c in w.comments if c.author.login != BOT]


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    risk: Risk = "low"
    labels: tuple[str, ...] = ("state::awaiting-approval",)
    config: dict[str, Any] = field(default_factory=dict)
    head_sha: str | None = None
    assignees: tuple[str, ...] = ()
    # expectations; None means "not checked"
    state: str | None = None
    approvers: tuple[str, ...] | None = None
    granted: set[str] | None = None
    denied: set[tuple[str, str]] | None = None
    lapsed: set[tuple[str, str]] | None = None
    reactions: dict[int, set[str]] | None = None
    has: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    final_assignees: tuple[str, ...] | None = None
    upserts: dict[str, int] = field(default_factory=dict)
    applied: set[str] | None = None
    no_status: bool = False


HIGH_TEAM = {"approvers": {"teams": ["ops-approvers"]}}

CASES: list[Case] = [
    # --- where a command counts -------------------------------------------------------
    Case(
        "plain approve by an admin",
        (say("alice", "/approve"),),
        state="approved",
        approvers=("alice",),
        granted={"alice"},
        denied=set(),
        reactions={1: {"eyes", "+1"}},
        applied={"approve"},
    ),
    Case(
        "quoted approve in a reply",
        (say("alice", "> /approve\n\nwhat do you think?"),),
        state="awaiting-approval",
        approvers=(),
        granted=set(),
        reactions={1: set()},
    ),
    Case(
        "lazy continuation of a quote stays quoted",
        (say("alice", "> earlier text\n/approve"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "approve after a quote and a blank line",
        (say("alice", "> earlier text\n\n/approve"),),
        state="approved",
        granted={"alice"},
    ),
    Case(
        "approve in a fenced block",
        (say("alice", "```\n/approve\n```"),),
        state="awaiting-approval",
        granted=set(),
        reactions={1: set()},
    ),
    Case(
        "approve in a tilde fence",
        (say("alice", "~~~md\n/approve\n~~~"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case("approve in inline code", (say("alice", "`/approve`"),), state="awaiting-approval", granted=set()),
    Case(
        "approve in inline code spanning lines",
        (say("alice", "try `this\n/approve` later"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "approve in an HTML comment",
        (say("alice", "<!--\n/approve\n-->"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "approve in an inline HTML comment",
        (say("alice", "note <!--\n/approve\n--> end"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "approve in an indented code block",
        (say("alice", "example:\n\n    /approve"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "approve in the middle of a line",
        (say("alice", "I would /approve this"),),
        state="awaiting-approval",
        granted=set(),
        reactions={1: set()},
    ),
    Case("uppercase APPROVE", (say("alice", "/APPROVE"),), state="approved", granted={"alice"}),
    Case(
        "approve with trailing text is a note",
        (say("alice", "/approve looks good, ship it"),),
        state="approved",
        granted={"alice"},
    ),
    Case(
        "look-alike division slash",
        (say("alice", "\u2215approve"),),
        state="awaiting-approval",
        granted=set(),
        reactions={1: set()},
    ),
    Case(
        "look-alike fullwidth slash",
        (say("alice", "\uff0fapprove"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "zero-width space before the slash",
        (say("alice", ZWSP + "/approve"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "zero-width space inside the command",
        (say("alice", "/appr" + ZWSP + "ove"),),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "approvers is not approve",
        (say("alice", "/approvers"),),
        state="awaiting-approval",
        granted=set(),
        reactions={1: {"eyes", "confused"}},
    ),
    # --- who may approve --------------------------------------------------------------
    Case(
        "approve by a bot",
        (say("renovate[bot]", "/approve"),),
        state="awaiting-approval",
        granted=set(),
        denied={("renovate[bot]", "bot_author")},
        reactions={1: set()},
        upserts={"denied-renovate[bot]": 0},
    ),
    Case(
        "approve by the pipeline itself",
        (say(BOT, "/approve"),),
        state="awaiting-approval",
        granted=set(),
        denied=set(),
    ),
    Case(
        "self approval refused",
        (say("olivia", "/approve"),),
        state="awaiting-approval",
        granted=set(),
        denied={("olivia", "self_approval")},
        reactions={1: {"eyes", "-1"}},
        upserts={"denied-olivia": 1},
    ),
    Case(
        "self approval allowed by config",
        (say("olivia", "/approve"),),
        config={"policy": {"allow_self_approval": True}},
        state="approved",
        granted={"olivia"},
    ),
    Case(
        "approve by a read user",
        (say("dave", "/approve"),),
        state="awaiting-approval",
        granted=set(),
        denied={("dave", "insufficient_permission")},
        reactions={1: {"eyes", "-1"}},
        upserts={"denied-dave": 1},
    ),
    Case(
        "label applied by a triage user is removed",
        (label("erin"),),
        state="awaiting-approval",
        granted=set(),
        denied={("erin", "insufficient_permission")},
        lacks=("approval::approved",),
        upserts={"denied-erin": 1},
    ),
    Case(
        "label applied by a maintain user counts",
        (label("carol"),),
        state="approved",
        approvers=("carol",),
        granted={"carol"},
        has=("approval::approved",),
    ),
    Case(
        "label without a known applier is removed",
        (silent_label(),),
        state="awaiting-approval",
        granted=set(),
        lacks=("approval::approved",),
    ),
    Case(
        "approve by a configured team member",
        (say("gina", "/approve"),),
        config=HIGH_TEAM,
        state="approved",
        granted={"gina"},
    ),
    Case(
        "approve by a non-collaborator",
        (say("frank", "/approve"),),
        state="awaiting-approval",
        granted=set(),
        denied={("frank", "not_collaborator")},
        upserts={"denied-frank": 1},
    ),
    Case(
        "listed approver without write when repo permission is required",
        (say("gina", "/approve"),),
        config={"approvers": {"teams": ["ops-approvers"], "require_repo_permission": True}},
        state="awaiting-approval",
        denied={("gina", "not_collaborator")},
    ),
    Case(
        "writer outside the list when repo permission and a list are required",
        (say("bob", "/approve"),),
        config={"approvers": {"users": ["alice"], "require_repo_permission": True}},
        state="awaiting-approval",
        denied={("bob", "insufficient_permission")},
    ),
    Case(
        "edited comment never grants",
        (say("alice", "/approve", edited=True),),
        state="awaiting-approval",
        granted=set(),
        denied={("alice", "edited_comment")},
        reactions={1: {"eyes", "-1"}},
    ),
    Case(
        "approval comment edited after it counted",
        (say("alice", "/approve"), run(), edit_comment(1)),
        head_sha="a1b2c3d4e5f6",
        state="awaiting-approval",
        lapsed={("alice", "edited_comment")},
    ),
    # --- quorum, cancel, veto ---------------------------------------------------------
    Case(
        "approve then cancel in one batch",
        (say("alice", "/approve"), say("alice", "/cancel")),
        state="awaiting-approval",
        granted=set(),
    ),
    Case(
        "cancel after the approval counted",
        (say("alice", "/approve"), run(), say("alice", "/cancel")),
        head_sha="a1b2c3d4e5f6",
        state="awaiting-approval",
        granted={"alice"},
        lapsed={("alice", "cancelled")},
    ),
    Case(
        "cancel withdraws only your own approval",
        (say("alice", "/approve"), say("bob", "/cancel")),
        state="approved",
        granted={"alice"},
    ),
    Case(
        "same person twice for high risk",
        (say("alice", "/approve"), say("alice", "/approve again")),
        risk="high",
        state="awaiting-approval",
        approvers=("alice",),
    ),
    Case(
        "two distinct people for high risk",
        (say("alice", "/approve"), run(), say("bob", "/approve")),
        risk="high",
        state="approved",
        approvers=("alice", "bob"),
        granted={"alice", "bob"},
    ),
    Case(
        "approve then body edit is stale",
        (say("alice", "/approve"), run(), edit_body("Rotate prod too."), say("bob", "/approve")),
        risk="high",
        state="awaiting-approval",
        approvers=("bob",),
        lapsed={("alice", "stale")},
    ),
    Case(
        "approve then a new PR head commit is stale",
        (say("alice", "/approve"), run(), push("ffff000011112222")),
        head_sha="a1b2c3d4e5f6",
        state="awaiting-approval",
        approvers=(),
        lapsed={("alice", "stale")},
    ),
    Case(
        "approve again after a stale lapse counts",
        (say("alice", "/approve"), run(), edit_body("v2"), run(), say("alice", "/approve v2")),
        head_sha="a1b2c3d4e5f6",
        state="approved",
        approvers=("alice",),
    ),
    Case(
        "reject veto",
        (say("carol", "/reject not needed any more"),),
        state="rejected",
        reactions={1: {"eyes", "+1"}},
        applied={"reject"},
    ),
    Case(
        "reject outweighs an approval",
        (say("alice", "/approve"), say("carol", "/reject")),
        state="rejected",
        denied={("alice", "vetoed")},
    ),
    Case(
        "reject then cancel lifts the veto",
        (say("carol", "/reject"), say("carol", "/cancel"), say("alice", "/approve")),
        state="approved",
    ),
    Case(
        "reject by a read user is ignored",
        (say("dave", "/reject spam"),),
        state="awaiting-approval",
        denied={("dave", "insufficient_permission")},
        reactions={1: {"eyes", "-1"}},
        upserts={"denied-dave": 1},
    ),
    # --- hold, retry, assign, help --------------------------------------------------------
    Case(
        "hold blocks publish",
        (say("erin", "/hold security review first"), say("alice", "/approve")),
        head_sha="a1b2c3d4e5f6",
        state="awaiting-approval",
        has=("issueops::hold",),
        granted={"alice"},
        denied={("alice", "held")},
    ),
    Case(
        "hold then unhold by a writer opens the gate",
        (say("erin", "/hold"), say("alice", "/approve"), run(), say("bob", "/unhold")),
        state="approved",
        lacks=("issueops::hold",),
    ),
    Case(
        "unhold by a read user is denied",
        (say("alice", "/hold"), run(), say("dave", "/unhold")),
        has=("issueops::hold",),
        denied={("dave", "insufficient_permission")},
        upserts={"denied-dave": 1},
    ),
    Case(
        "hold on an already held item is a no-op",
        (say("alice", "/hold"), run(), say("bob", "/hold")),
        has=("issueops::hold",),
        reactions={2: {"eyes", "+1"}},
    ),
    Case("edited comment still holds", (say("erin", "/hold", edited=True),), has=("issueops::hold",)),
    Case(
        "hold by a read user is refused with the reason",
        (say("dave", "/hold"),),
        lacks=("issueops::hold",),
        denied={("dave", "hold_not_allowed")},
        reactions={1: {"eyes", "-1"}},
        upserts={"denied-dave": 1},
    ),
    Case(
        "hold by a non-collaborator is refused",
        (say("frank", "/hold stop everything"),),
        lacks=("issueops::hold",),
        denied={("frank", "not_collaborator")},
        upserts={"denied-frank": 1},
    ),
    Case(
        "hold by a stranger is refused from the association alone",
        (say("mallory", "/hold", association="NONE"),),
        lacks=("issueops::hold",),
        denied={("mallory", "not_collaborator")},
        reactions={1: {"eyes", "-1"}},
        upserts={"denied-mallory": 1},
    ),
    Case(
        "hold by the item's author, whatever their permission",
        (say("olivia", "/hold", association="NONE"),),
        has=("issueops::hold",),
        applied={"hold"},
    ),
    Case(
        "the author's hold is refused when the config says so",
        (say("olivia", "/hold"),),
        config={"commands": {"hold": {"author": False, "permission": "admin"}}},
        lacks=("issueops::hold",),
        denied={("olivia", "hold_not_allowed")},
    ),
    Case(
        "hold by a person named in commands.hold.users",
        (say("mallory", "/hold", association="NONE"),),
        config={"commands": {"hold": {"users": ["Mallory"]}}},
        has=("issueops::hold",),
    ),
    Case(
        "hold needs write when configured so",
        (say("erin", "/hold"),),
        config={"commands": {"hold": {"permission": "write"}}},
        lacks=("issueops::hold",),
        denied={("erin", "hold_not_allowed")},
    ),
    Case(
        "a stranger's approve is refused without a lookup",
        (say("mallory", "/approve", association="FIRST_TIMER"),),
        state="awaiting-approval",
        denied={("mallory", "not_collaborator")},
    ),
    Case(
        "a configured approver is never a stranger",
        (say("mallory", "/approve", association="NONE"),),
        config={"approvers": {"users": ["mallory"]}},
        state="approved",
        granted={"mallory"},
    ),
    Case(
        "a contributor still goes to the permission endpoint",
        (say("bob", "/approve", association="CONTRIBUTOR"),),
        state="approved",
        granted={"bob"},
    ),
    Case(
        "association checks can be turned off",
        (say("bob", "/approve", association="NONE"),),
        config={"commands": {"refusals": {"by_association": False}}},
        state="approved",
    ),
    Case(
        "retry returns to the state before failing",
        (failed_after("in-progress"), say("bob", "/retry")),
        labels=(),
        state="in-progress",
        applied={"retry"},
    ),
    Case(
        "retry after failing from approved",
        (failed_after("approved"), say("bob", "/retry")),
        labels=(),
        state="approved",
    ),
    Case(
        "retry on an item that is not failed",
        (say("bob", "/retry"),),
        state="awaiting-approval",
        reactions={1: {"eyes", "confused"}},
        applied=set(),
    ),
    Case(
        "retry by a read user is denied",
        (failed_after("in-progress"), say("dave", "/retry")),
        labels=(),
        state="failed",
        denied={("dave", "insufficient_permission")},
    ),
    Case(
        "assign and unassign",
        (say("alice", "/assign @bob @carol"), run(), say("alice", "/unassign @carol")),
        final_assignees=("bob",),
        applied={"assign", "unassign"},
    ),
    Case(
        "assign by a read user is denied",
        (say("dave", "/assign @dave"),),
        final_assignees=(),
        denied={("dave", "insufficient_permission")},
    ),
    Case(
        "unassign yourself needs no permission",
        (say("dave", "/unassign @dave"),),
        assignees=("dave",),
        final_assignees=(),
    ),
    Case(
        "assign without a login is confused",
        (say("alice", "/assign bob"),),
        final_assignees=(),
        reactions={1: {"eyes", "confused"}},
    ),
    Case(
        "help answers with the table",
        (say("frank", "/help"),),
        reactions={1: {"eyes", "+1"}},
        upserts={"help": 1},
        state="awaiting-approval",
    ),
    Case(
        "help twice answers once", (say("frank", "/help"), run(), say("dave", "/help")), upserts={"help": 1}
    ),
    Case(
        "several commands in one comment",
        (say("alice", "/hold wait for the window\n/assign @bob\n/help"),),
        has=("issueops::hold",),
        final_assignees=("bob",),
        upserts={"help": 1},
        reactions={1: {"eyes", "+1"}},
    ),
    Case(
        "unauthorized person tries five times",
        tuple(s for _ in range(5) for s in (say("dave", "/approve"), run())),
        upserts={"denied-dave": 1},
        denied={("dave", "insufficient_permission")},
    ),
    Case(
        "commands on a closed item get one note",
        (close(), say("alice", "/approve"), say("bob", "/hold")),
        state="awaiting-approval",
        granted=set(),
        lacks=("issueops::hold",),
        reactions={1: set(), 2: set()},
        upserts={"closed": 1, "status": 0},
    ),
    Case(
        "no commands and not awaiting: nothing said",
        (say("dave", "thanks!"),),
        labels=("state::in-progress",),
        no_status=True,
        reactions={1: set()},
    ),
    Case(
        "help on a triage item is answered once and stays quiet",
        (say("frank", "/help"), run(), run()),
        labels=("state::triage",),
        upserts={"help": 1},
        reactions={1: {"eyes", "+1"}},
    ),
    Case("medium risk needs one approval", (say("bob", "/approve"),), risk="medium", state="approved"),
    Case(
        "configured quorum of three for high risk",
        (say("alice", "/approve"), say("bob", "/approve"), say("carol", "/approve")),
        risk="high",
        config={"policy": {"required_approvals": {"low": 1, "medium": 1, "high": 3}}},
        state="approved",
    ),
    Case(
        "reject still applies while held",
        (say("alice", "/hold"), run(), say("carol", "/reject")),
        state="rejected",
        has=("issueops::hold",),
    ),
    Case(
        "reject from triage",
        (say("bob", "/reject duplicate of #4"),),
        labels=("state::triage",),
        state="rejected",
    ),
    Case(
        "cancel after approval stays approved when no gate requires it",
        (say("alice", "/approve"), run(), say("alice", "/cancel")),
        config={"policy": {"profile": "autonomous"}},
        state="approved",
        lapsed={("alice", "cancelled")},
    ),
    Case(
        "label applied by a bot is removed",
        (label("renovate[bot]"),),
        state="awaiting-approval",
        denied={("renovate[bot]", "bot_author")},
        lacks=("approval::approved",),
        upserts={"denied-renovate[bot]": 0},
    ),
    Case(
        "approval lapses from approved before publishing",
        (say("alice", "/approve"), run(), edit_body("changed scope")),
        head_sha="a1b2c3d4e5f6",
        state="awaiting-approval",
        lapsed={("alice", "stale")},
    ),
]


def _check(case: Case, w: World) -> None:
    if case.state is not None:
        assert w.state_label() == case.state
    record = w.record()
    if case.approvers is not None:
        counted = tuple(record.counted.values()) if record else ()
        assert sorted(counted) == sorted(case.approvers)
    if case.granted is not None:
        assert {login for login, _ in w.event_pairs("approval.granted")} == case.granted
    if case.denied is not None:
        assert w.event_pairs("approval.denied") == case.denied
    if case.lapsed is not None:
        assert w.event_pairs("approval.lapsed") == case.lapsed
    if case.reactions is not None:
        ids = _human_ids(w)
        for ordinal, expected in case.reactions.items():
            assert w.reacted.get(ids[ordinal - 1], set()) == expected, ordinal
    for name in case.has:
        assert name in w.labels
    for name in case.lacks:
        assert name not in w.labels
    if case.final_assignees is not None:
        assert tuple(w.assignees) == case.final_assignees
    for key, count in case.upserts.items():
        assert w.upserts(key) == count, key
    if case.applied is not None:
        assert {str(e["command"]) for e in w.events if e["event"] == "command.applied"} >= case.applied
        if not case.applied:
            assert not [e for e in w.events if e["event"] == "command.applied"]
    if case.no_status:
        assert w.bot_comment("status") is None


@pytest.mark.parametrize("pass_reacted", [True, False], ids=["with-reactions", "record-only"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, pass_reacted: bool) -> None:
    w = World(
        pass_reacted=pass_reacted,
        config=Config.model_validate(case.config),
        risk=case.risk,
        labels=list(case.labels),
        head_sha=case.head_sha,
        assignees=list(case.assignees),
    )
    for step in case.steps:
        step(w)
    w.run()
    _check(case, w)
    # Replay: the same history again plans nothing and records nothing.
    again = w.plan()
    assert again.actions == []
    assert again.events == []


def test_enough_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


def test_same_history_same_plan() -> None:
    """Determinism: planning twice over one snapshot gives equal plans."""
    w = World(risk="high")
    w.say("alice", "/approve")
    w.say("dave", "/approve")
    w.say("bob", "/hold later\n/assign @carol")
    assert w.plan() == w.plan()


def test_replay_after_crash_before_status_adds_no_reactions() -> None:
    """Reactions landed but the status comment did not: the next run adds no reaction again."""
    w = World()
    comment = w.say("bob", "/hold")
    plan = w.plan()
    w.reacted.update({comment.id: {"eyes", "+1"}})
    w.labels.append("issueops::hold")
    second = w.plan()
    assert [a for a in second.actions if type(a).__name__ == "React"] == []
    assert any(type(a).__name__ == "React" for a in plan.actions)


def test_permission_lookups_are_minimal() -> None:
    w = World()
    w.say("dave", "just a comment")
    w.say("frank", "/hold")
    w.say("mallory", "/hold", association="NONE")  # a stranger: refused without a lookup
    w.say("alice", "/help")
    w.say("bob", "/approve")
    w.say("olivia", "/approve")  # self approval is refused without a lookup
    w.say("olivia", "/hold")  # the author may hold without a lookup
    w.say("erin", "/approve", edited=True)  # edited: refused without a lookup
    w.run()
    assert w.lookups[-1] == {"bob", "frank"}
    w.say("carol", "/unhold")
    w.run()
    assert w.lookups[-1] == {"bob", "carol"}
    w.run()
    assert w.lookups[-1] == {"bob"}  # processed side effects need no lookup any more


def test_lookups_without_config_include_the_author() -> None:
    w = World()
    w.say("olivia", "/approve")
    assert logins_to_check(w.ctx(), BOT) == {"olivia"}
    assert logins_to_check(w.ctx(), BOT, config=Config()) == set()
