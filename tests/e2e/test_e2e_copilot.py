"""Issue #25 end to end, over HTTP: the Copilot hand-off as GitHub documents it, its pull request
followed to `done`, back to the owner when it fails, the hand-off's SLA, and the KPIs computed
from the telemetry of these very runs.

The sandbox plays the coding agent: the assignee is taken only from a user token and only when
the agent is enabled (scenario key `copilot`); after `delay_minutes` it opens a draft PR from
`copilot/fix-<n>` with `Fixes #<n>`, recorded on the issue's timeline as `cross-referenced`,
and marks it ready after `work_minutes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_ops_world import CONFIG, REPO, World, scenario

from issueops.telemetry.report import build_report

HOUR = 3600.0
WF = "workflow::content-review"  # hand_off.mode: copilot, risk low: a gate before publishing
USER_TOKEN = {"GITHUB_TOKEN": "bot-token", "ISSUEOPS_COPILOT_TOKEN": "carol-token"}
INSTALLATION_TOKEN = {"GITHUB_TOKEN": "bot-token", "ISSUEOPS_COPILOT_TOKEN": "bot-token"}
COPILOT_CONFIG = CONFIG + "copilot:\n  custom_agent: reviewer\n"


def _item(title: str) -> dict[str, Any]:
    labels = ["state::assigned", WF, "risk::low"]
    return {"title": title, "user": "paul", "labels": labels, "assignees": ["carol"], "body": f"{title}.\n"}


def _world(tmp: Path, *, delay_minutes: float = 30, enabled: bool = True) -> World:
    data = scenario([_item("Review the launch post"), _item("Review the pricing page")])
    data["copilot"] = {"enabled": enabled, "delay_minutes": delay_minutes, "work_minutes": 60}
    return World(data, tmp, config=COPILOT_CONFIG)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = _world(tmp_path)
    yield w
    w.stop()


def _status(w: World, number: int) -> str:
    bodies = w.bot_comments(number, "copilot")
    assert len(bodies) == 1, bodies
    return bodies[0]


def _copilot_pr(w: World, number: int) -> int:
    pulls = [
        i for i in w.sandbox.issues.values() if i.pull is not None and f"Fixes #{number}" in (i.body or "")
    ]
    assert len(pulls) == 1
    assert pulls[0].pull is not None and pulls[0].pull.head_ref == f"copilot/fix-{number}"
    return pulls[0].number


def test_user_token_hand_off_pr_followed_to_done(world: World) -> None:
    w = world
    w.run("process", env=USER_TOKEN)
    assignees = w.sandbox.issues[1].assignees
    assert "Copilot" in assignees and "carol" in assignees, "assigned the documented way, read back"
    assert "Handed to Copilot" in _status(w, 1)
    assert w.state_labels(1) == {"state::in-progress"}
    assert not [i for i in w.sandbox.issues.values() if i.pull is not None], "Copilot's PR delivers"
    post = next(e for e in w.sandbox.ledger if e.method == "POST" and e.path.endswith("/issues/1/assignees"))
    assert post.login == "carol", "the assignment goes out with the user token, not the bot's"

    before = w.bot_writes()
    w.run("process", env=USER_TOKEN)
    assert w.bot_writes() == before, "no PR yet: nothing to do, nothing written"

    w.clock_advance(31 * 60)  # the agent opens its draft PR
    w.run("process", env=USER_TOKEN)
    pr = _copilot_pr(w, 1)
    assert f"Copilot opened pull request #{pr}" in _status(w, 1)
    assert "draft" in _status(w, 1)
    assert w.state_labels(1) == {"state::in-progress"}, "a draft is not gated yet"

    w.clock_advance(61 * 60)  # ready for review: the publish gate
    w.run("commands", "process", env=USER_TOKEN)
    assert w.state_labels(1) == {"state::awaiting-approval"}

    w.comment("alice", 1, "/approve")
    w.run("commands", "process", env=USER_TOKEN)
    assert w.sandbox.issues[pr].pull.merged  # type: ignore[union-attr]
    assert w.state_labels(1) == {"state::done"} and w.sandbox.issues[1].state == "closed"
    assert f"#{pr} was merged" in _status(w, 1)

    before = w.bot_writes()
    w.run("commands", "process", "sweep", env=USER_TOKEN)
    assert w.bot_writes() == before, "a second run changes nothing"
    opened = w.events("copilot.pr_opened")
    merged = w.events("copilot.pr_merged")
    assert [(e["item"], e["hours_to_pr"]) for e in opened if e["item"] == 1] == [(1, 0.5)]
    assert [e["item"] for e in merged] == [1] and merged[0]["hours_to_merge"] > 1.5


def test_person_merging_copilots_pr_makes_the_item_done(world: World) -> None:
    w = world
    w.run("process", env=USER_TOKEN)
    w.clock_advance(2 * HOUR)
    w.run("process", env=USER_TOKEN)  # PR seen, ready: gated
    pr = _copilot_pr(w, 2)
    w._call("carol", "PUT", f"/repos/{REPO}/pulls/{pr}/merge", {"merge_method": "squash"})
    w.run("process", env=USER_TOKEN)
    assert w.state_labels(2) == {"state::done"}
    assert [e["pr"] for e in w.events("copilot.pr_merged") if e["item"] == 2] == [pr]


def test_installation_token_refusal_is_reported_and_the_owner_takes_over(world: World) -> None:
    w = world
    w.run("process", env=INSTALLATION_TOKEN)
    assert "Copilot" not in w.sandbox.issues[1].assignees
    status = _status(w, 1)
    assert "Copilot could not be assigned" in status and "not among the assignees" in status
    assert "ISSUEOPS_COPILOT_TOKEN" in status and "installation token" in status
    assert "@carol owns this item" in status
    assert [e["reason"] for e in w.events("copilot.refused") if e["item"] == 1] == ["dropped"]
    assert not w.events("copilot.handed_off")
    w.run("process", env=INSTALLATION_TOKEN)  # the owner's path: the drafts on issueops' branch
    heads = {i.pull.head_ref for i in w.sandbox.issues.values() if i.pull is not None}
    assert any(h.startswith("issueops/1-") for h in heads)
    assert len(w.bot_comments(1, "copilot")) == 1


def test_tokens_never_reach_telemetry(world: World) -> None:
    world.run("process", env=USER_TOKEN)
    text = "".join(p.read_text() for p in world.telemetry_dir.rglob("*.jsonl"))
    assert "carol-token" not in text and "bot-token" not in text


def test_pr_closed_unmerged_goes_back_to_the_owner(world: World) -> None:
    w = world
    w.run("process", env=USER_TOKEN)
    w.clock_advance(40 * 60)
    w.run("process", env=USER_TOKEN)
    pr = _copilot_pr(w, 1)
    w._call("carol", "PATCH", f"/repos/{REPO}/pulls/{pr}", {"state": "closed"})
    w.run("process", "sweep", env=USER_TOKEN)
    assert "Copilot" not in w.sandbox.issues[1].assignees and "carol" in w.sandbox.issues[1].assignees
    assert "Back to @carol" in _status(w, 1) and f"#{pr} was closed without merging" in _status(w, 1)
    # Back with its owner, the item goes on as an owner's item does, in the same run since issue
    # #16 (it took two more runs before): the pipeline's drafts PR opens, then the publishing gate.
    assert w.state_labels(1) == {"state::awaiting-approval"}
    assert any(i.pull and i.pull.head_ref.startswith("issueops/1-") for i in w.sandbox.issues.values())
    returned = [e for e in w.events("copilot.returned") if e["item"] == 1]
    assert [(e["reason"], e["pr"]) for e in returned] == [("pr_closed", pr)]
    before = len(w.events("copilot.returned"))
    w.run("process", "sweep", env=USER_TOKEN)
    assert len(w.events("copilot.returned")) == before


def test_no_pr_within_the_sla_reminder_escalation_manual_review(tmp_path: Path) -> None:
    w = _world(tmp_path, delay_minutes=60 * 24 * 30)  # the agent never gets to it
    try:
        w.run("process", env=USER_TOKEN)
        w.clock_advance(73 * HOUR)
        w.run("process", "sweep", env=USER_TOKEN)
        assert len(w.bot_comments(1, "copilot-reminder")) == 1
        assert "@carol" in w.bot_comments(1, "copilot-reminder")[0]
        assert not w.bot_comments(1, "copilot-escalation")
        before = w.bot_writes()
        w.run("sweep", env=USER_TOKEN)
        assert w.bot_writes() == before
        w.clock_advance(96 * HOUR)  # day 7
        w.run("process", "sweep", env=USER_TOKEN)
        escalation = w.bot_comments(1, "copilot-escalation")
        assert len(escalation) == 1 and "@acme/ops-leads" in escalation[0]
        assert "issueops::needs-human" not in w.labels(1)
        w.clock_advance(168 * HOUR)  # day 14
        w.run("process", "sweep", env=USER_TOKEN)
        assert len(w.bot_comments(1, "copilot-review")) == 1
        assert "issueops::needs-human" in w.labels(1)
        rungs = [(e["item"], e["rung"]) for e in w.events("copilot.overdue") if e["item"] == 1]
        assert rungs == [(1, "reminder"), (1, "escalation"), (1, "manual_review")]
        assert not w.bot_comments(1, "sla-reminder-"), "not the owner's ladder as well"

        # Drift: a person unassigns Copilot; no PR, nobody works on it: back to the owner.
        w._call("alice", "DELETE", f"/repos/{REPO}/issues/2/assignees", {"assignees": ["Copilot"]})
        w.run("sweep", env=USER_TOKEN)
        assert "Back to @carol" in _status(w, 2)
        assert [e["reason"] for e in w.events("copilot.returned") if e["item"] == 2] == ["no_assignee"]
    finally:
        w.stop()


def test_kpis_from_the_telemetry_of_these_runs(tmp_path: Path) -> None:
    w = _world(tmp_path)
    try:
        w.run("process", env=USER_TOKEN)  # both handed
        w.clock_advance(2 * HOUR)
        w.run("process", env=USER_TOKEN)  # both PRs seen, ready: gated
        first, second = _copilot_pr(w, 1), _copilot_pr(w, 2)
        w._call("carol", "PUT", f"/repos/{REPO}/pulls/{first}/merge", {"merge_method": "squash"})
        w._call("carol", "PATCH", f"/repos/{REPO}/pulls/{second}", {"state": "closed"})
        w.clock_advance(HOUR)
        w.run("process", env=USER_TOKEN)
    finally:
        w.stop()
    usage = build_report(w.telemetry_dir).copilot
    assert usage.hand_offs == 2 and usage.refused == 0
    assert usage.time_to_pr.n == 2 and usage.time_to_pr.p50 == 0.5 * HOUR
    assert usage.time_to_merge.n == 1
    assert usage.within_48h == 1 and usage.within_7d == 1
    assert usage.completion_48h == 0.5 and usage.completion_7d == 0.5
    assert usage.by_workflow == {"content-review": {"hand_offs": 2, "merged": 1, "rate": 0.5}}
    assert usage.abandoned == 1 and usage.blocked == 0


def test_dry_run_hands_off_nothing_and_reports_no_refusal(world: World) -> None:
    summary = world.run("process", env=USER_TOKEN, dry_run=True)
    assert summary.items_failed == 0
    assert world.bot_writes() == 0
    assert not [e for e in world.sandbox.ledger if e.write], "not even the user token writes"
    assert not world.events("copilot.refused")
