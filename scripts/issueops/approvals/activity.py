"""Who did what, and when: the pipeline's own traces versus people's activity.

The sweep's clocks must count people only (a bot's reminder must never reset the clock it is
reminding about), and the bot's marked comments count only when the bot's own account wrote
them. Both rules live here so every stage applies them the same way. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from issueops.core.comments import bot_comment, marked
from issueops.core.model import Actor, Comment, ItemContext, LabelEvent

# A hidden `key=value` field in the bot's comments: `<!-- issueops-data:key=value -->`.
_DATA_RE = re.compile(r"<!-- issueops-data:([a-z0-9_-]+)=([^>]*?) -->")


def is_pipeline(actor: Actor, bot_login: str) -> bool:
    """True for the pipeline's own account and for any other bot: neither is human activity."""
    return actor.is_bot or actor.login.casefold() == bot_login.casefold()


def is_own(actor: Actor, bot_login: str) -> bool:
    """True only for the pipeline's own account: the only actor whose labels and markers we trust."""
    return actor.login.casefold() == bot_login.casefold()


def last_human_activity(ctx: ItemContext, *, bot_login: str) -> datetime | None:
    """The latest moment a person acted on the item: opened it, commented, edited a comment, or
    added/removed a label. None when no person ever did (a bot opened it and nobody replied)."""
    times: list[datetime] = []
    item = ctx.item
    if item.created_at is not None and not is_pipeline(item.author, bot_login):
        times.append(item.created_at)
    for comment in ctx.comments:
        if not is_pipeline(comment.author, bot_login):
            times.append(max(comment.created_at, comment.updated_at))
    for event in ctx.label_events:
        if event.event in ("labeled", "unlabeled") and not is_pipeline(event.actor, bot_login):
            times.append(event.created_at)
    return max(times) if times else None


def last_labeled(
    events: Iterable[LabelEvent], label: str, *, bot_login: str | None = None
) -> datetime | None:
    """When `label` was last applied; with `bot_login`, only applications by the pipeline's account."""
    times = [
        e.created_at
        for e in events
        if e.event == "labeled" and e.label == label and (bot_login is None or is_own(e.actor, bot_login))
    ]
    return max(times) if times else None


def own_comment(comments: Iterable[Comment], key: str, *, bot_login: str) -> Comment | None:
    """The pipeline's comment carrying `marker(key)`; a marker typed by anyone else is ignored.
    With several (a crash between create and record), the oldest one is the canonical one."""
    return bot_comment(comments, key, bot_login)


def data_field(name: str, value: str) -> str:
    """A hidden field the bot writes into its comment, read back with `read_data_field`."""
    return f"<!-- issueops-data:{name}={value} -->"


def read_data_field(body: str, name: str) -> str | None:
    for match in _DATA_RE.finditer(body):
        if match.group(1) == name:
            return match.group(2)
    return None


def with_marker(key: str, text: str) -> str:
    """A comment body that starts with its marker, so the applier and later runs find it."""
    return marked(key, f"{text.strip()}\n")


def stamp(moment: datetime) -> str:
    """A compact UTC stamp usable inside a marker key: `20250102T030405Z`."""
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def human_time(moment: datetime) -> str:
    """How a moment is shown to people in comments: `2025-01-02 03:04 UTC`."""
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
