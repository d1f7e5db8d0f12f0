"""The `copilot:` block of `.github/issueops.yml`: how items are handed to Copilot's coding agent
(`hand_off.mode: copilot` in a workflow) and how long the pipeline waits for its pull request.

The SLA defaults are the rollout plan's: a reminder on day 3, escalation on day 7, a manual
review on day 14; completion is measured against 48 hours and 7 days.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CopilotConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str = Field(
        "ISSUEOPS_COPILOT_TOKEN",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description=(
            "Environment variable (a secret in the workflow) holding the user token that assigns "
            "Copilot: a PAT or a GitHub App user-to-server token. GITHUB_TOKEN cannot."
        ),
    )
    base_branch: str | None = Field(
        None, description="Branch Copilot starts from; default: the pipeline's base."
    )
    custom_agent: str | None = Field(None, description="A custom agent of the repository, by name.")
    reminder_hours: float = Field(72, gt=0, description="No pull request after this long: a reminder.")
    escalation_hours: float = Field(
        168, gt=0, description="Still none: the workflow's escalation target is mentioned."
    )
    manual_review_hours: float = Field(
        336, gt=0, description="Still none: flagged for a manual review (the needs-human label)."
    )
