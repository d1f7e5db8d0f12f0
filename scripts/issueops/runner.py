"""The read-plan-apply-record loop shared by every stage.

A stage reads its work units, the runner asks it for a pure plan per unit, applies the plan
through the port (unless dry-run), records telemetry, and isolates failures per item. The API
budget is checked *between* units, never inside one: a run that must stop early defers the
rest, says so, and exits 0, unless GitHub itself kept failing (an outage): then it exits 1.
An item whose plan fails it (e.g. a template that does not render) counts as failed, like an
item whose API call failed: the exit code never hides a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from issueops.apply import Applier, ItemState
from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.core.model import Action, Plan, WorkItem
from issueops.github.port import GitHubPort
from issueops.snapshot import Snapshot


class Budget(Protocol):
    """What the runner needs of the API governor."""

    @property
    def requests_made(self) -> int: ...

    @property
    def requests_counted(self) -> int: ...

    def can_afford(self, requests: int) -> bool: ...

    def item_scope(self, estimated_requests: int) -> AbstractContextManager[None]:
        """Raises BudgetExhausted before an item that does not fit; never stops one inside."""


class Telemetry(Protocol):
    run_id: str

    def emit(self, event: str, *, item: int | None = None, **fields: Any) -> dict[str, Any]: ...


@dataclass
class WorkUnit:
    """One thing a stage may change: an item (number and state) or an intake entry (key)."""

    key: str
    state: ItemState | None = None
    workflow: str | None = None
    data: Any = None
    item: int | None = None  # the item's number when there is no state (e.g. a closed item's orphan PR)

    @property
    def number(self) -> int | None:
        return self.state.item.number if self.state else self.item


class Stage(Protocol):
    """A stage may also say `cascade = True`: after a step moved an item on, the runner plans the
    same item again (from the state its own writes left) until it reaches a gate, a wait or the
    end, so one run moves an item as far as the policy allows (see `moved_on`)."""

    name: str
    estimated_requests: int  # writes and reads one unit may cost, for the budget check

    def read(self, rt: Runtime) -> list[WorkUnit]: ...

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan: ...


@dataclass
class PlanRow:
    """One line of the plan table (dry-run) or of what was done."""

    stage: str
    target: str
    action: str
    detail: str
    fields: dict[str, Any] = field(default_factory=dict)  # the action's values, JSON-ready (--json)


@dataclass
class RunSummary:
    command: str
    dry_run: bool
    items_seen: int = 0
    items_changed: int = 0
    items_failed: int = 0
    deferred: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    rows: list[PlanRow] = field(default_factory=list)
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    budget_stop: str | None = None
    outage: bool = False  # the stop was GitHub failing, not the budget: the run exits 1
    requests_made: int = 0
    requests_counted: int = 0
    duration_ms: int = 0
    orphans: dict[str, Any] | None = None  # the sweep's orphan report, when the sweep ran
    telemetry: dict[str, Any] | None = None  # this run file's anchor (file, lines, head), kept outside it
    interrupted: str | None = None  # why the run stopped before its end (Ctrl-C), or None
    model: dict[str, Any] | None = None  # GitHub Models use, when `assign.model` is on
    brake: dict[str, Any] | None = None  # braked, resumed, tripped, paused sources (issueops.brake)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.items_failed or self.outage else 0

    def as_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"orphans": self.orphans} if self.orphans is not None else {}
        if self.telemetry is not None:
            extra["telemetry"] = self.telemetry
        if self.model is not None:
            extra["model"] = self.model
        if self.brake is not None:
            extra["brake"] = self.brake
        return {
            **extra,
            "command": self.command,
            "dry_run": self.dry_run,
            "items_seen": self.items_seen,
            "items_changed": self.items_changed,
            "items_failed": self.items_failed,
            "items_deferred": len(self.deferred),
            "deferred": self.deferred,
            "failures": self.failures,
            "stages": self.stages,
            "budget_stop": self.budget_stop,
            "outage": self.outage,
            "interrupted": self.interrupted,
            "requests_made": self.requests_made,
            "requests_counted": self.requests_counted,
            "duration_ms": self.duration_ms,
            "exit_code": self.exit_code,
            "plan": [row.__dict__ for row in self.rows],
        }


@dataclass
class Runtime:
    """Everything a stage needs for one command run."""

    repo: str
    port: GitHubPort
    budget: Budget
    telemetry: Telemetry
    config: Config
    workflows: Sequence[WorkflowSchema]
    bot_login: str
    now: datetime
    dry_run: bool = False
    limit: int | None = None
    item_filter: int | None = None
    base_branch: str = "main"
    templates: dict[str, str] = field(default_factory=dict)
    # Shared by the stages of one run: the repository read once, and what the summary reports.
    snapshot: Snapshot | None = None
    html_base: str = "https://github.com"
    orphans: dict[str, Any] | None = None  # the sweep's orphan report, when the sweep ran
    paused_sources: dict[str, int] = field(default_factory=dict)  # source -> runs failed (the brake)
    agent_port: GitHubPort | None = None  # the user token's port (Copilot's assignment only)

    def workflow(self, name: str | None) -> WorkflowSchema | None:
        return next((w for w in self.workflows if w.name == name), None)


def action_fields(action: Action) -> dict[str, Any]:
    """The action's values as JSON data (lists, strings, numbers), never the full untrusted text."""
    fields = {k: jsonable(v) for k, v in action.__dict__.items() if k not in {"item", "body", "files"}}
    if "files" in action.__dict__:
        fields["files"] = [path for path, _ in action.__dict__["files"]]
    return fields


def describe(action: Action) -> tuple[str, str]:
    """A short (verb, detail) for the plan table: `labels=a, b`, never a Python repr."""
    name = type(action).__name__
    detail = ", ".join(f"{k}={_short(v)}" for k, v in action_fields(action).items())
    return name, detail


def jsonable(value: Any) -> Any:
    """Plain JSON data for a value of an action: tuples become lists, enums their value, etc."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in value.__dict__.items()}
    return str(value)


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, list):
        text = ", ".join(_short(v, limit) for v in value) if value else "(none)"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {_short(v, limit)}" for k, v in value.items())
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


OnProgress = Callable[[str, int, int], None]
"""Told (stage, units done, units total) when a stage has read its units and after each unit."""


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


MAX_STEPS = 6
"""At most this many steps of one item in one stage run (a cascading stage: see `moved_on`); the
longest path, assigned -> in-progress -> awaiting-approval or approved -> done, takes three."""


def progress_of(unit: WorkUnit) -> tuple[object, ...]:
    """Where an item stands for the cascade: its state label, open or closed, its PR."""
    if unit.state is None:
        return ()
    pr = unit.state.pull_request
    labels = tuple(sorted(x for x in unit.state.item.labels if x.startswith("state::")))
    return labels, unit.state.item.state, (pr.number, pr.state, pr.merged) if pr is not None else None


def moved_on(before: tuple[object, ...], unit: WorkUnit) -> bool:
    """Whether a cascading stage plans the item again in the same run: the step it applied moved
    it (another state, or its deliverables' PR opened) and left it open. A step that ends at a
    gate moves it too (to `awaiting-approval`); the next plan is empty: it waits for a person."""
    after = progress_of(unit)
    return bool(after) and after != before and unit.state is not None and unit.state.item.state == "open"


class Runner:
    def __init__(
        self,
        rt: Runtime,
        summary: RunSummary,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_progress: OnProgress = _no_progress,
    ):
        self.rt = rt
        self.summary = summary
        self.clock = clock
        self.on_progress = on_progress
        self.applier = Applier(
            rt.port,
            bot_login=rt.bot_login,
            emit=rt.telemetry.emit,
            base_branch=rt.base_branch,
            agent_port=rt.agent_port,
            agent_token_env=rt.config.copilot.token_env,
            now=rt.now,
        )
        self.created: list[WorkItem] = []  # items this run opened (the snapshot holds them from the next run)

    def run_stage(self, stage: Stage) -> None:
        rt, summary = self.rt, self.summary
        counts = summary.stages.setdefault(stage.name, {"seen": 0, "changed": 0, "failed": 0, "deferred": 0})
        if summary.budget_stop:
            counts["deferred"] += 1
            summary.deferred.append(f"{stage.name}:*")
            return
        try:
            units = stage.read(rt)
        except BudgetExhausted as stop:
            self._budget_stop(stage.name, stop, [])
            return
        if rt.item_filter is not None:
            units = [u for u in units if u.number in (None, rt.item_filter)]
        self.on_progress(stage.name, 0, len(units))
        for index, unit in enumerate(units):
            if index:
                self.on_progress(stage.name, index, len(units))
            counts["seen"] += 1
            summary.items_seen += 1
            if rt.limit is not None and summary.items_changed >= rt.limit:
                self._defer(stage.name, units[index:], counts)
                return
            changed = False
            try:
                for _step in range(MAX_STEPS if getattr(stage, "cascade", False) else 1):
                    before = progress_of(unit)
                    with rt.budget.item_scope(stage.estimated_requests):
                        plan = stage.plan(rt, unit)
                        if not plan.actions:
                            self._record_events(unit, plan)  # e.g. a source that could not be read
                            break
                        self._record_rows(stage.name, unit, plan)
                        if not rt.dry_run:
                            applied = self.applier.apply(plan.actions, unit.state, workflow=unit.workflow)
                            self.created.extend(applied.created_items)
                            self._record_events(unit, plan)
                    if self._planned_failure(stage.name, unit, plan):
                        counts["failed"] += 1
                        break
                    if not changed:
                        changed = True
                        counts["changed"] += 1
                        summary.items_changed += 1
                    if rt.dry_run or not moved_on(before, unit):
                        break  # a gate, a wait or the end: the next step is not this run's
            except BudgetExhausted as stop:
                # a cascading item's next step (if it moved already) waits for the next run too
                self._budget_stop(stage.name, stop, units[index:], counts)
                return
            except GitHubError as exc:
                counts["failed"] += 1
                self._fail(stage, unit, exc)
        self.on_progress(stage.name, len(units), len(units))

    # --- bookkeeping --------------------------------------------------------------------------

    def _record_events(self, unit: WorkUnit, plan: Plan) -> None:
        if self.rt.dry_run:
            return
        for event in plan.events:
            fields = dict(event)
            name = str(fields.pop("event"))
            item = fields.pop("item", None)
            number = unit.number if unit.number is not None else item
            self.rt.telemetry.emit(name, item=number if isinstance(number, int) else None, **fields)

    def _record_rows(self, stage: str, unit: WorkUnit, plan: Plan) -> None:
        target = f"#{unit.number}" if unit.number is not None else unit.key
        for action in plan.actions:
            verb, detail = describe(action)
            self.summary.rows.append(PlanRow(stage, target, verb, detail, action_fields(action)))

    def _defer(self, stage: str, units: list[WorkUnit], counts: dict[str, int]) -> None:
        for unit in units:
            self.summary.deferred.append(f"{stage}:{unit.number if unit.number is not None else unit.key}")
            counts["deferred"] += 1

    def _budget_stop(
        self, stage: str, stop: BudgetExhausted, units: list[WorkUnit], counts: dict[str, int] | None = None
    ) -> None:
        self.summary.budget_stop = str(stop)  # the governor has recorded api.budget_stop
        self.summary.outage = self.summary.outage or stop.outage
        self._defer(stage, units, counts if counts is not None else {"deferred": 0})

    def _planned_failure(self, stage: str, unit: WorkUnit, plan: Plan) -> bool:
        """The plan moves the item to `failed` (its `item.failed` event is already recorded):
        count it and list it with the plan's hint, as a failed API call would be."""
        event = next((e for e in plan.events if e.get("event") == "item.failed"), None)
        if event is None:
            return False
        self.summary.items_failed += 1
        code = str(event.get("failure_code", "invalid_contract"))
        self.summary.failures.append(
            {
                "stage": stage,
                "target": unit.number if unit.number is not None else unit.key,
                "failure_class": str(event.get("failure_class", "permanent")),
                "failure_code": code,
                "hint": str(event.get("hint") or _default_hint(code)),
                "message": "; ".join(plan.reasons) or "the item moved to state::failed",
            }
        )
        return True

    def _fail(self, stage: Stage, unit: WorkUnit, exc: GitHubError) -> None:
        self.summary.items_failed += 1
        failure = {
            "stage": stage.name,
            "target": unit.number if unit.number is not None else unit.key,
            "failure_class": exc.failure_class,
            "failure_code": exc.code,
            "hint": exc.hint or _default_hint(exc.code),
            "message": str(exc),
        }
        self.summary.failures.append(failure)
        self.rt.telemetry.emit(
            "item.failed",
            item=unit.number,
            stage=stage.name,
            failure_class=exc.failure_class,
            failure_code=exc.code,
            hint=failure["hint"],
        )
        on_failure = getattr(stage, "on_failure", None)
        if on_failure is not None and exc.failure_class == "permanent" and not self.rt.dry_run:
            try:
                actions = on_failure(self.rt, unit, exc)
                if actions:
                    self.applier.apply(actions, unit.state, workflow=unit.workflow)
            except (GitHubError, BudgetExhausted):
                pass  # the failure is recorded; the next run or a person picks it up


_HINTS = {
    "timeout": "GitHub did not answer in time; the next run retries automatically.",
    "upstream_unavailable": "GitHub answered 5xx repeatedly; the next run retries automatically.",
    "rate_limited": "The API limit was hit; the next run continues. Lower --max-requests or the schedule.",
    "contention": "Someone changed the same object at once; the next run retries.",
    "not_found": "The object is gone or the token cannot see it; check the item and token scopes.",
    "validation": "GitHub rejected the request as invalid; check the workflow schema and templates.",
    "authorization_denied": "The token lacks a permission; see docs/operations.md (token permissions).",
    "invalid_contract": "An unexpected answer or a broken template; fix it, then comment /retry.",
}


def _default_hint(code: str) -> str:
    return _HINTS.get(code, "See docs/operations.md, failure classes.")
