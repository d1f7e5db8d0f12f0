"""Issue #14, self-repair: duplicates left by overlapping runs (or by versions before this one)
heal on the next run, over HTTP through the real adapter. The oldest copy stays; a person's
comment is never touched, whatever marker it carries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_ops_world import BOT, World, scenario

from issueops.core.model import marker

WF = "workflow::content-review"
KEY = "status-feed:tag:status.example.com:2026:incident-7"
FEED_BODY = f"Checkout is down.\n\n<!-- issueops:source={KEY} -->\n"
GUIDANCE = f"{marker('guidance')}\nHow to review this item."


def _seeded() -> dict[str, Any]:
    issues = [
        {
            "title": "[review] Blog post",
            "user": "carol",
            "labels": ["state::in-progress", WF],
            "assignees": ["carol"],
            "comments": [
                {"user": BOT, "body": GUIDANCE},
                {
                    "user": "carol",
                    "body": f"Quoting the bot: {GUIDANCE}",
                    "created_at": "2026-11-23T08:01:00Z",
                },
                {"user": BOT, "body": GUIDANCE + "\n(second copy)"},
                {"user": BOT, "body": GUIDANCE},
                {"user": BOT, "body": f"{marker('status')}\nStatus."},
            ],
        },
        {
            "title": "Incident 7",
            "user": BOT,
            "labels": ["state::triage", "source::status-feed"],
            "body": FEED_BODY,
        },
        {
            "title": "Incident 7",
            "user": BOT,
            "labels": ["state::triage", "source::status-feed"],
            "body": FEED_BODY,
        },
        {
            "title": "Incident 7, filed by a person",
            "user": "bob",
            "labels": ["state::triage"],
            "body": FEED_BODY,
        },
    ]
    data = scenario(issues, labels=[WF, "source::status-feed"])
    data["pulls"] = [
        {
            "title": "deliverables",
            "head": "issueops/1-blog-post",
            "base": "main",
            "user": BOT,
            "body": "Closes #1",
            "files": {"reviews/1.md": "one\n"},
        },
        {
            "title": "deliverables",
            "head": "issueops/1-blog-post-again",
            "base": "main",
            "user": BOT,
            "body": "Closes #1",
            "files": {"reviews/1.md": "two\n"},
        },
    ]
    return data


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(_seeded(), tmp_path)
    yield w
    w.stop()


def test_one_run_repairs_seeded_duplicates_and_the_next_changes_nothing(world: World) -> None:
    w = world
    guidance_ids = sorted(c.id for c in w.sandbox.comments.values() if c.issue_number == 1 and c.user == BOT)
    carol_id = next(c.id for c in w.sandbox.comments.values() if c.user == "carol")
    summary = w.run("sweep")
    assert summary.items_failed == 0, summary.failures
    assert summary.stages["repair"]["changed"] == 3, summary.rows

    # Comments: the oldest guidance stays, the two newer copies go; carol's quote and the status stay.
    left = sorted(c.id for c in w.sandbox.comments.values() if c.issue_number == 1)
    assert left == sorted([guidance_ids[0], carol_id, guidance_ids[3]])
    assert len(w.bot_comments(1, "guidance")) == 1
    # Items: the older bot item keeps the intake key; the newer is closed as a duplicate; the
    # person's item with the same marker in its body is not the bot's and is left alone.
    assert w.sandbox.issues[2].state == "open"
    assert (w.sandbox.issues[3].state, w.sandbox.issues[3].state_reason) == ("closed", "not_planned")
    assert w.state_labels(3) == {"state::rejected"}
    assert (w.sandbox.issues[3].body or "").startswith("> [!NOTE]\n> Duplicate of #2:")
    assert not w.bot_comments(3), "the note is in the body: two repairing runs write it once"
    assert w.sandbox.issues[4].state == "open"
    # PRs: the older stays open; the newer is closed with a note and its branch deleted.
    assert w.sandbox.issues[5].pull is not None and w.sandbox.issues[5].state == "open"
    assert w.sandbox.issues[6].state == "closed" and not w.sandbox.issues[6].pull.merged
    assert "refs/heads/issueops/1-blog-post-again" not in w.sandbox.refs
    assert "refs/heads/issueops/1-blog-post" in w.sandbox.refs

    events = w.events("repair.duplicate")
    assert sorted((e["kind"], e["item"]) for e in events) == [("comment", 1), ("item", 3), ("pull", 1)]
    comment = next(e for e in events if e["kind"] == "comment")
    assert comment["kept"] == guidance_ids[0] and comment["removed"] == guidance_ids[1:3]

    writes = w.bot_writes()
    again = w.run("sweep")
    assert "repair" not in again.stages
    assert w.bot_writes() == writes, [e.path for e in w.sandbox.ledger if e.write][-5:]


def test_a_dry_run_shows_the_repair_and_writes_nothing(world: World) -> None:
    writes = world.bot_writes()
    summary = world.run("sweep", dry_run=True)
    assert [r.action for r in summary.rows if r.stage == "repair"].count("DeleteComment") == 2
    assert world.bot_writes() == writes
