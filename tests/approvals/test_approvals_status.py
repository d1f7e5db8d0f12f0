"""The status record, its rendering, content fingerprints and where a failed item failed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from approvals_world import BOT, World

from issueops.approvals.engine import ApprovalDecision, Authority, decide, find_status_record
from issueops.approvals.record import StatusRecord, fingerprint, parse_status_record, render_record
from issueops.approvals.status import (
    StatusView,
    parse_closed_note,
    quote_user_text,
    render_closed_note,
    render_denied_reply,
    render_status,
)
from issueops.config.settings import Config, Risk
from issueops.core.model import Actor, Comment, ItemContext, LabelEvent, WorkItem, marker
from issueops.core.states import State
from issueops.stages.commands import failed_from, retry_target

T = datetime(2025, 3, 1, tzinfo=UTC)


def _item(**changes: Any) -> WorkItem:
    base = WorkItem(number=1, title="Rotate", body="Before Friday.", author=Actor("olivia"))
    return replace(base, **changes)


# --- fingerprint ---------------------------------------------------------------------------------

FINGERPRINT_CASES = [
    ("title change", {"title": "Rotate now"}, None, True),
    ("body change", {"body": "Before Monday."}, None, True),
    ("new head commit", {}, "abc123", True),
    ("CRLF only", {"body": "Before Friday.\r\n"}, None, False),
    ("surrounding whitespace", {"body": "\n Before Friday. \n"}, None, False),
    ("labels do not matter", {"labels": ("risk::high",)}, None, False),
]


@pytest.mark.parametrize(
    ("changes", "head", "differs"), [c[1:] for c in FINGERPRINT_CASES], ids=[c[0] for c in FINGERPRINT_CASES]
)
def test_fingerprint(changes: dict[str, Any], head: str | None, differs: bool) -> None:
    base = fingerprint(_item(), None)
    assert len(base) == 12
    assert (fingerprint(_item(**changes), head) != base) is differs


# --- the hidden record --------------------------------------------------------------------------


def _record() -> StatusRecord:
    return StatusRecord(
        fingerprint="0123456789ab",
        bindings={"c:5": "0123456789ab", "l:carol@2025-03-01T00:00:00+00:00": "0123456789ab"},
        granted=frozenset({"c:5"}),
        counted={"c:5": "alice"},
        lapsed={"c:3": ("bob", "stale")},
        denied=frozenset({("dave", "c:7", "insufficient_permission")}),
        processed=frozenset({3, 5, 7}),
    )


def test_record_round_trip() -> None:
    record = _record()
    text = render_record(record)
    assert text.startswith("<!-- issueops:status-record ") and text.endswith(" -->")
    assert parse_status_record(f"hello\n{text}\n") == record


def test_record_cannot_close_its_html_comment() -> None:
    record = replace(_record(), counted={"c:5": "x-->y<z"})
    text = render_record(record)
    assert "-->" not in text[: -len(" -->")]
    assert parse_status_record(text) == record


@pytest.mark.parametrize(
    "body",
    [
        "no record here",
        "<!-- issueops:status-record {not json} -->",
        '<!-- issueops:status-record {"v":99} -->',
        '<!-- issueops:status-record {"v":1,"processed":["x"]} -->',
        '<!-- issueops:status-record {"v":1,"lapsed":{"c:1":["only-login"]}} -->',
        '<!-- issueops:status-record {"v":1,"denied":[["a","b"]]} -->',
    ],
    ids=["absent", "not json", "unknown version", "bad processed", "bad lapsed", "bad denied"],
)
def test_malformed_records_are_ignored(body: str) -> None:
    assert parse_status_record(body) is None


def test_last_record_wins() -> None:
    fake = render_record(replace(_record(), processed=frozenset({999})))
    real = render_record(_record())
    assert parse_status_record(f"{fake}\n{real}") == _record()


def test_record_only_trusted_from_the_bot() -> None:
    body = f"{marker('status')}\n{render_record(_record())}"
    forged = Comment(1, 1, Actor("mallory"), body, T, T)
    assert find_status_record(ItemContext(_item(), (forged,)), BOT) is None
    own = Comment(2, 1, Actor(BOT, "Bot"), body, T, T)
    assert find_status_record(ItemContext(_item(), (forged, own)), BOT) == _record()


def test_forged_record_cannot_mark_an_approval_fresh() -> None:
    """A person pasting a record that binds a stale approval to today's content changes nothing."""
    w = World(head_sha="a1b2c3d4e5f6")
    approval = w.say("alice", "/approve")
    w.run()
    w.body = "changed"
    forged = replace(_record(), bindings={f"c:{approval.id}": fingerprint(w.item(), w.head_sha)})
    w.say("mallory", f"{marker('status')}\n{render_record(forged)}")
    w.run()
    assert w.state_label() == "awaiting-approval"
    assert ("alice", "stale") in w.event_pairs("approval.lapsed")


# --- rendering ----------------------------------------------------------------------------------


def _decision(
    comments: list[tuple[str, str]], *, held: bool = False, risk: Risk = "high"
) -> tuple[ApprovalDecision, StatusRecord]:
    item = _item(labels=("state::awaiting-approval",))
    made = tuple(
        Comment(10 + i, 1, Actor(login), body, T + timedelta(minutes=i), T + timedelta(minutes=i))
        for i, (login, body) in enumerate(comments)
    )
    ctx = ItemContext(item, made)
    authority = Authority.build(
        config=Config(),
        bot_login=BOT,
        item_author="olivia",
        permissions={"alice": "admin", "bob": "write", "dave": "read", "carol": "maintain"},
        approver_logins=frozenset(),
    )
    decision = decide(ctx, authority=authority, risk=risk, head_sha="a1b2c3d4e5f6", record=None, held=held)
    return decision, decision.record


def _view(
    *,
    gate_required: bool = True,
    profile: str = "assisted",
    hold_by: str | None = None,
    hold_reason: str = "",
) -> StatusView:
    return StatusView(
        state="awaiting-approval",
        risk="high",
        profile=profile,
        gate="before_publishing",
        gate_required=gate_required,
        head_sha="a1b2c3d4e5f6",
        hold_by=hold_by,
        hold_reason=hold_reason,
    )


def test_status_shows_approvers_missing_and_denials() -> None:
    decision, record = _decision([("alice", "/approve"), ("dave", "/approve"), ("olivia", "/approve")])
    body = render_status(decision, record, _view())
    assert body.startswith(marker("status"))
    assert "waiting for 1 more approval" in body
    assert "- Approved by: @alice" in body
    assert "- Still needed: 1 approval" in body
    assert "@dave (needs write" in body
    assert "@olivia (authors may not approve" in body
    assert "deliverable `a1b2c3d`" in body
    assert parse_status_record(body) == record


def test_status_shows_veto_with_quoted_reason() -> None:
    decision, record = _decision([("alice", "/approve"), ("carol", "/reject <b>@team</b> not now")])
    body = render_status(decision, record, _view())
    assert "**Approval status: rejected**" in body
    assert '- Rejected by @carol: "&lt;b&gt;&#64;team&lt;/b&gt; not now"' in body
    assert "Still needed" not in body


def test_status_shows_hold() -> None:
    decision, record = _decision([("alice", "/approve"), ("bob", "/approve")], held=True)
    body = render_status(decision, record, _view(hold_by="dave", hold_reason="window"))
    assert "**Approval status: approved, but on hold**" in body
    assert '- On hold by @dave: "window". Nothing moves automatically until `/unhold`.' in body


def test_status_gate_not_required() -> None:
    decision, record = _decision([("alice", "/approve")], risk="low")
    body = render_status(decision, record, _view(gate_required=False, profile="autonomous"))
    assert "not required by the `autonomous` profile" in body


def test_status_is_deterministic() -> None:
    one = render_status(*_decision([("alice", "/approve"), ("dave", "/approve")]), _view())
    two = render_status(*_decision([("alice", "/approve"), ("dave", "/approve")]), _view())
    assert one == two


def test_lapsed_rendering_names_the_reason() -> None:
    w = World(head_sha="a1b2c3d4e5f6")
    w.say("alice", "/approve")
    w.run()
    w.head_sha = "ffffffffffff"
    w.run()
    status = w.bot_comment("status")
    assert status is not None
    assert "- Lapsed: @alice approved earlier content" in status.body
    assert "waiting for 1 more approval" in status.body


def test_denied_reply_depends_only_on_the_reasons() -> None:
    one = render_denied_reply("dave", ["insufficient_permission"])
    assert one == render_denied_reply("dave", ["insufficient_permission", "insufficient_permission", "stale"])
    assert one.startswith(marker("denied-dave"))
    assert "@dave" in one and "write, maintain or admin" in one


@pytest.mark.parametrize(
    ("by_comment", "removed_label", "head"),
    [
        (True, None, "@dave, your command was not applied:"),
        (False, "approval::approved", "@dave, the `approval::approved` label you added was removed:"),
        (
            True,
            "approval::approved",
            "@dave, your command was not applied and the `approval::approved` label you added was removed:",
        ),
    ],
    ids=["command", "label", "command-and-label"],
)
def test_denied_reply_says_what_was_refused(by_comment: bool, removed_label: str | None, head: str) -> None:
    reply = render_denied_reply(
        "dave", ["insufficient_permission"], by_comment=by_comment, removed_label=removed_label
    )
    assert reply.splitlines()[1] == head


def test_quote_user_text() -> None:
    assert quote_user_text("a\n b  <!-- x --> @all") == '"a b &lt;!-- x --&gt; &#64;all"'
    assert len(quote_user_text("x" * 500)) < 210


def test_closed_note_round_trip() -> None:
    note = render_closed_note([5, 3, 5])
    assert note.startswith(marker("closed"))
    assert parse_closed_note(note) == frozenset({3, 5})
    assert parse_closed_note("nothing") == frozenset()


def test_closed_note_keeps_commands_from_running_after_reopen() -> None:
    w = World()
    w.state = "closed"
    w.say("bob", "/hold")
    w.run()
    w.state = "open"
    w.run()
    assert "issueops::hold" not in w.labels


# --- where a failed item failed -------------------------------------------------------------------


def _events(*spec: tuple[Literal["labeled", "unlabeled"], str]) -> list[LabelEvent]:
    bot = Actor(BOT, "Bot")
    return [
        LabelEvent(kind, f"state::{name}", bot, T + timedelta(seconds=i))
        for i, (kind, name) in enumerate(spec)
    ]


FAILED_FROM_CASES = [
    (
        "removed right after",
        _events(("labeled", "in-progress"), ("labeled", "failed"), ("unlabeled", "in-progress")),
        State.IN_PROGRESS,
    ),
    (
        "removed just before",
        _events(("labeled", "approved"), ("unlabeled", "approved"), ("labeled", "failed")),
        State.APPROVED,
    ),
    ("replayed presence", _events(("labeled", "assigned"), ("labeled", "failed")), State.ASSIGNED),
    (
        "latest failure wins",
        _events(
            ("labeled", "assigned"),
            ("labeled", "failed"),
            ("unlabeled", "assigned"),
            ("labeled", "in-progress"),
            ("unlabeled", "failed"),
            ("labeled", "failed"),
            ("unlabeled", "in-progress"),
        ),
        State.IN_PROGRESS,
    ),
    ("never failed", _events(("labeled", "assigned")), None),
]


@pytest.mark.parametrize(
    ("events", "expected"), [c[1:] for c in FAILED_FROM_CASES], ids=[c[0] for c in FAILED_FROM_CASES]
)
def test_failed_from(events: list[LabelEvent], expected: State | None) -> None:
    assert failed_from(events) == expected


def test_retry_target_falls_back_to_assigned() -> None:
    assert retry_target([]) is State.ASSIGNED
    odd = _events(("labeled", "awaiting-approval"), ("labeled", "failed"), ("unlabeled", "awaiting-approval"))
    assert retry_target(odd) is State.ASSIGNED


def test_retry_target_restores_only_what_the_pipeline_applied() -> None:
    by_bot = _events(("labeled", "approved"), ("labeled", "failed"), ("unlabeled", "approved"))
    assert retry_target(by_bot, BOT) is State.APPROVED
    dave = Actor("dave")
    forged = [replace(e, actor=dave) if e.label == "state::approved" else e for e in by_bot]
    assert retry_target(forged, BOT) is State.ASSIGNED  # a person's approved never comes back
    assert retry_target(forged) is State.APPROVED  # without the bot's login: the old rule
