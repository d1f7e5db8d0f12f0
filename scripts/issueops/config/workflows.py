"""Workflow definitions `workflow_schemas/*.yml`, as a strict pydantic model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from issueops.config.settings import Risk


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchRules(Strict):
    """How an item is scored against this workflow; the best score at or above min_score wins."""

    labels: list[str] = Field(default_factory=list, description="Each present label scores label_weight.")
    keywords: list[str] = Field(default_factory=list, description="Each keyword in title/body scores 1.")
    title_patterns: list[str] = Field(default_factory=list, description="Regexes on the title; 2 each.")
    body_patterns: list[str] = Field(default_factory=list, description="Regexes on the body; 1 each.")
    form_fields: dict[str, str] = Field(
        default_factory=dict, description="Issue-form field -> expected value (regex); 3 each."
    )
    sources: list[str] = Field(default_factory=list, description="`source::` names; 3 each.")
    label_weight: int = Field(3, ge=0, description="Score of each matching label.")
    min_score: int = Field(2, ge=1, description="Lowest score that assigns an item to this workflow.")


class OwnerPool(Strict):
    pool: list[str] = Field(min_length=1, description="Logins eligible to own items of this workflow.")
    strategy: Literal["round_robin", "least_loaded"] = Field(
        "least_loaded", description="How the owner is picked from the pool."
    )


class Deliverable(Strict):
    path: str = Field(
        description="Jinja2 pattern for the file path, e.g. `postmortems/{{ item.number }}.md`."
    )
    template: str = Field(description="File under workflow_schemas/templates/ rendered into `path`.")


class PublishConfig(Strict):
    """What happens once the deliverables are approved."""

    merge_pr: bool = Field(True, description="Merge the deliverable pull request.")
    merge_method: Literal["merge", "squash", "rebase"] = Field("squash", description="How it is merged.")
    close_item: bool = Field(True, description="Close the item (state::done) after publishing.")


class SlaConfig(Strict):
    """Overrides of the config's `sla` defaults for this workflow; unset fields inherit them."""

    due_hours: float | None = Field(None, gt=0, description="Default: the config's sla.due_hours.")
    reminder_hours: float | None = Field(None, gt=0, description="Default: the config's sla.reminder_hours.")
    escalation_hours: float | None = Field(
        None, gt=0, description="Default: the config's sla.escalation_hours."
    )
    escalate_to: list[str] = Field(
        default_factory=list, description="Logins or @org/team; default: the config's sla.escalate_to."
    )


class HandOff(Strict):
    mode: Literal["owner", "copilot"] = Field("owner", description="Who does the work after guidance.")
    note: str | None = Field(None, description="Extra text for the hand-off comment.")


class WorkflowSchema(Strict):
    """One `workflow_schemas/<name>.yml`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Becomes the `workflow::` label.")
    description: str = Field(description="One line shown in guidance and reports.")
    risk: Risk = Field(
        description="low, medium or high: decides the approval gates and the approvals needed."
    )
    match: MatchRules = Field(description="How items are recognised as this workflow.")
    owners: OwnerPool = Field(description="Who may own items of this workflow.")
    deliverables: list[Deliverable] = Field(default_factory=list)
    guidance: str | None = Field(
        None, description="File under workflow_schemas/templates/ rendered as the guidance comment."
    )
    publish: PublishConfig = Field(default_factory=PublishConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    hand_off: HandOff = Field(default_factory=HandOff)
