"""Issue #13 end to end: approval gates hold against label edits, over HTTP, through PyGithub.

Every case is one item of one sandbox served on a local port. The pipeline first brings the gate
items to their gate (incidents, high risk: before processing; access requests, medium risk:
before publishing, with the deliverable PR open); fresh items are opened afterwards. Then each
person edits labels with their own token, as an attacker would, and the whole pipeline runs
until it settles. Each case asserts the item's final labels, its PR and branch, and the reply.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from e2e_ops_world import BOT, CONFIG, REPO, World, scenario

from issueops.core.model import marker

INCIDENT = "workflow::incident-follow-up"  # risk high: two approvals, a gate before processing
ACCESS = "workflow::access-request"  # risk medium: one approval, a gate before publishing
CONTENT = "workflow::content-review"  # risk low
AWAITING, APPROVED, DONE = "state::awaiting-approval", "state::approved", "state::done"
IN_PROGRESS, TRIAGE, FAILED = "state::in-progress", "state::triage", "state::failed"
HELPER = "helper[bot]"  # an outsider's GitHub App, with write access
ALL = ("commands", "monitor", "assign", "process", "sweep")
# Two approvals for high risk; alice is the only configured approver (she may lower a risk).
FORGERY_CONFIG = CONFIG.replace("high: 1}", "high: 2}").replace("users: []", "users: [alice]")

Stage = Literal["gate1", "gate2", "fresh"]
Step = tuple[str, str, str]  # (login, op, argument): add, remove, comment, close, reopen, run
# (`run`: the commands stage for this item, as the `issue_comment` workflow runs it)


@dataclass(frozen=True)
class Case:
    name: str
    stage: Stage
    steps: tuple[Step, ...]
    state: str
    risk: str | None
    workflow: str
    pr: Literal["none", "open", "merged"]
    reply_to: str | None  # whose `authority-<login>` reply there must be (exactly one reply)
    reply_has: tuple[str, ...] = ()
    fresh_labels: tuple[str, ...] = (TRIAGE,)
    closed: bool = False


def swap(login: str, old: str, new: str) -> tuple[Step, Step]:
    """Replace a label as the web UI does: the new one on, the old one off."""
    return (login, "add", new), (login, "remove", old)


CASES: tuple[Case, ...] = (
    Case(
        "triage user: approved and risk::low on a high-risk incident, then one /approve",
        "gate1",
        (*swap("dave", AWAITING, APPROVED), ("dave", "add", "risk::low"), ("carol", "comment", "/approve")),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "dave",
        (f"`{APPROVED}`", "`risk::low`", f"moved back to `{AWAITING}`", "configured approver"),
    ),
    Case(
        "write user: approved, incident workflow and risk::low on a fresh item, then one /approve",
        "fresh",
        (
            *swap("carol", TRIAGE, APPROVED),
            ("carol", "add", INCIDENT),
            ("carol", "add", "risk::low"),
            ("carol", "comment", "/approve"),
        ),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "carol",
        (f"`{APPROVED}`", f"moved back to `{TRIAGE}`", "`risk::low`"),
    ),
    Case(
        "triage user: approved at the processing gate",
        "gate1",
        swap("dave", AWAITING, APPROVED),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "dave",
        ("a quorum of approvals on the current content",),
    ),
    Case(
        "write user: approved at the processing gate",
        "gate1",
        swap("carol", AWAITING, APPROVED),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "carol",
    ),
    Case(
        "outsider's bot account: approved at the processing gate",
        "gate1",
        swap(HELPER, AWAITING, APPROVED),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        HELPER,
    ),
    Case(
        "the item's author: approved at the processing gate",
        "gate1",
        swap("paul", AWAITING, APPROVED),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "paul",
    ),
    Case(
        "triage user: approved at the publishing gate",
        "gate2",
        swap("dave", AWAITING, APPROVED),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        "dave",
    ),
    Case(
        "write user: approved at the publishing gate",
        "gate2",
        swap("carol", AWAITING, APPROVED),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        "carol",
    ),
    Case(
        "outsider's bot account: approved at the publishing gate",
        "gate2",
        swap(HELPER, AWAITING, APPROVED),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        HELPER,
    ),
    Case(
        "the item's author: approved at the publishing gate",
        "gate2",
        swap("paul", AWAITING, APPROVED),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        "paul",
    ),
    Case(
        "triage user: approved next to awaiting-approval",
        "gate1",
        (("dave", "add", APPROVED),),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "dave",
    ),
    Case(
        "write user: done at the publishing gate",
        "gate2",
        swap("carol", AWAITING, DONE),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        "carol",
        (f"`{DONE}`", f"moved back to `{AWAITING}`"),
    ),
    Case(
        "triage user: done on a fresh item",
        "fresh",
        swap("dave", TRIAGE, DONE),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        "dave",
        (f"`{DONE}`", f"moved back to `{TRIAGE}`"),
        fresh_labels=(TRIAGE, ACCESS),
    ),
    Case(
        "write user: in-progress at the processing gate",
        "gate1",
        swap("carol", AWAITING, IN_PROGRESS),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "carol",
        (f"`{IN_PROGRESS}`",),
    ),
    Case(
        "triage user: in-progress on a fresh incident",
        "fresh",
        swap("dave", TRIAGE, IN_PROGRESS),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "dave",
        fresh_labels=(TRIAGE, INCIDENT),
    ),
    Case(
        "outsider's bot account: in-progress at the processing gate",
        "gate1",
        swap(HELPER, AWAITING, IN_PROGRESS),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        HELPER,
    ),
    Case(
        "triage user: risk lowered to low, then one /approve",
        "gate1",
        (*swap("dave", "risk::high", "risk::low"), ("bob", "comment", "/approve")),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "dave",
        ("`risk::low`", "needs a configured approver"),
    ),
    Case(
        "write user who is no approver: risk lowered, then one /approve",
        "gate1",
        (*swap("carol", "risk::high", "risk::low"), ("bob", "comment", "/approve")),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "carol",
    ),
    Case(
        "the item's author: risk lowered",
        "gate1",
        swap("paul", "risk::high", "risk::low"),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "paul",
    ),
    Case(
        "outsider's bot account: risk lowered",
        "gate1",
        swap(HELPER, "risk::high", "risk::low"),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        HELPER,
    ),
    Case(
        "write user: risk label removed",
        "gate1",
        (("carol", "remove", "risk::high"), ("bob", "comment", "/approve")),
        AWAITING,
        "risk::high",
        INCIDENT,
        "none",
        "carol",
        ("`risk::high` put back",),
    ),
    Case(
        "configured approver lowers the risk; one /approve then opens the gate",
        "gate1",
        (*swap("alice", "risk::high", "risk::low"), ("bob", "comment", "/approve")),
        AWAITING,  # processed (PR opened), now at the publishing gate
        "risk::low",
        INCIDENT,
        "open",
        None,
    ),
    Case(
        "triage user raises the risk: two approvals needed, one given",
        "gate2",
        (("dave", "add", "risk::high"), ("bob", "comment", "/approve")),
        AWAITING,
        "risk::high",  # risk::medium stays too: see the test
        ACCESS,
        "open",
        None,
    ),
    Case(
        "triage user swaps an incident for content review and drops its risk",
        "gate1",
        (*swap("dave", INCIDENT, CONTENT), ("dave", "remove", "risk::high")),
        AWAITING,
        "risk::high",
        CONTENT,
        "none",
        "dave",
        (f"`{CONTENT}`", "went back to `state::assigned`"),
    ),
    Case(
        "write user swaps the workflow at the publishing gate",
        "gate2",
        swap("carol", ACCESS, CONTENT),
        AWAITING,
        "risk::medium",
        CONTENT,
        "open",
        "carol",
        (f"`{CONTENT}`",),
    ),
    Case(
        "triage user sets the workflow of a fresh item (honoured)",
        "fresh",
        (("dave", "add", CONTENT),),
        AWAITING,
        "risk::low",
        CONTENT,
        "open",
        None,
    ),
    Case(
        "forged approved, then a real quorum: the gate opens through the engine",
        "gate2",
        (*swap("dave", AWAITING, APPROVED), ("bob", "comment", "/approve")),
        DONE,
        "risk::medium",
        ACCESS,
        "merged",
        "dave",
        closed=True,
    ),
    Case(
        "triage user: approved, then failed by hand; /retry does not restore approved",
        "gate2",
        (
            *swap("dave", AWAITING, APPROVED),
            *swap("dave", APPROVED, FAILED),
            ("carol", "comment", "/retry"),
        ),
        AWAITING,  # retried from `assigned`: processed again, back at the publishing gate
        "risk::medium",
        ACCESS,
        "open",
        None,
    ),
    Case(
        "two real approvals open the processing gate (control)",
        "gate1",
        (("bob", "comment", "/approve"), ("carol", "comment", "/approve")),
        AWAITING,
        "risk::high",
        INCIDENT,
        "open",
        None,
    ),
    Case(
        "/approve while closed, then reopened (the bot did not run meanwhile)",
        "gate2",
        (("carol", "close", ""), ("bob", "comment", "/approve"), ("carol", "reopen", "")),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        None,
    ),
    Case(
        "/approve while closed, the bot answered it, then reopened",
        "gate2",
        (("carol", "close", ""), ("bob", "comment", "/approve"), (BOT, "run", ""), ("carol", "reopen", "")),
        AWAITING,
        "risk::medium",
        ACCESS,
        "open",
        None,
    ),
    Case(
        "/approve while closed does not count, a new one after reopening does",
        "gate2",
        (
            ("carol", "close", ""),
            ("bob", "comment", "/approve"),
            ("carol", "reopen", ""),
            ("bob", "comment", "/approve"),
        ),
        DONE,
        "risk::medium",
        ACCESS,
        "merged",
        None,
        closed=True,
    ),
)


def _title(index: int, case: Case) -> str:
    return f"Case {index:02d}: {case.name}"


def _gate_item(index: int, case: Case) -> dict[str, Any]:
    if case.stage == "gate1":
        labels, body = [TRIAGE, INCIDENT], "### Severity\n\nsev2\n\nThe database failed over.\n"
    else:
        labels, body = [TRIAGE, ACCESS], "### Request type\n\ngrant\n\nRead access for erin.\n"
    return {"title": _title(index, case), "user": "paul", "labels": labels, "body": body}


@dataclass
class Outcome:
    world: World
    numbers: dict[str, int]
    replay_writes: int


def _apply(w: World, number: int, step: Step) -> None:
    login, op, arg = step
    base = f"/repos/{REPO}/issues/{number}"
    if op == "add":
        w.add_label(login, number, arg)
    elif op == "remove":
        w._call(login, "DELETE", f"{base}/labels/{arg}")
        w.sandbox.clock.advance(60)
    elif op == "comment":
        w.comment(login, number, arg)
    elif op in ("close", "reopen"):
        w._call(login, "PATCH", base, {"state": "closed" if op == "close" else "open"})
        w.sandbox.clock.advance(60)
    elif op == "run":  # the bot answers the comment, as the `issue_comment` workflow does
        w.run("commands", event_item=number)
    else:
        raise AssertionError(f"unknown step {op}")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    gated = [(i, c) for i, c in enumerate(CASES) if c.stage != "fresh"]
    labels = [f"state::{s}" for s in ("triage", "assigned", "in-progress", "awaiting-approval", "approved")]
    labels += [DONE, FAILED, INCIDENT, ACCESS, CONTENT, "risk::low", "risk::medium", "risk::high"]
    data = scenario([_gate_item(i, c) for i, c in gated], labels=labels)
    data["users"].append({"login": HELPER, "token": "helper-token", "permission": "write", "type": "Bot"})
    w = World(data, tmp_path_factory.mktemp("forgery"), config=FORGERY_CONFIG)
    try:
        for _ in range(3):  # assign, process, then the status record: every gate item at its gate
            w.run(*ALL)
        numbers = {c.name: n for n, (_, c) in zip(sorted(w.sandbox.issues), gated, strict=False)}
        for number, (_, case) in zip(sorted(w.sandbox.issues), gated, strict=False):
            assert w.state_labels(number) == {AWAITING}, (case.name, w.labels(number))
        for index, case in enumerate(CASES):
            if case.stage == "fresh":
                body = {
                    "title": _title(index, case),
                    "body": "Fresh item.\n",
                    "labels": list(case.fresh_labels),
                }
                numbers[case.name] = int(w._call("paul", "POST", f"/repos/{REPO}/issues", body)["number"])
        for case in sorted(CASES, key=lambda c: any(op == "run" for _, op, _ in c.steps)):
            for step in case.steps:
                _apply(w, numbers[case.name], step)
        for _ in range(4):
            w.run(*ALL)
        before = w.bot_writes()
        w.run(*ALL)
        yield Outcome(w, numbers, w.bot_writes() - before)
    finally:
        w.stop()


def _pull(w: World, number: int) -> Any:
    pulls = [
        i.pull
        for i in w.sandbox.issues.values()
        if i.pull and i.pull.head_ref.startswith(f"issueops/{number}-")
    ]
    return pulls[-1] if pulls else None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_label_forgery(outcome: Outcome, case: Case) -> None:
    w, number = outcome.world, outcome.numbers[case.name]
    labels = w.labels(number)
    assert w.state_labels(number) == {case.state}, labels
    assert case.workflow in labels and len([x for x in labels if x.startswith("workflow::")]) == 1, labels
    risks = {x for x in labels if x.startswith("risk::")}
    assert case.risk in risks, labels
    if case.name.startswith("triage user raises"):
        assert risks == {"risk::high", "risk::medium"}
    else:
        assert risks == {case.risk}, labels
    issue = w.sandbox.issues[number]
    assert issue.state == ("closed" if case.closed else "open")

    pull = _pull(w, number)
    branches = [ref for ref in w.sandbox.refs if ref.startswith(f"refs/heads/issueops/{number}-")]
    if case.pr == "none":
        assert pull is None and not branches, (pull, branches)
    else:
        assert pull is not None
        assert pull.merged is (case.pr == "merged")
        state = w.sandbox.issues[next(n for n, i in w.sandbox.issues.items() if i.pull is pull)].state
        assert state == ("closed" if case.pr == "merged" else "open")

    replies = [b for b in w.bot_comments(number) if "<!-- issueops:authority-" in b]
    if case.reply_to is None:
        assert replies == []
    else:
        mine = [b for b in replies if marker(f"authority-{case.reply_to.lower()}") in b]
        assert len(mine) == 1 and len(replies) == 1, replies
        assert f"@{case.reply_to}," in mine[0]
        for text in case.reply_has:
            assert text in mine[0], (text, mine[0])


def test_forgery_suite_size() -> None:
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


def test_settled_run_writes_nothing(outcome: Outcome) -> None:
    assert outcome.replay_writes == 0


def test_telemetry_names_each_revert(outcome: Outcome) -> None:
    reverted = outcome.world.events("label.reverted")
    forged = {c.reply_to for c in CASES if c.reply_to is not None}
    assert {e["login"] for e in reverted} == forged
    lowered = outcome.world.events("risk.lowered")
    number = outcome.numbers["configured approver lowers the risk; one /approve then opens the gate"]
    assert [(e["item"], e["login"], e["risk"], e["floor"]) for e in lowered] == [
        (number, "alice", "low", "high")
    ]
    status = outcome.world.bot_comments(number, "status")
    assert status and "Risk lowered to `low`" in status[0] and "@alice" in status[0]


def _one_incident_at_its_gate(tmp: Path) -> World:
    labels = [AWAITING, APPROVED, "risk::low", "risk::high", INCIDENT]
    item = {
        "title": "Incident: cache stampede",
        "user": "paul",
        "labels": [TRIAGE, INCIDENT],
        "body": "### Severity\n\nsev2\n\nThe cache stampeded.\n",
    }
    w = World(scenario([item], labels=labels), tmp, config=FORGERY_CONFIG)
    for _ in range(3):
        w.run(*ALL)
    assert w.state_labels(1) == {AWAITING}
    return w


def test_unreadable_history_fails_closed(tmp_path: Path) -> None:
    """The label history cannot be read: the item fails for the run and nothing passes the gate."""
    w = _one_incident_at_its_gate(tmp_path)
    try:
        for step in swap("carol", AWAITING, APPROVED):
            _apply(w, 1, step)
        w.sandbox.faults.add(status=500, route=r"/issues/1/events$", method="GET", times=None)
        for _ in range(2):
            summary = w.run(*ALL)
            assert summary.items_failed >= 1
        assert w.state_labels(1) == {APPROVED}  # not judged, so not acted on either
        assert _pull(w, 1) is None and not [r for r in w.sandbox.refs if "issueops/1-" in r]
        w.sandbox.faults.clear()
        w.run(*ALL)
        assert w.state_labels(1) == {AWAITING}
        assert len([b for b in w.bot_comments(1) if marker("authority-carol") in b]) == 1
        assert _pull(w, 1) is None
    finally:
        w.stop()


def test_unreadable_permission_fails_closed(tmp_path: Path) -> None:
    """The approver's permission cannot be read: her lowering counts as nobody's, so it is undone."""
    w = _one_incident_at_its_gate(tmp_path)
    try:
        for step in swap("alice", "risk::high", "risk::low"):
            _apply(w, 1, step)
        w.comment("bob", 1, "/approve")
        w.sandbox.faults.add(status=500, route=r"/collaborators/alice/permission$", method="GET", times=None)
        w.run(*ALL)
        assert {x for x in w.labels(1) if x.startswith("risk::")} == {"risk::high"}
        assert w.state_labels(1) == {AWAITING} and _pull(w, 1) is None
        assert w.events("risk.lowered") == []
    finally:
        w.stop()
