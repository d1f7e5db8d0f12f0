"""Workflow definitions `workflow_schemas/*.yml`, as a strict pydantic model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from issueops.config import Risk


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
    label_weight: int = Field(3, ge=0)
    min_score: int = Field(2, ge=1)


class OwnerPool(Strict):
    pool: list[str] = Field(min_length=1, description="Logins eligible to own items of this workflow.")
    strategy: Literal["round_robin", "least_loaded"] = "least_loaded"


class Deliverable(Strict):
    path: str = Field(description="Jinja2 pattern for the file path, e.g. `postmortems/{{ number }}.md`.")
    template: str = Field(description="File under workflow_schemas/templates/.")


class PublishConfig(Strict):
    merge_pr: bool = True
    merge_method: Literal["merge", "squash", "rebase"] = "squash"
    close_item: bool = True


class SlaConfig(Strict):
    due_hours: float | None = Field(None, gt=0)
    reminder_hours: float | None = Field(None, gt=0)
    escalation_hours: float | None = Field(None, gt=0)
    escalate_to: list[str] = Field(default_factory=list)


class HandOff(Strict):
    mode: Literal["owner", "copilot"] = Field("owner", description="Who does the work after guidance.")
    note: str | None = None


class WorkflowSchema(Strict):
    """One `workflow_schemas/<name>.yml`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Becomes the `workflow::` label.")
    description: str
    risk: Risk
    match: MatchRules
    owners: OwnerPool
    deliverables: list[Deliverable] = Field(default_factory=list)
    guidance: str | None = Field(None, description="Template for the guidance comment.")
    publish: PublishConfig = Field(default_factory=PublishConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    hand_off: HandOff = Field(default_factory=HandOff)
