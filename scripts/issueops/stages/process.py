"""Process planner: run an item's workflow by its state (pure).

- `assigned`: if the policy gates before processing, wait in `awaiting-approval`; otherwise
  process: render the deliverables, open a PR on `issueops/<number>-<slug>` that closes the
  item, post the guidance comment, hand off (owner, or Copilot), and enter `in-progress`.
- `approved` without a PR (the pre-processing gate passed): process, as above.
- `in-progress` with an open PR: if the policy gates before publishing, wait in
  `awaiting-approval`; otherwise `approved` and publish in the same plan.
- `approved` with an open PR: publish: merge the PR (at the head sha that was read), close the
  item, `done`.
- A PR merged by a person: `done`.
- A template that does not render, or renders a bad path: `failed`, with a comment that names
  the template and the fix, and an `item.failed` event.

Issue fields reach templates as data, never as template code. In files they are raw (a file
pings nobody); in the guidance comment they are made inert first (see stages.text).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from jinja2 import TemplateError

from issueops.config.forms import parse_form
from issueops.config.policy import gates_for
from issueops.config.settings import Config, Risk
from issueops.config.templates import TemplateContext, render, slugify
from issueops.config.workflows import WorkflowSchema
from issueops.core.comments import GATE_SECTION, bot_comment, same_login
from issueops.core.model import (
    Action,
    Assign,
    CloseItem,
    ItemContext,
    ItemFailure,
    MergePullRequest,
    OpenPullRequest,
    Plan,
    PullRequest,
    marker,
)
from issueops.core.states import STATE_LABELS, State, current_state
from issueops.stages.assign import choose_owner
from issueops.stages.common import (
    SOURCE_PREFIX,
    effective_risk,
    on_hold,
    transition,
    upsert,
)
from issueops.stages.copilot import hand_off_action, has_copilot, is_copilot, refused
from issueops.stages.monitor import source_key_of
from issueops.stages.text import BODY_BUDGET, cap_body, code_span, escape_markdown, plain_line

GUIDANCE_KEY = "guidance"
GATE_KEY = GATE_SECTION  # the gate note; the approval status (key "status") is the commands stage's
FAILURE_KEY = "failure"
BRANCH_PREFIX = "issueops/"
TEMPLATE_DIR = "workflow_schemas/templates"
MAX_PATH_LENGTH = 255


def branch_name(number: int, title: str) -> str:
    return f"{BRANCH_PREFIX}{number}-{slugify(title)}"


def pr_marker(number: int) -> str:
    return marker(f"deliverables:{number}")


def stamp(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""


class ProcessFailure(Exception):
    """A deliverable could not be produced; carries what the failure comment says."""

    def __init__(self, failure: ItemFailure, detail: str):
        self.failure = failure
        self.detail = detail
        super().__init__(detail)


def _contract_failure(detail: str, hint: str) -> ProcessFailure:
    return ProcessFailure(ItemFailure("permanent", "invalid_contract", hint), detail)


# --- paths --------------------------------------------------------------------------------------


def path_problem(path: str) -> str | None:
    """Why a rendered deliverable path is unsafe, or None: relative, inside the repository, no
    `..`, not in `.git/` or `.github/workflows/`, printable."""
    if not path or path != path.strip():
        return "is empty or starts or ends with blanks"
    if len(path) > MAX_PATH_LENGTH:
        return f"is longer than {MAX_PATH_LENGTH} characters"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in path):
        return "contains control or invisible characters"
    if "\\" in path:
        return "contains a backslash; use `/`"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is absolute; paths are relative to the repository root"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, `.` or `..` segment"
    if ".git" in parts or path.startswith(".github/workflows/"):
        return "points into `.git/` or `.github/workflows/`"
    return None


# --- template contexts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What one processing step needs: the item, its workflow and the names it will use."""

    ctx: ItemContext
    workflow: WorkflowSchema
    risk: Risk
    owner: str | None
    branch: str
    repo: str
    now: datetime
    html_base: str


def _item_source(ctx: ItemContext, bot_login: str) -> str:
    item = ctx.item
    if same_login(item.author.login, bot_login):
        key = source_key_of(item.body)
        if key:
            return key
    return item.label_value(SOURCE_PREFIX) or ""


def template_context(job: Job, bot_login: str, *, inert: bool) -> TemplateContext:
    """Issue fields as data. `inert`: for a comment, so a title cannot ping or link anyone."""
    item = job.ctx.item

    def text(value: str) -> str:
        return escape_markdown(value) if inert else value

    form = {key: text(value) for key, value in parse_form(item.body or "").items()}
    data: dict[str, Any] = {
        "number": item.number,
        "title": text(item.title),
        "body": text(item.body or ""),
        "author": item.author.login,
        "labels": [text(label) for label in item.labels],
        "url": f"{job.html_base.rstrip('/')}/{job.repo}/issues/{item.number}",
        "created_at": stamp(item.created_at),
        "source": text(_item_source(job.ctx, bot_login)),
        "assignees": list(item.assignees),
    }
    workflow = {"name": job.workflow.name, "description": job.workflow.description, "risk": job.risk}
    return TemplateContext(
        item=data,
        workflow=workflow,
        repo=job.repo,
        now=stamp(job.now),
        owner=job.owner,
        form=form,
        branch=job.branch,
    )


def _render(name: str, source: str, context: TemplateContext, what: str, workflow: str) -> str:
    try:
        return render(source, context)
    except (TemplateError, TypeError, ValueError, LookupError, ArithmeticError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{name}:{line}" if line else name
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        hint = (
            f"{where}: {message}. Fix the template (`issueops validate` checks it) or the {what} "
            f"in workflow_schemas/{workflow}.yml, then comment /retry."
        )
        raise _contract_failure(f"{what} did not render: {message}", hint) from exc


def render_deliverables(
    job: Job, templates: Mapping[str, str], bot_login: str
) -> tuple[tuple[str, str], ...]:
    """(path, content) for every deliverable, or ProcessFailure naming the template and fix."""
    context = template_context(job, bot_login, inert=False)
    wf = job.workflow.name
    files: list[tuple[str, str]] = []
    for index, deliverable in enumerate(job.workflow.deliverables):
        where = f"deliverables[{index}]"
        source = templates.get(deliverable.template)
        if source is None:
            raise _contract_failure(
                f"template {deliverable.template} not found",
                f"{TEMPLATE_DIR}/{deliverable.template} does not exist: add it, or fix "
                f"{where}.template in workflow_schemas/{wf}.yml, then comment /retry.",
            )
        path = _render(f"{where}.path", deliverable.path, context, f"{where}.path", wf).strip()
        problem = path_problem(path)
        if problem is None and any(path == seen for seen, _ in files):
            problem = "is the same as another deliverable's path"
        if problem is not None:
            raise _contract_failure(
                f"{where}.path rendered to an unsafe path",
                f"{where}.path in workflow_schemas/{wf}.yml rendered to {path[:120]!r}, which {problem}. "
                "Use a relative path and pass item text through `| slug`, then comment /retry.",
            )
        content = _render(f"{TEMPLATE_DIR}/{deliverable.template}", source, context, f"{where}.template", wf)
        files.append((path, content))
    return tuple(files)


# --- comments -----------------------------------------------------------------------------------


def _hand_off_text(job: Job) -> str:
    owner = f"@{job.owner}" if job.owner else "the owner (none yet: assign one)"
    lines = []
    if job.workflow.hand_off.mode == "copilot":
        lines.append(
            f"**Hand-off:** to Copilot (GitHub's coding agent), which works from this issue and "
            f"opens its own pull request; {owner} reviews its work (the Copilot status comment "
            "says whether GitHub took the assignment)."
        )
    else:
        lines.append(f"**Hand-off:** {owner} owns this item.")
    if job.workflow.hand_off.note:
        lines.append("")
        lines.append(job.workflow.hand_off.note.strip())
    return "\n".join(lines)


def default_guidance(job: Job, files: tuple[tuple[str, str], ...]) -> str:
    lines = [f"### Next steps ({code_span(job.workflow.name)})", "", job.workflow.description.strip(), ""]
    if files:
        lines.append(f"Drafts are on branch {code_span(job.branch)}:")
        lines += [f"- {code_span(path)}" for path, _ in files]
        lines += ["", "Complete them on that branch; the pull request publishes them once approved."]
    return "\n".join(lines)


def guidance_body(
    job: Job, templates: Mapping[str, str], files: tuple[tuple[str, str], ...], bot: str
) -> str:
    name = job.workflow.guidance
    if name is None:
        text = default_guidance(job, files)
    else:
        source = templates.get(name)
        if source is None:
            raise _contract_failure(
                f"guidance template {name} not found",
                f"{TEMPLATE_DIR}/{name} does not exist: add it, or fix `guidance` in "
                f"workflow_schemas/{job.workflow.name}.yml, then comment /retry.",
            )
        context = template_context(job, bot, inert=True)
        text = _render(f"{TEMPLATE_DIR}/{name}", source, context, "guidance", job.workflow.name)
    return cap_body(f"{text.rstrip()}\n\n{_hand_off_text(job)}\n", BODY_BUDGET)


def failure_body(failure: ItemFailure, detail: str) -> str:
    return (
        f"**Failed** ({code_span(failure.failure_code)}, {failure.failure_class}): "
        f"{escape_markdown(detail)}\n\n"
        f"What to do: {escape_markdown(failure.hint)}"
    )


def gate_body(gate: str, risk: Risk, config: Config) -> str:
    needed = config.policy.required_approvals.get(risk, 1)
    what = "producing the deliverables" if gate == "before_processing" else "publishing the deliverables"
    people = "approval" if needed == 1 else "approvals from different people"
    return (
        f"**Waiting for approval** before {what}: risk {code_span(risk)}, policy "
        f"{code_span(config.policy.profile)}. Needs {needed} {people}: comment `/approve`, "
        "or `/reject [reason]`."
    )


# --- the planner --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The run-wide inputs of plan_process, passed around as one value."""

    workflow: WorkflowSchema
    config: Config
    templates: Mapping[str, str]
    repo: str
    base_branch: str
    now: datetime
    bot_login: str
    html_base: str
    risk: Risk
    copilot_token: bool = False


def _human_assignees(assignees: tuple[str, ...], bot_login: str) -> list[str]:
    return [a for a in assignees if not same_login(a, bot_login) and not is_copilot(a)]


def _owner(ctx: ItemContext, run: Inputs) -> tuple[str | None, bool]:
    """(owner, newly chosen): a person already assigned wins; else the pool's choice."""
    people = _human_assignees(ctx.item.assignees, run.bot_login)
    if people:
        return people[0], False
    choice = choose_owner(run.workflow, run.config, {}, ctx.item.number)
    return choice.login, choice.login is not None


def _fail(ctx: ItemContext, source: State, error: ProcessFailure, run: Inputs) -> Plan:
    item = ctx.item
    f = error.failure
    actions: list[Action] = [
        *upsert(ctx, FAILURE_KEY, failure_body(f, error.detail), run.bot_login),
        transition(item, source, State.FAILED, "process"),
    ]
    event = {
        "event": "item.failed",
        "item": item.number,
        "stage": "process",
        "workflow": run.workflow.name,
        "failure_class": f.failure_class,
        "failure_code": f.failure_code,
        "hint": f.hint,
    }
    return Plan(item.number, actions, [f"#{item.number}: failed: {error.detail}"], [event])


def _gate(ctx: ItemContext, source: State, gate: str, run: Inputs) -> Plan:
    item = ctx.item
    actions: list[Action] = [
        *upsert(ctx, GATE_KEY, gate_body(gate, run.risk, run.config), run.bot_login),
        transition(item, source, State.AWAITING_APPROVAL, "process"),
    ]
    event = {
        "event": "item.gated",
        "item": item.number,
        "gate": gate,
        "risk": run.risk,
        "profile": run.config.policy.profile,
        "required_approvals": run.config.policy.required_approvals.get(run.risk, 1),
    }
    return Plan(item.number, actions, [f"#{item.number}: waits for approval ({gate})"], [event])


def _job(ctx: ItemContext, run: Inputs) -> tuple[Job, bool]:
    owner, new_owner = _owner(ctx, run)
    pr = ctx.pull_request
    branch = pr.head_branch if pr is not None else branch_name(ctx.item.number, ctx.item.title)
    job = Job(ctx, run.workflow, run.risk, owner, branch, run.repo, run.now, run.html_base)
    return job, new_owner


def _open_pr(job: Job, files: tuple[tuple[str, str], ...], base_branch: str) -> OpenPullRequest:
    item = job.ctx.item
    name = job.workflow.name
    title = f"{plain_line(f'{name}: {item.title}', 230)} (#{item.number})"
    listing = "\n".join(f"- {code_span(path)}" for path, _ in files)
    body = (
        f"{pr_marker(item.number)}\nCloses #{item.number}\n\n"
        f"Deliverables of the {code_span(name)} workflow, drafted by issueops:\n\n{listing}\n"
    )
    message = f"{name}: deliverables for #{item.number}"
    return OpenPullRequest(item.number, job.branch, base_branch, files, title, body, message)


def _process(ctx: ItemContext, source: State, run: Inputs) -> Plan:
    """Guidance, hand-off, `in-progress`, then the deliverables' PR. The PR comes last: a run
    killed before the transition leaves the item where the next run processes it again (every
    step is idempotent); one killed after it leaves `in-progress` without a PR, which the next
    run opens (`_reopen_pr`). Were the PR first, an item approved at the gate before processing
    would be found `approved` with a PR, the state of an item cleared to publish."""
    item = ctx.item
    workflow = run.workflow
    job, new_owner = _job(_in_progress(ctx), run)
    try:
        files = render_deliverables(job, run.templates, run.bot_login)
        guidance = guidance_body(job, run.templates, files, run.bot_login)
    except ProcessFailure as error:
        return _fail(ctx, source, error, run)

    actions: list[Action] = list(upsert(ctx, GUIDANCE_KEY, guidance, run.bot_login))
    events: list[dict[str, object]] = []
    to_copilot = workflow.hand_off.mode == "copilot" and not has_copilot(item.assignees)
    if new_owner and job.owner is not None:
        actions.append(Assign(item.number, (job.owner,)))
    if to_copilot:
        paths = [path for path, _ in files]
        assign = hand_off_action(
            item.number,
            workflow,
            repo=run.repo,
            base_branch=run.base_branch,
            config=run.config.copilot,
            guidance=guidance,
            paths=paths,
            owner=job.owner,
        )
        if run.copilot_token:
            actions.append(assign)
        else:
            why = f"no user token: `${run.config.copilot.token_env}` is not set for this run."
            steps, refusal = refused(assign, why, "no_token", run.config.copilot.token_env, run.now)
            actions += [a for a in steps if not isinstance(a, Assign)]
            events.append(refusal)
    actions.append(transition(item, source, State.IN_PROGRESS, "process"))
    if files and not (to_copilot and run.copilot_token):  # Copilot's own PR delivers them
        actions.append(_open_pr(job, files, run.base_branch))
    event: dict[str, object] = {
        "event": "item.processed",
        "item": item.number,
        "workflow": workflow.name,
        "deliverables": [path for path, _ in files],
        "branch": job.branch if files else None,
        "hand_off": workflow.hand_off.mode,
        "owner": job.owner,
    }
    where = f" on {job.branch}" if files else ""
    reasons = [f"#{item.number}: {len(files)} deliverable(s){where}"]
    return Plan(item.number, actions, reasons, [event, *events])


def _in_progress(ctx: ItemContext) -> ItemContext:
    """The item as it is once processed: templates see `state::in-progress` (as GitHub lists it,
    last), so deliverables rendered now and ones a later run renders again (`_reopen_pr`, after
    a run died between the transition and the PR) are the same."""
    labels = (*(x for x in ctx.item.labels if x not in STATE_LABELS), State.IN_PROGRESS.label)
    return ItemContext(replace(ctx.item, labels=labels), ctx.comments, ctx.label_events, ctx.pull_request)


def _reopen_pr(ctx: ItemContext, run: Inputs) -> Plan:
    """`in-progress` but no PR (a run died between the transition and the PR, or the PR was
    lost): open it again; nothing else changes."""
    job, _ = _job(ctx, run)
    try:
        files = render_deliverables(job, run.templates, run.bot_login)
    except ProcessFailure as error:
        return _fail(ctx, State.IN_PROGRESS, error, run)
    if not files:
        return Plan(ctx.item.number)
    n = ctx.item.number
    return Plan(n, [_open_pr(job, files, run.base_branch)], [f"#{n}: PR missing; opening it again"])


def _publish(ctx: ItemContext, pr: PullRequest, steps: list[Action], run: Inputs) -> Plan:
    item = ctx.item
    publish = run.workflow.publish
    actions = list(steps)
    if publish.merge_pr:
        actions.append(MergePullRequest(item.number, pr.number, pr.head_sha))
    if publish.close_item and item.state == "open":
        actions.append(CloseItem(item.number, "completed"))
    actions.append(transition(item, State.APPROVED, State.DONE, "process"))
    event = {
        "event": "item.published",
        "item": item.number,
        "workflow": run.workflow.name,
        "pr": pr.number,
        "merged": publish.merge_pr,
    }
    return Plan(item.number, actions, [f"#{item.number}: published PR #{pr.number}"], [event])


def _merged_by_person(ctx: ItemContext, state: State, pr: PullRequest, run: Inputs) -> Plan:
    item = ctx.item
    actions: list[Action] = []
    if run.workflow.publish.close_item and item.state == "open":
        actions.append(CloseItem(item.number, "completed"))
    actions.append(transition(item, state, State.DONE, "process"))
    event = {"event": "item.published", "item": item.number, "workflow": run.workflow.name, "pr": pr.number}
    return Plan(item.number, actions, [f"#{item.number}: PR #{pr.number} was merged; done"], [event])


def _moved_on_since(ctx: ItemContext, state: State, when: datetime | None, bot_login: str) -> bool:
    """Was the item moved on after `when` (its PR's closing), i.e. retried? Either it entered its
    state since (label history, when read), or the bot's failure comment (the sweep reports a
    closed PR there) is newer than the closing, and the item is no longer failed."""
    if when is None:
        return False
    entered = [e.created_at for e in ctx.label_events if e.event == "labeled" and e.label == state.label]
    if entered and max(entered) > when:
        return True
    failure = bot_comment(ctx.comments, FAILURE_KEY, bot_login)
    return failure is not None and failure.updated_at > when


_IN_FLIGHT = frozenset({State.IN_PROGRESS, State.AWAITING_APPROVAL, State.APPROVED})


def plan_process(
    ctx: ItemContext,
    *,
    workflow: WorkflowSchema,
    config: Config,
    templates: Mapping[str, str],
    repo: str,
    base_branch: str,
    now: datetime,
    bot_login: str,
    html_base: str = "https://github.com",
    risk: Risk | None = None,
    copilot_token: bool = False,
) -> Plan:
    """The next step of one item's workflow; an empty plan when there is nothing to do now.

    `templates` maps file names under workflow_schemas/templates/ to their text. `html_base`
    is the web root for `item.url` in templates (GitHub Enterprise: its own host). `risk`: the
    effective risk decided from the label history (stages.label_authority); by default the
    strictest of the workflow's and the `risk::` labels.
    `copilot_token`: the user token that assigns Copilot is configured (see stages.copilot).
    """
    item = ctx.item
    state = current_state(item.labels)
    pr = ctx.pull_request
    if state is None or on_hold(item, config):
        why = "on hold" if state is not None else "no single state label (sweep repairs it)"
        return Plan(item.number, reasons=[f"#{item.number}: {why}, skipped"])
    risk = risk or effective_risk(item, workflow.risk)
    run = Inputs(
        workflow, config, templates, repo, base_branch, now, bot_login, html_base, risk, copilot_token
    )

    if state in _IN_FLIGHT and pr is not None and pr.merged:
        return _merged_by_person(ctx, state, pr, run)
    if item.state != "open":
        return Plan(item.number)

    # A PR closed unmerged counts as absent once the item moved on since (e.g. /retry); until
    # then it is the sweep's to report (it moves the item to failed).
    if pr is not None and pr.state == "closed" and not pr.merged:
        if state is State.ASSIGNED or _moved_on_since(ctx, state, pr.updated_at, bot_login):
            ctx = ItemContext(ctx.item, ctx.comments, ctx.label_events, None)
            pr = None
        else:
            return Plan(item.number, reasons=[f"#{item.number}: PR #{pr.number} closed unmerged"])

    gates = gates_for(config.policy.profile, risk)
    if state is State.ASSIGNED:
        if gates.before_processing:
            return _gate(ctx, State.ASSIGNED, "before_processing", run)
        return _process(ctx, State.ASSIGNED, run)
    if state is State.APPROVED:
        if pr is None:
            return _process(ctx, State.APPROVED, run)
        return _publish(ctx, pr, [], run)
    if state is State.IN_PROGRESS:
        if pr is None:
            return _reopen_pr(ctx, run) if workflow.deliverables else Plan(item.number)
        if gates.before_publishing:
            return _gate(ctx, State.IN_PROGRESS, "before_publishing", run)
        step = transition(item, State.IN_PROGRESS, State.APPROVED, "process")
        return _publish(ctx, pr, [step], run)
    return Plan(item.number)
