"""The label authority rules as a pure table: labels and their history in, the verdict out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from issueops.config.settings import Config
from issueops.core.model import (
    Actor,
    Comment,
    ItemContext,
    LabelEvent,
    Permission,
    PullRequest,
    WorkItem,
    marker,
)
from issueops.stages.assign import ASSESSMENT_KEY, OwnerChoice, assessment_body
from issueops.stages.label_authority import (
    assessment,
    audit_actions,
    audit_labels,
    closed_comment_ids,
    lowering_appliers,
    needs_history,
    render_reply,
)

BOT = "issueops-bot"
T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WORKFLOWS = {"incident-follow-up": "high", "access-request": "medium", "content-review": "low"}
INCIDENT = "workflow::incident-follow-up"
ASSESSMENT = Comment(
    1,
    7,
    Actor(BOT, "Bot"),
    "<!-- issueops:assessment -->\n**Assessment**\n\n- Workflow: `incident-follow-up` (set by label)\n"
    "- Risk: `high`\n- Owner: `alice`: least loaded\n",
    T,
    T,
)
# How the pipeline brought an incident to its processing gate.
AT_GATE = [
    ("labeled", INCIDENT, "paul"),
    ("labeled", "state::triage", "paul"),
    ("labeled", "risk::high", BOT),
    ("labeled", "state::assigned", BOT),
    ("unlabeled", "state::triage", BOT),
    ("labeled", "state::awaiting-approval", BOT),
    ("unlabeled", "state::assigned", BOT),
]


def _events(spec: list[tuple[str, str, str]]) -> tuple[LabelEvent, ...]:
    return tuple(
        LabelEvent(kind, label, Actor(login, "Bot" if login == BOT else "User"), T + timedelta(minutes=i))  # type: ignore[arg-type]
        for i, (kind, label, login) in enumerate(spec)
    )


@dataclass(frozen=True)
class Row:
    name: str
    labels: tuple[str, ...]
    then: list[tuple[str, str, str]]  # after AT_GATE
    state: str | None
    risk: str
    codes: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    revert_to: str | None = None
    permissions: dict[str, Permission] = field(default_factory=dict)
    approvers: frozenset[str] = frozenset()
    merged: bool = False


ROWS = [
    Row(
        "as the pipeline left it",
        (INCIDENT, "risk::high", "state::awaiting-approval"),
        [],
        "awaiting-approval",
        "high",
    ),
    Row(
        "approved by a triage user",
        (INCIDENT, "risk::high", "state::approved"),
        [("labeled", "state::approved", "dave"), ("unlabeled", "state::awaiting-approval", "dave")],
        "awaiting-approval",
        "high",
        ("gated_state",),
        revert_to="awaiting-approval",
    ),
    Row(
        "approved next to awaiting-approval",
        (INCIDENT, "risk::high", "state::awaiting-approval", "state::approved"),
        [("labeled", "state::approved", "carol")],
        "awaiting-approval",
        "high",
        ("gated_state",),
        remove=("state::approved",),
    ),
    Row(
        "done on an open item, PR not merged",
        (INCIDENT, "risk::high", "state::done"),
        [("labeled", "state::done", "carol"), ("unlabeled", "state::awaiting-approval", "carol")],
        "awaiting-approval",
        "high",
        ("gated_state",),
        revert_to="awaiting-approval",
    ),
    Row(
        "done by a person once the PR is merged",
        (INCIDENT, "risk::high", "state::done"),
        [("labeled", "state::done", "carol"), ("unlabeled", "state::awaiting-approval", "carol")],
        "done",
        "high",
        merged=True,
    ),
    Row(
        "in-progress by a person where a processing gate applies",
        (INCIDENT, "risk::high", "state::in-progress"),
        [("labeled", "state::in-progress", "carol"), ("unlabeled", "state::awaiting-approval", "carol")],
        "awaiting-approval",
        "high",
        ("gated_state",),
        revert_to="awaiting-approval",
    ),
    Row(
        "risk lowered by a writer who is no approver",
        (INCIDENT, "risk::low", "state::awaiting-approval"),
        [("labeled", "risk::low", "carol"), ("unlabeled", "risk::high", "carol")],
        "awaiting-approval",
        "high",
        ("risk_lowered",),
        remove=("risk::low",),
        add=("risk::high",),
        permissions={"carol": "write"},
    ),
    Row(
        "risk lowered by a configured approver",
        (INCIDENT, "risk::low", "state::awaiting-approval"),
        [("labeled", "risk::low", "alice"), ("unlabeled", "risk::high", "alice")],
        "awaiting-approval",
        "low",
        permissions={"alice": "admin"},
        approvers=frozenset({"alice"}),
    ),
    Row(
        "risk lowered by a listed approver whose permission could not be read",
        (INCIDENT, "risk::low", "state::awaiting-approval"),
        [("labeled", "risk::low", "alice"), ("unlabeled", "risk::high", "alice")],
        "awaiting-approval",
        "high",
        ("risk_lowered",),
        remove=("risk::low",),
        add=("risk::high",),
        permissions={"alice": "none"},
        approvers=frozenset({"alice"}),
    ),
    Row(
        "risk raised by a triage user",
        (INCIDENT, "risk::high", "state::awaiting-approval"),
        [("unlabeled", "risk::high", "dave"), ("labeled", "risk::high", "dave")],
        "awaiting-approval",
        "high",
    ),
    Row(
        "risk label removed",
        (INCIDENT, "state::awaiting-approval"),
        [("unlabeled", "risk::high", "dave")],
        "awaiting-approval",
        "high",
        ("risk_lowered",),
        add=("risk::high",),
    ),
    Row(
        "workflow swapped after assignment",
        ("workflow::content-review", "risk::high", "state::awaiting-approval"),
        [("labeled", "workflow::content-review", "dave"), ("unlabeled", INCIDENT, "dave")],
        "assigned",
        "high",
        ("workflow_changed",),
        revert_to="assigned",
    ),
    Row(
        "the pipeline's own approved",
        (INCIDENT, "risk::high", "state::approved"),
        [("labeled", "state::approved", BOT), ("unlabeled", "state::awaiting-approval", BOT)],
        "approved",
        "high",
    ),
]


def _ctx(row: Row) -> ItemContext:
    item = WorkItem(7, "Incident", "Body.", Actor("paul"), labels=row.labels, created_at=T)
    pr = PullRequest(9, "issueops/7-incident", "abc", "main", "closed", True) if row.merged else None
    return ItemContext(item, (ASSESSMENT,), _events(AT_GATE + row.then), pr)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_audit(row: Row) -> None:
    ctx = _ctx(row)
    config = Config.model_validate({"approvers": {"users": ["alice"]}})
    # Labels as the pipeline left them (a raise is one too) need no history read.
    unchanged = not row.then or row.name.startswith("risk raised")
    assert needs_history(ctx, workflows=WORKFLOWS, bot_login=BOT) is not unchanged  # type: ignore[arg-type]
    audit = audit_labels(
        ctx,
        workflows=WORKFLOWS,  # type: ignore[arg-type]
        config=config,
        bot_login=BOT,
        permissions=row.permissions,
        approver_logins=row.approvers,
        history=True,
    )
    assert (audit.state.value if audit.state else None) == row.state
    assert audit.risk == row.risk
    assert tuple(f.code for f in audit.findings) == row.codes
    assert audit.remove == row.remove
    assert audit.add == row.add
    assert (audit.revert.to_state if audit.revert else None) == row.revert_to
    for finding in audit.findings:
        assert finding.login in {"dave", "carol", "alice"}
        assert f"@{finding.login}," in render_reply(finding.login, [finding])


def test_who_must_be_looked_up() -> None:
    row = ROWS[6]  # a writer lowered the risk
    assert lowering_appliers(_ctx(row), workflows=WORKFLOWS, bot_login=BOT) == {"carol"}  # type: ignore[arg-type]


def test_comments_while_closed_never_count() -> None:
    spans = _events([("closed", "", "carol"), ("reopened", "", "carol")])
    before = Comment(2, 7, Actor("bob"), "/approve", T - timedelta(minutes=1), T - timedelta(minutes=1))
    during = Comment(3, 7, Actor("bob"), "/approve", T + timedelta(seconds=30), T + timedelta(seconds=30))
    after = Comment(4, 7, Actor("bob"), "/approve", T + timedelta(minutes=2), T + timedelta(minutes=2))
    item = WorkItem(7, "Incident", "Body.", Actor("paul"), state_reason="reopened")
    ctx = ItemContext(item, (before, during, after), spans)
    assert closed_comment_ids(ctx, BOT) == frozenset({3})


def test_reads_the_assign_stages_own_assessment() -> None:
    """The floor comes from the assessment the assign stage writes: the two must agree on its form."""
    body = (
        marker(ASSESSMENT_KEY)
        + "\n"
        + assessment_body("access-request", "score 3", "high", OwnerChoice("bob", "x"), [])
    )
    comment = Comment(5, 7, Actor(BOT, "Bot"), body, T, T)
    assert assessment([comment], BOT) == ("access-request", "high")
    forged = Comment(6, 7, Actor("dave"), body.replace("high", "low"), T, T)
    assert assessment([forged], BOT) == (None, None)  # only the bot's own comment counts


@pytest.mark.parametrize(
    ("labels", "profile", "needed"),
    [
        (("workflow::access-request", "risk::medium", "state::in-progress"), "assisted", False),
        (("workflow::access-request", "risk::medium", "state::in-progress"), "manual", True),
        (("workflow::access-request", "risk::high", "state::in-progress"), "assisted", True),
        (("workflow::access-request", "risk::medium", "state::approved"), "assisted", True),
    ],
    ids=["no processing gate", "manual profile", "raised to high", "approved always"],
)
def test_in_progress_needs_history_only_behind_a_processing_gate(
    labels: tuple[str, ...], profile: str, needed: bool
) -> None:
    item = WorkItem(8, "Access", "Body.", Actor("paul"), labels=labels)
    config = Config.model_validate({"policy": {"profile": profile}})
    ctx = ItemContext(item)
    assert needs_history(ctx, workflows=WORKFLOWS, bot_login=BOT, config=config) is needed  # type: ignore[arg-type]


def test_a_state_an_overlapping_run_of_the_pipeline_left_is_repaired_without_a_reply() -> None:
    """Two runs of the pipeline at once can leave its own gated label behind the recorded state:
    it is removed like any other, but nobody is answered (the reply would go to the bot itself)."""
    row = Row(
        "the pipeline's own label, behind its record",
        (INCIDENT, "risk::high", "state::approved", "state::awaiting-approval"),
        [
            ("labeled", "state::approved", BOT),
            ("unlabeled", "state::awaiting-approval", BOT),
            ("labeled", "state::awaiting-approval", BOT),
        ],
        "awaiting-approval",
        "high",
        ("gated_state",),
        remove=("state::approved",),
    )
    ctx = _ctx(row)
    config = Config.model_validate({"approvers": {"users": ["alice"]}})
    audit = audit_labels(
        ctx,
        workflows=WORKFLOWS,
        config=config,
        bot_login=BOT,
        permissions={},
        approver_logins=frozenset(),
        history=True,  # type: ignore[arg-type]
    )
    assert [f.login for f in audit.findings] == [BOT]
    actions = audit_actions(ctx, audit, BOT)
    assert [type(a).__name__ for a in actions] == ["RemoveLabel"]
