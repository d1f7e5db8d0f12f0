"""Monitor planner: intake results -> new work items, incident updates (pure).

Deduplication lives in GitHub, not on the runner: every item the monitor opens carries its
source key in a hidden marker in the body (`<!-- issueops:source=KEY -->`), and the next run
lists items by their `source::` label (open and closed) and skips every key already there.
Only items the bot itself authored are trusted to carry a key.

HTTP checks work in episodes. A failing check with no open incident opens one (state::triage,
`source::<name>`, `issueops::incident`, `issueops::check-failing`). While that incident is open,
further failures edit one status comment in place ("failing since ... last seen ..."), and a
recovery removes `issueops::check-failing` and turns the status comment into a recovery note.
The incident itself stays open and moves on through the pipeline like any item (triage ->
assignment to the incident workflow, usually a post-mortem); the monitor never changes its
state. A new failure while the incident is still open re-opens the episode on the same item;
only once every incident of the check is closed does a failure open a new item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from issueops.config.settings import Config, FeedSource, GithubSearchSource, HttpCheckSource, Source
from issueops.core.comments import bot_comment, same_login
from issueops.core.model import (
    Action,
    AddLabels,
    Comment,
    CreateItem,
    ItemContext,
    Plan,
    RemoveLabel,
    WorkItem,
    marker,
)
from issueops.core.states import State
from issueops.sources.base import CheckResult, IntakeEntry, SourceResult, http_key, intake_stream
from issueops.stages.common import SOURCE_PREFIX, upsert
from issueops.stages.text import (
    BODY_BUDGET,
    cap,
    cap_body,
    clean,
    code_span,
    escape_markdown,
    html_to_text,
    link,
    plain_line,
)

INCIDENT_LABEL = "issueops::incident"  # lets an incident workflow match: match.labels
FAILING_LABEL = "issueops::check-failing"  # present while the check is failing
SUMMARY_LIMIT = 20_000  # characters of a feed summary kept in the item body

Event = dict[str, object]

_SOURCE_KEY = re.compile(r"<!-- issueops:source=([A-Za-z0-9:._#/@+=-]{1,300}) -->")
_SINCE = re.compile(r"<!-- issueops:check-since=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) -->")


def source_marker(key: str) -> str:
    return marker(f"source={key}")


def source_key_of(body: str) -> str | None:
    """The dedup key hidden in an item body, or None. Trust it only on the bot's own items."""
    found = _SOURCE_KEY.search(body or "")
    return found.group(1) if found else None


def index_existing(items: Iterable[WorkItem], bot_login: str) -> dict[str, WorkItem]:
    """Items by source key, trusting only bodies the bot wrote; the oldest item wins a key."""
    index: dict[str, WorkItem] = {}
    for item in sorted(items, key=lambda i: i.number):
        if not same_login(item.author.login, bot_login):
            continue
        key = source_key_of(item.body)
        if key is not None and key not in index:
            index[key] = item
    return index


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_status_key(source: str) -> str:
    """Marker key of the one status comment per check on its incident."""
    return f"check:{source}"


def _labels(*groups: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for group in groups:
        for label in group:
            if label not in seen:
                seen.append(label)
    return tuple(seen)


def _section(title: str, value: str) -> str:
    return f"### {title}\n\n{value}\n"


_FOOTER = (
    "\n---\n<sub>Opened by the issueops monitor. Text above is quoted from an outside source, "
    "made inert (no mentions, links to issues or HTML).</sub>\n"
)


# --- feeds and searches -------------------------------------------------------------------------


def entry_body(entry: IntakeEntry, source: Source) -> str:
    parts = [source_marker(entry.key), ""]
    parts.append(_section("Source", f"{code_span(source.name)} ({source.type})"))
    if entry.link:
        # `link` shows issue and PR URLs as code: a link would post a cross-reference there.
        parts.append(_section("Link", link(entry.link)))
    for name, value in entry.detail.items():
        parts.append(_section(escape_markdown(name), code_span(value)))
    if entry.published is not None:
        parts.append(_section("Published", stamp(entry.published)))
    summary = html_to_text(entry.summary) if entry.summary else ""
    if summary:
        parts.append(_section("Summary", cap(escape_markdown(summary), SUMMARY_LIMIT)))
    return cap_body("\n".join(parts) + _FOOTER, BODY_BUDGET)


def _entry_plans(
    result: SourceResult, source: Source, existing: Mapping[str, WorkItem], seen: set[str]
) -> list[Plan]:
    plans = []
    # Feeds list newest first: open the oldest first so issue numbers follow publication order.
    for entry in reversed(result.entries):
        if entry.key in existing or entry.key in seen:
            continue
        seen.add(entry.key)
        title = plain_line(entry.title) or f"Entry from {source.name}"
        labels = _labels([State.TRIAGE.label, f"{SOURCE_PREFIX}{source.name}"], source.labels)
        create = CreateItem(entry.key, title, entry_body(entry, source), labels)
        plans.append(
            Plan(
                None,
                [create],
                [f"{source.name}: new entry {entry.key}"],
            )
        )
    return plans


# --- HTTP checks --------------------------------------------------------------------------------


def incidents_of(source: str, existing: Mapping[str, WorkItem]) -> list[WorkItem]:
    found = [item for key, item in existing.items() if intake_stream(key) == http_key(source)]
    return sorted(found, key=lambda i: i.number)


def _since_from(comment: Comment | None) -> str | None:
    found = _SINCE.search(comment.body) if comment is not None else None
    return found.group(1) if found else None


def incident_body(source: HttpCheckSource, check: CheckResult, key: str, now: datetime) -> str:
    parts = [
        source_marker(key),
        "",
        _section("Check", code_span(source.name)),
        _section("URL", code_span(source.url)),
        _section("First failure", stamp(now)),
        _section("Reason", escape_markdown(check.reason)),
        _section(
            "Expected",
            f"HTTP {source.expected_status} within {source.max_latency_ms} ms"
            + (f", body matching {code_span(source.body_pattern)}" if source.body_pattern else ""),
        ),
    ]
    return cap_body("\n".join(parts) + _FOOTER, BODY_BUDGET)


def _failing_note(source: str, since: str | None, now: datetime, check: CheckResult) -> str:
    lines = []
    if since:
        lines.append(marker(f"check-since={since}"))
    when = f"since {since}, last seen {stamp(now)}" if since else f"last seen {stamp(now)}"
    lines.append(f"**Health check {code_span(source)} is failing** ({when}).")
    lines.append("")
    lines.append(f"Latest reason: {escape_markdown(check.reason)}")
    return "\n".join(lines)


def _recovered_note(source: str, since: str | None, now: datetime, check: CheckResult) -> str:
    was = f"; it had been failing since {since}" if since else ""
    return (
        f"**Health check {code_span(source)} recovered** at {stamp(now)}{was}.\n\n"
        f"Latest result: {escape_markdown(check.reason)}. This incident stays open for its "
        "workflow (for example a post-mortem); close it when that is done."
    )


def _check_plans(
    result: SourceResult,
    source: HttpCheckSource,
    existing: Mapping[str, WorkItem],
    comments: Mapping[int, Sequence[Comment]],
    now: datetime,
    bot_login: str | None,
) -> list[Plan]:
    check = result.check
    assert check is not None
    open_incidents = [i for i in incidents_of(source.name, existing) if i.state == "open"]
    incident = open_incidents[-1] if open_incidents else None
    if incident is None:
        if check.ok:
            return []
        key = f"{http_key(source.name)}:{stamp(now)}"
        labels = _labels(
            [State.TRIAGE.label, f"{SOURCE_PREFIX}{source.name}"],
            source.labels,
            [INCIDENT_LABEL, FAILING_LABEL],
        )
        title = plain_line(f"Health check {source.name} is failing: {source.url}")
        failed: Event = {
            "event": "check.failed",
            "source": source.name,
            "key": key,
            "reason": clean(check.reason),
        }
        return [
            Plan(
                None,
                [CreateItem(key, title, incident_body(source, check, key, now), labels)],
                [f"{source.name}: failing ({check.reason}); opening an incident"],
                [failed],
            )
        ]

    ctx = ItemContext(incident, tuple(comments.get(incident.number, ())))
    status_key = check_status_key(source.name)
    status = bot_comment(ctx.comments, status_key, bot_login) if bot_login else None
    failing_now = FAILING_LABEL in incident.labels
    recorded_since = _since_from(status)
    created = stamp(incident.created_at) if incident.created_at else None
    number = incident.number
    if check.ok:
        if not failing_now:
            return []
        since = recorded_since or (created if status is None else None)
        actions: list[Action] = [
            *upsert(ctx, status_key, _recovered_note(source.name, since, now, check), bot_login or ""),
            RemoveLabel(number, FAILING_LABEL),
        ]
        recovered: Event = {"event": "check.recovered", "source": source.name, "item": number, "since": since}
        return [Plan(number, actions, [f"{source.name}: recovered; noted on #{number}"], [recovered])]

    # Failing again after a recovery starts a new episode on the same incident.
    since = (recorded_since or (created if status is None else None)) if failing_now else stamp(now)
    actions_failing: list[Action] = [
        *upsert(ctx, status_key, _failing_note(source.name, since, now, check), bot_login or ""),
    ]
    if not failing_now:
        actions_failing.append(AddLabels(number, (FAILING_LABEL,)))
    if not actions_failing:
        return []
    failing: Event = {
        "event": "check.failing",
        "source": source.name,
        "item": number,
        "reason": clean(check.reason),
    }
    return [Plan(number, actions_failing, [f"{source.name}: still failing; status on #{number}"], [failing])]


# --- the planner --------------------------------------------------------------------------------


def plan_monitor(
    results: Sequence[SourceResult],
    existing: Mapping[str, WorkItem],
    *,
    config: Config,
    now: datetime,
    comments: Mapping[int, Sequence[Comment]] | None = None,
    bot_login: str | None = None,
) -> list[Plan]:
    """Plans for one monitor run.

    `existing` maps source keys to items (see `index_existing`: open and closed, bot-authored).
    `comments` holds the comments of open incident items, by number, and `bot_login` says whose
    marked comments to trust; without them a still-failing check's "since" falls back to the
    incident's creation time.
    """
    by_name: dict[str, Source] = {s.name: s for s in config.sources}
    plans: list[Plan] = []
    seen: set[str] = set()
    for result in results:
        source = by_name.get(result.source)
        if source is None:
            plans.append(Plan(None, reasons=[f"source {result.source} is not in the config; ignored"]))
            continue
        if result.error is not None:
            event: Event = {
                "event": "source.failed",
                "source": source.name,
                "kind": source.type,
                "reason": result.error,
            }
            plans.append(Plan(None, reasons=[f"{source.name}: {result.error}"], events=[event]))
            continue
        if isinstance(source, HttpCheckSource):
            if result.check is not None:
                plans += _check_plans(result, source, existing, comments or {}, now, bot_login)
        elif isinstance(source, FeedSource | GithubSearchSource):
            plans += _entry_plans(result, source, existing, seen)
    return plans
