"""Following an item handed to Copilot, as the process stage runs it (reads, then pure plans).

While the hand-off is `handed`, the item's timeline is read (one request) for Copilot's PR;
once the status comment names the PR (`pr-open`), the PR is attached to the item from the
run's PR listing (no further timeline reads) and the ordinary process planner gates, publishes
or finishes it. Until a PR exists, nothing else is planned (the pipeline opens no PR of its own:
Copilot's PR delivers), and the sweep's Copilot SLA watches the wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from issueops.apply import ItemState
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import ItemContext, MergePullRequest, Plan
from issueops.runner import Runtime
from issueops.snapshot import Snapshot
from issueops.stages import copilot
from issueops.stages.assign import choose_owner


def attach_copilot_prs(snap: Snapshot, bot_login: str) -> None:
    """Items whose status comment names Copilot's open PR get it as their PR (after the listing)."""
    by_number = {pr.number: pr for pr in snap.pulls}
    for state in snap.items.values():
        hand_off = _hand_off(state, bot_login)
        if hand_off is not None and hand_off.phase == "pr-open" and hand_off.pr in by_number:
            state.pull_request = by_number[hand_off.pr]


def _hand_off(state: ItemState, bot_login: str) -> copilot.HandOff | None:
    return copilot.read_hand_off(ItemContext(state.item, tuple(state.comments)), bot_login)


def _owner(rt: Runtime, state: ItemState, workflow: WorkflowSchema, hand_off: copilot.HandOff) -> str | None:
    if hand_off.owner:
        return hand_off.owner
    people = [a for a in state.item.assignees if not copilot.is_copilot(a) and a != rt.bot_login]
    return people[0] if people else choose_owner(workflow, rt.config, {}, state.item.number).login


def plan_follow(
    rt: Runtime, state: ItemState, workflow: WorkflowSchema, process: Callable[[ItemContext], Plan]
) -> Plan | None:
    """The plan for an item whose hand-off is followed, or None to process it as usual."""
    ctx = ItemContext(state.item, tuple(state.comments))
    hand_off = copilot.read_hand_off(ctx, rt.bot_login)
    if hand_off is None or hand_off.phase not in copilot.FOLLOWED:
        return None
    number = state.item.number
    record = Plan(number)
    if hand_off.phase == "handed":
        ref = copilot.copilot_pr(rt.port.list_cross_references(number), number)
        listed = {pr.number: pr for pr in (rt.snapshot.pulls if rt.snapshot else [])}
        if ref is None or ref.number not in listed:
            return Plan(number, reasons=[f"#{number}: handed to Copilot, no pull request yet"])
        record = copilot.record_opened(ctx, hand_off, ref, workflow.name, rt.bot_login)
        hand_off = replace(hand_off, phase="pr-open", pr=ref.number, pr_opened_at=ref.created_at)
        state.pull_request = listed[ref.number]
    pr = state.pull_request
    if pr is None or pr.number != hand_off.pr:
        return Plan(number, reasons=[f"#{number}: Copilot's PR #{hand_off.pr} is not listed"])
    if pr.state == "closed" and not pr.merged:
        state.pull_request = None
        back = copilot.back_to_owner(
            ctx,
            hand_off,
            why=f"Copilot's pull request #{pr.number} was closed without merging",
            code="pr_closed",
            workflow=workflow.name,
            owner=_owner(rt, state, workflow, hand_off),
            now=rt.now,
            bot_login=rt.bot_login,
            pr=pr.number,
        )
        return _join(record, back)
    if pr.state == "open" and pr.draft:
        return _join(record, Plan(number, reasons=[f"#{number}: Copilot's PR #{pr.number} is a draft"]))
    step = process(ctx_with(state))
    if pr.merged or any(isinstance(a, MergePullRequest) for a in step.actions):
        merged = pr if pr.merged else replace(pr, merged=True, merged_at=rt.now)
        step = _join(step, copilot.record_merged(ctx, hand_off, merged, workflow.name, rt.now, rt.bot_login))
    return _join(record, step)


def ctx_with(state: ItemState) -> ItemContext:
    return ItemContext(state.item, tuple(state.comments), (), state.pull_request)


def _join(first: Plan, second: Plan) -> Plan:
    return Plan(
        first.item if first.item is not None else second.item,
        [*first.actions, *second.actions],
        [*first.reasons, *second.reasons],
        [*first.events, *second.events],
    )
