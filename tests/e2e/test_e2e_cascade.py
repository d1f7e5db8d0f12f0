"""Issue #16 end to end, over HTTP through the CLI: one `issueops run` moves an item as far as
the policy allows, and an approval takes effect in the `commands --event` run it triggers.

Three fresh items, one per risk (the repository's own workflows: content-review is low,
access-request medium, incident-follow-up high), under `autonomous` and under `assisted`. As
soon as an item waits in `state::awaiting-approval`, the approvers its risk needs comment
`/approve`, and each comment's own event run is started, as the commands workflow would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_ops_world import CONFIG, World, cli, scenario

from issueops.core.comments import CARD_KEY
from issueops.core.model import marker

ITEMS = {
    "low": {
        "title": "Review: blog post draft for Friday",
        "body": "Please proofread https://example.com/blog/draft.md before Friday.\n",
        "labels": ["state::triage", "content"],
    },
    "medium": {
        "title": "Access request: grant deploy permission to svc-release",
        "body": "### Request type\n\ngrant\n\n### Justification\n\nNeeded for the release train.\n",
        "labels": ["state::triage", "access-request"],
    },
    "high": {
        "title": "Incident: checkout API returning 503s",
        "body": "Alerts fired for 20 minutes.\n\n### Severity\n\nsev2\n\nRoot cause: a bad config push.\n",
        "labels": ["state::triage", "incident"],
    },
}
NUMBER = {"low": 1, "medium": 2, "high": 3}
APPROVERS = ("carol", "bob")  # write and maintain; paul opened the items
# high needs two distinct approvals at each of its two gates
REQUIRED = {"low": 1, "medium": 1, "high": 2}


def _config(profile: str) -> str:
    text = CONFIG.replace("profile: assisted", f"profile: {profile}")
    return text.replace("{low: 1, medium: 1, high: 1}", "{low: 1, medium: 1, high: 2}")


def _world(tmp: Path, profile: str) -> World:
    issues = [{**ITEMS[risk], "user": "paul", "created_at": "2026-11-23T08:00:00Z"} for risk in NUMBER]
    return World(
        scenario(issues, labels=["content", "access-request", "incident"]), tmp, config=_config(profile)
    )


def _state(w: World, number: int) -> str:
    (label,) = w.state_labels(number)
    return label.removeprefix("state::")


def _has_pr(w: World, number: int) -> bool:
    return any(
        i.pull is not None and i.pull.head_ref.startswith(f"issueops/{number}-")
        for i in w.sandbox.issues.values()
    )


@pytest.fixture(params=["autonomous", "assisted"])
def drive(
    request: pytest.FixtureRequest, tmp_path: Path, cli_clock: Callable[[World], None]
) -> Iterator[tuple[World, str, dict[int, int]]]:
    """One `issueops run`; then, while an item waits, its approvals and their event runs (each
    delivered twice, as GitHub may: the replay must write nothing)."""
    profile = str(request.param)
    w = _world(tmp_path, profile)
    cli_clock(w)
    event_runs = {n: 0 for n in NUMBER.values()}
    try:
        cli(w, "run")
        approved: set[tuple[int, bool]] = set()
        for _round in range(4):
            waiting = [
                (risk, n)
                for risk, n in NUMBER.items()
                if _state(w, n) == "awaiting-approval" and (n, _has_pr(w, n)) not in approved
            ]
            if not waiting:
                break
            for risk, number in waiting:
                approved.add((number, _has_pr(w, number)))
                for login in APPROVERS[: REQUIRED[risk]]:
                    comment = w.comment(login, number, "/approve")
                    path = w.comment_event(w.tmp / f"event-{comment}.json", number, comment)
                    cli(w, "commands", "--event", str(path), env={"GITHUB_EVENT_NAME": "issue_comment"})
                    event_runs[number] += 1
                    before = w.bot_writes()
                    cli(w, "commands", "--event", str(path), env={"GITHUB_EVENT_NAME": "issue_comment"})
                    assert w.bot_writes() == before, f"#{number}: a replayed event wrote again"
        yield w, profile, event_runs
    finally:
        w.stop()


def test_one_run_and_the_approvals_own_runs_take_every_item_to_done(
    drive: tuple[World, str, dict[int, int]],
) -> None:
    w, profile, event_runs = drive
    assert {risk: _state(w, n) for risk, n in NUMBER.items()} == {r: "done" for r in NUMBER}
    assert all(w.sandbox.issues[n].state == "closed" for n in NUMBER.values())
    for number in NUMBER.values():  # every deliverable's PR was merged by the pipeline
        pulls = [
            i.pull
            for i in w.sandbox.issues.values()
            if i.pull and i.pull.head_ref.startswith(f"issueops/{number}-")
        ]
        assert len(pulls) == 1 and pulls[0].merged, number
    # Low risk needs nobody under autonomous; medium one approval; high two rounds of two.
    low = 0 if profile == "autonomous" else 1
    assert event_runs == {NUMBER["low"]: low, NUMBER["medium"]: 1, NUMBER["high"]: 4}


def test_each_item_gets_one_card_and_one_hand_off_comment(drive: tuple[World, str, dict[int, int]]) -> None:
    w, _profile, _ = drive
    for risk, number in NUMBER.items():
        bodies = w.bot_comments(number)
        cards = [b for b in bodies if b.startswith(marker(CARD_KEY))]
        assert len(cards) == 1, (risk, bodies)
        assert [marker("guidance") in b for b in bodies].count(True) == 1, risk
        assert len(bodies) == 2, (risk, [b.split("\n", 1)[0] for b in bodies])
        card = cards[0]
        assert marker("assessment") in card, risk
        if risk == "low" and _profile == "autonomous":  # no gate: no note, no approval status
            assert marker("gate") not in card and marker("status") not in card, card
            continue
        sections = [card.index(marker(key)) for key in ("assessment", "gate", "status")]
        assert sections == sorted(sections), (risk, card)  # the status with its record comes last
    posts = w.bot_comment_posts()
    assert sum(posts.values()) == 2 * len(NUMBER), posts  # no comment posted and deleted again


def test_a_run_after_the_end_writes_nothing(
    drive: tuple[World, str, dict[int, int]], cli_clock: Callable[[World], None]
) -> None:
    w, _profile, _ = drive
    before = w.bot_writes()
    cli(w, "run")
    cli(w, "run")
    assert w.bot_writes() == before


def _low_world(tmp: Path) -> World:
    issue = {**ITEMS["low"], "user": "paul", "created_at": "2026-11-23T08:00:00Z"}
    return World(scenario([issue], labels=["content"]), tmp, config=_config("autonomous"))


def test_the_budget_is_checked_between_the_steps_of_one_item(tmp_path: Path) -> None:
    """Under every budget from the smallest up to what the whole way takes, a run either takes
    the low-risk item to `done` or stops between two of its steps (never inside one), says so by
    deferring it, and the next run takes it on from there to the same end."""
    ref = _low_world(tmp_path / "ref")
    try:
        whole = ref.run("commands", "monitor", "assign", "process", "sweep").requests_made
        assert _state(ref, 1) == "done"
    finally:
        ref.stop()
    stopped_inside_the_cascade = 0
    for budget in range(10, whole + 6, 3):
        w = _low_world(tmp_path / f"b{budget}")
        try:
            first = w.run("commands", "monitor", "assign", "process", "sweep", max_requests=budget)
            state = _state(w, 1)
            if state != "done":
                assert first.budget_stop is not None, (budget, state)
                if state in ("in-progress", "approved"):  # process began and was stopped between steps
                    stopped_inside_the_cascade += 1
                    assert "process:1" in first.deferred, (budget, first.deferred)
            w.run("commands", "monitor", "assign", "process", "sweep")
            assert _state(w, 1) == "done", budget
            assert w.sandbox.issues[1].state == "closed"
        finally:
            w.stop()
    assert stopped_inside_the_cascade, "some budget must stop the item between two process steps"
