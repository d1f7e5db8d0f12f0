"""Read what the stages need from GitHub in as few requests as possible, once per run.

All open issues come from one paginated listing (100 a page, conditional, so an unchanged page
costs nothing); comments for every item from one repository-wide listing; pull requests from one
listing, matched to items by their deliverable branch `issueops/<number>-...`. Stages share the
same ItemState objects, so what one stage writes the next one sees.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from issueops.apply import ItemState
from issueops.core.model import LabelEvent, Permission, PullRequest, WorkItem
from issueops.core.states import STATE_PREFIX, TERMINAL, State, current_state, state_labels_of
from issueops.github.port import GitHubPort
from issueops.stages.sweep_orphans import item_of_branch

MANAGED_PREFIXES = (STATE_PREFIX, "workflow::", "source::")
# How far back `read_closed_unclear` looks: the sweep runs at least daily, so a closed item whose
# state labels a person broke is seen by several runs before it drops out of the window.
CLOSED_LOOKBACK = timedelta(days=7)


def is_managed(item: WorkItem) -> bool:
    return any(label.startswith(MANAGED_PREFIXES) for label in item.labels)


@dataclass
class Snapshot:
    items: dict[int, ItemState] = field(default_factory=dict)
    pulls_loaded: bool = False
    pulls: list[PullRequest] = field(default_factory=list)
    label_events: dict[int, list[LabelEvent]] = field(default_factory=dict)
    labels_when_read: dict[int, tuple[str, ...]] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)  # looked up once per run
    approvers: dict[str, bool] = field(default_factory=dict)
    closed_active: set[int] | None = None  # read by `read_closed_active`, once per run
    listed: dict[int, WorkItem] = field(default_factory=dict)  # each item as this run read it
    branches: list[str] | None = None  # the `issueops/` branches, listed at most once per run

    def managed(self) -> list[ItemState]:
        return [s for n, s in sorted(self.items.items()) if is_managed(s.item)]

    def add(self, item: WorkItem) -> ItemState:
        state = ItemState(item=item)
        self.items[item.number] = state
        self.listed[item.number] = item
        return state


def read_snapshot(port: GitHubPort) -> Snapshot:
    """Open issues and their comments (two paginated, conditional listings)."""
    snapshot = Snapshot()
    for item in port.list_items(state="open"):
        snapshot.add(item)
    managed = [s.item for s in snapshot.managed()]
    if managed:
        since = min((i.created_at for i in managed if i.created_at is not None), default=None)
        by_item: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
        for comment in port.list_comments(since=since):
            by_item[comment.issue_number].append(comment)
        for number, comments in by_item.items():
            if number in snapshot.items:
                snapshot.items[number].comments = sorted(comments, key=lambda c: (c.created_at, c.id))
    return snapshot


def load_pulls(port: GitHubPort, snapshot: Snapshot) -> None:
    """Attach each item's deliverable PR (the newest one on its branch)."""
    if snapshot.pulls_loaded:
        return
    snapshot.pulls = port.list_pull_requests(state="all")
    snapshot.pulls_loaded = True
    _attach_pulls(snapshot, set(snapshot.items))


def _attach_pulls(snapshot: Snapshot, numbers: set[int]) -> None:
    """Each item's PR is its newest one; of two open ones (overlapping runs), the oldest, which
    the duplicate repair keeps (see stages.duplicates)."""
    for number in numbers:
        snapshot.items[number].pulls_read = True
    open_seen: set[int] = set()
    for pr in sorted(snapshot.pulls, key=lambda p: p.number):
        owner = item_of_branch(pr.head_branch)
        if owner is None or owner not in numbers:
            continue
        if pr.state == "open" and owner in open_seen:
            continue
        open_seen.update([owner] if pr.state == "open" else [])
        snapshot.items[owner].pull_request = pr


def read_closed_active(port: GitHubPort, snapshot: Snapshot) -> set[int]:
    """Closed items still carrying an active (non-terminal) state label, added to the snapshot.

    The snapshot lists open items only, but an item can be closed under the pipeline: GitHub
    closes it when its PR merges (`Closes #n`), a person closes it, or a run is killed between
    merging and `done`. One conditional listing per active state label, usually empty and
    unchanged (a free 304); comments are read per item found so that a marked comment is edited
    in place rather than posted again. Read at most once per run; process and sweep share it.
    """
    if snapshot.closed_active is None:
        listed = [
            item
            for state in State
            if state not in TERMINAL
            for item in port.list_items(state="closed", labels=[state.label])
        ]
        snapshot.closed_active = _take_closed(port, snapshot, listed)
    return snapshot.closed_active


def read_closed_unclear(port: GitHubPort, snapshot: Snapshot, now: datetime) -> set[int]:
    """Closed managed items changed lately with no state label, an unknown one or several.

    No label listing can find a missing label, so this is one listing of the closed items
    updated since the start of the day `CLOSED_LOOKBACK` ago (a stable URL all day, so an
    unchanged answer is a free 304), filtered here.
    """
    start = (now - CLOSED_LOOKBACK).replace(hour=0, minute=0, second=0, microsecond=0)
    unclear = [
        item
        for item in port.list_items(state="closed", since=start)
        if is_managed(item)
        # one known state: the per-state listing covers the active ones
        and not (len(state_labels_of(item.labels)) == 1 and current_state(item.labels) is not None)
    ]
    return _take_closed(port, snapshot, unclear)


def _take_closed(port: GitHubPort, snapshot: Snapshot, listed: list[WorkItem]) -> set[int]:
    """Closed items join the snapshot with their comments (so a marked comment is edited in
    place rather than posted again) and their deliverable PR when the PRs were listed."""
    found: set[int] = set()
    for item in listed:
        if item.state != "closed" or item.number in found:
            continue
        found.add(item.number)
        if item.number not in snapshot.items:
            added = snapshot.add(item)
            added.comments = sorted(port.list_item_comments(item.number), key=lambda c: (c.created_at, c.id))
    if snapshot.pulls_loaded:
        _attach_pulls(snapshot, found)
    return found


def deliverable_branches(port: GitHubPort, snapshot: Snapshot, prefix: str) -> list[str]:
    """The deliverable branches, listed once per run: process marks the items without one, the
    orphan scan looks for branches without a PR. A branch this run creates has its PR made in the
    same item, so the orphan scan loses nothing by not seeing it until the next run."""
    if snapshot.branches is None:
        snapshot.branches = port.list_branches(prefix)
    return snapshot.branches


def label_events(port: GitHubPort, snapshot: Snapshot, number: int) -> list[LabelEvent]:
    """An item's label history, read only when a decision needs it, and again only when this run
    changed the item's labels since (the pipeline's own changes are part of the history the next
    stage judges by). The read is conditional: an unchanged history costs a free 304.

    An item whose `updated_at` has not moved since a run that read its history gets it from the
    cache without a request (O(changes), not O(items), on a quiet repository) — unless this run
    changed the item already, which `updated_at` from the listing cannot show.
    """
    state = snapshot.items.get(number)
    labels = state.item.labels if state is not None else ()
    if number not in snapshot.label_events or snapshot.labels_when_read.get(number) != labels:
        listed = snapshot.listed.get(number)
        untouched = state is not None and listed is not None and state.item is listed
        as_of = listed.updated_at if untouched and listed is not None else None
        snapshot.label_events[number] = port.list_label_events(number, as_of=as_of)
        snapshot.labels_when_read[number] = labels
    return snapshot.label_events[number]


def since_of(snapshot: Snapshot) -> datetime | None:
    managed = [s.item for s in snapshot.managed()]
    return min((i.created_at for i in managed if i.created_at is not None), default=None)
