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

from issueops.activity import last_labeled, with_marker
from issueops.model import (
    ItemContext,
    ItemFailure,
    Plan,
    PullRequest,
    Transition,
    UpsertComment,
    WorkItem,
)
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
    items: Sequence[ItemContext | WorkItem],
    pulls: Sequence[PullRequest],
    branches: Sequence[str],
    *,
    bot_login: str,
    now: datetime,
    hold_label: str = "issueops::hold",
) -> tuple[OrphanReport, list[Plan]]:
    """Find orphans among our PRs and branches, and plan what the model's actions can repair.

    `items` should include closed items (a PR whose item is merely absent from `items` is
    reported as `pr-item-missing`). An item passed with its label events can be moved to failed
    when its PR was closed unmerged; without them (a bare WorkItem, or no events read) it is only
    reported, because a /retry since the PR closed cannot be told apart.
    """
    del bot_login, now  # part of the stage signature; the rules need neither today
    contexts = [x if isinstance(x, ItemContext) else ItemContext(x) for x in items]
    by_number = {ctx.item.number: ctx for ctx in contexts}
    ours: dict[int, list[PullRequest]] = {}
    for pr in pulls:
        number = item_of_branch(pr.head_branch)
        if number is not None:
            ours.setdefault(number, []).append(pr)
    scan = _Scan()
    for number in sorted(ours):
        prs = sorted(ours[number], key=lambda p: p.number)
        ctx = by_number.get(number)
        for pr in prs:
            if pr.state == "open":
                _open_pr(number, pr, ctx.item if ctx else None, scan)
        if ctx is not None:
            _closed_unmerged(ctx, prs, hold_label, scan)
    with_pr = {pr.head_branch for pr in pulls}
    for branch in sorted(set(branches)):
        number = item_of_branch(branch)
        if number is None or branch in with_pr:
            continue
        found = by_number.get(number)
        if found is not None and found.item.state == "open":
            detail = (
                f"no PR for this branch; item #{number} is open (process opens the PR if it is in progress)"
            )
            needs = None
        else:
            detail = f"no PR for this branch and item #{number} is {'closed' if found else 'not found'}"
            needs = "DeleteBranch"
        scan.findings.append(OrphanFinding("branch-without-pr", number, branch, detail, needs=needs))
    return OrphanReport(tuple(scan.findings)), scan.plans


def _open_pr(number: int, pr: PullRequest, item: WorkItem | None, scan: _Scan) -> None:
    """An open PR of ours is an orphan when its item is gone or closed."""
    if item is None:
        detail = "the PR is open but its item was not found (deleted, transferred or not read)"
        kind: OrphanKind = "pr-item-missing"
    elif item.state == "closed":
        detail = f"the PR is open but item #{number} is closed ({item.state_reason or 'no reason'})"
        kind = "pr-item-closed"
    else:
        return
    needs = "ClosePullRequest and DeleteBranch"
    scan.findings.append(OrphanFinding(kind, number, pr.head_branch, detail, pr=pr.number, needs=needs))


def abandoned_pr(ctx: ItemContext, prs: Sequence[PullRequest]) -> tuple[State, PullRequest] | None:
    """(state, PR) when an in-flight item's newest PR was closed unmerged, no other PR is open or
    merged, and the item has not re-entered its state since the PR closed (that is a /retry:
    `process` opens a new PR, as it does in process.py)."""
    item = ctx.item
    state = current_state(item.labels)
    if item.state != "open" or state is None or state not in PR_STATES or not prs:
        return None
    if any(p.state == "open" or p.merged for p in prs):
        return None  # still under review, or delivered (drift repair / process move it to done)
    pr = max(prs, key=lambda p: p.number)
    entered = last_labeled(ctx.label_events, state.label)
    if entered is not None and pr.updated_at is not None and entered > pr.updated_at:
        return None
    return state, pr


def _closed_unmerged(ctx: ItemContext, prs: list[PullRequest], hold_label: str, scan: _Scan) -> None:
    found = abandoned_pr(ctx, prs)
    if found is None:
        return
    state, pr = found
    item = ctx.item
    held = hold_label in item.labels
    blind = not ctx.label_events
    detail = f"item #{item.number} is `{state.label}` but its PR was closed without merging"
    if held:
        detail += " (held: not repaired)"
    elif blind:
        detail += " (label history not read: not repaired, a /retry cannot be ruled out)"
    scan.findings.append(
        OrphanFinding(
            "pr-closed-unmerged",
            item.number,
            pr.head_branch,
            detail,
            pr=pr.number,
            repaired=not (held or blind),
        )
    )
    if not (held or blind):
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
