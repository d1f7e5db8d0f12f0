"""The five stages as the runner sees them: read work units, hand each to its pure planner.

Reads go through the shared run snapshot (see snapshot.py) so `issueops run` reads the
repository once; every decision is made by the planners in `issueops.stages`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from issueops.actions_env import ActionsEvent
from issueops.apply import Applier, ItemState
from issueops.approvals.engine import Authority
from issueops.approvals.grammar import parse_commands
from issueops.approvals.throttle import RefusalLog
from issueops.config.settings import Source
from issueops.copilot_follow import attach_copilot_prs, plan_follow
from issueops.core.errors import GitHubError
from issueops.core.model import (
    Action,
    Actor,
    AddLabels,
    Comment,
    CreateItem,
    ItemContext,
    Permission,
    Plan,
    PullRequest,
    Transition,
    UpsertComment,
    WorkItem,
)
from issueops.core.states import TERMINAL, State, current_state, resolve_interrupted
from issueops.model_assist import ModelAsker, matcher_for
from issueops.runner import Runtime, WorkUnit
from issueops.snapshot import (
    Snapshot,
    deliverable_branches,
    label_events,
    load_pulls,
    read_closed_active,
    read_closed_unclear,
    read_snapshot,
)
from issueops.sources.base import Fetch
from issueops.sources.collect import run_sources
from issueops.stages import assign as assign_stage
from issueops.stages import commands as commands_stage
from issueops.stages import duplicates, label_authority
from issueops.stages import monitor as monitor_stage
from issueops.stages import process as process_stage
from issueops.stages import sweep as sweep_stage
from issueops.stages.sweep_orphans import (
    BRANCH_PREFIX,
    OrphanReport,
    abandoned_pr,
    item_of_branch,
    plan_orphans,
)


def snapshot_of(rt: Runtime) -> Snapshot:
    """The run's snapshot, read on first use and shared by every stage of the run."""
    if rt.snapshot is None:
        rt.snapshot = read_snapshot(rt.port)
    return rt.snapshot


def context_of(rt: Runtime, state: ItemState, *, with_events: bool = False) -> ItemContext:
    events = tuple(label_events(rt.port, snapshot_of(rt), state.item.number)) if with_events else ()
    return ItemContext(state.item, tuple(state.comments), events, state.pull_request)


def permission_of(rt: Runtime, login: str) -> Permission:
    """A person's repository permission, once per run. Fail closed: any error means none."""
    cache = snapshot_of(rt).permissions
    if login not in cache:
        try:
            cache[login] = rt.port.get_permission(login)
        except GitHubError:
            cache[login] = "none"
    return cache[login]


def is_approver(rt: Runtime, login: str) -> bool:
    """Listed in `approvers.users` or a member of an `approvers.teams` team (errors: not)."""
    cache = snapshot_of(rt).approvers
    if login not in cache:
        listed = login.lower() in {u.lower() for u in rt.config.approvers.users}
        member = False
        for team in rt.config.approvers.teams:
            if listed or member:
                break
            try:
                member = rt.port.is_team_member(team, login)
            except GitHubError:
                member = False
        cache[login] = listed or member
    return cache[login]


def audit_of(
    rt: Runtime, state: ItemState, *, with_events: bool = False
) -> tuple[ItemContext, label_authority.Audit]:
    """The item's context (with its label history when a decision needs it) and the verdict on
    its pipeline labels. A history that cannot be read fails the item: nothing passes a gate."""
    risks = {w.name: w.risk for w in rt.workflows}
    history = label_authority.needs_history(
        context_of(rt, state), workflows=risks, bot_login=rt.bot_login, config=rt.config
    )
    ctx = context_of(rt, state, with_events=history or with_events)
    logins = (
        label_authority.lowering_appliers(ctx, workflows=risks, bot_login=rt.bot_login) if history else set()
    )
    audit = label_authority.audit_labels(
        ctx,
        workflows=risks,
        config=rt.config,
        bot_login=rt.bot_login,
        permissions={login: permission_of(rt, login) for login in sorted(logins)},
        approver_logins=frozenset(login for login in sorted(logins) if is_approver(rt, login)),
        history=history,
    )
    return ctx, audit


def workflow_of(state: ItemState) -> str | None:
    found = state.item.labels_with_prefix("workflow::")
    return found[0][len("workflow::") :] if found else None


def workflow_in(actions: Sequence[Action]) -> str | None:
    for action in actions:
        if isinstance(action, AddLabels):
            for label in action.labels:
                if label.startswith("workflow::"):
                    return label[len("workflow::") :]
    return None


def _units_from_plans(plans: Sequence[Plan], snap: Snapshot, stage: str) -> list[WorkUnit]:
    units = []
    for plan in plans:
        state = snap.items.get(plan.item) if plan.item is not None else None
        key = f"#{plan.item}" if plan.item is not None else _create_key(plan)
        workflow = workflow_in(plan.actions) or (workflow_of(state) if state else None)
        units.append(WorkUnit(key=key, state=state, workflow=workflow, data=plan))
    return units


def _create_key(plan: Plan) -> str:
    for action in plan.actions:
        if isinstance(action, CreateItem):
            return action.source_key
    return "run"


def _precomputed(unit: WorkUnit) -> Plan:
    assert isinstance(unit.data, Plan)
    return unit.data


class RepairStage:
    """The bot's own duplicates (comments, items, PRs) from overlapping runs: the oldest stays.

    Planned from the run's snapshot, so it costs nothing when there are none; PRs only when
    `pulls` (the run lists them anyway for process or sweep)."""

    name = "repair"
    estimated_requests = 3

    def __init__(self, *, pulls: bool):
        self.pulls = pulls

    def read(self, rt: Runtime) -> list[WorkUnit]:
        snap = snapshot_of(rt)
        plans = [
            plan
            for number, state in sorted(snap.items.items())
            if (plan := duplicates.plan_duplicate_comments(number, state.comments, rt.bot_login))
        ]
        plans += duplicates.plan_duplicate_items((s.item for s in snap.managed()), rt.bot_login)
        if self.pulls:
            load_pulls(rt.port, snap)
            plans += duplicates.plan_duplicate_pulls(snap.pulls, rt.bot_login)
        return _units_from_plans(plans, snap, self.name)

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        return _precomputed(unit)


class SettleStage:
    """After the other stages: did an overlapping run create the same comment or item as this run?

    The run that created its copy later always sees both here (the other copy existed before its
    own create, which is before this read), so it removes its own newer one; a run whose copy is
    the older keeps it. Two runs in any interleaving therefore end with one copy each. One listing
    of the comments since the run started (only when this run created a marked comment) and one
    of each intake source it opened an item from; nothing when it created neither."""

    name = "repair"
    estimated_requests = 3

    def __init__(self, applier: Applier, *, run_seconds: float):
        self.applier = applier
        self.run_seconds = run_seconds  # how long this run has been going: the listing's window

    def read(self, rt: Runtime) -> list[WorkUnit]:
        units = [
            WorkUnit(f"#{plan.item}", state=self.applier.commented[plan.item], data=plan)
            for plan in self._comment_plans(rt)
            if plan.item is not None
        ]
        sources = {x for a in self.applier.created_items for x in a.labels if x.startswith("source::")}
        items = [i for label in sorted(sources) for i in rt.port.list_items(labels=[label], state="all")]
        for plan in duplicates.plan_duplicate_items(items, rt.bot_login):
            item = next(i for i in items if i.number == plan.item)
            units.append(WorkUnit(f"#{item.number}", state=ItemState(item=item), data=plan))
        return units

    def _comment_plans(self, rt: Runtime) -> list[Plan]:
        commented = self.applier.commented
        if not commented:
            return []
        known = {number: {c.id: c for c in state.comments} for number, state in commented.items()}
        # Since this run read the items (GitHub's clock, from our own oldest new comment back over
        # the run so far, plus a margin): any copy made by another run in between is listed.
        ours = min(c.created_at for c in self.applier.created_comments)
        since = ours - timedelta(seconds=self.run_seconds + 60)
        for comment in rt.port.list_comments(since=since):
            if comment.issue_number in known:
                known[comment.issue_number].setdefault(comment.id, comment)
        plans = []
        for number, state in sorted(commented.items()):
            state.comments = sorted(known[number].values(), key=lambda c: (c.created_at, c.id))
            if plan := duplicates.plan_duplicate_comments(number, state.comments, rt.bot_login):
                plans.append(plan)
        return plans

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        return _precomputed(unit)


class MonitorStage:
    """Intake sources -> new work items (deduplicated by the source key in the body)."""

    name = "monitor"
    estimated_requests = 3

    def __init__(self, fetch: Fetch):
        self.fetch = fetch

    def read(self, rt: Runtime) -> list[WorkUnit]:
        if not rt.config.sources:
            return []
        snap = snapshot_of(rt)
        own = f"search:{rt.repo}#"  # a search never mirrors this repository's own issues
        sources = self._unpaused(rt)
        results = [
            replace(r, entries=tuple(e for e in r.entries if not e.key.startswith(own)))
            for r in run_sources(sources, fetch=self.fetch, port=rt.port)
        ]
        if not rt.dry_run:  # with `source.failed`, the circuit breaker's history
            for result in results:
                if result.error is None:
                    rt.telemetry.emit("source.read", source=result.source)
        known = []
        for source in sources:
            known += rt.port.list_items(labels=[f"source::{source.name}"], state="all")
        existing = monitor_stage.index_existing(known, rt.bot_login)
        for item in known:  # closed items are not in the snapshot; incidents may need them
            if item.number not in snap.items:
                snap.add(item)
        comments = {n: s.comments for n, s in snap.items.items()}
        plans = monitor_stage.plan_monitor(
            results, existing, config=rt.config, now=rt.now, comments=comments, bot_login=rt.bot_login
        )
        return _units_from_plans(plans, snap, self.name)

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        return _precomputed(unit)

    @staticmethod
    def _unpaused(rt: Runtime) -> list[Source]:
        """The sources to read: one whose circuit breaker is open (see the brake) is skipped."""
        sources = []
        for source in rt.config.sources:
            failures = rt.paused_sources.get(source.name)
            if failures is None:
                sources.append(source)
            elif not rt.dry_run:
                rt.telemetry.emit("source.paused", source=source.name, failures=failures)
        return sources


class AssignStage:
    """`state::triage` -> `state::assigned`: workflow, risk and owner."""

    name = "assign"
    estimated_requests = 4

    def __init__(self, models: ModelAsker | None = None) -> None:
        self.models = models  # GitHub Models, when `assign.model` is on (see model_assist.py)

    def read(self, rt: Runtime) -> list[WorkUnit]:
        snap = snapshot_of(rt)
        triage = [s for s in snap.managed() if current_state(s.item.labels) is State.TRIAGE]
        load = Counter(login for s in snap.managed() for login in s.item.assignees)
        contexts = [context_of(rt, s) for s in triage]
        matcher = matcher_for(
            contexts, workflows=rt.workflows, config=rt.config, asker=self.models, only_item=rt.item_filter
        )
        plans = assign_stage.plan_assign(
            contexts,
            workflows=rt.workflows,
            config=rt.config,
            open_load=dict(load),
            now=rt.now,
            bot_login=rt.bot_login,
            matcher=matcher,
        )
        if self.models is not None:
            self.models.count(plans)
        return _units_from_plans([labels_with_transition(p) for p in plans], snap, self.name)

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        return _precomputed(unit)


def labels_with_transition(plan: Plan) -> Plan:
    """One label request instead of two: the plan's AddLabels, moved to just before its
    Transition, also carries the new state label, so the transition only removes the old one.

    Owner and assessment are written first; a crash between the two label requests leaves two
    state labels, which `finish_interrupted` resolves from the transition table.
    """
    adds = [a for a in plan.actions if isinstance(a, AddLabels)]
    transitions = [a for a in plan.actions if isinstance(a, Transition)]
    if len(adds) != 1 or len(transitions) != 1:
        return plan
    rest = [a for a in plan.actions if a is not adds[0]]
    at = rest.index(transitions[0])
    target = State(transitions[0].to_state).label
    merged = AddLabels(adds[0].item, (*adds[0].labels, target))
    return replace(plan, actions=[*rest[:at], merged, *rest[at:]])


_PROCESS_STATES = {State.ASSIGNED, State.APPROVED, State.IN_PROGRESS, State.AWAITING_APPROVAL}


class ProcessStage:
    """Deliverables on a branch with a PR, guidance, hand-off, gates, publishing."""

    name = "process"
    estimated_requests = 12
    cascade = True  # one run moves an item as far as the policy allows (runner.moved_on)

    def __init__(self, only: Sequence[int] | None = None) -> None:
        # A commands run continues the items its approvals cleared here (`continued_items`):
        # those items as the commands stage has just read them, nothing else (no closed listing).
        self.only = tuple(only) if only is not None else None
        self.gated: list[int] = []  # items this run moved to a gate: their status is refreshed

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        plan = self._plan(rt, unit)
        gated = plan.moves_to(State.AWAITING_APPROVAL.value)
        if gated and unit.number is not None and unit.number not in self.gated:
            self.gated.append(unit.number)
        return plan

    def read(self, rt: Runtime) -> list[WorkUnit]:
        if self.only is not None:
            return [u for n in self.only for u in self._read_approved(rt, n)]
        snap = snapshot_of(rt)
        load_pulls(rt.port, snap)
        closed = read_closed_active(rt.port, snap)  # e.g. merged, killed before `done`
        attach_copilot_prs(snap, rt.bot_login)
        units = []
        for state in snap.managed():
            if state.item.state != "open" and state.item.number not in closed:
                continue
            if current_state(state.item.labels) in _PROCESS_STATES and workflow_of(state):
                units.append(WorkUnit(key=f"#{state.item.number}", state=state, workflow=workflow_of(state)))
        self._mark_missing_branches(rt, [u.state for u in units if u.state is not None])
        return units

    def _read_approved(self, rt: Runtime, number: int) -> list[WorkUnit]:
        state = snapshot_of(rt).items.get(number)
        if state is None or state.item.state != "open" or not workflow_of(state):
            return []
        if current_state(state.item.labels) not in _PROCESS_STATES:
            return []
        self._mark_missing_branches(rt, [state])
        return [WorkUnit(key=f"#{number}", state=state, workflow=workflow_of(state))]

    @staticmethod
    def _mark_missing_branches(rt: Runtime, states: list[ItemState]) -> None:
        """One branch listing instead of a lookup per new PR: an item that may get a PR now and has
        no `issueops/<n>-` branch is marked, so its commit creates the branch without looking."""
        may_open = [
            s
            for s in states
            if s.item.state == "open"
            and (s.pull_request is None or (s.pull_request.state == "closed" and not s.pull_request.merged))
        ]
        if not may_open:
            return
        have = {item_of_branch(b) for b in deliverable_branches(rt.port, snapshot_of(rt), BRANCH_PREFIX)}
        for state in may_open:
            state.branch_missing = state.item.number not in have

    def _plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        assert unit.state is not None
        workflow = rt.workflow(unit.workflow)
        if workflow is None:
            return Plan(unit.number, reasons=[f"unknown workflow {unit.workflow!r}"])
        ctx, audit = audit_of(rt, unit.state)
        if audit.forged:  # the commands stage puts them back; until then nothing moves
            return Plan(unit.number, reasons=[f"#{unit.number}: labels applied without authority, skipped"])

        def process(item: ItemContext) -> Plan:
            return process_stage.plan_process(
                item,
                workflow=workflow,
                config=rt.config,
                templates=rt.templates,
                repo=rt.repo,
                base_branch=rt.base_branch,
                now=rt.now,
                bot_login=rt.bot_login,
                html_base=rt.html_base,
                risk=audit.risk,
                copilot_token=rt.agent_port is not None,
            )

        followed = plan_follow(rt, unit.state, workflow, process)
        return followed if followed is not None else process(ctx)

    def on_failure(self, rt: Runtime, unit: WorkUnit, exc: GitHubError) -> list[Action]:
        """A permanent failure moves the item to `state::failed` with the reason, once."""
        assert unit.state is not None
        source = current_state(unit.state.item.labels)
        if source not in {State.ASSIGNED, State.IN_PROGRESS, State.APPROVED}:
            return []
        body = (
            f"**issueops could not process this item.**\n\n"
            f"- failure class: `{exc.failure_class}`\n- failure code: `{exc.code}`\n"
            f"- what to do: {exc.hint or 'fix the cause, then comment `/retry`.'}\n"
        )
        return [
            UpsertComment(unit.state.item.number, "failure", body),
            Transition(unit.state.item.number, source.value, State.FAILED.value, "process"),
        ]


class CommandsStage:
    """Comment commands and approval labels, recomputed from each item's whole history.

    Strangers' comments that can do nothing (see `commands_stage.refused_outright`) are answered
    through the refusal log at `refusals_path` (kept next to the conditional-request cache); on
    the event path such a comment is answered from the payload alone, without reading the item.
    """

    name = "commands"
    estimated_requests = 6

    def __init__(
        self,
        event_item: int | None = None,
        event: ActionsEvent | None = None,
        refusals_path: Path | None = None,
        *,
        refresh: Sequence[int] = (),
    ):
        self.event_item = event_item
        self.event = event
        self.refusals_path = refusals_path
        self.refresh = tuple(refresh)  # only these items, as this run left them (`status_after`)
        self.approved: list[int] = []  # items this stage moved to `approved` (`continued_items`)
        self._log: RefusalLog | None = None

    def read(self, rt: Runtime) -> list[WorkUnit]:
        if self.refresh:
            snap = snapshot_of(rt)
            states = [snap.items[n] for n in self.refresh if n in snap.items]
            return [WorkUnit(key=f"#{s.item.number}", state=s, workflow=workflow_of(s)) for s in states]
        if self.event_item is not None:
            cheap = self._answer_from_payload(rt, self.event_item)
            if cheap is not None:
                return [cheap]
            unit = self._read_one(rt, self.event_item)
            alert = unit.state is not None and rt.config.brake.label in unit.state.item.labels
            return [] if alert else [unit]  # the brake answers on its alert issue
        snap = snapshot_of(rt)
        load_pulls(rt.port, snap)
        attach_copilot_prs(snap, rt.bot_login)
        risks = {w.name: w.risk for w in rt.workflows}
        return [
            WorkUnit(key=f"#{s.item.number}", state=s, workflow=workflow_of(s))
            for s in snap.managed()
            if s.comments
            or rt.config.labels.approved in s.item.labels
            or label_authority.needs_history(
                context_of(rt, s), workflows=risks, bot_login=rt.bot_login, config=rt.config
            )
        ]

    def _read_one(self, rt: Runtime, number: int) -> WorkUnit:
        """The event path: re-read the item from the API instead of trusting the payload."""
        if rt.snapshot is None:
            rt.snapshot = Snapshot()
        snap = rt.snapshot
        item = rt.port.get_item(number)
        state = snap.items.get(number) or snap.add(item)
        state.item = item
        state.comments = sorted(rt.port.list_item_comments(number), key=lambda c: (c.created_at, c.id))
        load_pulls(rt.port, snap)
        attach_copilot_prs(snap, rt.bot_login)
        return WorkUnit(key=f"#{number}", state=state, workflow=workflow_of(state))

    def _answer_from_payload(self, rt: Runtime, number: int) -> WorkUnit | None:
        """A stranger's comment that can do nothing, answered from the payload: no read at all,
        except the item's comments when a denial reply is due (to edit ours in place)."""
        payload = self.event.comment if self.event is not None else None
        if payload is None or self.event is None or self.event.issue_number != number:
            return None
        comment = Comment(
            payload.id,
            number,
            Actor(payload.login, payload.user_type),
            payload.body,
            _payload_time(payload.created_at) or rt.now,
            _payload_time(payload.updated_at) or _payload_time(payload.created_at) or rt.now,
            payload.association,
        )
        author = self.event.issue_author or ""
        authority = Authority.build(
            config=rt.config,
            bot_login=rt.bot_login,
            item_author=author,
            permissions={},
            approver_logins=frozenset(),
            comments=(comment,),
        )
        commands = parse_commands(comment.body)
        stranger = authority.is_stranger(comment.author.login) and not comment.author.is_bot
        if stranger and not commands:
            return WorkUnit(key=f"#{number}", item=number, data=Plan(number))  # nothing for us
        if not commands_stage.refused_outright(comment, commands, authority):
            return None
        actions, events = commands_stage.plan_refusal(number, comment, commands, self._refusals(rt))
        self._save_refusals(rt)
        state = ItemState(WorkItem(number, self.event.issue_title, "", Actor(author)))
        if any(isinstance(a, UpsertComment) for a in actions):
            state.comments = list(rt.port.list_item_comments(number))
        plan = Plan(number, actions=actions, events=events, reasons=["a stranger's command: refused"])
        return WorkUnit(key=f"#{number}", state=state, data=plan)

    def _refusals(self, rt: Runtime) -> RefusalLog:
        if self._log is None:
            settings = rt.config.commands.refusals
            path = self.refusals_path
            text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""
            self._log = RefusalLog.from_json(text, settings) if text else RefusalLog(settings)
        return self._log

    def _save_refusals(self, rt: Runtime) -> None:
        """Written right after each decision (atomically), so a killed run never answers twice."""
        log, path = self._log, self.refusals_path
        if log is None or path is None or rt.dry_run or not log.changed:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(log.to_json(), encoding="utf-8")
        os.replace(partial, path)
        log.changed = False

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        if isinstance(unit.data, Plan):
            return unit.data
        assert unit.state is not None
        state = unit.state
        needs_events = commands_stage.needs_label_events(state.item, rt.config)
        ctx, audit = audit_of(rt, state, with_events=needs_events)
        logins = commands_stage.logins_to_check(ctx, rt.bot_login, config=rt.config)
        permissions = {login: permission_of(rt, login) for login in sorted(logins)}
        approvers = frozenset(login for login in sorted(logins) if is_approver(rt, login))
        head = state.pull_request.head_sha if state.pull_request else None
        plan = commands_stage.plan_commands(
            ctx,
            config=rt.config,
            risk=audit.risk,
            bot_login=rt.bot_login,
            permissions=permissions,
            approver_logins=approvers,
            now=rt.now,
            head_sha=head,
            refusals=self._refusals(rt),
            audit=audit,
        )
        self._save_refusals(rt)
        if plan.moves_to(State.APPROVED.value):
            self.approved.append(state.item.number)
        return plan


def _payload_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


class SweepStage:
    """Drift repair, SLA reminders and escalations, orphaned deliverables.

    Each item is a unit; the orphan scan runs once per sweep and adds its repairs to the item's
    unit, or to a unit of their own (no item state) for a closed or deleted item's PR and branch.
    The report of every orphan found, repaired or not, goes to `rt.orphans`.
    """

    name = "sweep"
    estimated_requests = 4

    def read(self, rt: Runtime) -> list[WorkUnit]:
        snap = snapshot_of(rt)
        load_pulls(rt.port, snap)
        closed = read_closed_active(rt.port, snap) | read_closed_unclear(rt.port, snap, rt.now)
        units: dict[int, WorkUnit] = {}
        for state in snap.items.values():
            if rt.config.brake.label in state.item.labels:
                continue  # the brake's alert issue: the brake looks after it
            if state.item.state == "open" or state.item.number in closed:
                number = state.item.number
                units[number] = WorkUnit(key=f"#{number}", state=state, workflow=workflow_of(state))
        for number, plan in self._orphans(rt, snap).items():
            if number in units:
                units[number].data = plan
            else:
                units[number] = WorkUnit(key=f"#{number}", data=plan, item=number)
        return [units[n] for n in sorted(units)]

    @staticmethod
    def _orphans(rt: Runtime, snap: Snapshot) -> dict[int, Plan]:
        """One branch listing, plus one read per item number our open PRs and PR-less branches
        point at that the snapshot does not hold (closed, or gone: a 404 is confirmed missing)."""
        wanted = rt.item_filter
        try:
            branches = deliverable_branches(rt.port, snap, BRANCH_PREFIX)
        except GitHubError as exc:
            rt.orphans = OrphanReport(error=str(exc)).as_dict()
            return {}
        pulls = _current_pulls(snap)
        with_pr = {pr.head_branch for pr in pulls}
        heads = [pr.head_branch for pr in pulls if pr.state == "open"]
        heads += [b for b in branches if b not in with_pr]
        numbers = {n for n in map(item_of_branch, heads) if n is not None and wanted in (None, n)}
        prs: dict[int, list[PullRequest]] = {}
        for pr in pulls:
            number = item_of_branch(pr.head_branch)
            if number is not None:
                prs.setdefault(number, []).append(pr)
        items: list[ItemContext | WorkItem] = []
        for number, state in sorted(snap.items.items()):
            bare = ItemContext(state.item, tuple(state.comments))
            held = rt.config.labels.hold in state.item.labels  # reported whatever the history says
            if number in prs and not held and abandoned_pr(bare, prs[number]) is not None:
                items.append(context_of(rt, state, with_events=True))  # the plan reads it anyway
            else:
                items.append(bare)
        missing: set[int] = set()
        for number in sorted(numbers - snap.items.keys()):
            try:
                items.append(rt.port.get_item(number))
            except GitHubError as exc:
                if exc.code == "not_found":
                    missing.add(number)  # otherwise not read: its orphans are only reported
        report, plans = plan_orphans(
            items,
            pulls,
            branches,
            bot_login=rt.bot_login,
            now=rt.now,
            missing=missing,
            hold_label=rt.config.labels.hold,
        )
        if wanted is not None:
            report = OrphanReport(tuple(f for f in report.findings if f.item == wanted))
        rt.orphans = report.as_dict()
        return {p.item: p for p in plans if p.item is not None and wanted in (None, p.item)}

    def plan(self, rt: Runtime, unit: WorkUnit) -> Plan:
        orphans = unit.data if isinstance(unit.data, Plan) else None
        if unit.state is None:
            assert orphans is not None
            return orphans
        workflow = rt.workflow(unit.workflow)
        bare = context_of(rt, unit.state)
        needs = sweep_stage.needs_label_events(
            bare, workflow=workflow, config=rt.config, now=rt.now, bot_login=rt.bot_login
        )
        ctx = context_of(rt, unit.state, with_events=needs)
        plan = sweep_stage.plan_sweep(
            ctx, workflow=workflow, config=rt.config, now=rt.now, bot_login=rt.bot_login
        )
        if orphans is not None:
            plan.extend(orphans)
        return plan


def _current_pulls(snap: Snapshot) -> list[PullRequest]:
    """The PRs as this run left them: the listing read earlier, with what earlier stages of the
    run did to them (merged, opened) taken from the items' states."""
    own = {s.pull_request.number: s.pull_request for s in snap.items.values() if s.pull_request}
    listed = {pr.number: own.get(pr.number, pr) for pr in snap.pulls}
    added = [pr for number, pr in own.items() if number not in listed and number > 0]
    return sorted([*listed.values(), *added], key=lambda pr: pr.number)


def status_after(process: ProcessStage, refusals_path: Path | None) -> CommandsStage | None:
    """The commands stage again, over the items process moved to a gate in this run: their status
    (which approvals the gate needs, which earlier ones lapsed with the new deliverable) is written
    in the run that gated them, not left to the next one."""
    if not process.gated:
        return None
    return CommandsStage(refusals_path=refusals_path, refresh=process.gated)


def continued_items(rt: Runtime, commands: CommandsStage) -> list[int]:
    """The items an event's commands run goes on to process in the same job: its item when the
    approval met the quorum (in this run, or in an earlier run of the same event that stopped
    before publishing), so that it is `approved` now. Their next step (processing, or
    publishing) is the pipeline's, not a person's. Open items off hold only (process checks
    forged labels itself)."""
    wanted = list(commands.approved)
    if commands.event_item is not None and commands.event_item not in wanted:
        wanted.append(commands.event_item)
    found = []
    for number in wanted:
        state = rt.snapshot.items.get(number) if rt.snapshot is not None else None
        if state is None or state.item.state != "open" or rt.config.labels.hold in state.item.labels:
            continue
        if current_state(state.item.labels) is State.APPROVED:
            found.append(number)
    return found


def finish_interrupted(rt: Runtime) -> list[str]:
    """Before planning: complete transitions a killed run left half-done (two state labels).

    Decided from the transition table, else from the label history (the later label wins);
    anything still ambiguous is left for sweep, which flags it for a person.
    """
    snap = snapshot_of(rt)
    read_closed_active(rt.port, snap)  # a run killed inside `done` leaves the item closed
    repaired = []
    for state in snap.managed():
        labels = state.item.labels
        if sum(1 for x in labels if x.startswith("state::")) != 2:
            continue
        target = resolve_interrupted(labels)
        if target is None:
            events = label_events(rt.port, snap, state.item.number)
            applied = [e for e in events if e.event == "labeled" and e.label in labels]
            if applied and applied[-1].actor.login == rt.bot_login:
                target = current_state([applied[-1].label])
        if target is None or (target in TERMINAL and state.item.state == "open"):
            continue  # a terminal label on an open item is drift for sweep, not a cut transition
        stale = [x for x in labels if x.startswith("state::") and x != target.label]
        repaired.append(f"#{state.item.number}: {', '.join(stale)} -> {target.label}")
        if not rt.dry_run:
            for label in stale:
                rt.port.remove_label(state.item.number, label)
            state.item = replace(state.item, labels=tuple(x for x in labels if x not in stale))
    return repaired
