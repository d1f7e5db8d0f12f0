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


# --- the item's card: one comment, edited in place, for what notifies nobody ------------------------

CARD_KEY = "card"
"""The marker of the bot's one status comment per item (issue #16): the assessment, the gate note
and the approval status are sections of it, edited in place, instead of a comment each. Only what
must notify a person (the hand-off mention, a denial reply, a reminder) is a comment of its own."""

GATE_SECTION = "gate"  # the process stage's gate note: what the gate needs (stages.process)
FOLDED: tuple[str, ...] = ("assessment", "copilot", GATE_SECTION, "status")
"""The keys written as sections of the card, in their order there: the assessment (assign), the
Copilot hand-off's progress, the gate note (process) and the approval status (commands). `status`
is last: its hidden approval record must end the comment (a record is read from its last
occurrence)."""


def card_sections(body: str) -> dict[str, str]:
    """The sections of a card body by key, each starting with its marker, in FOLDED order.

    Each key's first marker counts, and only in FOLDED order: the bot's sections carry people's
    text only made inert (no HTML), so a marker inside a section is never the bot's own."""
    found: list[tuple[int, str]] = []
    start = 0
    for key in FOLDED:
        at = body.find(marker(key), start)
        if at >= 0:
            found.append((at, key))
            start = at + len(marker(key))
    return {
        key: body[at : found[i + 1][0] if i + 1 < len(found) else len(body)].strip()
        for i, (at, key) in enumerate(found)
    }


def render_card(sections: dict[str, str]) -> str:
    """A card body: its marker, then the sections present, in FOLDED order."""
    parts = [marker(CARD_KEY), *(sections[key].strip() for key in FOLDED if sections.get(key))]
    return "\n\n".join(parts) + "\n"


def bot_text(comments: Iterable[Comment], key: str, bot_login: str) -> str | None:
    """What the bot says under `key`: its section of the card, or its own comment for it (an item
    from before the card keeps its separate comments, edited in place)."""
    found = bot_comment(comments, key, bot_login)
    if found is None:
        return None
    if key in FOLDED and marker(CARD_KEY) in found.body:
        return card_sections(found.body).get(key)
    return found.body
