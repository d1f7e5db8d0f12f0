"""Orphans: deliverable PRs and branches that lost their item, and items that lost their PR.

Deliverables live on branches `issueops/<number>-<slug>`, so the branch name alone ties a PR or
a branch to its item. Where the rule is clear the sweep repairs (closes the pipeline's own PR of
a closed or deleted item, deletes a deliverable branch nobody will use, fails an in-flight item
whose PR was closed unmerged); everything else is only reported. Pure: see docs/sweep.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from issueops.approvals.activity import is_own, last_labeled, with_marker
from issueops.core.model import (
    Action,
    ClosePullRequest,
    DeleteBranch,
    ItemContext,
    ItemFailure,
    Plan,
    PullRequest,
    Transition,
    UpsertComment,
    WorkItem,
)
from issueops.core.states import State, check_transition, current_state

FAILURE_KEY = "failure"
BRANCH_PREFIX = "issueops/"
_BRANCH = re.compile(r"^issueops/(\d+)(?:-|$)")
_DELIVERABLE = re.compile(r"^issueops/\d+-")  # the only branches the sweep ever deletes
# States in which the item's deliverable PR is expected to be merged eventually.
PR_STATES: frozenset[State] = frozenset({State.IN_PROGRESS, State.AWAITING_APPROVAL, State.APPROVED})
PR_CLOSED = ItemFailure(
    failure_class="permanent",
    failure_code="pr_closed",
    hint="reopen the PR or /retry",
)
REPAIRED_EVENT = "orphan.repaired"

OrphanKind = Literal["pr-item-closed", "pr-item-missing", "branch-without-pr", "pr-closed-unmerged"]


def item_of_branch(branch: str) -> int | None:
    """`issueops/42-disk-full` -> 42; any other branch -> None."""
    match = _BRANCH.match(branch)
    return int(match.group(1)) if match else None


def is_deliverable_branch(branch: str) -> bool:
    """`issueops/<number>-<slug>`, as `process` names them; a bare `issueops/42` is not one."""
    return _DELIVERABLE.match(branch) is not None


@dataclass(frozen=True)
class OrphanFinding:
    kind: OrphanKind
    item: int | None
    branch: str
    detail: str
    pr: int | None = None
    repaired: bool = False  # the sweep repairs it (planned; applied unless --dry-run)

    def line(self) -> str:
        where = f"PR #{self.pr} ({self.branch})" if self.pr is not None else f"branch {self.branch}"
        item = f"#{self.item}" if self.item is not None else "?"
        status = "repaired" if self.repaired else "reported"
        return f"{self.kind}: item {item}, {where}: {self.detail} [{status}]"


@dataclass(frozen=True)
class OrphanReport:
    findings: tuple[OrphanFinding, ...] = ()
    error: str | None = None  # the scan could not run (e.g. the branch listing failed)

    def __bool__(self) -> bool:
        return bool(self.findings) or self.error is not None

    def lines(self) -> list[str]:
        failed = [f"orphan scan not done: {self.error}"] if self.error else []
        return failed + [f.line() for f in self.findings]

    def as_dict(self) -> dict[str, object]:
        return {
            "error": self.error,
            "lines": self.lines(),
            "count": len(self.findings),
            "repaired": sum(1 for f in self.findings if f.repaired),
            "findings": [
                {
                    "kind": f.kind,
                    "item": f.item,
                    "pr": f.pr,
                    "branch": f.branch,
                    "detail": f.detail,
                    "repaired": f.repaired,
                }
                for f in self.findings
            ],
        }


@dataclass
class _Scan:
    """Findings in order, and the repairs gathered per item (one plan each)."""

    findings: list[OrphanFinding] = field(default_factory=list)
    plans: dict[int, Plan] = field(default_factory=dict)

    def report(self, finding: OrphanFinding) -> None:
        self.findings.append(finding)

    def repair(
        self,
        finding: OrphanFinding,
        actions: Sequence[Action],
        events: Sequence[dict[str, object]] = (),
    ) -> None:
        assert finding.item is not None
        self.findings.append(finding)
        plan = self.plans.setdefault(finding.item, Plan(item=finding.item))
        plan.actions += actions
        plan.reasons.append(finding.line())
        plan.events += events
        plan.events.append(
            {
                "event": REPAIRED_EVENT,
                "item": finding.item,
                "kind": finding.kind,
                "pr": finding.pr,
                "branch": finding.branch,
            }
        )


@dataclass(frozen=True)
class _Known:
    """What the scan knows of one item number."""

    number: int
    item: WorkItem | None  # None: not read, or confirmed missing
    missing: bool  # confirmed gone (deleted, transferred)
    held: bool

    @property
    def open(self) -> bool:
        return self.item is not None and self.item.state == "open"

    def closed_or_gone(self) -> bool:
        return self.missing or (self.item is not None and self.item.state == "closed")

    def blocker(self) -> str | None:
        """Why a closed-or-gone item's orphans must not be repaired, if they must not."""
        if self.held:
            return "held: not repaired"
        if not self.closed_or_gone():
            return "not repaired until the item can be read"
        return None

    def describe(self) -> str:
        if self.missing:
            return f"item #{self.number} does not exist (deleted or transferred)"
        if self.item is None:
            return f"item #{self.number} was not read"
        if self.item.state == "closed":
            return f"item #{self.number} is closed ({self.item.state_reason or 'no reason'})"
        return f"item #{self.number} is open"


def plan_orphans(
    items: Sequence[ItemContext | WorkItem],
    pulls: Sequence[PullRequest],
    branches: Sequence[str],
    *,
    bot_login: str,
    now: datetime,
    missing: Collection[int] = (),
    hold_label: str = "issueops::hold",
) -> tuple[OrphanReport, list[Plan]]:
    """Find orphans among our PRs and branches; plan the repairs whose rule is clear.

    `items` should include the closed items our PRs and branches point at; `missing` are numbers
    confirmed not to exist. A number in neither was not read: its orphans are only reported. An
    item passed with its label events can be moved to failed when its PR was closed unmerged;
    without them (a bare WorkItem, or no events read) it is only reported, because a /retry since
    the PR closed cannot be told apart. Returns one plan per item, in item order.
    """
    del now  # part of the stage signature; the rules need no clock today
    contexts = [x if isinstance(x, ItemContext) else ItemContext(x) for x in items]
    by_number = {ctx.item.number: ctx for ctx in contexts}
    gone = set(missing)

    def known(number: int) -> _Known:
        ctx = by_number.get(number)
        item = ctx.item if ctx is not None else None
        held = item is not None and hold_label in item.labels
        return _Known(number, item, item is None and number in gone, held)

    ours: dict[int, list[PullRequest]] = {}
    for pr in pulls:
        number = item_of_branch(pr.head_branch)
        if number is not None:
            ours.setdefault(number, []).append(pr)
    existing = set(branches)
    scan = _Scan()
    for number in sorted(ours):
        prs = sorted(ours[number], key=lambda p: p.number)
        facts = known(number)
        for pr in prs:
            if pr.state == "open" and not facts.open:
                _open_pr(facts, pr, pulls, existing, bot_login, scan)
        ctx = by_number.get(number)
        if ctx is not None:
            _closed_unmerged(ctx, prs, hold_label, scan)
    with_pr = {pr.head_branch for pr in pulls}
    for branch in sorted(existing):
        number = item_of_branch(branch)
        if number is None or branch in with_pr:
            continue
        _branch_without_pr(known(number), branch, scan)
    plans = [scan.plans[n] for n in sorted(scan.plans)]
    return OrphanReport(tuple(scan.findings)), plans


def _open_pr(
    facts: _Known,
    pr: PullRequest,
    pulls: Sequence[PullRequest],
    existing: Collection[str],
    bot_login: str,
    scan: _Scan,
) -> None:
    """An open PR of ours whose item is closed or gone: close it and delete its branch, when the
    pipeline opened it, the item is not held, and the item's fate is known."""
    kind: OrphanKind = "pr-item-missing" if facts.item is None else "pr-item-closed"
    detail = f"the PR is open but {facts.describe()}"
    blocker = facts.blocker()
    if blocker is None and (pr.author is None or not is_own(pr.author, bot_login)):
        author = f"@{pr.author.login}" if pr.author is not None else "an unknown account"
        blocker = f"opened by {author}, not by the pipeline: left to a person"
    if blocker is None and not is_deliverable_branch(pr.head_branch):
        blocker = "not a deliverable branch name: left to a person"
    if blocker is not None:
        scan.report(OrphanFinding(kind, facts.number, pr.head_branch, f"{detail} ({blocker})", pr=pr.number))
        return
    others = [p for p in pulls if p.head_branch == pr.head_branch and p.number != pr.number]
    delete = pr.head_branch in existing and not any(p.state == "open" or p.merged for p in others)
    actions: list[Action] = [
        ClosePullRequest(facts.number, pr.number, kind, _closing_note(facts, pr, deleted=delete))
    ]
    if delete:
        actions.append(DeleteBranch(facts.number, pr.head_branch))
        detail += "; PR closed, branch deleted"
    else:
        detail += "; PR closed (its branch is gone already, or another PR uses it)"
    finding = OrphanFinding(kind, facts.number, pr.head_branch, detail, pr=pr.number, repaired=True)
    scan.repair(finding, actions)


def _closing_note(facts: _Known, pr: PullRequest, *, deleted: bool) -> str:
    why = (
        f"**Closed by issueops:** {facts.describe()}, so this deliverable pull request has nothing "
        "left to deliver."
    )
    if deleted:
        why += f" Its branch `{pr.head_branch}` is deleted with it."
    return (
        f"{why}\n\nTo bring it back: reopen the item, restore the branch from this page and reopen "
        "the pull request, or comment `/retry` on the item to produce the deliverables again.\n"
    )


def _branch_without_pr(facts: _Known, branch: str, scan: _Scan) -> None:
    """A deliverable branch that never had a PR: deleted when its item is closed or gone."""
    if facts.open:
        detail = f"no PR for this branch; {facts.describe()} (process opens the PR if it is in progress)"
        scan.report(OrphanFinding("branch-without-pr", facts.number, branch, detail))
        return
    detail = f"no PR for this branch and {facts.describe()}"
    blocker = facts.blocker()
    if blocker is None and not is_deliverable_branch(branch):
        blocker = "not a deliverable branch name: left to a person"
    if blocker is not None:
        scan.report(OrphanFinding("branch-without-pr", facts.number, branch, f"{detail} ({blocker})"))
        return
    detail += "; branch deleted"
    finding = OrphanFinding("branch-without-pr", facts.number, branch, detail, repaired=True)
    scan.repair(finding, [DeleteBranch(facts.number, branch)])


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
    else:
        detail += "; moved to `state::failed`"
    finding = OrphanFinding(
        "pr-closed-unmerged", item.number, pr.head_branch, detail, pr=pr.number, repaired=not (held or blind)
    )
    if not finding.repaired:
        scan.report(finding)
        return
    failed = pr_closed_plan(item, state, pr)
    scan.repair(finding, failed.actions, failed.events)


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
