"""The label set issueops manages: names, colours and descriptions (`issueops labels sync`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.states import State

# Families the bot owns: it never adds, removes or renames a label outside these.
BOT_FAMILIES = ("state::", "workflow::", "risk::", "source::", "sla::", "issueops::", "approval::")

_STATE_COLOURS = {
    State.TRIAGE: "fbca04",
    State.ASSIGNED: "c5def5",
    State.IN_PROGRESS: "1d76db",
    State.AWAITING_APPROVAL: "d93f0b",
    State.APPROVED: "0e8a16",
    State.DONE: "5319e7",
    State.REJECTED: "b60205",
    State.FAILED: "e11d21",
}
_STATE_TEXT = {
    State.TRIAGE: "New: waiting for assignment to a workflow",
    State.ASSIGNED: "Workflow, risk and owner chosen",
    State.IN_PROGRESS: "Deliverables on a branch with a PR; owner at work",
    State.AWAITING_APPROVAL: "Waiting for operator approval (/approve)",
    State.APPROVED: "Approved: will be processed or published",
    State.DONE: "Published and closed",
    State.REJECTED: "Rejected by an operator",
    State.FAILED: "Failed; see the failure comment, then /retry",
}
_RISK_COLOURS = {"low": "c2e0c6", "medium": "fef2c0", "high": "f9d0c4"}


@dataclass(frozen=True)
class LabelDef:
    name: str
    color: str
    description: str


def is_bot_label(name: str) -> bool:
    return name.startswith(BOT_FAMILIES)


def label_set(config: Config, workflows: Sequence[WorkflowSchema]) -> list[LabelDef]:
    """Every label the pipeline may apply, derived from the config and the workflows."""
    labels = [LabelDef(s.label, _STATE_COLOURS[s], _STATE_TEXT[s]) for s in State]
    labels += [LabelDef(f"risk::{r}", c, f"Risk level {r}") for r, c in _RISK_COLOURS.items()]
    labels += [
        LabelDef(f"workflow::{w.name}", "0075ca", w.description.strip().splitlines()[0][:100])
        for w in sorted(workflows, key=lambda w: w.name)
    ]
    labels += [
        LabelDef(f"source::{s.name}", "bfdadc", f"Opened by the {s.type} intake source {s.name}"[:100])
        for s in config.sources
    ]
    names = config.labels
    labels += [
        LabelDef(names.hold, "000000", "Frozen: no automatic transition while present"),
        LabelDef(names.approved, "0e8a16", "Approval by an authorized person (counted once per person)"),
        LabelDef(names.sla_breached, "b60205", "Past its escalation time"),
        LabelDef(names.needs_human, "d876e3", "The pipeline needs a person to decide"),
        LabelDef("issueops::incident", "b60205", "Opened by a failing health check"),
        LabelDef("issueops::check-failing", "e11d21", "Its health check is failing right now"),
        LabelDef(config.brake.label, "b60205", "The pipeline stopped itself: open means braked, /resume"),
    ]
    return labels
