"""The bot's marked comments: a hidden marker names each comment the bot keeps up to date.

A marker counts only in a comment the bot's own account wrote, so a person who pastes one into
their comment can neither hide nor impersonate the bot's text.
"""

from __future__ import annotations

from collections.abc import Iterable

from issueops.core.model import Comment, marker


def same_login(a: str | None, b: str | None) -> bool:
    """GitHub logins are case-insensitive."""
    return a is not None and b is not None and a.casefold() == b.casefold()


def bot_comment(comments: Iterable[Comment], key: str, bot_login: str) -> Comment | None:
    """The bot's own comment for `key`; a marker in anyone else's comment counts for nothing."""
    tag = marker(key)
    mine = [c for c in comments if same_login(c.author.login, bot_login) and tag in c.body]
    return min(mine, key=lambda c: (c.created_at, c.id)) if mine else None


def marked(key: str, body: str) -> str:
    """A comment body that starts with its marker (the applier then finds it again)."""
    tag = marker(key)
    return body if body.startswith(tag) else f"{tag}\n{body}"
