"""Orphans: deliverable PRs and branches that lost their item, and items that lost their PR.

Deliverables live on branches `issueops/<number>-<slug>`, so the branch name alone ties a PR or
a branch to its item. What the model's actions can repair (an in-flight item whose PR was
closed unmerged goes to `state::failed`) is planned; what they cannot (closing a PR, deleting a
branch) is only reported, with the action it would need. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from issueops.activity import with_marker
from issueops.model import ItemFailure, Plan, PullRequest, Transition, UpsertComment, WorkItem
from issueops.states import State, check_transition, current_state

FAILURE_KEY = "failure"
BRANCH_PREFIX = "issueops/"
_BRANCH = re.compile(r"^issueops/(\d+)(?:-|$)")
# States in which the item's deliverable PR is expected to be merged eventually.
PR_STATES: frozenset[State] = frozenset({State.IN_PROGRESS, State.AWAITING_APPROVAL, State.APPROVED})
PR_CLOSED = ItemFailure(
    failure_class="permanent",
    failure_code="pr_closed",
    hint="reopen the PR or /retry",
)

OrphanKind = Literal["pr-item-closed", "pr-item-missing", "branch-without-pr", "pr-closed-unmerged"]


def item_of_branch(branch: str) -> int | None:
    """`issueops/42-disk-full` -> 42; any other branch -> None."""
    match = _BRANCH.match(branch)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class OrphanFinding:
    kind: OrphanKind
    item: int | None
    branch: str
    detail: str
    pr: int | None = None
    repaired: bool = False
    needs: str | None = None  # the action that would fix it, when the model has none

    def line(self) -> str:
        where = f"PR #{self.pr} ({self.branch})" if self.pr is not None else f"branch {self.branch}"
        item = f"#{self.item}" if self.item is not None else "?"
        status = "repaired" if self.repaired else (f"needs {self.needs}" if self.needs else "reported")
        return f"{self.kind}: item {item}, {where}: {self.detail} [{status}]"


@dataclass(frozen=True)
class OrphanReport:
    findings: tuple[OrphanFinding, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.findings)

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings]

    def as_dict(self) -> dict[str, object]:
        return {
            "count": len(self.findings),
            "findings": [
                {
                    "kind": f.kind,
                    "item": f.item,
                    "pr": f.pr,
                    "branch": f.branch,
                    "detail": f.detail,
                    "repaired": f.repaired,
                    "needs": f.needs,
                }
                for f in self.findings
            ],
        }


@dataclass
class _Scan:
    findings: list[OrphanFinding] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)


def plan_orphans(
    items: Sequence[WorkItem],
    pulls: Sequence[PullRequest],
    branches: Sequence[str],
    *,
    bot_login: str,
    now: datetime,
    hold_label: str = "issueops::hold",
) -> tuple[OrphanReport, list[Plan]]:
    """Find orphans among our PRs and branches. `items` should include closed items (a PR whose
    item is merely absent from `items` is reported as `pr-item-missing`)."""
    del bot_login, now  # part of the stage signature; the rules need neither today
    by_number = {item.number: item for item in items}
    ours: dict[int, list[PullRequest]] = {}
    for pr in pulls:
        number = item_of_branch(pr.head_branch)
        if number is not None:
            ours.setdefault(number, []).append(pr)
    scan = _Scan()
    for number in sorted(ours):
        prs = sorted(ours[number], key=lambda p: p.number)
        item = by_number.get(number)
        for pr in prs:
            if pr.state != "open":
                continue
            if item is None:
                scan.findings.append(
                    OrphanFinding(
                        "pr-item-missing",
                        number,
                        pr.head_branch,
                        "the PR is open but its item was not found (deleted, transferred or not read)",
                        pr=pr.number,
                        needs="ClosePullRequest and DeleteBranch",
                    )
                )
            elif item.state == "closed":
                scan.findings.append(
                    OrphanFinding(
                        "pr-item-closed",
                        number,
                        pr.head_branch,
                        f"the PR is open but item #{number} is closed ({item.state_reason or 'no reason'})",
                        pr=pr.number,
                        needs="ClosePullRequest and DeleteBranch",
                    )
                )
        if item is not None:
            _closed_unmerged(item, prs, hold_label, scan)
    with_pr = {pr.head_branch for pr in pulls}
    for branch in sorted(set(branches)):
        number = item_of_branch(branch)
        if number is None or branch in with_pr:
            continue
        item = by_number.get(number)
        if item is not None and item.state == "open":
            detail = (
                f"no PR for this branch; item #{number} is open (process opens the PR if it is in progress)"
            )
            needs = None
        else:
            detail = f"no PR for this branch and item #{number} is {'closed' if item else 'not found'}"
            needs = "DeleteBranch"
        scan.findings.append(OrphanFinding("branch-without-pr", number, branch, detail, needs=needs))
    return OrphanReport(tuple(scan.findings)), scan.plans


def _closed_unmerged(item: WorkItem, prs: list[PullRequest], hold_label: str, scan: _Scan) -> None:
    """An in-flight item whose newest deliverable PR was closed unmerged (and none is open)."""
    state = current_state(item.labels)
    if item.state != "open" or state not in PR_STATES or not prs:
        return
    if any(p.state == "open" or p.merged for p in prs):
        return  # still under review, or delivered (the sweep's drift check moves it to done)
    pr = prs[-1]
    held = hold_label in item.labels
    scan.findings.append(
        OrphanFinding(
            "pr-closed-unmerged",
            item.number,
            pr.head_branch,
            f"item #{item.number} is `{state.label}` but its PR was closed without merging"
            + (" (held: not repaired)" if held else ""),
            pr=pr.number,
            repaired=not held,
        )
    )
    if held:
        return
    scan.plans.append(pr_closed_plan(item, state, pr))


def pr_closed_plan(item: WorkItem, state: State, pr: PullRequest) -> Plan:
    """`state::failed` with a failure comment a person can act on."""
    cause = "sweep" if state is State.IN_PROGRESS else "sweep:repair:pr-closed"
    check_transition(state, State.FAILED, cause)
    failure = PR_CLOSED
    body = with_marker(
        FAILURE_KEY,
        (
            f"**Failed** (`{failure.failure_code}`, {failure.failure_class}): the deliverable pull "
            f"request #{pr.number} was closed without being merged, so this item cannot finish.\n\n"
            f"What to do: {failure.hint}. Reopening the PR keeps its history; `/retry` produces the "
            "deliverables again."
        ),
    )
    return Plan(
        item=item.number,
        actions=[
            Transition(item.number, state.value, State.FAILED.value, cause),
            UpsertComment(item.number, FAILURE_KEY, body),
        ],
        reasons=[f"PR #{pr.number} closed unmerged while `{state.label}`: -> `state::failed`"],
        events=[
            {
                "event": "item.failed",
                "item": item.number,
                "failure_class": failure.failure_class,
                "failure_code": failure.failure_code,
                "hint": failure.hint,
                "pr": pr.number,
            }
        ],
    )
