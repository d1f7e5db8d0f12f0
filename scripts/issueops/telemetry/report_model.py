"""The report's figures as plain data: what every format renders, and the JSON document itself.

Durations are seconds; timestamps are RFC 3339 strings; nothing here needs the telemetry again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from issueops.telemetry.kpi import Stat, basis, human_duration, human_percent

AUDIT_COLUMNS: tuple[str, ...] = (
    "ts",
    "run_id",
    "item",
    "event",
    "from",
    "to",
    "login",
    "reason",
    "workflow",
    "repo",
)


@dataclass(frozen=True)
class AuditRow:
    """One row of the CSV audit export: a transition or an approval event."""

    ts: str
    run_id: str
    item: int
    event: str
    source: str
    target: str
    login: str
    reason: str
    workflow: str
    repo: str

    def cells(self) -> list[str]:
        return [
            self.ts,
            self.run_id,
            str(self.item),
            self.event,
            self.source,
            self.target,
            self.login,
            self.reason,
            self.workflow,
            self.repo,
        ]


@dataclass(frozen=True)
class FailureRow:
    """Failures of one class and code: how many events, how many distinct items, the last hint."""

    failure_class: str
    failure_code: str
    count: int
    items: int
    hint: str


@dataclass(frozen=True)
class RunRow:
    """One command run, from its `run.completed` line."""

    ts: str
    run_id: str
    command: str
    requests_made: int
    requests_counted: int
    items_changed: int
    items_deferred: int
    exit_code: int


@dataclass(frozen=True)
class Approvals:
    """Approval latency: entering awaiting-approval -> leaving it to approved (the gate passed),
    and -> the first `approval.granted` of that wait."""

    latency: Stat = field(default_factory=Stat)
    first_approval: Stat = field(default_factory=Stat)
    pending: int = 0
    oldest_pending_seconds: float | None = None
    granted: int = 0
    denied: dict[str, int] = field(default_factory=dict)
    lapsed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowThrough:
    """Items that reached done, and how many got there with no manual command (approvals are the
    expected way through a gate and are not counted as stepping in: `approvals` says how many)."""

    done: int = 0
    hands_off: int = 0
    intervened: int = 0
    rate: float | None = None
    approvals: int = 0  # approvals granted to the items that reached done


@dataclass(frozen=True)
class ApiUsage:
    """API requests from `run.completed` lines, and the governor's waits."""

    runs: int = 0
    requests_made: int = 0
    requests_counted: int = 0
    per_run: Stat = field(default_factory=Stat)
    items_changed: int = 0
    per_item_changed: float | None = None
    waits: int = 0
    wait_seconds: float = 0.0
    runs_by_command: dict[str, int] = field(default_factory=dict)
    failed_runs: int = 0


@dataclass(frozen=True)
class BudgetStops:
    """Runs that stopped early to respect the API budget, and the items they deferred."""

    stops: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    items_deferred: int = 0


@dataclass(frozen=True)
class ModelUsage:
    """GitHub Models in the assign stage (`model.*` events), counted apart from the REST API."""

    calls: int = 0  # requests sent (retries included)
    questions: int = 0  # items asked about
    failed: int = 0  # questions with no usable answer
    placed: int = 0  # items the model placed (no rule had)
    fallbacks: int = 0
    fallbacks_by_reason: dict[str, int] = field(default_factory=dict)
    compared: int = 0  # items a rule placed that the model also answered
    agreed: int = 0
    agreement: float | None = None
    waits: int = 0
    budget_stops: int = 0

    @property
    def used(self) -> bool:
        return bool(self.questions or self.fallbacks or self.placed)


def model_figures(model: ModelUsage) -> list[tuple[str, object]]:
    """The rows every report format shows for GitHub Models."""
    agreement = f"{model.agreement:.0%} ({model.agreed} of {model.compared})" if model.compared else "—"
    return [
        ("model calls (requests)", f"{model.calls:,}"),
        ("items asked about", f"{model.questions:,}"),
        ("no usable answer", f"{model.failed:,}"),
        ("items placed by the model", f"{model.placed:,}"),
        ("fallbacks to the rules", f"{model.fallbacks:,}"),
        ("agreement with the rules", agreement),
        ("waits (429 retry-after)", f"{model.waits:,}"),
        ("quota or budget stops", f"{model.budget_stops:,}"),
    ]


@dataclass
class Report:
    """Every KPI of one window; `audit` feeds the CSV export and is left out of the JSON."""

    directory: str
    since: str | None = None
    until: str | None = None
    workflow: str | None = None
    as_of: str | None = None
    events_read: int = 0
    events_in_window: int = 0
    items: int = 0
    states_now: dict[str, int] = field(default_factory=dict)
    states_basis: str = ""  # where `states_now` comes from (labels read by a run, or transitions)
    needs_human: int = 0  # open items flagged for a person
    throughput: dict[str, int] = field(default_factory=dict)
    lead_time: Stat = field(default_factory=Stat)
    lead_time_unknown: int = 0
    time_in_state: dict[str, Stat] = field(default_factory=dict)
    approvals: Approvals = field(default_factory=Approvals)
    flow_through: FlowThrough = field(default_factory=FlowThrough)
    failures: list[FailureRow] = field(default_factory=list)
    api: ApiUsage = field(default_factory=ApiUsage)
    budget: BudgetStops = field(default_factory=BudgetStops)
    model: ModelUsage = field(default_factory=ModelUsage)
    runs: list[RunRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)

    @property
    def run_level_note(self) -> str | None:
        """Run-level figures cannot be split by workflow; say so when a workflow filter is on."""
        if self.workflow is None:
            return None
        return f"API usage, budget stops and runs cover all workflows, not only {self.workflow}."

    def to_dict(self) -> dict[str, Any]:
        # Field by field: converting the (possibly huge) audit list only to drop it is wasted work.
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "audit"}
        data["audit_rows"] = len(self.audit)
        data["schema"] = "issueops.report/1"
        return data


def _plain(value: Any) -> Any:
    """A dataclass (or a list or dict of them) as plain JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


HANDS_OFF = "approvals only"  # reached done with no manual command besides approving
INTERVENED = "a manual command"  # /retry, /hold, /assign, a state label moved by hand...


def flow_sentence(report: Report) -> str:
    """What flow-through counts, said in full: approvals are the way through a gate, not a person
    stepping in, so they are counted beside it rather than inside it."""
    flow = report.flow_through
    return (
        f"{flow.done:,} item(s) reached done; {flow.hands_off:,} of them with no manual command other "
        f"than approvals (flow-through rate {human_percent(flow.rate)}). Approvals granted to these "
        f"items: {flow.approvals:,}; {flow.intervened:,} item(s) needed another command or a label "
        "change by a person."
    )


def headlines(report: Report) -> list[tuple[str, str, str, str]]:
    """(key, label, value, basis) of each headline figure: every figure says what it rests on."""
    flow, api, a = report.flow_through, report.api, report.approvals
    done = flow.done
    requests = f"{api.per_run.p50:,.0f}" if api.per_run.p50 is not None else "—"
    return [
        ("done", "Items done", f"{flow.done:,}", f"{report.items:,} items in the telemetry"),
        (
            "lead-p50",
            "Lead time P50 (triage → done)",
            human_duration(report.lead_time.p50),
            basis(report.lead_time.n, done, "done items with a known triage start"),
        ),
        ("flow-through", "Flow-through", human_percent(flow.rate), basis(flow.hands_off, done, "done items")),
        (
            "approval-p50",
            "Approval latency P50",
            human_duration(a.latency.p50),
            f"{a.latency.n:,} gate(s) passed in the window",
        ),
        ("needs-human", "Needs a person", f"{report.needs_human:,}", "open items flagged needs-human"),
        ("failures", "Failures", f"{sum(f.count for f in report.failures):,}", "item.failed events"),
        ("requests-p50", "Requests / run P50", requests, f"{api.runs:,} run(s)"),
        ("budget-stops", "Budget stops", f"{report.budget.stops:,}", f"{api.runs:,} run(s)"),
    ]
