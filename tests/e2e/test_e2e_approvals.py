"""Issue #6 end to end: approvals by comment and by label, over HTTP, through the real adapter.

People post comments and apply labels with their own tokens against the sandbox GitHub; the
`commands` stage (and the `issueops commands` CLI, cron path and `--event` path) must end in
exactly the documented states, comments, reactions and telemetry, and write nothing on a replay.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_ops_world import BOT, REPO, World, cli, scenario

AWAITING = ["state::awaiting-approval", "workflow::access-request", "risk::medium"]
APPROVED = {"state::approved", "workflow::access-request", "risk::medium"}
WAITING = {"state::awaiting-approval", "workflow::access-request", "risk::medium"}
HOLD = "issueops::hold"
LABEL = "approval::approved"

# One item per case; paul (write) opened all of them.
CASES = [
    "write user approves",  # 1
    "maintain user approves",  # 2
    "team-granted member approves",  # 3
    "read user approves (x3)",  # 4
    "non-collaborator approves (x3)",  # 5
    "the author approves",  # 6
    "an edited comment approves",  # 7
    "triage user applies the approval label",  # 8
    "maintain user applies the approval label",  # 9
    "a quoted /approve",  # 10
    "/hold, then /approve",  # 11
    "held; /approve, then /unhold",  # 12
]


def _issues() -> list[dict[str, object]]:
    issues: list[dict[str, object]] = []
    for title in CASES:
        labels = AWAITING + ([HOLD] if title.startswith("held;") else [])
        issues.append(
            {
                "title": f"Access: {title}",
                "user": "paul",
                "labels": labels,
                "created_at": "2026-11-23T08:00:00Z",
                "body": f"Please grant access ({title}).\n",
            }
        )
    return issues


Event = tuple[str, int, int | None, str, str]  # (event name, item, comment id, login, body)
Hook = Callable[[Event], None]


def play_history(w: World, after: Hook) -> dict[str, int]:
    """Every person's action, in order; `after` sees each as the webhook event it would raise."""
    ids: dict[str, int] = {}

    def say(key: str, login: str, number: int, body: str) -> None:
        ids[key] = w.comment(login, number, body)
        after(("issue_comment", number, ids[key], login, body))

    def label(login: str, number: int) -> None:
        w.add_label(login, number, LABEL)
        after(("issues", number, None, login, LABEL))

    say("carol#1", "carol", 1, "/approve")
    say("bob#2", "bob", 2, "/approve looks right")
    say("gina#3", "gina", 3, "/approve")
    for attempt in (1, 2, 3):
        say(f"erin#4.{attempt}", "erin", 4, "/approve")
        say(f"frank#5.{attempt}", "frank", 5, "/approve")
    say("paul#6", "paul", 6, "/approve")
    ids["carol#7"] = w.comment("carol", 7, "I will approve once legal replies.")
    w.edit_comment("carol", ids["carol#7"], "/approve")
    after(("issue_comment", 7, ids["carol#7"], "carol", "/approve"))
    label("dave", 8)
    label("bob", 9)
    say("carol#10", "carol", 10, "> /approve\n\nQuoting the runbook, not approving yet.")
    say("dave#11", "dave", 11, "/hold waiting for legal")  # triage may hold
    say("carol#11", "carol", 11, "/approve")
    say("carol#12", "carol", 12, "/approve")
    say("carol#12.unhold", "carol", 12, "/unhold")
    return ids


def _nothing(event: Event) -> None:
    del event


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(scenario(_issues(), labels=[LABEL, HOLD]), tmp_path / "cron")
    yield w
    w.stop()


def test_approvals_cron_path(world: World, cli_clock: Callable[[World], None]) -> None:
    w = world
    ids = play_history(w, _nothing)
    # /unhold on #12 came after its /approve, in the same history: the cron run replays both.
    w.run("commands")

    approved = {1, 2, 3, 9, 12}
    for number in range(1, 13):
        expected = set(APPROVED if number in approved else WAITING)
        if number == 9:
            expected.add(LABEL)  # a counted label stays
        if number == 11:
            expected.add(HOLD)  # held: counted, no transition
        assert w.labels(number) == expected, (number, CASES[number - 1])
    assert LABEL not in w.labels(8), "a triage user's approval label is removed"

    # One status comment per item; one reply per refused person per item.
    for number in range(1, 13):
        assert len(w.bot_comments(number, "status")) == 1, number
    denied = {4: "erin", 5: "frank", 6: "paul", 7: "carol", 8: "dave"}
    for number in range(1, 13):
        replies = [b for b in w.bot_comments(number) if "<!-- issueops:denied-" in b]
        if number in denied:
            assert len(replies) == 1, number
            assert f"<!-- issueops:denied-{denied[number]} -->" in replies[0]
            assert f"@{denied[number]}" in replies[0]
        else:
            assert replies == [], number
    # The label's applier is told why (the reply does not name the label: see the report).
    assert "needs write, maintain or admin permission" in w.bot_comments(8, "denied-dave")[0]
    status_11 = w.bot_comments(11, "status")[0]
    assert "on hold" in status_11

    # Reactions: eyes, then the outcome; none on a quoted (non-)command.
    accepted = ["carol#1", "bob#2", "gina#3", "dave#11", "carol#11", "carol#12", "carol#12.unhold"]
    refused = [k for k in ids if k.startswith("erin#4")] + ["paul#6", "carol#7"]
    for key in accepted:
        assert w.bot_reactions(ids[key]) == ["eyes", "+1"], key
    for key in refused:
        assert w.bot_reactions(ids[key]) == ["eyes", "-1"], key
    # frank is a stranger (author_association NONE): refused outright, no receipt, no lookup
    for key in [k for k in ids if k.startswith("frank#5")]:
        assert w.bot_reactions(ids[key]) == ["-1"], key
    assert w.bot_reactions(ids["carol#10"]) == []

    # Telemetry: who was granted, who was denied and why.
    granted = {(e["item"], e["login"], e["via"]) for e in w.events("approval.granted")}
    assert {(1, "carol", "comment"), (2, "bob", "comment"), (3, "gina", "comment")} <= granted
    assert (9, "bob", "label") in granted and (12, "carol", "comment") in granted
    assert not {g for g in granted if g[0] in (4, 5, 6, 7, 8, 10)}
    reasons = Counter((e["item"], e["login"], e["reason"]) for e in w.events("approval.denied"))
    # Once per refused comment (erin and frank tried three times each), never per run.
    expected_denials = Counter(
        {
            (4, "erin", "insufficient_permission"): 3,
            (5, "frank", "not_collaborator"): 3,
            (6, "paul", "self_approval"): 1,
            (7, "carol", "edited_comment"): 1,
            (8, "dave", "insufficient_permission"): 1,
            (11, "carol", "held"): 1,
        }
    )
    assert reasons == expected_denials
    transitions = Counter(e["item"] for e in w.events("item.transition"))
    assert transitions == Counter({1: 1, 2: 1, 3: 1, 9: 1, 12: 1})

    # More attempts by the same refused people, handled through the CLI: still one reply each.
    w.comment("erin", 4, "/approve please")
    w.comment("frank", 5, "/approve")
    cli_clock(w)
    cli(w, "commands")
    assert len(w.bot_comments(4, "denied-erin")) == 1
    assert len(w.bot_comments(5, "denied-frank")) == 1
    assert w.labels(4) == WAITING and w.labels(5) == WAITING
    expected_denials.update([(4, "erin", "insufficient_permission"), (5, "frank", "not_collaborator")])

    # A replay writes nothing, and no comment was ever posted twice.
    before = w.bot_writes()
    w.run("commands")
    cli(w, "commands")
    assert w.bot_writes() == before
    assert Counter((e["item"], e["login"], e["reason"]) for e in w.events("approval.denied")) == (
        expected_denials
    )
    assert len(w.events("approval.granted")) == 6
    posts = w.bot_comment_posts()
    for number in range(1, 13):
        path = f"/repos/{REPO}/issues/{number}/comments"
        assert posts[path] == len(w.bot_comments(number)), number
        keys = [b.split(" -->", 1)[0] for b in w.bot_comments(number)]
        assert len(keys) == len(set(keys)), (number, keys)


def _payload_for(w: World, tmp: Path, event: Event) -> tuple[Path, str]:
    name, number, comment_id, login, body = event
    path = tmp / f"event-{number}-{comment_id or 'label'}.json"
    if name == "issue_comment":
        assert comment_id is not None
        return w.comment_event(path, number, comment_id), name
    payload = {
        "action": "labeled",
        "issue": {"number": number, "title": f"item {number}", "labels": [{"name": body}]},
        "label": {"name": body},
        "repository": {"full_name": REPO},
        "sender": {"login": login, "type": "User"},
    }
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path, name


def test_event_path_agrees_with_cron_path(tmp_path: Path, cli_clock: Callable[[World], None]) -> None:
    data = scenario(_issues(), labels=[LABEL, HOLD])
    cron = World(data, tmp_path / "cron")
    event = World(data, tmp_path / "event")
    try:
        play_history(cron, _nothing)
        # An event's run continues an item its approval cleared (issue #16: processed, then at
        # the gate before publishing); the schedules do the same in a run of both stages.
        cron.run("commands", "process")

        cli_clock(event)
        replays: list[int] = []

        def on_event(ev: Event) -> None:
            """The Actions run each event triggers, then the same event delivered again."""
            path, name = _payload_for(event, tmp_path, ev)
            cli(event, "commands", "--event", str(path), env={"GITHUB_EVENT_NAME": name})
            before = event.bot_writes()
            cli(event, "commands", "--event", str(path), env={"GITHUB_EVENT_NAME": name})
            replays.append(event.bot_writes() - before)

        play_history(event, on_event)

        assert replays and set(replays) == {0}, replays
        # #5 heard only from frank, a stranger: his comments were answered from the payloads
        # without reading the item, so its status comment is left to the hourly catch-up.
        assert event.bot_comments(5, "status") == []
        before = event.bot_writes()
        event.run("commands")
        assert event.bot_writes() == before + 1 and len(event.bot_comments(5, "status")) == 1
        assert event.final_state() == cron.final_state()
        moved = Counter(e["item"] for e in event.events("item.transition"))
        # approved, in-progress (deliverables and PR), awaiting-approval (before publishing)
        assert moved == Counter({1: 3, 2: 3, 3: 3, 9: 3, 12: 3})
        # The event runs never touched another item (the second #12 event is its /unhold).
        assert event.labels(12) == WAITING and HOLD not in event.labels(12)
        # And a cron run after all the events finds nothing left to do.
        before = event.bot_writes()
        event.run("commands")
        assert event.bot_writes() == before
    finally:
        cron.stop()
        event.stop()


def test_bot_login_is_the_commenter_of_record(world: World) -> None:
    """Every comment and reaction the pipeline wrote came from its own token."""
    play_history(world, _nothing)
    world.run("commands")
    writers = {e.login for e in world.sandbox.ledger if e.write}
    assert BOT in writers
    bot_bodies = [c for c in world.sandbox.comments.values() if "<!-- issueops:" in c.body]
    assert bot_bodies and all(c.user == BOT for c in bot_bodies)
