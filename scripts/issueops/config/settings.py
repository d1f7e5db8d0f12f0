"""The pipeline configuration `.github/issueops.yml`, as a strict pydantic model.

An empty file is a valid configuration: every field has a sensible default. Loading with
line-aware errors lives in `issueops.config.loader`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from issueops.config.copilot import CopilotConfig

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

    @field_validator("required_approvals", mode="after")
    @classmethod
    def _fill_missing_risks(cls, value: dict[Risk, int]) -> dict[Risk, int]:
        """Naming only `high: 3` keeps the defaults for the other risk levels."""
        return {**_default_approvals(), **value}


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
    writes_per_minute: int = Field(60, ge=1, le=80, description="Content-creation pace (GitHub allows ~80).")
    min_write_interval_seconds: float = Field(1.0, ge=0, description="Minimum gap between writes.")
    max_wait_seconds: float = Field(300, ge=0, description="Never wait longer than this: stop instead.")
    max_retries: int = Field(4, ge=0, le=10, description="Retries of a transient failure (5xx, timeout).")
    cache_path: str = Field(".issueops-cache/etags.json", description="Conditional-request cache file.")
    max_run_seconds: float | None = Field(
        None,
        gt=0,
        description="Wall-clock budget of one run (--max-seconds): no item starts after it; set it "
        "below the job's timeout-minutes so a run stops cleanly instead of being cancelled.",
    )


class LabelsConfig(Strict):
    hold: str = Field("issueops::hold", description="Freezes an item: no automatic transition.")
    approved: str = Field("approval::approved", description="Applied by an approver, counts as approval.")
    sla_breached: str = Field("sla::breached", description="Added when an item passes its due time.")
    needs_human: str = Field("issueops::needs-human", description="Added when the bot gives up on an item.")


class FeedSource(Strict):
    """An RSS or Atom feed: each entry becomes (or updates) one work item."""

    type: Literal["feed"] = Field(description="`feed`: RSS/Atom entries become items.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Becomes the `source::` label.")
    url: str = Field(description="The feed's http(s) URL.")
    labels: list[str] = Field(default_factory=list, description="Extra labels on items from this source.")
    max_items: int = Field(20, ge=1, le=500, description="Newest entries read per run.")


class HttpCheckSource(Strict):
    """An HTTP health check: a failing check opens (or updates) one work item."""

    type: Literal["http"] = Field(description="`http`: a failing check becomes an item.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Becomes the `source::` label.")
    url: str = Field(description="The http(s) URL to GET.")
    expected_status: int = Field(200, ge=100, le=599, description="Any other status is a failure.")
    body_pattern: str | None = Field(None, description="Regex the body must match (Python `re`).")
    max_latency_ms: int = Field(5000, ge=1, description="Slower responses are a failure.")
    timeout_seconds: float = Field(10, gt=0, description="Give up on the request after this long.")
    labels: list[str] = Field(default_factory=list, description="Extra labels on items from this source.")


class GithubSearchSource(Strict):
    """A GitHub issue search: matching issues are adopted as work items."""

    type: Literal["github_search"] = Field(description="`github_search`: search hits become items.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Becomes the `source::` label.")
    query: str = Field(description="GitHub issue search syntax, e.g. `is:open label:incident`.")
    labels: list[str] = Field(default_factory=list, description="Extra labels on adopted items.")
    max_items: int = Field(30, ge=1, le=100, description="Hits read per run.")


Source = Annotated[FeedSource | HttpCheckSource | GithubSearchSource, Field(discriminator="type")]


class SlaDefaults(Strict):
    """SLA clocks for workflows that do not set their own.

    Hours are measured from the later of the last human activity and the item's entering its
    current state; the pipeline's own comments and labels do not restart the clock."""

    due_hours: float = Field(72, gt=0, description="The item is due this many hours after the clock starts.")
    reminder_hours: float = Field(48, gt=0, description="The owner is reminded once at this age.")
    escalation_hours: float = Field(96, gt=0, description="escalate_to is mentioned and sla::breached added.")
    escalate_to: list[str] = Field(default_factory=list, description="Logins or @org/team to mention.")
    unassign_after_hours: float | None = Field(
        None, gt=0, description="Unassign an owner who did nothing for this long; off if unset."
    )
    exempt_labels: list[str] = Field(default_factory=list, description="Items with these labels have no SLA.")


HoldPermission = Literal["read", "triage", "write", "maintain", "admin"]


class HoldConfig(Strict):
    """Who may put an item on hold with `/hold` (besides configured approvers)."""

    permission: HoldPermission = Field(
        "triage", description="The lowest repository permission that may /hold any item."
    )
    author: bool = Field(True, description="May an item's author /hold their own item?")
    users: list[str] = Field(default_factory=list, description="Other logins who may /hold.")


class RefusalsConfig(Strict):
    """How the bot answers commands refused to people the repository does not know.

    Someone whose `author_association` rules out any access (NONE, FIRST_TIMER,
    FIRST_TIME_CONTRIBUTOR, MANNEQUIN) and who is not configured anywhere is refused without a
    single API read; the answers below are rate-limited per person so a flood of comments is
    not answered by a flood of replies."""

    reply_hours: float = Field(
        24, gt=0, description="At most one reply per person per item in this many hours; then a reaction."
    )
    silence_after: int = Field(
        10, ge=1, description="After this many refused commands in the window: no reply, no reaction."
    )
    window_hours: float = Field(24, gt=0, description="The window silence_after counts in.")
    by_association: bool = Field(
        True, description="Refuse on the payload's author_association alone (no permission lookup)."
    )


class CommandsConfig(Strict):
    """Comment commands: who may /hold, and the protection against floods of comments."""

    hold: HoldConfig = Field(default_factory=HoldConfig)
    refusals: RefusalsConfig = Field(default_factory=RefusalsConfig)
    event_max_requests: int = Field(
        60,
        ge=6,
        description="Request budget of one `commands --event` run, whatever --max-requests says.",
    )
    event_reserve: int = Field(
        400,
        ge=0,
        description="Requests of the hourly limit a `commands --event` run never spends (left to schedules).",
    )


class TelemetryConfig(Strict):
    directory: str = Field("telemetry", description="Where JSONL events go (--telemetry wins).")
    pushgateway: str | None = Field(
        None,
        description="Prometheus Pushgateway URL for each run's metrics ($ISSUEOPS_PUSHGATEWAY_URL wins).",
    )


class BrakeConfig(Strict):
    """When the pipeline stops itself (see docs/operations.md, the brake)."""

    enabled: bool = Field(True, description="Evaluate the trip conditions at the end of every run.")
    label: str = Field("issueops::brake", description="Marks the one alert issue; open means braked.")
    failure_rate: float = Field(
        0.5, gt=0, lt=1, description="Trip when more than this share of the items in the window failed."
    )
    failure_min_items: int = Field(4, ge=1, description="...and at least this many items were worked on.")
    window_hours: float = Field(6, gt=0, description="The failure-rate window, ending now.")
    rate_limit_runs: int = Field(
        2, ge=1, description="Trip after this many runs in a row ended at GitHub's primary rate limit."
    )
    drift_repairs: int = Field(10, ge=1, description="Trip when one sweep repairs drift on this many items.")
    source_failures: int = Field(
        3, ge=1, description="Pause an intake source that failed this many runs in a row (that source only)."
    )
    source_retry_hours: float = Field(
        6, gt=0, description="A paused source is tried once again after this long without a try."
    )
    history_dir: str | None = Field(
        None,
        description="Earlier runs' telemetry besides --telemetry (a checkout of the telemetry branch).",
    )


class OwnersConfig(Strict):
    unavailable: list[str] = Field(default_factory=list, description="Logins on leave: never assigned.")
    max_open_items: int | None = Field(None, ge=1, description="Capacity per owner for least-loaded.")


MODELS_ENDPOINT = "https://models.github.ai/inference/chat/completions"


class ModelAssignConfig(Strict):
    """Model-assisted assignment through GitHub Models (see docs/pipeline.md): the rules stay the
    floor; the model may only name a configured workflow, and only its confident answers count."""

    enabled: bool = Field(True, description="Set false to pause the model without deleting the block.")
    model: str = Field(
        "openai/gpt-4.1-mini",
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.:-]+$",
        description="Model id as `publisher/name` (GitHub Models catalogue).",
    )
    endpoint: str = Field(
        MODELS_ENDPOINT,
        pattern=r"^https?://\S+$",
        description="The chat-completions URL (an org-attributed one works too).",
    )
    timeout_seconds: float = Field(20, gt=0, le=120, description="Give up on one answer after this long.")
    max_calls_per_run: int = Field(20, ge=0, le=500, description="Model requests one run may send.")
    requests_per_minute: int = Field(10, ge=1, le=600, description="Pace of model requests.")
    min_confidence: float = Field(0.7, ge=0, le=1, description="Answers below this are ignored.")
    ask: Literal["unmatched", "all"] = Field(
        "unmatched",
        description="`unmatched`: only items no rule placed; `all`: every item (measures agreement).",
    )
    max_item_chars: int = Field(4000, ge=200, le=20000, description="Item text sent, at most.")


class AssignConfig(Strict):
    model: ModelAssignConfig | None = Field(None, description="Model-assisted assignment; off when absent.")

    @property
    def model_on(self) -> ModelAssignConfig | None:
        """The model settings when the feature is on, else None."""
        return self.model if self.model is not None and self.model.enabled else None


class Config(Strict):
    """`.github/issueops.yml`."""

    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    sources: list[Source] = Field(default_factory=list)
    sla: SlaDefaults = Field(default_factory=SlaDefaults)
    owners: OwnersConfig = Field(default_factory=OwnersConfig)
    assign: AssignConfig = Field(default_factory=AssignConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    brake: BrakeConfig = Field(default_factory=BrakeConfig)
    copilot: CopilotConfig = Field(default_factory=CopilotConfig)
    default_branch: str | None = Field(None, description="Base for deliverable branches; default: repo's.")
    bot_login: str | None = Field(None, description="The pipeline's own login, if not the token's user.")


__all__ = ["Config", "HttpUrl", "Profile", "Risk", "Source"]
