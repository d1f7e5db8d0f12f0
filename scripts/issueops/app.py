"""Wire one command run together: config, port, governor, telemetry, stages, summary.

The CLI calls `run_stages`; the demo and the tests call it too, with an injected clock or port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests

from issueops.actions_env import ActionsEvent
from issueops.brake import Brake
from issueops.config.labels import label_set
from issueops.config.settings import Config
from issueops.config.validate import validate_all
from issueops.core.errors import BudgetExhausted, ConfigError, Interrupted, UserError
from issueops.core.model import WorkItem
from issueops.core.options import Options, check_api_url, check_repo
from issueops.core.states import current_state
from issueops.github.cache import EtagCache
from issueops.github.clock import Clock, SystemClock
from issueops.github.governor import Governor, GovernorSettings
from issueops.github.models_api import ModelsApi
from issueops.github.port import GitHubPort
from issueops.model_assist import ModelAsker
from issueops.pipeline import (
    AssignStage,
    CommandsStage,
    MonitorStage,
    ProcessStage,
    RepairStage,
    SettleStage,
    SweepStage,
    continued_items,
    finish_interrupted,
    status_after,
)
from issueops.run_figures import run_figures
from issueops.runner import Runner, RunSummary, Runtime, Stage
from issueops.snapshot import is_managed
from issueops.sources.base import Fetch, FetchError, FetchResult
from issueops.telemetry.export import RunExporter
from issueops.telemetry.sink import TelemetrySink

STAGE_ORDER = ("commands", "monitor", "assign", "process", "sweep")


def http_fetch(url: str, timeout: float) -> FetchResult:
    """The intake sources' window on the web: one GET, no redirects to other schemes."""
    started = time.monotonic()
    try:
        reply = requests.get(url, timeout=timeout, headers={"User-Agent": "issueops-monitor"})
    except requests.RequestException as exc:
        raise FetchError(f"{url}: {type(exc).__name__}") from exc
    elapsed = (time.monotonic() - started) * 1000
    return FetchResult(reply.status_code, reply.content, elapsed, dict(reply.headers))


@dataclass
class Session:
    """What a run holds open: closed (cache saved, telemetry fsynced) at the end."""

    port: GitHubPort
    governor: Governor
    telemetry: TelemetrySink
    agent_port: GitHubPort | None = None  # the user token that assigns Copilot, when configured


def _require(value: str | None, what: str) -> str:
    if not value:
        raise UserError(what)
    return value


@dataclass(frozen=True)
class ProgressTick:
    """What a progress display shows: where the run is and what it has cost so far."""

    stage: str
    done: int
    total: int
    requests: int
    waits: int
    waited_seconds: float
    waiting: float = 0.0  # seconds of the wait starting now (rate limit, backoff), else 0


ShowProgress = Callable[[ProgressTick], None]


def _metered(show: ShowProgress | None, governor: Governor) -> Callable[[str, int, int], None]:
    """The runner's (stage, done, total) with the governor's counts added, for `show`."""
    if show is None:
        return lambda stage, done, total: None

    def tick(stage: str, done: int, total: int) -> None:
        stats = governor.stats
        show(ProgressTick(stage, done, total, stats.requests_made, stats.waits, stats.waited_seconds))

    return tick


class StopRequest:
    """Set by the first Ctrl-C: the run finishes the item in hand and starts no other."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def request(self, reason: str = "interrupted (Ctrl-C)") -> None:
        self.reason = self.reason or reason


class InterruptibleBudget:
    """The governor as the runner's budget, plus the stop request checked before every item."""

    def __init__(self, governor: Governor, stop: StopRequest) -> None:
        self.governor = governor
        self.stop = stop

    @property
    def requests_made(self) -> int:
        return self.governor.requests_made

    @property
    def requests_counted(self) -> int:
        return self.governor.requests_counted

    def can_afford(self, requests: int) -> bool:
        return self.governor.can_afford(requests)

    @contextmanager
    def item_scope(self, estimated_requests: int) -> Iterator[None]:
        if self.stop.reason:
            raise Interrupted(self.stop.reason)
        with self.governor.item_scope(estimated_requests):
            yield


def server_now(governor: Governor) -> datetime | None:
    """GitHub's (or the sandbox's) own clock, from the last reply's Date header."""
    date = governor.last_date
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def load_definitions(opts: Options) -> tuple[Any, Any, dict[str, str]]:
    """Config, workflows and template texts; any problem stops the run before a single write."""
    report = validate_all(opts.config_path, opts.schemas_dir)
    if report.problems or report.config is None:
        raise ConfigError(report.problems)
    templates_dir = opts.schemas_dir / "templates"
    templates = (
        {
            str(p.relative_to(templates_dir)): p.read_text(encoding="utf-8")
            for p in sorted(templates_dir.rglob("*"))
            if p.is_file()
        }
        if templates_dir.is_dir()
        else {}
    )
    return report.config, report.workflows, templates


@contextmanager
def open_session(
    opts: Options,
    command: str,
    config: Any,
    *,
    clock: Clock | None = None,
    port_factory: Callable[[Governor], GitHubPort] | None = None,
    cache_path: Path | None = None,
) -> Iterator[Session]:
    repo = check_repo(opts.repo)
    api_url = check_api_url(opts.api_url)
    cache_path = cache_path or Path(config.api.cache_path)
    telemetry = TelemetrySink(
        opts.telemetry_dir,
        repo,
        command=command,
        secret_env=("GITHUB_TOKEN", opts.token_env, "ISSUEOPS_APP_PRIVATE_KEY", config.copilot.token_env),
    )
    settings = GovernorSettings.from_config(
        config.api, max_requests=opts.max_requests, max_seconds=opts.max_seconds
    )
    governor = Governor(
        settings,
        clock=clock or SystemClock(),
        on_event=lambda event, fields: _record(telemetry, event, fields),
        cache=EtagCache.load(cache_path),
    )
    port = port_factory(governor) if port_factory is not None else _adapter(opts, repo, api_url, governor)
    agent_port = agent_port_for(opts, config, governor, repo, api_url) if port_factory is None else None
    session = Session(port=port, governor=governor, telemetry=telemetry, agent_port=agent_port)
    try:
        yield session
    finally:
        agent_close = getattr(agent_port, "close", None)
        if agent_close is not None:
            agent_close()
        close = getattr(port, "close", None)
        if close is not None:
            close()
        else:
            governor.save_cache()
        telemetry.close()


def app_credentials(opts: Options) -> tuple[str, str] | None:
    """(App ID, private key) when `ISSUEOPS_APP_ID` is set: the run then acts as the App."""
    if opts.app_id is None:
        return None
    key = _require(
        opts.app_private_key,
        "ISSUEOPS_APP_ID is set but no private key: set ISSUEOPS_APP_PRIVATE_KEY to the App's PEM "
        "key (or ISSUEOPS_APP_PRIVATE_KEY_FILE to its path)",
    )
    return opts.app_id, key


def _adapter(opts: Options, repo: str, api_url: str, governor: Governor) -> GitHubPort:
    """The PyGithub adapter, as the GitHub App when its credentials are set, else with the token."""
    from issueops.github.adapter import AppAuth, PyGithubAdapter

    app = app_credentials(opts)
    if app is not None:
        return PyGithubAdapter(
            repo,
            api_url=api_url,
            app_auth=AppAuth(app_id=app[0], private_key=app[1]),
            governor=governor,
            dry_run=opts.dry_run,
        )
    token = _require(
        opts.token,
        f"no token: set ${opts.token_env} (or pass --token-env NAME) to a token with issues:write, "
        "or ISSUEOPS_APP_ID and ISSUEOPS_APP_PRIVATE_KEY to act as a GitHub App",
    )
    return PyGithubAdapter(repo, api_url=api_url, token=token, governor=governor, dry_run=opts.dry_run)


def agent_port_for(
    opts: Options, config: Any, governor: Governor, repo: str, api_url: str
) -> GitHubPort | None:
    """A second adapter for the second credential: the user token that assigns Copilot (an
    installation token cannot). Same governor: one budget, one pace, and the token redacted."""
    token = opts.env.get(config.copilot.token_env) or None
    if token is None:
        return None
    from issueops.github.adapter import PyGithubAdapter

    return PyGithubAdapter(repo, api_url=api_url, token=token, governor=governor, dry_run=opts.dry_run)


def build_stages(
    names: Sequence[str],
    *,
    event_item: int | None,
    fetch: Fetch = http_fetch,
    event: ActionsEvent | None = None,
    refusals_path: Path | None = None,
    models: ModelAsker | None = None,
) -> list[Stage]:
    table: dict[str, Callable[[], Stage]] = {
        "commands": lambda: CommandsStage(event_item, event, refusals_path),
        "monitor": lambda: MonitorStage(fetch),
        "assign": lambda: AssignStage(models),
        "process": ProcessStage,
        "sweep": SweepStage,
    }
    return [table[name]() for name in names]


def run_stages(
    opts: Options,
    names: Sequence[str],
    *,
    command: str | None = None,
    event_item: int | None = None,
    clock: Clock | None = None,
    now: datetime | None = None,
    port_factory: Callable[[Governor], GitHubPort] | None = None,
    fetch: Fetch = http_fetch,
    cache_path: Path | None = None,
    stop: StopRequest | None = None,
    progress: ShowProgress | None = None,
    event: ActionsEvent | None = None,
) -> RunSummary:
    """Run the named stages in order, in one run (one run id, one snapshot, one budget).

    `stop` (set by the CLI's Ctrl-C handler) ends the run between items; a second Ctrl-C
    (KeyboardInterrupt) ends it at once. Either way the run is recorded as interrupted.
    A run for one event (`event_item`) gets the small fixed budget of `commands:` in the config
    and leaves `commands.event_reserve` of the hourly limit to the schedules, whatever the flags.
    """
    stop = stop or StopRequest()
    command = command or " ".join(names)
    config, workflows, templates = load_definitions(opts)
    if event_item is not None:
        config, opts = event_budget(config, opts)
    cache_path = cache_path or Path(config.api.cache_path)
    started = time.monotonic()
    summary = RunSummary(command=command, dry_run=opts.dry_run)
    with open_session(
        opts, command, config, clock=clock, port_factory=port_factory, cache_path=cache_path
    ) as session:
        tel = session.telemetry
        exporter = RunExporter.attach(tel, opts.env, pushgateway=config.telemetry.pushgateway)
        tel.emit("run.started", command=command, dry_run=opts.dry_run)
        try:
            bot = opts.bot_login or config.bot_login or session.port.whoami().login
            # the commands stage never needs the default branch: one request fewer per event run
            needs_branch = not set(names) <= {"commands"}
            base_branch = config.default_branch or (session.port.default_branch() if needs_branch else "main")
        except BudgetExhausted as stop_early:  # not even the run's own setup fits: every stage waits
            summary.budget_stop, summary.outage = str(stop_early), stop_early.outage
            bot, base_branch = opts.bot_login or config.bot_login or "", config.default_branch or "main"
        rt = Runtime(
            repo=check_repo(opts.repo),
            port=session.port,
            budget=InterruptibleBudget(session.governor, stop),
            telemetry=tel,
            config=config,
            workflows=workflows,
            bot_login=bot,
            now=now or server_now(session.governor) or datetime.now(UTC),
            dry_run=opts.dry_run,
            limit=opts.limit,
            item_filter=opts.item if event_item is None else None,
            base_branch=base_branch,
            templates=templates,
            agent_port=session.agent_port,
        )
        rt.html_base = html_base(opts.api_url)
        runner = Runner(rt, summary, on_progress=_metered(progress, session.governor))
        brake = Brake(
            rt,
            summary,
            _brake_dirs(opts, config),
            event_item=event_item,
            event_comment=event.comment.body if event is not None and event.comment is not None else None,
            live=not opts.dry_run,
        )
        if not summary.budget_stop:
            brake.before()
        stages_that_repair = ("commands", "assign", "process", "sweep")
        if any(n in names for n in stages_that_repair) and event_item is None:
            if not summary.budget_stop:
                try:
                    for line in finish_interrupted(rt):
                        summary.rows.append(_repair_row(line))
                except BudgetExhausted as exhausted:  # every stage is deferred, and the summary says why
                    summary.budget_stop, summary.outage = str(exhausted), exhausted.outage
            if not summary.budget_stop:  # a stopped run leaves the doubles to the next one
                runner.run_stage(RepairStage(pulls="process" in names or "sweep" in names))
        models = model_asker(opts, config, clock, tel) if "assign" in names else None
        refusals = cache_path.parent / "refusals.json"
        try:
            stages = build_stages(
                names, event_item=event_item, fetch=fetch, event=event, refusals_path=refusals, models=models
            )
            for stage in stages:
                runner.run_stage(stage)
            commands = next((s for s in stages if isinstance(s, CommandsStage)), None)
            # An approval takes effect in the run it triggers: process or publish at once. (The
            # hourly catch-up, no event, leaves that to the process workflow's schedule.)
            if commands is not None and event_item is not None and "process" not in names and not rt.dry_run:
                continued = continued_items(rt, commands)
                if continued:
                    stages.append(ProcessStage(continued))
                    runner.run_stage(stages[-1])
            process = next((s for s in stages if isinstance(s, ProcessStage)), None)
            if process is not None and "commands" in names and not rt.dry_run:
                refresh = status_after(process, refusals)
                if refresh is not None:
                    runner.run_stage(refresh)
        except Interrupted as exc:
            summary.interrupted = str(exc)
        except KeyboardInterrupt:
            summary.interrupted = "interrupted (Ctrl-C twice: stopped inside an item)"
        finally:
            if models is not None:
                models.api.close()
        if not rt.dry_run and not summary.interrupted and not summary.budget_stop:  # braked: dry
            runner.run_stage(SettleStage(runner.applier, run_seconds=time.monotonic() - started))
        if not summary.stages.get("repair", {}).get("seen"):
            summary.stages.pop("repair", None)  # nothing doubled: the summary shows the stages asked for
        if not summary.interrupted:  # an interrupted run leaves the evaluation to the next one
            brake.after()
        _record_states(rt, tel)
        summary.orphans = rt.orphans
        summary.model = models.summary() if models is not None else None
        summary.requests_made = session.governor.requests_made
        summary.requests_counted = session.governor.requests_counted
        summary.duration_ms = int((time.monotonic() - started) * 1000)
        model_fields: dict[str, Any] = {"model": summary.model} if summary.model is not None else {}
        tel.emit(
            "run.completed",
            command=command,
            items_seen=summary.items_seen,
            items_changed=summary.items_changed,
            items_failed=summary.items_failed,
            items_deferred=len(summary.deferred),
            deferred=summary.deferred,
            requests_made=summary.requests_made,
            requests_counted=summary.requests_counted,
            duration_ms=summary.duration_ms,
            exit_code=summary.exit_code,
            **model_fields,
            **_interrupted_fields(summary),
        )
        exporter.finish(
            run_figures(rt, summary, runner.created, run_id=tel.run_id, finished_at=datetime.now(UTC))
        )
    if (anchor := session.telemetry.anchor()) is not None:
        summary.telemetry = anchor.as_dict()
    return summary


def event_budget(config: Config, opts: Options) -> tuple[Config, Options]:
    """The budget of a run for one event: small and fixed, and never the schedules' share."""
    settings = config.commands
    wanted = opts.max_requests or config.api.max_requests_per_run
    api = config.api.model_copy(
        update={
            "max_requests_per_run": min(wanted, settings.event_max_requests),
            "reserve": max(config.api.reserve, settings.event_reserve),
        }
    )
    return config.model_copy(update={"api": api}), replace(opts, max_requests=api.max_requests_per_run)


def states_now(items: Sequence[WorkItem], needs_human_label: str) -> tuple[dict[str, int], int]:
    """Open items by their current state label (`none`: no or several state labels), and how many
    carry the needs-human label: what the report shows as "now", never-transitioned items included."""
    counts: dict[str, int] = {}
    flagged = 0
    for item in items:
        state = current_state(item.labels)
        name = state.value if state is not None else "none"
        counts[name] = counts.get(name, 0) + 1
        flagged += needs_human_label in item.labels
    return counts, flagged


def _record_states(rt: Runtime, telemetry: TelemetrySink) -> None:
    """`run.states` from the run's snapshot of open items (after its own writes), when it read one."""
    snap = rt.snapshot
    if snap is None or not snap.items:
        return
    items = [s.item for s in snap.items.values() if s.item.state == "open" and is_managed(s.item)]
    counts, flagged = states_now(items, rt.config.labels.needs_human)
    telemetry.emit("run.states", states=counts, needs_human=flagged, open_items=len(items))


def _interrupted_fields(summary: RunSummary) -> dict[str, Any]:
    """`interrupted` on the run.completed line of a run stopped by Ctrl-C (absent otherwise)."""
    return {"interrupted": summary.interrupted} if summary.interrupted else {}


def model_asker(
    opts: Options, config: Any, clock: Clock | None, telemetry: TelemetrySink
) -> ModelAsker | None:
    """GitHub Models for the assign stage when `assign.model` is on; its own governor and budget.

    The token is the run's own (in Actions, the job's token with `models: read`); without one
    every question falls back to the rules, and the run goes on."""
    settings = config.assign.model_on
    if settings is None:
        return None
    api = ModelsApi(
        settings,
        opts.token or "",
        api=config.api,
        clock=clock or SystemClock(),
        on_event=lambda event, fields: _record(telemetry, event, fields),
    )
    if not opts.token:
        api.stopped = f"no token: set ${opts.token_env} to a token with `models: read`"
    return ModelAsker(api, settings, telemetry)


def sync_labels(opts: Options, *, port_factory: Callable[[Governor], GitHubPort] | None = None) -> list[str]:
    """Create or update the label set; returns the names changed (none on a second run)."""
    config, workflows, _ = load_definitions(opts)
    with open_session(opts, "labels sync", config, port_factory=port_factory) as session:
        session.telemetry.emit("run.started", command="labels sync", dry_run=opts.dry_run)
        changed = session.port.ensure_labels(label_set(config, workflows))
        session.telemetry.emit(
            "run.completed",
            command="labels sync",
            items_seen=0,
            items_changed=len(changed),
            items_failed=0,
            items_deferred=0,
            deferred=[],
            requests_made=session.governor.requests_made,
            requests_counted=session.governor.requests_counted,
            duration_ms=0,
            exit_code=0,
        )
    return changed


def _record(telemetry: TelemetrySink, event: str, fields: dict[str, object]) -> None:
    data = dict(fields)
    if event == "api.budget_stop":
        data.setdefault("remaining", data.pop("rate_remaining", None))
    item = data.pop("item", None)
    telemetry.emit(event, item=item if isinstance(item, int) else None, **data)


def _brake_dirs(opts: Options, config: Any) -> list[Path]:
    """Where the brake reads earlier runs: this run's telemetry directory, and the history."""
    history = config.brake.history_dir
    return [opts.telemetry_dir, *([Path(history)] if history else [])]


def html_base(api_url: str) -> str:
    """The web address beside an API base: api.github.com -> github.com, HOST/api/v3 -> HOST."""
    url = api_url.rstrip("/")
    if url == "https://api.github.com":
        return "https://github.com"
    return url[: -len("/api/v3")] if url.endswith("/api/v3") else url


def _repair_row(line: str) -> Any:
    from issueops.runner import PlanRow

    target, _, detail = line.partition(": ")
    return PlanRow("repair", target, "FinishTransition", detail)
