"""Self-repair of the bot's own duplicates (pure): the oldest copy stays, the rest go.

Two runs that overlap (a comment event's run beside the hourly catch-up, a dispatch beside a
schedule) can each find a thing missing and each create it. The invariant every reader already
relies on is "the oldest wins" (`bot_comment` edits the oldest marked comment, `index_existing`
keeps the oldest item of an intake key), so the repair keeps exactly that one and removes the
rest. Every run that reads the repository plans it from what it has read anyway, so duplicates
from before this code existed heal on the next run too, at no extra request when there are none.

- Two of the bot's comments with the same marker on one item: the newer ones are deleted (a
  person's comment is never touched, whatever marker it carries). Of two cards, a section only
  the newer one has is written into the older first, so nothing it said is lost.
- Two open items the bot opened for one intake key (or two open incidents of one health check):
  the newer one says at the top of its body which item it duplicates, is closed as not planned and
  leaves the state machine as `rejected`.
- Two open deliverable PRs the bot opened for one item: the newer one is closed with a note and
  its branch deleted (unless the kept PR uses the same branch).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from issueops.core.comments import CARD_KEY, card_sections, same_login
from issueops.core.model import (
    MARKER_PREFIX,
    Action,
    CloseItem,
    ClosePullRequest,
    Comment,
    DeleteBranch,
    DeleteComment,
    Plan,
    PullRequest,
    UpdateBody,
    UpsertComment,
    WorkItem,
)
from issueops.core.states import State, current_state
from issueops.sources.base import intake_stream
from issueops.stages.common import transition
from issueops.stages.monitor import source_key_of
from issueops.stages.sweep_orphans import item_of_branch

_LEADING_MARKER = re.compile(rf"^\s*<!-- {re.escape(MARKER_PREFIX)}(\S+?) -->")


def marker_key(body: str) -> str | None:
    """The key of the marker a bot comment starts with (`marked` puts it first), or None."""
    found = _LEADING_MARKER.match(body)
    return found.group(1) if found else None


def _event(item: int, kind: str, key: str, kept: int, removed: Sequence[int]) -> dict[str, object]:
    return {
        "event": "repair.duplicate",
        "item": item,
        "kind": kind,
        "key": key,
        "kept": kept,
        "removed": list(removed),
    }


K = TypeVar("K", str, int)
T = TypeVar("T")


def _copies(
    things: Iterable[T], key_of: Callable[[T], K | None], age: Callable[[T], Any]
) -> list[tuple[K, T, list[T]]]:
    """(key, the oldest, the newer ones) for every key that more than one thing carries."""
    by_key: dict[K, list[T]] = defaultdict(list)
    for thing in things:
        if (key := key_of(thing)) is not None:
            by_key[key].append(thing)
    found = []
    for key, group in sorted(by_key.items()):
        kept, *extra = sorted(group, key=age)
        if extra:
            found.append((key, kept, extra))
    return found


def plan_duplicate_comments(number: int, comments: Iterable[Comment], bot_login: str) -> Plan | None:
    """Delete the bot's newer comments that repeat a marker on item `number`; None if there are none."""

    def key_of(comment: Comment) -> str | None:
        return marker_key(comment.body) if same_login(comment.author.login, bot_login) else None

    plan = Plan(number)
    for key, kept, extra in _copies(comments, key_of, lambda c: (c.created_at, c.id)):
        if key == CARD_KEY:  # a section only a newer card has moves to the one kept, first
            have = card_sections(kept.body)
            for card in extra:
                for section, text in card_sections(card.body).items():
                    if section not in have:
                        have[section] = text
                        plan.actions.append(UpsertComment(number, section, text))
        plan.actions += [DeleteComment(number, c.id, key) for c in extra]
        plan.reasons.append(f"#{number}: the bot's `{key}` comment {len(extra) + 1} times; kept the oldest")
        plan.events.append(_event(number, "comment", key, kept.id, [c.id for c in extra]))
    return plan if plan.actions else None


def duplicate_note(kept: int) -> str:
    """Put at the top of the closed copy's body, not in a comment: two runs repairing the same
    copy at once write the same text (a comment would be posted twice)."""
    return (
        f"> [!NOTE]\n> Duplicate of #{kept}: two overlapping runs opened an item for the same "
        f"intake entry. issueops keeps the oldest, #{kept}, and closed this one.\n\n"
    )


def plan_duplicate_items(items: Iterable[WorkItem], bot_login: str) -> list[Plan]:
    """Close the bot's newer open items that repeat an intake key (the oldest keeps the key)."""

    def key_of(item: WorkItem) -> str | None:
        mine = same_login(item.author.login, bot_login) and item.state == "open"
        key = source_key_of(item.body) if mine else None
        return intake_stream(key) if key else None

    plans = []
    for key, kept, extra in _copies(items, key_of, lambda i: i.number):
        for item in extra:
            body = item.body or ""
            actions: list[Action] = [UpdateBody(item.number, duplicate_note(kept.number) + body, body)]
            actions.append(CloseItem(item.number, "not_planned"))
            state = current_state(item.labels)
            if state is not State.REJECTED:
                actions.append(transition(item, state, State.REJECTED, "sweep:repair:duplicate"))
            reason = f"#{item.number}: duplicate of #{kept.number} (intake key {key}); closed"
            event = _event(item.number, "item", key, kept.number, [item.number])
            plans.append(Plan(item.number, actions, [reason], [event]))
    return plans


def plan_duplicate_pulls(pulls: Iterable[PullRequest], bot_login: str) -> list[Plan]:
    """Close the bot's newer open deliverable PRs of an item that already has an older open one."""

    def item_of(pr: PullRequest) -> int | None:
        mine = pr.author is not None and same_login(pr.author.login, bot_login) and pr.state == "open"
        return item_of_branch(pr.head_branch) if mine else None

    plans = []
    for number, kept, extra in _copies(pulls, item_of, lambda p: p.number):
        for pr in extra:
            note = (
                f"Closed by issueops: a duplicate of #{kept.number}, the deliverable pull request of "
                f"#{number} (two overlapping runs opened one each; the oldest is kept)."
            )
            actions: list[Action] = [ClosePullRequest(number, pr.number, "duplicate", note)]
            if pr.head_branch != kept.head_branch:
                actions.append(DeleteBranch(number, pr.head_branch))
            reason = f"#{number}: PR #{pr.number} duplicates PR #{kept.number}; closed"
            event = _event(number, "pull", pr.head_branch, kept.number, [pr.number])
            plans.append(Plan(number, actions, [reason], [event]))
    return plans
