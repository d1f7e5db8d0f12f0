"""Issue #23 end to end: a public repository cannot be griefed, over HTTP, through the real CLI.

A stranger (no permission, `author_association` NONE) posts command comments with their own
token; each comment is handled the way its Actions run would handle it: `issueops commands
--event PAYLOAD`, the payload being the issue and the comment as GitHub renders them. The
sandbox's ledger tells what each run cost the bot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from e2e_ops_world import BOT, REPO, USERS, World, scenario

import issueops.app
from issueops.cli import main

ITEMS = 50
WAITING = ["state::awaiting-approval", "workflow::access-request", "risk::medium"]
HOLD = "issueops::hold"
STRANGER = "mallory"
# Every command a stranger might try; none of them may do anything.
FLOOD = ["/hold", "/approve", "/unhold\n/retry", "/assign @mallory", "/reject spam", "/hold\n/aprove"]


def _issues() -> list[dict[str, object]]:
    return [
        {
            "title": f"Access request {n}: grant read on the wiki",
            "user": "paul",
            "labels": WAITING,
            "created_at": "2026-11-23T08:00:00Z",
            "body": f"Please grant access ({n}).\n",
        }
        for n in range(1, ITEMS + 1)
    ]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    data = scenario(_issues(), labels=[HOLD])
    data["private"] = False  # anyone with an account may comment
    data["users"] = [*USERS, {"login": STRANGER, "token": "mallory-token"}]
    w = World(data, tmp_path / "repo")
    monkeypatch.chdir(w.tmp)  # the CLI keeps its cache and refusal log where a checkout does
    monkeypatch.setattr(issueops.app, "SystemClock", lambda: w.clock)
    yield w
    w.stop()


def _counted(w: World) -> int:
    return sum(1 for e in w.sandbox.ledger if e.counted and e.login == BOT)


def _has_pr(w: World, number: int) -> bool:
    return any(
        i.pull is not None and i.pull.head_ref.startswith(f"issueops/{number}-")
        for i in w.sandbox.issues.values()
    )


def _replies(w: World) -> int:
    """Comments the bot posted (each a content-creating write)."""
    return sum(w.bot_comment_posts().values())


Event = Callable[[str, int, str], int]


@pytest.fixture
def event(world: World, tmp_path: Path) -> Event:
    """Someone comments; the commands workflow then runs for that one comment event."""

    def say(login: str, number: int, body: str) -> int:
        comment_id = world.comment(login, number, body)
        path = world.comment_event(tmp_path / f"event-{comment_id}.json", number, comment_id)
        where = ["--repo", REPO, "--api-url", world.url, "--config", str(world.config_path)]
        files = ["--schemas", str(world.opts.schemas_dir), "--telemetry", str(world.telemetry_dir)]
        result = CliRunner().invoke(
            main,
            [*where, *files, "--bot-login", BOT, "commands", "--event", str(path)],
            env={"GITHUB_TOKEN": "bot-token", "GITHUB_EVENT_NAME": "issue_comment"},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return comment_id

    return say


def test_a_strangers_hold_is_refused_and_the_item_keeps_moving(world: World, event: Event) -> None:
    hold = event(STRANGER, 1, "/hold I do not like this")
    assert HOLD not in world.labels(1)
    assert world.bot_reactions(hold) == ["-1"]
    (reply,) = world.bot_comments(1, f"denied-{STRANGER}")
    assert f"@{STRANGER}" in reply and "not a collaborator" in reply
    # The refusal cost the reply, its read of the item's comments and the reaction, plus the
    # overlap check after a marked comment (#14) and the first look for a brake alert (#19, a
    # conditional listing that is free from then on); nothing else.
    assert _counted(world) == 5
    assert {e["reason"] for e in world.events("approval.denied")} == {"not_collaborator"}

    event("carol", 1, "/approve")
    # The approval took effect in its own run (issue #16): processed onwards, nothing froze it;
    # the item now waits at the gate before publishing, with its deliverables' PR.
    assert world.state_labels(1) == {"state::awaiting-approval"} and _has_pr(world, 1)
    summary = world.run("commands", "monitor", "assign", "process", "sweep")
    assert summary.budget_stop is None and summary.items_failed == 0
    assert HOLD not in world.labels(1)


def test_a_flood_of_stranger_commands_costs_little_and_collaborators_still_count(
    world: World, event: Event
) -> None:
    costs: list[int] = []
    replies_before = _replies(world)
    collaborators: list[int] = []
    for round_ in range(4):
        for number in range(1, ITEMS + 1):
            before = _counted(world)
            event(STRANGER, number, FLOOD[(number + round_) % len(FLOOD)])
            costs.append(_counted(world) - before)
            if round_ == 1 and number in (2, 3):
                collaborators.append(event("carol", number, "/approve"))
            if round_ == 2 and number == 4:
                collaborators.append(event("dave", number, "/hold waiting for legal"))  # triage may

    stranger_replies = _replies(world) - replies_before
    assert len(costs) == 200
    assert sum(costs) <= 200, Counter(costs)  # at most 1 counted request per comment on average
    assert stranger_replies <= 50
    # With the defaults (one reply per item a day, silence after 10 refusals a day): the first
    # ten comments cost 3 each (read the comments, reply, react), the other 190 nothing at all.
    # each reply: its read, the reply, the reaction and the overlap check; the first run also
    # makes the brake's first (counted) look for an alert issue
    assert costs[:10] == [5] + [4] * 9 and sum(costs[10:]) == 0, Counter(costs)
    # The other 5: the status cards of the collaborators' items (3), and the hand-off comments of
    # the two approved ones, processed in their approvals' own runs (issue #16).
    assert stranger_replies - 5 == 10
    throttled = Counter(str(e["mode"]) for e in world.events("command.throttled"))
    assert throttled["silent"] == 190

    # Nothing the stranger asked for happened.
    for number in range(1, ITEMS + 1):
        labels = world.labels(number)
        assert not (labels & {"state::rejected", "state::failed"}), number
        assert STRANGER not in world.sandbox.issues[number].assignees
        if number != 4:
            assert HOLD not in labels, number
    # The collaborators' commands in the same flood applied: approved and processed at once.
    for number in (2, 3):
        assert world.state_labels(number) == {"state::awaiting-approval"} and _has_pr(world, number)
    assert HOLD in world.labels(4)
    for comment_id in collaborators:
        assert world.bot_reactions(comment_id) == ["eyes", "+1"]

    # The schedule afterwards has its whole budget: no stop, no failure.
    summary = world.run("commands", "monitor", "assign", "process", "sweep")
    assert summary.budget_stop is None and summary.items_failed == 0
    assert summary.requests_counted < 900
    # ... and the catch-up answered none of the 190 silenced comments.
    assert Counter(str(e["mode"]) for e in world.events("command.throttled")) == throttled
    assert _replies(world) - replies_before - stranger_replies <= ITEMS  # status comments only


def test_a_repeated_refusal_on_one_item_gets_a_reaction_only(world: World, event: Event) -> None:
    first = event(STRANGER, 7, "/approve")
    before = _counted(world)
    again = [event(STRANGER, 7, body) for body in ("/approve please", "/reject")]
    assert _counted(world) - before == 2  # one reaction each, not a read
    assert len(world.bot_comments(7, f"denied-{STRANGER}")) == 1
    assert world.bot_reactions(first) == ["-1"]
    assert [world.bot_reactions(c) for c in again] == [["-1"], ["-1"]]
    modes = [(e["login"], e["mode"], e["refusals"]) for e in world.events("command.throttled")]
    assert modes == [(STRANGER, "react", 2), (STRANGER, "react", 3)]
    # The hourly catch-up finds them answered: no reaction, no reply again.
    reactions = _reactions(world)
    world.run("commands")
    assert _reactions(world) == reactions
    assert len(world.bot_comments(7, f"denied-{STRANGER}")) == 1


def _reactions(w: World) -> int:
    return sum(1 for e in w.sandbox.ledger if e.login == BOT and e.path.endswith("/reactions"))
