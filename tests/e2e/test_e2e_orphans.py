"""Issue #8, orphans, end to end: `issueops sweep` over HTTP, through the real adapter, against the
sandbox. What the rules make clear is repaired; the rest is reported; a second sweep writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_ops_world import BOT, REPO, World, scenario

from issueops.output import human_summary, markdown_summary
from issueops.sandbox.ledger import LedgerEntry

WF = "workflow::access-request"


def _item(title: str, labels: list[str], **more: Any) -> dict[str, Any]:
    return {"title": title, "user": "carol", "labels": [*labels, WF], "body": f"{title}.\n", **more}


def _pull(number: int, slug: str, user: str = BOT) -> dict[str, Any]:
    return {
        "title": f"Deliverables for #{number}",
        "head": f"issueops/{number}-{slug}",
        "base": "main",
        "body": f"Closes #{number}",
        "user": user,
        "files": {f"deliverables/{number}.md": f"# Deliverable {number}\n"},
    }


def _branch(number: int) -> dict[str, Any]:
    return {"from": "main", "files": {f"deliverables/{number}.md": f"# Draft {number}\n"}}


ISSUES = [
    _item(
        "(a) closed by a person, the bot's PR still open",
        ["state::rejected"],
        state="closed",
        state_reason="not_planned",
    ),  # 1
    _item("(b) done and closed, its draft branch left", ["state::done"], state="closed"),  # 2
    _item("(c) in progress, a branch but no PR yet", ["state::in-progress"], assignees=["bob"]),  # 3
    _item("(d) in progress, its PR closed unmerged", ["state::in-progress"], assignees=["bob"]),  # 4
    _item("(e) closed, a person's PR on a deliverable branch", ["state::done"], state="closed"),  # 5
    _item("healthy, its PR under review", ["state::in-progress"], assignees=["bob"]),  # 6
    _item("delivered: PR merged, branch kept", ["state::done"]),  # 7
]
BRANCHES = {
    "issueops/2-draft": _branch(2),
    "issueops/3-draft": _branch(3),
    "issueops/99-gone": _branch(99),  # no such item
    "feature/unrelated": _branch(100),  # not a deliverable branch: never touched
}
# Numbered after the issues: 8 (a), 9 (d), 10 (e), 11 (healthy), 12 (merged).
PULLS = [
    _pull(1, "deliverable"),
    _pull(4, "deliverable"),
    _pull(5, "by-carol", user="carol"),
    _pull(6, "deliverable"),
    _pull(7, "deliverable"),
]


def orphan_world(tmp: Path) -> World:
    data = scenario(ISSUES)
    data["branches"] = BRANCHES
    data["pulls"] = PULLS
    w = World(data, tmp)
    w.sandbox.clock.advance(3600)
    w._call("carol", "PATCH", f"/repos/{REPO}/pulls/9", {"state": "closed"})  # (d): closed unmerged
    head = w._call("alice", "GET", f"/repos/{REPO}/pulls/12")["head"]["sha"]
    w._call("alice", "PUT", f"/repos/{REPO}/pulls/12/merge", {"sha": head})  # closes #7
    w.sandbox.clock.advance(60)
    return w


@pytest.fixture
def orphans(tmp_path: Path) -> Iterator[World]:
    w = orphan_world(tmp_path)
    yield w
    w.stop()


def _branches(w: World) -> set[str]:
    return {ref.removeprefix("refs/heads/") for ref in w.sandbox.refs}


def _bot(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    return [e for e in entries if e.login == BOT]


def _writes(entries: list[LedgerEntry]) -> list[tuple[str, str]]:
    return [(e.method, e.path.split("?")[0].removeprefix(f"/repos/{REPO}")) for e in _bot(entries) if e.write]


def test_sweep_repairs_clear_orphans_reports_the_rest_then_writes_nothing(orphans: World) -> None:
    w = orphans
    start = len(w.sandbox.ledger)
    first = w.run("sweep")
    served = list(w.sandbox.ledger)[start:]

    # (d) below moves item 4 to `failed` (its PR was closed unmerged): the run counts it (exit 1).
    assert [(f["target"], f["failure_code"]) for f in first.failures] == [(4, "pr_closed")]
    assert first.items_failed == 1 and first.exit_code == 1
    # (a) the bot's PR of a closed item: explained once, closed, its branch deleted.
    assert w.sandbox.issues[8].state == "closed" and not w.sandbox.issues[8].pull.merged  # type: ignore[union-attr]
    (note,) = w.bot_comments(8, "orphan-closed")
    assert "item #1 is closed (not_planned)" in note and "/retry" in note
    # (b) a PR-less branch of a closed item, and one of an item that does not exist: deleted.
    # (c) a PR-less branch of an open item and (e) a person's PR: reported, untouched.
    assert _branches(w) == {
        "main",
        "issueops/3-draft",
        "issueops/4-deliverable",  # (d) kept: reopening its PR is one of the ways back
        "issueops/5-by-carol",
        "issueops/6-deliverable",
        "issueops/7-deliverable",
        "feature/unrelated",
    }
    assert w.sandbox.issues[10].state == "open" and w.bot_comments(10) == []
    # (d) in progress, its PR closed unmerged: failed, with a comment saying what to do.
    assert w.state_labels(4) == {"state::failed"}
    (failure,) = w.bot_comments(4, "failure")
    assert "pr_closed" in failure and "/retry" in failure
    # Nothing else changed: the healthy item, its PR, the merged PR, the closed items.
    assert w.sandbox.issues[11].state == "open" and w.bot_comments(11) == []
    for number in (1, 2, 3, 5, 6, 7):
        assert w.bot_comments(number) == [], number
    assert _writes(served) == [
        ("POST", "/issues/8/comments"),
        ("PATCH", "/pulls/8"),
        ("DELETE", "/git/refs/heads/issueops/1-deliverable"),
        ("DELETE", "/git/refs/heads/issueops/2-draft"),
        ("POST", "/issues/4/labels"),
        ("DELETE", "/issues/4/labels/state%3A%3Ain-progress"),
        ("POST", "/issues/4/comments"),
        ("DELETE", "/git/refs/heads/issueops/99-gone"),
    ]

    report = first.orphans
    assert report is not None and report["error"] is None
    found = {(f["kind"], f["item"], f["pr"], f["branch"], f["repaired"]) for f in report["findings"]}
    assert found == {
        ("pr-item-closed", 1, 8, "issueops/1-deliverable", True),
        ("branch-without-pr", 2, None, "issueops/2-draft", True),
        ("branch-without-pr", 3, None, "issueops/3-draft", False),
        ("pr-closed-unmerged", 4, 9, "issueops/4-deliverable", True),
        ("pr-item-closed", 5, 10, "issueops/5-by-carol", False),
        ("branch-without-pr", 99, None, "issueops/99-gone", True),
    }
    assert "Orphans:" in human_summary(first) and "by-carol" in markdown_summary(first)
    assert first.as_dict()["orphans"] == report
    repaired = {(e["item"], e["kind"], e["pr"], e["branch"]) for e in w.events("orphan.repaired")}
    assert repaired == {
        (1, "pr-item-closed", 8, "issueops/1-deliverable"),
        (2, "branch-without-pr", None, "issueops/2-draft"),
        (4, "pr-closed-unmerged", 9, "issueops/4-deliverable"),
        (99, "branch-without-pr", None, "issueops/99-gone"),
    }
    assert [(e["item"], e["failure_code"]) for e in w.events("item.failed")] == [(4, "pr_closed")]
    assert [(e["item"], e["to"]) for e in w.events("item.transition")] == [(4, "failed")]

    # The second sweep in a row writes nothing, and still reports what only a person can fix.
    again_start = len(w.sandbox.ledger)
    second = w.run("sweep")
    again = list(w.sandbox.ledger)[again_start:]
    assert _writes(again) == []
    assert second.rows == []
    assert second.orphans is not None
    assert {(f["kind"], f["item"]) for f in second.orphans["findings"]} == {
        ("branch-without-pr", 3),
        ("pr-item-closed", 5),
    }
    print(
        f"\norphans: first sweep {len(_bot(served))} requests "
        f"({sum(e.counted for e in _bot(served))} counted, {len(_writes(served))} writes); "
        f"second sweep {len(_bot(again))} requests ({sum(e.counted for e in _bot(again))} counted, "
        f"{len(_writes(again))} writes)"
    )


def test_dry_run_plans_the_repairs_and_writes_nothing(orphans: World) -> None:
    w = orphans
    start = len(w.sandbox.ledger)
    plan = w.run("sweep", dry_run=True)
    assert _writes(list(w.sandbox.ledger)[start:]) == []
    rows = {(r.target, r.action) for r in plan.rows}
    assert rows >= {
        ("#1", "ClosePullRequest"),
        ("#1", "DeleteBranch"),
        ("#2", "DeleteBranch"),
        ("#4", "Transition"),
        ("#99", "DeleteBranch"),
    }
    assert "Orphans (dry run: repairs planned, not made):" in human_summary(plan)
    assert w.sandbox.issues[8].state == "open" and "issueops/2-draft" in _branches(w)


def test_item_filter_limits_the_repairs_to_that_item(orphans: World) -> None:
    w = orphans
    summary = w.run("sweep", item=2)
    assert _branches(w) >= {"issueops/1-deliverable", "issueops/99-gone"}
    assert "issueops/2-draft" not in _branches(w)
    assert summary.orphans is not None
    assert [f["item"] for f in summary.orphans["findings"]] == [2]


def test_a_refused_repair_fails_that_item_only_and_the_next_sweep_finishes(orphans: World) -> None:
    w = orphans
    w.sandbox.faults.add(status=403, route="/git/refs/heads/issueops/99-gone$", method="DELETE")
    first = w.run("sweep")
    # Item 4's PR was closed unmerged: the sweep fails it (counted); the refused delete fails #99.
    assert [(f["target"], f["failure_code"]) for f in first.failures] == [
        (4, "pr_closed"),
        (99, "authorization_denied"),
    ]
    assert [e["item"] for e in w.events("item.failed") if e.get("stage") == "sweep"] == [99]
    assert "issueops/99-gone" in _branches(w) and "issueops/2-draft" not in _branches(w)
    second = w.run("sweep")
    assert second.failures == [] and "issueops/99-gone" not in _branches(w)
    assert [(r.target, r.action) for r in second.rows] == [("#99", "DeleteBranch")]


def test_two_sweeps_closing_one_pr_at_once_leave_one_note(orphans: World) -> None:
    """Another run posts the same note on PR #8 just before this one does (both had looked and
    found none): this run's end-of-run check finds both and deletes its own, the newer."""
    w = orphans
    original = w.sandbox.handle
    note_path = f"/repos/{REPO}/issues/8/comments"
    raced: list[int] = []

    def handle(method: str, path: str, headers: Any, body: bytes | None) -> Any:
        if method == "POST" and path == note_path and not raced:
            raced.append(original(method, path, headers, body).status)  # the other run's copy
        return original(method, path, headers, body)

    w.sandbox.handle = handle  # type: ignore[method-assign]
    w.run("sweep")
    assert raced == [201]
    notes = [c for c in w.sandbox.comments.values() if c.issue_number == 8 and c.user == BOT]
    assert len(notes) == 1 and "orphan-closed" in notes[0].body
    assert notes[0].id == min(c.id for c in w.sandbox.comments.values() if c.issue_number == 8)
    [repair] = [e for e in w.events("repair.duplicate") if e["item"] == 8]
    assert repair["kind"] == "comment" and repair["key"] == "orphan-closed"
