"""Orphaned PRs and branches, and items whose PR was closed unmerged."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sweep_fakes import ALICE, BOT, BOT_LOGIN, FakeWorld, at, labeled, pull, work_item

from issueops.core.model import (
    Action,
    ClosePullRequest,
    DeleteBranch,
    ItemContext,
    PullRequest,
    Transition,
    UpsertComment,
    WorkItem,
)
from issueops.stages.sweep import item_of_branch, plan_orphans

WF = "workflow::incident"


@dataclass
class Case:
    name: str
    items: list[ItemContext | WorkItem]
    pulls: list[PullRequest] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # findings, in order
    repaired: list[bool] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # every planned action, in order
    missing: tuple[int, ...] = ()


def item(number: int, *labels: str, state: str = "open", reason: str | None = None) -> WorkItem:
    return work_item(labels, number=number, state=state, reason=reason)


def known(number: int, state_label: str, *labels: str, entered: float = 1) -> ItemContext:
    """An item with its label history: it entered `state_label` at `entered` hours."""
    events = (labeled(state_label, BOT, entered),)
    return ItemContext(work_item((state_label, *labels), number=number), (), events)


CLOSED = item(1, "state::rejected", state="closed", reason="not_planned")
DONE_2 = item(2, "state::done", state="closed", reason="completed")
PR_1 = pull(7, branch="issueops/1-disk")
CLOSE_AND_DELETE = ["ClosePullRequest #7", "DeleteBranch issueops/1-disk"]

CASES = [
    Case("nothing orphaned", [item(1, "state::in-progress", WF)], [PR_1], ["issueops/1-disk"]),
    # --- an open PR of ours whose item is closed or gone -----------------------------------------
    Case(
        "the pipeline's open PR, item closed: PR closed, branch deleted",
        [CLOSED],
        [PR_1],
        ["issueops/1-disk"],
        kinds=["pr-item-closed"],
        repaired=[True],
        actions=CLOSE_AND_DELETE,
    ),
    Case(
        "the pipeline's open PR, item closed, branch gone already: PR closed",
        [CLOSED],
        [PR_1],
        kinds=["pr-item-closed"],
        repaired=[True],
        actions=["ClosePullRequest #7"],
    ),
    Case(
        "the pipeline's open PR, item confirmed missing: PR closed, branch deleted",
        [],
        [PR_1],
        ["issueops/1-disk"],
        kinds=["pr-item-missing"],
        repaired=[True],
        actions=CLOSE_AND_DELETE,
        missing=(1,),
    ),
    Case(
        "open PR, item not read: reported",
        [],
        [PR_1],
        ["issueops/1-disk"],
        kinds=["pr-item-missing"],
        repaired=[False],
    ),
    Case(
        "a person's PR on a deliverable branch, item closed: reported",
        [CLOSED],
        [pull(7, branch="issueops/1-disk", author=ALICE)],
        ["issueops/1-disk"],
        kinds=["pr-item-closed"],
        repaired=[False],
    ),
    Case(
        "held closed item: reported",
        [item(1, "state::rejected", "issueops::hold", state="closed", reason="not_planned")],
        [PR_1],
        ["issueops/1-disk"],
        kinds=["pr-item-closed"],
        repaired=[False],
    ),
    Case(
        "a bare issueops/<n> branch is not a deliverable branch: reported",
        [CLOSED],
        [pull(7, branch="issueops/1")],
        ["issueops/1"],
        kinds=["pr-item-closed"],
        repaired=[False],
    ),
    Case(
        "another PR on the same branch was merged: PR closed, branch kept",
        [CLOSED],
        [pull(5, state="closed", merged=True, branch="issueops/1-disk"), PR_1],
        ["issueops/1-disk"],
        kinds=["pr-item-closed"],
        repaired=[True],
        actions=["ClosePullRequest #7"],
    ),
    Case(
        "merged PR of a closed item whose branch remains: left alone",
        [item(1, "state::done", state="closed", reason="completed")],
        [pull(7, state="closed", merged=True, branch="issueops/1-disk")],
        ["issueops/1-disk"],
    ),
    Case(
        "PR closed unmerged, item closed, branch remains: left alone",
        [CLOSED],
        [pull(7, state="closed", branch="issueops/1-disk")],
        ["issueops/1-disk"],
    ),
    Case(
        "a PR not of ours is ignored",
        [],
        [pull(8, branch="feature/login")],
        branches=["feature/login", "main"],
    ),
    # --- a deliverable branch that never had a PR -----------------------------------------------
    Case(
        "branch without a PR, item closed: deleted",
        [DONE_2],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        repaired=[True],
        actions=["DeleteBranch issueops/2-cert-expiry"],
    ),
    Case(
        "branch without a PR, item confirmed missing: deleted",
        [],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        repaired=[True],
        actions=["DeleteBranch issueops/2-cert-expiry"],
        missing=(2,),
    ),
    Case(
        "branch without a PR, item not read: reported",
        [],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        repaired=[False],
    ),
    Case(
        "branch without a PR, item open: reported only",
        [item(2, "state::in-progress", WF)],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        repaired=[False],
    ),
    Case(
        "branch without a PR, held closed item: reported",
        [item(2, "state::done", "issueops::hold", state="closed")],
        branches=["issueops/2-cert-expiry"],
        kinds=["branch-without-pr"],
        repaired=[False],
    ),
    Case(
        "bare issueops/<n> branch without a PR, item closed: reported",
        [DONE_2],
        branches=["issueops/2"],
        kinds=["branch-without-pr"],
        repaired=[False],
    ),
    # --- an in-flight item whose PR was closed unmerged -------------------------------------------
    Case(
        "in progress, PR closed unmerged: failed",
        [known(1, "state::in-progress", WF)],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
        branches=["issueops/1-disk"],
        kinds=["pr-closed-unmerged"],
        repaired=[True],
        actions=["Transition in-progress->failed", "UpsertComment failure"],
    ),
    Case(
        "awaiting approval, PR closed unmerged: failed",
        [known(1, "state::awaiting-approval", WF)],
        [pull(7, state="closed", updated=5, branch="issueops/1-disk")],
        kinds=["pr-closed-unmerged"],
        repaired=[True],
        actions=["Transition awaiting-approval->failed", "UpsertComment failure"],
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
        repaired=[False],
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
        repaired=[False],
    ),
    Case(
        "failed already: nothing to do",
        [item(1, "state::failed", WF)],
        [pull(7, state="closed", branch="issueops/1-disk")],
    ),
]


def _short(action: Action) -> str:
    if isinstance(action, ClosePullRequest):
        return f"ClosePullRequest #{action.pr_number}"
    if isinstance(action, DeleteBranch):
        return f"DeleteBranch {action.branch}"
    if isinstance(action, Transition):
        return f"Transition {action.from_state}->{action.to_state}"
    if isinstance(action, UpsertComment):
        return f"UpsertComment {action.key}"
    return type(action).__name__


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_orphans(case: Case) -> None:
    report, plans = plan_orphans(
        case.items, case.pulls, case.branches, bot_login=BOT_LOGIN, now=at(10), missing=case.missing
    )
    assert [f.kind for f in report.findings] == case.kinds
    assert [f.repaired for f in report.findings] == case.repaired
    assert [_short(a) for p in plans for a in p.actions] == case.actions
    assert len(report.lines()) == len(case.kinds)
    assert report.as_dict()["count"] == len(case.kinds)
    assert report.as_dict()["repaired"] == sum(case.repaired)
    repaired_events = [e for p in plans for e in p.events if e["event"] == "orphan.repaired"]
    assert len(repaired_events) == sum(case.repaired)


def test_one_plan_per_item_with_its_explanation() -> None:
    items = [CLOSED, DONE_2]
    pulls = [PR_1]
    branches = ["issueops/1-disk", "issueops/2-cert", "issueops/2-cert-v2", "feature/x"]
    report, plans = plan_orphans(items, pulls, branches, bot_login=BOT_LOGIN, now=at(10))
    assert [p.item for p in plans] == [1, 2]
    close = plans[0].actions[0]
    assert isinstance(close, ClosePullRequest)
    assert "item #1 is closed (not_planned)" in close.body
    assert "issueops/1-disk` is deleted" in close.body
    assert [_short(a) for a in plans[1].actions] == [
        "DeleteBranch issueops/2-cert",
        "DeleteBranch issueops/2-cert-v2",
    ]
    assert plans[1].reasons == report.lines()[1:]
    event = plans[0].events[0]
    assert event == {
        "event": "orphan.repaired",
        "item": 1,
        "kind": "pr-item-closed",
        "pr": 7,
        "branch": "issueops/1-disk",
    }


def test_a_repaired_world_has_no_orphans_left() -> None:
    """After the repairs (PR closed, branches deleted) the same scan plans nothing."""
    items = [CLOSED, DONE_2]
    closed = pull(7, state="closed", branch="issueops/1-disk")
    report, plans = plan_orphans(items, [closed], [], bot_login=BOT_LOGIN, now=at(11))
    assert plans == [] and not report


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
    failed, repaired = plan.events
    assert failed["event"] == "item.failed" and failed["failure_code"] == "pr_closed"
    assert repaired["event"] == "orphan.repaired" and repaired["kind"] == "pr-closed-unmerged"
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
