"""Small pure helpers the stage planners share: the bot's own comments, transitions, risk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from issueops.config import Config, Risk
from issueops.model import Comment, ItemContext, Transition, UpsertComment, WorkItem, marker
from issueops.states import State, check_transition

RISK_ORDER: tuple[Risk, ...] = ("low", "medium", "high")
RISK_PREFIX = "risk::"
WORKFLOW_PREFIX = "workflow::"
SOURCE_PREFIX = "source::"


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


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def upsert(ctx: ItemContext, key: str, body: str, bot_login: str) -> list[UpsertComment]:
    """An UpsertComment only when the bot's comment for `key` is missing or says something else:
    a re-plan over unchanged input then yields nothing."""
    full = marked(key, body)
    existing = bot_comment(ctx.comments, key, bot_login)
    if existing is not None and _normal(existing.body) == _normal(full):
        return []
    return [UpsertComment(ctx.item.number, key, full)]


def transition(item: WorkItem, source: State | None, target: State, cause: str) -> Transition:
    """A Transition that the state table allows (raises IllegalTransition otherwise: a bug)."""
    check_transition(source, target, cause)
    return Transition(item.number, source.value if source else None, target.value, cause)


def on_hold(item: WorkItem, config: Config) -> bool:
    return config.labels.hold in item.labels


def risk_labels(item: WorkItem) -> list[Risk]:
    values = [label[len(RISK_PREFIX) :] for label in item.labels if label.startswith(RISK_PREFIX)]
    return [r for r in RISK_ORDER if r in values]


def effective_risk(item: WorkItem, workflow_risk: Risk) -> Risk:
    """The strictest of the workflow's risk and any `risk::` label: a label may raise the risk,
    never lower it below what the workflow declares."""
    found = [*risk_labels(item), workflow_risk]
    return max(found, key=RISK_ORDER.index)


def workflow_labels(item: WorkItem) -> list[str]:
    return [label[len(WORKFLOW_PREFIX) :] for label in item.labels if label.startswith(WORKFLOW_PREFIX)]


def sorted_items(items: Sequence[ItemContext]) -> list[ItemContext]:
    return sorted(items, key=lambda c: c.item.number)
