"""Small pure helpers the stage planners share: upserted comments, transitions, risk."""

from __future__ import annotations

from collections.abc import Sequence

from issueops.config.settings import Config, Risk
from issueops.core.comments import bot_text, marked
from issueops.core.model import ItemContext, Transition, UpsertComment, WorkItem
from issueops.core.states import State, check_transition

RISK_ORDER: tuple[Risk, ...] = ("low", "medium", "high")
RISK_PREFIX = "risk::"
WORKFLOW_PREFIX = "workflow::"
SOURCE_PREFIX = "source::"


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def upsert(ctx: ItemContext, key: str, body: str, bot_login: str) -> list[UpsertComment]:
    """An UpsertComment only when the bot's comment for `key` is missing or says something else:
    a re-plan over unchanged input then yields nothing."""
    full = marked(key, body)
    existing = bot_text(ctx.comments, key, bot_login)
    if existing is not None and _normal(existing) == _normal(full):
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
