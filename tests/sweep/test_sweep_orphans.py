"""Orphaned PRs and branches, and items whose PR was closed unmerged."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sweep_fakes import BOT, BOT_LOGIN, FakeWorld, at, labeled, pull, work_item

from issueops.model import ItemContext, PullRequest, Transition, UpsertComment, WorkItem
from issueops.stages.sweep import item_of_branch, plan_orphans

WF = "workflow::incident"


@dataclass
class Case:
    name: str
    items: list[ItemContext | WorkItem]
    pulls: list[PullRequest] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # findings, in order
    needs: list[str | None] = field(default_factory=list)
    plans: int = 0


def item(number: int, *labels: str, state: str = "open", reason: str | None = None) -> WorkItem:
    return work_item(labels, number=number, state=state, reason=reason)


def known(number: int, state_label: str, *labels: str, entered: float = 1) -> ItemContext:
    """An item with its label history: it entered `state_label` at `entered` hours."""
    events = (labeled(state_label, BOT, entered),)
    return ItemContext(work_item((state_label, *labels), number=number), (), events)


CASES = [
    Case("nothing orphaned", [item(1, "state::in-progress", WF)], [pull(7, branch="issueops/1-disk")]),
    Case(
        "open PR whose item is closed",
        [item(1, "state::rejected", state="closed", reason="not_planned")],
        [pull(7, branch="issueops/1-disk")],
        kinds=["pr-item-closed"],
        needs=["ClosePullRequest and DeleteBranch"],
    ),
    Case(
        "open PR whose item is gone",
        [],
        [pull(7, branch="issueops/1-disk")],
        kinds=["pr-item-missing"],
        needs=["ClosePullRequest and DeleteBranch"],
    ),
    Case(
        "merged PR of a closed item is fine",
        [item(1, "state::done", state="closed", reason="completed")],
        [pull(7, state="closed", merged=True, branch="issueops/1-disk")],
    ),
    Case(
        "a PR not of ours is ignored",
        [],
        [pull(8, branch="feature/login")],
        branches=["feature/login", "main"],
    ),
    Case(
        "deliverable branch without a PR, item closed",
        [item(2, "state::done", state="closed", reason="completed")],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        needs=["DeleteBranch"],
    ),
    Case(
        "deliverable branch without a PR, item open: reported only",
        [item(2, "state::in-progress", WF)],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        needs=[None],
    ),
    Case(
        "in progress, PR closed unmerged: failed",
        [known(1, "state::in-progress", WF)],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
        branches=["issueops/1-disk"],
        kinds=["pr-closed-unmerged"],
        needs=[None],
        plans=1,
    ),
    Case(
        "awaiting approval, PR closed unmerged: failed",
        [known(1, "state::awaiting-approval", WF)],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
        kinds=["pr-closed-unmerged"],
        needs=[None],
        plans=1,
    ),
    Case(
        "closed PR superseded by a newer open one",
        [item(1, "state::in-progress", WF)],
        [pull(7, state="closed", branch="issueops/1-disk"), pull(9, branch="issueops/1-disk-v2")],
    ),
    Case(
        "held item: reported, not repaired",
        [known(1, "state::in-progress", WF, "issueops::hold")],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
        kinds=["pr-closed-unmerged"],
        needs=[None],
    ),
    Case(
        "retried after the PR was closed: not an orphan (process opens a new PR)",
        [known(1, "state::in-progress", WF, entered=6)],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
    ),
    Case(
        "no label history read: reported, not repaired",
        [item(1, "state::in-progress", WF)],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
        kinds=["pr-closed-unmerged"],
        needs=[None],
    ),
    Case(
        "failed already: nothing to do",
        [item(1, "state::failed", WF)],
        [pull(7, state="closed", branch="issueops/1-disk")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_orphans(case: Case) -> None:
    report, plans = plan_orphans(case.items, case.pulls, case.branches, bot_login=BOT_LOGIN, now=at(10))
    assert [f.kind for f in report.findings] == case.kinds
    assert [f.needs for f in report.findings] == case.needs
    assert len(plans) == case.plans
    assert len(report.lines()) == len(case.kinds)
    assert report.as_dict()["count"] == len(case.kinds)
    assert sum(f.repaired for f in report.findings) == case.plans


def test_closed_pr_fails_the_item_with_a_failure_comment() -> None:
    items = [known(1, "state::in-progress", WF)]
    pulls = [pull(7, state="closed", updated=5, branch="issueops/1-disk")]
    report, plans = plan_orphans(items, pulls, [], bot_login=BOT_LOGIN, now=at(10))
    (plan,) = plans
    transition = next(a for a in plan.actions if isinstance(a, Transition))
    moved = (transition.from_state, transition.to_state, transition.cause)
    assert moved == ("in-progress", "failed", "sweep")
    body = next(a.body for a in plan.actions if isinstance(a, UpsertComment))
    assert "pr_closed" in body and "reopen the PR or /retry" in body
    (event,) = plan.events
    assert event["event"] == "item.failed" and event["failure_code"] == "pr_closed"
    assert report.findings[0].repaired

    world = FakeWorld(items[0])
    world.apply(plan.actions, at(10))
    assert world.state_labels() == ["state::failed"]
    _, again = plan_orphans([world.context()], pulls, [], bot_login=BOT_LOGIN, now=at(11))
    assert again == []


@pytest.mark.parametrize(
    ("branch", "number"),
    [("issueops/42-disk-full", 42), ("issueops/42", 42), ("issueops/x-1", None), ("main", None)],
    ids=["with slug", "bare number", "not a number", "other branch"],
)
def test_item_of_branch(branch: str, number: int | None) -> None:
    assert item_of_branch(branch) == number
