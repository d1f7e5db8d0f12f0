"""Scenario files: the demo loads as documented; broken files name `file:line` and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from issueops.core.errors import ConfigError
from issueops.sandbox.models import PERMISSION_LEVELS
from issueops.sandbox.scenario import check_scenario, from_scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts/issueops/sandbox/scenarios/demo.yml"


def test_demo_scenario_has_what_the_demo_needs() -> None:
    sb = from_scenario(DEMO)
    state = sb.state
    assert state.repo.full_name == "acme/ops"
    permissions = {u.login: state.permission(u.login) for u in sb.users.values() if u.type != "Organization"}
    assert set(permissions.values()) == set(PERMISSION_LEVELS)
    assert permissions["gina"] == "write" and sb.users["gina"].permission == "none"  # team-granted only
    assert any(u.type == "Bot" for u in sb.users.values())
    assert "ops-approvers" in sb.teams
    issues = [i for i in sb.issues.values() if i.pull is None]
    assert 20 <= len(issues) <= 30
    triage = [i for i in issues if "state::triage" in i.labels]
    assert len(triage) > len(issues) / 2
    titles = " ".join(i.title for i in issues)
    assert "{{ 7*7 }}" in titles
    assert "@alice" in titles
    assert any("\u0600" <= ch <= "\u06ff" for ch in titles)  # right-to-left (Arabic) text
    sources = {n for i in issues for n in i.labels if n.startswith("source::")}
    assert len(sources) >= 3
    assert sb.file("main", "README.md")
    assert sb.clock.now().isoformat().startswith("2026-11-23T09:00:00")


def test_scenario_mapping_with_every_extension() -> None:
    sb = from_scenario(
        {
            "repo": "acme/tools",
            "private": True,
            "default_branch": "trunk",
            "clock": {"start": "2026-01-01T00:00:00Z", "tick_seconds": 1},
            "rate_limit": {"core": 100, "content_per_minute": 5},
            "users": [{"login": "bot", "token": "t", "permission": "write", "type": "Bot", "rate_limit": 50}],
            "teams": [{"slug": "leads", "members": ["ann"], "permission": "maintain"}],
            "labels": [{"name": "bug", "color": "#D73A4A"}],
            "files": {"docs/a.md": "A\n"},
            "branches": {"feature": {"files": {"docs/b.md": "B\n"}}},
            "issues": [
                {
                    "title": "T",
                    "user": "ann",
                    "labels": ["bug"],
                    "assignees": ["ann"],
                    "state": "closed",
                    "state_reason": "not_planned",
                    "created_at": "2025-12-31T10:00:00Z",
                    "reactions": [{"user": "bot", "content": "eyes"}],
                    "comments": [
                        {
                            "user": "bot",
                            "body": "hi",
                            "edited": True,
                            "reactions": [{"user": "ann", "content": "+1"}],
                        }
                    ],
                }
            ],
            "pulls": [{"title": "P", "head": "feature", "body": "Closes #1", "labels": ["bug"]}],
        }
    )
    assert sb.state.repo.private and sb.state.repo.default_branch == "trunk"
    assert sb.state.permission("ann") == "maintain"
    assert sb.labels["bug"].color == "d73a4a"
    issue = sb.issues[1]
    assert (issue.state, issue.state_reason, issue.assignees) == ("closed", "not_planned", ["ann"])
    comment = sb.comments[issue.comment_ids[0]]
    assert comment.updated_at > comment.created_at
    assert sb.pulls[2].labels == ["bug"]
    assert sb.file("feature", "docs/b.md") == "B\n" and sb.file("trunk", "docs/a.md") == "A\n"
    reply = sb.handle("GET", "/rate_limit", {"Authorization": "token t"}, None).json()
    assert reply["rate"]["limit"] == 50


BROKEN = [
    ("missing repo", "users: []\n", 1, "needs 'repo'"),
    ("bad repo", "repo: acme\n", 1, "OWNER/NAME"),
    ("unknown top key", "repo: a/b\nrepos: []\n", 2, "unknown key 'repos'"),
    ("bad permission", "repo: a/b\nusers:\n  - login: x\n    permission: owner\n", 4, "permission 'owner'"),
    ("bad user type", "repo: a/b\nusers:\n  - {login: x, type: Robot}\n", 3, "User or Bot"),
    ("issue without title", "repo: a/b\nissues:\n  - body: x\n", 3, "needs 'title'"),
    ("bad time", "repo: a/b\nissues:\n  - {title: t, created_at: yesterday}\n", 3, "RFC 3339"),
    (
        "bad reaction",
        "repo: a/b\nissues:\n  - title: t\n    reactions: [{user: a, content: wow}]\n",
        4,
        "content",
    ),
    ("bad yaml", "repo: a/b\nusers: [\n", 3, "YAML syntax error"),
    ("not a mapping", "- a\n- b\n", 1, "YAML mapping"),
    ("negative limit", "repo: a/b\nrate_limit:\n  core: -1\n", 3, "non-negative"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_scenarios_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "scenario.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    problem = caught.value.problems[0]
    assert problem.path == str(path)
    assert problem.line == line, str(caught.value)
    assert fragment in problem.message


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the scenario"):
        load_scenario(tmp_path / "absent.yml")


def test_a_duplicate_key_in_a_scenario_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yml"
    path.write_text("repo: a/b\nusers: []\nrepo: c/d\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    problem = caught.value.problems[0]
    assert (problem.line, problem.col) == (3, 1)
    assert "duplicate key 'repo' (first at line 1)" in problem.message


def test_an_issue_history_replays_with_its_actors_and_times() -> None:
    sb = from_scenario(
        {
            "repo": "acme/ops",
            "issues": [
                {
                    "number": 7,
                    "title": "t",
                    "user": "erin",
                    "labels": ["state::assigned"],
                    "events": [
                        {
                            "event": "labeled",
                            "label": "state::triage",
                            "actor": "erin",
                            "created_at": "2025-01-06T09:00:00Z",
                        },
                        {"event": "closed", "actor": "bob", "created_at": "2025-01-06T10:00:00Z"},
                        {"event": "reopened", "actor": "bob", "created_at": "2025-01-06T11:00:00Z"},
                        {
                            "event": "unlabeled",
                            "label": "state::triage",
                            "actor": "bot",
                            "created_at": "2025-01-06T12:00:00Z",
                        },
                        {
                            "event": "labeled",
                            "label": "state::assigned",
                            "actor": "bot",
                            "created_at": "2025-01-06T12:00:00Z",
                        },
                    ],
                    "comments": [{"id": 4242, "user": "bob", "body": "/approve"}],
                }
            ],
        }
    )
    issue = sb.issues[7]
    assert issue.state == "open" and issue.labels == ["state::assigned"]
    assert [(e.event, e.actor) for e in issue.events] == [
        ("labeled", "erin"),
        ("closed", "bob"),
        ("reopened", "bob"),
        ("unlabeled", "bot"),
        ("labeled", "bot"),
    ]
    assert [e.created_at.hour for e in issue.events] == [9, 10, 11, 12, 12]
    assert 4242 in sb.state.comments and sb.state.comments[4242].body == "/approve"


@pytest.mark.parametrize(
    ("name", "event", "fragment"),
    [
        ("an unknown kind", {"event": "pinned", "actor": "bob"}, "an issue event is"),
        ("a label event without its label", {"event": "labeled", "actor": "bob"}, "needs `label`"),
        ("no actor", {"event": "closed"}, "needs 'actor'"),
    ],
)
def test_a_broken_issue_event_is_named(name: str, event: dict[str, str], fragment: str) -> None:
    problems = check_scenario({"repo": "a/b", "issues": [{"title": "t", "events": [event]}]})
    assert any(fragment in p.message for p in problems), (name, problems)
