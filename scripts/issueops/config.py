"""The pipeline configuration `.github/issueops.yml`, as a strict pydantic model.

An empty file is a valid configuration: every field has a sensible default. Loading with
line-aware errors lives in `issueops.loader`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Risk = Literal["low", "medium", "high"]
Profile = Literal["manual", "assisted", "autonomous"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_approvals() -> dict[Risk, int]:
    return {"low": 1, "medium": 1, "high": 2}


class PolicyConfig(Strict):
    profile: Profile = Field("assisted", description="Which gates wait for a person (see docs/policy).")
    required_approvals: dict[Risk, Annotated[int, Field(ge=1, le=10)]] = Field(
        default_factory=lambda: _default_approvals(),
        description="Distinct approvers needed per risk level.",
    )
    allow_self_approval: bool = Field(False, description="May an item's author approve it?")


class ApproversConfig(Strict):
    users: list[str] = Field(default_factory=list, description="Logins allowed to approve.")
    teams: list[str] = Field(default_factory=list, description="Team slugs whose members may approve.")
    require_repo_permission: bool = Field(
        False,
        description="If true, listed approvers also need write permission; if false, the list grants it.",
    )


class ApiConfig(Strict):
    max_requests_per_run: int = Field(900, ge=1, description="Request budget of one run (--max-requests).")
    reserve: int = Field(50, ge=0, description="Requests of the primary limit never spent by this tool.")
    writes_per_minute: int = Field(30, ge=1, le=80, description="Content-creation pace (GitHub allows ~80).")
    min_write_interval_seconds: float = Field(1.0, ge=0, description="Minimum gap between writes.")
    max_wait_seconds: float = Field(300, ge=0, description="Never wait longer than this: stop instead.")
    max_retries: int = Field(4, ge=0, le=10)
    cache_path: str = Field(".issueops-cache/etags.json", description="Conditional-request cache file.")


class LabelsConfig(Strict):
    hold: str = "issueops::hold"
    approved: str = "approval::approved"
    sla_breached: str = "sla::breached"
    needs_human: str = "issueops::needs-human"


class FeedSource(Strict):
    type: Literal["feed"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    url: str
    labels: list[str] = Field(default_factory=list)
    max_items: int = Field(20, ge=1, le=500)


class HttpCheckSource(Strict):
    type: Literal["http"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    url: str
    expected_status: int = Field(200, ge=100, le=599)
    body_pattern: str | None = None
    max_latency_ms: int = Field(5000, ge=1)
    timeout_seconds: float = Field(10, gt=0)
    labels: list[str] = Field(default_factory=list)


class GithubSearchSource(Strict):
    type: Literal["github_search"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    query: str
    labels: list[str] = Field(default_factory=list)
    max_items: int = Field(30, ge=1, le=100)


Source = Annotated[FeedSource | HttpCheckSource | GithubSearchSource, Field(discriminator="type")]


class SlaDefaults(Strict):
    due_hours: float = Field(72, gt=0)
    reminder_hours: float = Field(48, gt=0)
    escalation_hours: float = Field(96, gt=0)
    escalate_to: list[str] = Field(default_factory=list, description="Logins or @org/team to mention.")
    unassign_after_hours: float | None = Field(None, gt=0)
    exempt_labels: list[str] = Field(default_factory=list)


class TelemetryConfig(Strict):
    directory: str = "telemetry"


class OwnersConfig(Strict):
    unavailable: list[str] = Field(default_factory=list, description="Logins on leave: never assigned.")
    max_open_items: int | None = Field(None, ge=1, description="Capacity per owner for least-loaded.")


class Config(Strict):
    """`.github/issueops.yml`."""

    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    sources: list[Source] = Field(default_factory=list)
    sla: SlaDefaults = Field(default_factory=SlaDefaults)
    owners: OwnersConfig = Field(default_factory=OwnersConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    default_branch: str | None = Field(None, description="Base for deliverable branches; default: repo's.")
    bot_login: str | None = Field(None, description="The pipeline's own login, if not the token's user.")


__all__ = ["Config", "HttpUrl", "Profile", "Risk", "Source"]
