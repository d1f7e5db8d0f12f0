"""The label state machine, as data.

Exactly one `state::` label per managed item. Entering a state adds its label and removes the
other state labels (never any other family). No planner may emit a transition outside TRANSITIONS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

STATE_PREFIX = "state::"


class State(StrEnum):
    TRIAGE = "triage"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in-progress"
    AWAITING_APPROVAL = "awaiting-approval"
    APPROVED = "approved"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return STATE_PREFIX + self.value


# The cause of a move back from a state label a person applied without the right to.
REVERT_CAUSE = "authority:revert"
TERMINAL: frozenset[State] = frozenset({State.DONE, State.REJECTED})
STATE_LABELS: frozenset[str] = frozenset(s.label for s in State)


@dataclass(frozen=True)
class Edge:
    source: State
    target: State
    causes: frozenset[str]  # who or what may cause it: a stage or a command


def _edge(source: State, target: State, *causes: str) -> Edge:
    return Edge(source, target, frozenset(causes))


S = State
TRANSITIONS: tuple[Edge, ...] = (
    _edge(S.TRIAGE, S.ASSIGNED, "assign", "command:assign"),
    _edge(S.TRIAGE, S.REJECTED, "command:reject"),
    _edge(S.ASSIGNED, S.IN_PROGRESS, "process"),
    _edge(S.ASSIGNED, S.AWAITING_APPROVAL, "process"),  # gate before processing
    _edge(S.ASSIGNED, S.REJECTED, "command:reject"),
    _edge(S.ASSIGNED, S.FAILED, "process"),
    _edge(S.IN_PROGRESS, S.AWAITING_APPROVAL, "process"),  # gate before publishing
    _edge(S.IN_PROGRESS, S.APPROVED, "process"),  # no gate: straight to publish
    _edge(S.IN_PROGRESS, S.DONE, "process", "sweep"),  # PR merged by a person
    _edge(S.IN_PROGRESS, S.FAILED, "process", "sweep"),
    _edge(S.IN_PROGRESS, S.REJECTED, "command:reject"),
    _edge(S.AWAITING_APPROVAL, S.APPROVED, "command:approve", "commands"),
    _edge(S.AWAITING_APPROVAL, S.REJECTED, "command:reject"),
    _edge(S.AWAITING_APPROVAL, S.DONE, "process", "sweep"),  # PR merged by a person
    _edge(S.AWAITING_APPROVAL, S.IN_PROGRESS, "commands"),  # approval lapsed (content changed)
    _edge(S.APPROVED, S.IN_PROGRESS, "process"),  # pre-processing gate passed: now work
    _edge(S.APPROVED, S.DONE, "process", "sweep"),
    _edge(S.APPROVED, S.AWAITING_APPROVAL, "commands"),  # approval lapsed or cancelled
    _edge(S.APPROVED, S.FAILED, "process"),
    _edge(S.APPROVED, S.REJECTED, "command:reject"),
    _edge(S.FAILED, S.ASSIGNED, "command:retry"),
    _edge(S.FAILED, S.IN_PROGRESS, "command:retry"),
    _edge(S.FAILED, S.APPROVED, "command:retry"),
    _edge(S.FAILED, S.REJECTED, "command:reject"),
)
_ALLOWED: dict[tuple[State, State], frozenset[str]] = {(e.source, e.target): e.causes for e in TRANSITIONS}


class IllegalTransition(ValueError):
    """A planner tried a move the table does not allow: a bug, never a user error."""


def check_transition(source: State | None, target: State, cause: str) -> None:
    """Raise unless `cause` may move an item from `source` to `target`.

    `source` None (no state label yet) may only enter triage; `sweep` may repair any drift, and
    `authority:revert` puts back a state a person applied without the right to (label_authority).
    """
    if cause.startswith(("sweep:repair", REVERT_CAUSE)):
        return
    if source is None:
        if target is State.TRIAGE:
            return
        raise IllegalTransition(f"an item without a state may only enter triage, not {target.label}")
    causes = _ALLOWED.get((source, target))
    if causes is None:
        raise IllegalTransition(f"{source.label} -> {target.label} is not in the state table")
    if cause not in causes:
        allowed = ", ".join(sorted(causes))
        raise IllegalTransition(f"{source.label} -> {target.label} may be caused by {allowed}, not {cause}")


def parse_state(label: str) -> State | None:
    """`state::done` -> State.DONE; anything else (including unknown `state::x`) -> None."""
    if not label.startswith(STATE_PREFIX):
        return None
    try:
        return State(label[len(STATE_PREFIX) :])
    except ValueError:
        return None


def current_state(labels: Iterable[str]) -> State | None:
    """The item's state when it has exactly one known state label, else None (drift)."""
    found = [s for s in (parse_state(label) for label in labels) if s is not None]
    return found[0] if len(found) == 1 else None


def state_labels_of(labels: Iterable[str]) -> list[str]:
    """Every `state::` label present, known or not."""
    return [label for label in labels if label.startswith(STATE_PREFIX)]


def label_changes(labels: Iterable[str], target: State) -> tuple[list[str], list[str]]:
    """(to add, to remove) so that `target` is the only state label; empty when already so."""
    present = state_labels_of(labels)
    add = [] if target.label in present else [target.label]
    remove = [label for label in present if label != target.label]
    return add, remove


def resolve_interrupted(labels: Iterable[str]) -> State | None:
    """The state of an item whose transition was cut between adding the new state label and
    removing the old one: exactly two known state labels where only one direction is a legal
    edge. Returns the target of that edge, or None when it cannot be told apart safely."""
    found = [s for s in (parse_state(label) for label in labels) if s is not None]
    if len(found) != 2:
        return None
    a, b = found
    forward, backward = (a, b) in _ALLOWED, (b, a) in _ALLOWED
    if forward and not backward:
        return b
    if backward and not forward:
        return a
    return None
