"""Process planner: by state and policy, deliverables as data, failures, publishing, idempotency."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from stages_world import BOT, T0, World, item

from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import (
    Actor,
    Assign,
    AssignAgent,
    CloseItem,
    ItemContext,
    LabelEvent,
    MergePullRequest,
    OpenPullRequest,
    Plan,
    PullRequest,
    Transition,
    UpsertComment,
)
from issueops.stages.copilot import COPILOT_LOGIN
from issueops.stages.process import (
    FAILURE_KEY,
    GATE_KEY,
    GUIDANCE_KEY,
    branch_name,
    path_problem,
    plan_process,
)
from issueops.stages.text import GITHUB_BODY_LIMIT

TEMPLATES = {
    "report.md": (
        "# {{ item.title }}\n\nOwner: {{ owner }}\n"
        "Form: {{ form.severity | default('-') }}\n{{ item.body }}\n"
    ),
    "guide.md": "Next steps for {{ item.title }} on `{{ branch }}` ({{ item.url }}).\n",
    "broken.md": "{% for x in %}",
    "undefined.md": "{{ nope }}",
    "attr.md": "{{ item.nope }}",
}


def wf(**kw: Any) -> WorkflowSchema:
    data: dict[str, Any] = {
        "name": "incident",
        "description": "Write the postmortem.",
        "risk": "low",
        "match": {"labels": ["incident"]},
        "owners": {"pool": ["ann", "ben"], "strategy": "least_loaded"},
        "deliverables": [
            {"path": "reports/{{ item.number }}-{{ item.title | slug }}.md", "template": "report.md"}
        ],
        "guidance": "guide.md",
    }
    data.update(kw)
    return WorkflowSchema.model_validate(data)


WF = wf()
AUTONOMOUS = Config.model_validate({"policy": {"profile": "autonomous"}})
ASSISTED = Config.model_validate({"policy": {"profile": "assisted"}})
MANUAL = Config.model_validate({"policy": {"profile": "manual"}})


def pr(state: str = "open", merged: bool = False, number: int = 50, updated: Any = T0) -> PullRequest:
    return PullRequest(number, "issueops/7-disk-full", "abc123", "main", state, merged, updated_at=updated)  # type: ignore[arg-type]


def plan(
    ctx: ItemContext,
    *,
    workflow: WorkflowSchema = WF,
    config: Config = AUTONOMOUS,
    templates: dict[str, str] | None = None,
    copilot_token: bool = False,
) -> Plan:
    return plan_process(
        ctx,
        copilot_token=copilot_token,
        workflow=workflow,
        config=config,
        templates=TEMPLATES if templates is None else templates,
        repo="acme/ops",
        base_branch="main",
        now=T0,
        bot_login=BOT,
        html_base="https://ghe.example.com",
    )


def kinds(p: Plan) -> list[str]:
    out = []
    for a in p.actions:
        if isinstance(a, Transition):
            out.append(f"{a.from_state}->{a.to_state}")
        elif isinstance(a, UpsertComment):
            out.append(f"comment:{a.key}")
        else:
            out.append(type(a).__name__)
    return out


def at(label_state: str, *extra: str, **kw: Any) -> Any:
    return item(7, "Disk full", labels=(f"state::{label_state}", "workflow::incident", *extra), **kw)


@pytest.mark.parametrize(
    ("ctx", "config", "workflow", "expected"),
    [
        (
            ItemContext(at("assigned")),
            AUTONOMOUS,
            WF,
            ["comment:guidance", "Assign", "assigned->in-progress", "OpenPullRequest"],
        ),
        (ItemContext(at("assigned")), MANUAL, WF, ["comment:gate", "assigned->awaiting-approval"]),
        (
            ItemContext(at("assigned", "risk::high")),
            ASSISTED,
            WF,
            ["comment:gate", "assigned->awaiting-approval"],
        ),
        (
            ItemContext(at("assigned", "risk::high")),
            AUTONOMOUS,
            WF,
            ["comment:gate", "assigned->awaiting-approval"],
        ),
        (
            ItemContext(at("assigned", "risk::medium")),
            ASSISTED,
            WF,
            ["comment:guidance", "Assign", "assigned->in-progress", "OpenPullRequest"],
        ),
        (
            ItemContext(at("approved", assignees=("ann",))),
            MANUAL,
            WF,
            ["comment:guidance", "approved->in-progress", "OpenPullRequest"],
        ),
        (
            ItemContext(at("in-progress"), pull_request=pr()),
            AUTONOMOUS,
            WF,
            ["in-progress->approved", "MergePullRequest", "CloseItem", "approved->done"],
        ),
        (
            ItemContext(at("in-progress"), pull_request=pr()),
            ASSISTED,
            WF,
            ["comment:gate", "in-progress->awaiting-approval"],
        ),
        (
            ItemContext(at("approved"), pull_request=pr()),
            ASSISTED,
            WF,
            ["MergePullRequest", "CloseItem", "approved->done"],
        ),
        (
            ItemContext(at("approved"), pull_request=pr()),
            ASSISTED,
            wf(publish={"merge_pr": False}),
            ["CloseItem", "approved->done"],
        ),
        (
            ItemContext(at("approved"), pull_request=pr()),
            ASSISTED,
            wf(publish={"close_item": False}),
            ["MergePullRequest", "approved->done"],
        ),
        (
            ItemContext(at("in-progress"), pull_request=pr("closed", merged=True)),
            ASSISTED,
            WF,
            ["CloseItem", "in-progress->done"],
        ),
        (
            ItemContext(at("awaiting-approval"), pull_request=pr("closed", merged=True)),
            ASSISTED,
            WF,
            ["CloseItem", "awaiting-approval->done"],
        ),
        (
            ItemContext(at("approved", state="closed"), pull_request=pr("closed", merged=True)),
            ASSISTED,
            WF,
            ["approved->done"],
        ),
        (ItemContext(at("awaiting-approval"), pull_request=pr()), AUTONOMOUS, WF, []),
        (ItemContext(at("assigned", "issueops::hold")), AUTONOMOUS, WF, []),
        (ItemContext(at("in-progress", "issueops::hold"), pull_request=pr()), AUTONOMOUS, WF, []),
        (ItemContext(at("triage")), AUTONOMOUS, WF, []),
        (ItemContext(at("done"), pull_request=pr("closed", merged=True)), AUTONOMOUS, WF, []),
        (ItemContext(at("failed")), AUTONOMOUS, WF, []),
        (ItemContext(at("in-progress")), AUTONOMOUS, WF, ["OpenPullRequest"]),
        (ItemContext(at("in-progress")), AUTONOMOUS, wf(deliverables=[]), []),
        (ItemContext(at("in-progress"), pull_request=pr("closed")), AUTONOMOUS, WF, []),
        (
            ItemContext(at("assigned"), pull_request=pr("closed")),
            AUTONOMOUS,
            WF,
            ["comment:guidance", "Assign", "assigned->in-progress", "OpenPullRequest"],
        ),
        (
            ItemContext(at("assigned")),
            AUTONOMOUS,
            wf(deliverables=[], guidance=None),
            ["comment:guidance", "Assign", "assigned->in-progress"],
        ),
    ],
    ids=[
        "assigned-no-gate-processes",
        "assigned-manual-gates",
        "assigned-high-assisted-gates",
        "assigned-high-never-below-assisted",
        "assigned-medium-assisted-processes",
        "approved-without-pr-processes",
        "in-progress-no-gate-publishes",
        "in-progress-gate-before-publishing",
        "approved-with-pr-publishes",
        "publish-without-merge",
        "publish-without-close",
        "merged-by-person-in-progress",
        "merged-by-person-awaiting",
        "merged-and-closed",
        "awaiting-is-for-commands",
        "hold-assigned",
        "hold-in-progress",
        "triage-is-not-ours",
        "done-is-terminal",
        "failed-waits-for-retry",
        "in-progress-pr-missing-reopens",
        "in-progress-no-deliverables-waits",
        "in-progress-pr-closed-is-sweeps",
        "assigned-after-closed-pr-reprocesses",
        "no-deliverables-guidance-only",
    ],
)
def test_plan_by_state(
    ctx: ItemContext, config: Config, workflow: WorkflowSchema, expected: list[str]
) -> None:
    assert kinds(plan(ctx, workflow=workflow, config=config)) == expected


def test_processing_details() -> None:
    p = plan(ItemContext(at("assigned")))
    pr_action = p.actions[-1]  # last: see _process
    assert isinstance(pr_action, OpenPullRequest)
    assert pr_action.branch == "issueops/7-disk-full" == branch_name(7, "Disk full")
    assert pr_action.base == "main"
    assert pr_action.files[0][0] == "reports/7-disk-full.md"
    assert "Owner: ann" in pr_action.files[0][1]
    assert "Closes #7" in pr_action.body and "<!-- issueops:deliverables:7 -->" in pr_action.body
    assert pr_action.title == "incident: Disk full (#7)"
    guidance = p.actions[0]
    assert isinstance(guidance, UpsertComment)
    assert "https://ghe.example.com/acme/ops/issues/7" in guidance.body
    assert "`issueops/7-disk-full`" in guidance.body and "**Hand-off:** @ann owns this item." in guidance.body
    assert p.actions[1] == Assign(7, ("ann",))
    assert p.events[0]["event"] == "item.processed"


def test_gate_note_names_the_approvals_needed() -> None:
    p = plan(ItemContext(at("assigned", "risk::high")), config=ASSISTED)
    note = p.actions[0]
    assert isinstance(note, UpsertComment) and note.key == GATE_KEY
    assert "Needs 2 approvals from different people" in note.body
    assert p.events[0] == {
        "event": "item.gated",
        "item": 7,
        "gate": "before_processing",
        "risk": "high",
        "profile": "assisted",
        "required_approvals": 2,
    }


def test_publish_merges_the_head_that_was_read() -> None:
    p = plan(ItemContext(at("approved"), pull_request=pr()))
    assert MergePullRequest(7, 50, "abc123") in p.actions
    assert CloseItem(7, "completed") in p.actions


def test_copilot_hand_off_with_a_user_token_assigns_the_agent_and_opens_no_pr_of_its_own() -> None:
    copilot = wf(hand_off={"mode": "copilot", "note": "Draft only."})
    p = plan(ItemContext(at("assigned")), workflow=copilot, copilot_token=True)
    assert Assign(7, ("ann",)) in p.actions
    agent = next(a for a in p.actions if isinstance(a, AssignAgent))
    assert (agent.login, agent.target_repo, agent.base_branch) == (COPILOT_LOGIN, "acme/ops", "main")
    assert agent.fallback_owner == "ann" and "Draft only." in agent.body
    assert not [a for a in p.actions if isinstance(a, OpenPullRequest)], "Copilot's PR delivers"
    guidance = next(a for a in p.actions if isinstance(a, UpsertComment))
    assert "Copilot" in guidance.body and "Draft only." in guidance.body


def test_copilot_hand_off_without_a_user_token_is_reported_and_the_owner_works() -> None:
    copilot = wf(hand_off={"mode": "copilot"})
    p = plan(ItemContext(at("assigned")), workflow=copilot, copilot_token=False)
    assert not [a for a in p.actions if isinstance(a, AssignAgent)]
    assert Assign(7, ("ann",)) in p.actions
    assert [a for a in p.actions if isinstance(a, OpenPullRequest)], "the owner gets the drafts"
    status = next(a for a in p.actions if isinstance(a, UpsertComment) and a.key == "copilot")
    assert "no user token" in status.body and "ISSUEOPS_COPILOT_TOKEN" in status.body
    assert [e["reason"] for e in p.events if e["event"] == "copilot.refused"] == ["no_token"]


def test_existing_assignee_is_the_owner() -> None:
    p = plan(ItemContext(at("assigned", assignees=("zed",))))
    assert not [a for a in p.actions if isinstance(a, Assign)]
    assert "Owner: zed" in p.actions[-1].files[0][1]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("author", "minutes", "expected"),
    [(BOT, 60, ["OpenPullRequest"]), (BOT, -60, []), ("mallory", 60, [])],
    ids=["bot-failure-after-close-means-retried", "older-failure-comment", "forged-failure-comment"],
)
def test_retry_after_closed_pr_without_label_history(author: str, minutes: int, expected: list[str]) -> None:
    world = World()
    world.add(at("in-progress"))
    world.now = T0 + timedelta(minutes=minutes)
    world.comment(7, "<!-- issueops:failure -->\nthe PR was closed", author)
    assert kinds(plan(ItemContext(world.items[7], tuple(world.comments[7]), (), pr("closed")))) == expected


def test_retry_after_closed_pr_reopens() -> None:
    closed = pr("closed", updated=T0)
    retried = LabelEvent("labeled", "state::in-progress", Actor("alice"), T0 + timedelta(hours=1))
    p = plan(ItemContext(at("in-progress"), label_events=(retried,), pull_request=closed))
    assert kinds(p) == ["OpenPullRequest"]


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow", "hint_part"),
    [
        (
            wf(deliverables=[{"path": "r.md", "template": "broken.md"}]),
            "workflow_schemas/templates/broken.md:1",
        ),
        (wf(deliverables=[{"path": "r.md", "template": "undefined.md"}]), "'nope' is undefined"),
        (wf(deliverables=[{"path": "r.md", "template": "attr.md"}]), "nope"),
        (
            wf(deliverables=[{"path": "r.md", "template": "missing.md"}]),
            "workflow_schemas/templates/missing.md",
        ),
        (wf(guidance="missing-guide.md"), "missing-guide.md does not exist"),
        (wf(deliverables=[{"path": "{{ item.title }}.md", "template": "report.md"}]), None),
        (wf(deliverables=[{"path": "/etc/{{ item.number }}", "template": "report.md"}]), "is absolute"),
        (wf(deliverables=[{"path": "a/../../b.md", "template": "report.md"}]), "`..` segment"),
        (
            wf(deliverables=[{"path": ".github/workflows/x.yml", "template": "report.md"}]),
            ".github/workflows",
        ),
        (wf(deliverables=[{"path": "{{ item.nope }}", "template": "report.md"}]), "deliverables[0].path"),
        (
            wf(
                deliverables=[
                    {"path": "a.md", "template": "report.md"},
                    {"path": "a.md", "template": "report.md"},
                ]
            ),
            "same as another",
        ),
    ],
    ids=[
        "syntax-error",
        "undefined-name",
        "undefined-attribute",
        "missing-template",
        "missing-guidance",
        "title-in-path-is-fine-when-safe",
        "absolute-path",
        "dotdot-path",
        "workflows-dir",
        "path-render-error",
        "duplicate-path",
    ],
)
def test_template_problems_fail_the_item(workflow: WorkflowSchema, hint_part: str | None) -> None:
    p = plan(ItemContext(at("assigned")), workflow=workflow)
    if hint_part is None:
        assert kinds(p)[-2:] == ["assigned->in-progress", "OpenPullRequest"]
        return
    assert kinds(p) == ["comment:failure", "assigned->failed"]
    (event,) = p.events
    assert event["event"] == "item.failed"
    assert event["failure_class"] == "permanent" and event["failure_code"] == "invalid_contract"
    assert hint_part in str(event["hint"]) and "/retry" in str(event["hint"])
    assert "/retry" in p.actions[0].body  # type: ignore[union-attr]


def test_traversal_through_the_title_fails() -> None:
    bad = item(7, "../../etc/passwd", labels=("state::assigned",))
    p = plan(
        ItemContext(bad), workflow=wf(deliverables=[{"path": "{{ item.title }}", "template": "report.md"}])
    )
    assert kinds(p) == ["comment:failure", "assigned->failed"]


def test_failure_from_approved() -> None:
    p = plan(ItemContext(at("approved")), workflow=wf(guidance="missing.md"))
    assert kinds(p) == ["comment:failure", "approved->failed"]


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("reports/1-x.md", True),
        ("", False),
        (" a.md", False),
        ("a\\b.md", False),
        ("C:/x.md", False),
        ("a//b.md", False),
        ("./a.md", False),
        (".git/config", False),
        ("docs/.git/x", False),
        ("a\u202eb.md", False),
        ("x" * 300, False),
    ],
    ids=[
        "ok",
        "empty",
        "padded",
        "backslash",
        "drive",
        "empty-segment",
        "dot",
        "git",
        "nested-git",
        "bidi",
        "long",
    ],
)
def test_path_problem(path: str, ok: bool) -> None:
    assert (path_problem(path) is None) is ok


# --- hostile input -------------------------------------------------------------------------------


def test_template_syntax_in_issue_fields_is_data() -> None:
    hostile = item(
        7,
        "{{ 7*7 }} {% for x in y %}@everyone #1",
        "{{ config }} {% raw %}### Severity\n\nsev1",
        labels=("state::assigned",),
    )
    p = plan(ItemContext(hostile))
    pr_action = p.actions[-1]
    assert isinstance(pr_action, OpenPullRequest)
    path, content = pr_action.files[0]
    assert path == "reports/7-7-7-for-x-in-y-everyone-1.md"
    assert "# {{ 7*7 }} {% for x in y %}@everyone #1" in content  # raw in the file, not evaluated
    assert "49" not in content and "{{ config }}" in content
    guidance = p.actions[0]
    assert isinstance(guidance, UpsertComment)
    assert (
        "{{ 7\\*7 }}" in guidance.body
        and "@&#8203;everyone" in guidance.body
        and "#&#8203;1" in guidance.body
    )
    assert "@everyone" not in pr_action.title and "49" not in pr_action.title


def test_full_size_body_and_rtl_title() -> None:
    body = ("@alice " + "שלום e\u0301\u0301\u0301 ") * 5000
    body = body[:GITHUB_BODY_LIMIT]
    big = item(7, "\u202eשלום עולם", body, labels=("state::assigned",))
    workflow = wf(guidance="body-guide.md")
    p = plan(ItemContext(big), workflow=workflow, templates={**TEMPLATES, "body-guide.md": "{{ item.body }}"})
    pr_action, guidance = p.actions[-1], p.actions[0]
    assert isinstance(pr_action, OpenPullRequest) and isinstance(guidance, UpsertComment)
    assert pr_action.branch == "issueops/7-item"
    assert len(guidance.body) <= GITHUB_BODY_LIMIT
    assert body in pr_action.files[0][1]


# --- idempotency ---------------------------------------------------------------------------------


def run_until_still(
    world: World, config: Config, workflow: WorkflowSchema = WF, limit: int = 6
) -> list[list[str]]:
    """Plan and apply until a plan is empty; the kinds of each non-empty plan."""
    steps = []
    for _ in range(limit):
        p = plan(world.ctx(7), workflow=workflow, config=config)
        if not p.actions:
            return steps
        steps.append(kinds(p))
        world.apply(p)
    raise AssertionError(f"no fixpoint after {limit} plans: {steps}")


def test_autonomous_runs_to_done_and_stays_there() -> None:
    world = World()
    world.add(at("assigned"))
    steps = run_until_still(world, AUTONOMOUS)
    assert steps == [
        ["comment:guidance", "Assign", "assigned->in-progress", "OpenPullRequest"],
        ["in-progress->approved", "MergePullRequest", "CloseItem", "approved->done"],
    ]
    assert world.items[7].state == "closed" and "state::done" in world.items[7].labels
    assert world.prs[7].merged and len(world.comments[7]) == 1


def test_assisted_waits_for_approval_then_publishes() -> None:
    world = World()
    world.add(at("assigned"))
    assert run_until_still(world, ASSISTED) == [
        ["comment:guidance", "Assign", "assigned->in-progress", "OpenPullRequest"],
        ["comment:gate", "in-progress->awaiting-approval"],
    ]
    # The commands stage records an approval: awaiting-approval -> approved.
    world.apply(Plan(7, [Transition(7, "awaiting-approval", "approved", "commands")]))
    assert run_until_still(world, ASSISTED) == [["MergePullRequest", "CloseItem", "approved->done"]]


def test_manual_gates_twice() -> None:
    world = World()
    world.add(at("assigned"))
    assert run_until_still(world, MANUAL) == [["comment:gate", "assigned->awaiting-approval"]]
    world.apply(Plan(7, [Transition(7, "awaiting-approval", "approved", "commands")]))
    assert run_until_still(world, MANUAL) == [
        ["comment:guidance", "Assign", "approved->in-progress", "OpenPullRequest"],
        ["comment:gate", "in-progress->awaiting-approval"],
    ]
    assert len([c for c in world.comments[7] if "issueops:gate" in c.body]) == 1


def test_interrupted_processing_finishes_without_doubles() -> None:
    world = World()
    world.add(at("assigned"))
    first = plan(world.ctx(7))
    world.apply(Plan(7, first.actions[:1]))  # the PR was opened, then the run died
    again = plan(world.ctx(7))
    world.apply(again)
    assert len(world.prs) == 1 and world.writes.count("pr #7 issueops/7-disk-full") == 1
    assert "state::in-progress" in world.items[7].labels
    assert len(world.comments[7]) == 1


def test_failure_is_not_repeated() -> None:
    world = World()
    world.add(at("assigned"))
    broken = wf(guidance="missing.md")
    assert run_until_still(world, AUTONOMOUS, broken) == [["comment:failure", "assigned->failed"]]
    # /retry moves it back; after the fix it processes, and the old failure comment is left alone.
    world.apply(Plan(7, [Transition(7, "failed", "assigned", "command:retry")]))
    steps = run_until_still(world, AUTONOMOUS)
    assert steps[0][-2:] == ["assigned->in-progress", "OpenPullRequest"]


def test_deterministic() -> None:
    ctx = ItemContext(at("assigned"))
    assert plan(ctx) == plan(ctx)


# --- the repository's own workflows render -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["incident-follow-up", "access-request", "content-review"])
def test_repository_workflows_render(name: str) -> None:
    from issueops.config.loader import load_workflows

    workflows = {w.name: w for w in load_workflows(ROOT / "workflow_schemas")}
    if name not in workflows:
        pytest.skip(f"{name} is not in workflow_schemas/")
    templates = {p.name: p.read_text() for p in (ROOT / "workflow_schemas" / "templates").iterdir()}
    # approved: past any gate before processing, whatever the workflow's risk
    work = replace(at("approved"), title="{{ 7*7 }} @mallory", body="### Severity\n\nsev1\n")
    p = plan(ItemContext(work), workflow=workflows[name], config=AUTONOMOUS, templates=templates)
    assert not p.events or p.events[0]["event"] != "item.failed", p.events
    processed = [a for a in p.actions if isinstance(a, OpenPullRequest)]
    assert processed or not workflows[name].deliverables
    if processed:
        assert "{{ 7*7 }}" in processed[0].files[0][1]
    guidance = next(a for a in p.actions if isinstance(a, UpsertComment) and a.key == GUIDANCE_KEY)
    assert "@mallory" not in guidance.body  # the title pings nobody; the template's own @author may
    assert FAILURE_KEY not in [a.key for a in p.actions if isinstance(a, UpsertComment)]


def test_closed_pr_then_sweep_failure_then_retry_reopens_once() -> None:
    world = World()
    world.add(at("assigned"))
    world.apply(plan(world.ctx(7), config=ASSISTED))  # PR opened, in-progress
    world.tick(60)
    world.prs[7] = replace(world.prs[7], state="closed", updated_at=world.now)  # a person closes it
    assert plan(world.ctx(7), config=ASSISTED).actions == []  # the sweep's to report
    world.tick()
    world.apply(  # what the sweep does
        Plan(
            7,
            [
                Transition(7, "in-progress", "failed", "sweep"),
                UpsertComment(7, FAILURE_KEY, "<!-- issueops:failure -->\nPR closed; /retry"),
            ],
        )
    )
    world.tick()
    world.apply(Plan(7, [Transition(7, "failed", "in-progress", "command:retry")]))
    reopen = plan(world.ctx(7), config=ASSISTED)
    assert kinds(reopen) == ["OpenPullRequest"]
    world.apply(reopen)
    assert world.prs[7].state == "open"
    assert kinds(plan(world.ctx(7), config=ASSISTED)) == ["comment:gate", "in-progress->awaiting-approval"]
