"""A sandbox GitHub served over HTTP, the real PyGithub adapter, and people acting with their own
tokens: the shared harness of the approvals and sweep end-to-end scenarios.

Write pacing runs on the sandbox's virtual clock (LinkedClock), so nothing really sleeps.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

from issueops.app import run_stages
from issueops.cli import main
from issueops.core.model import marker
from issueops.core.options import Options
from issueops.github.clock import LinkedClock
from issueops.runner import RunSummary
from issueops.sandbox.scenario import from_scenario
from issueops.sandbox.server import RunningServer, serve
from issueops.telemetry.reader import read_directory

REPO = "acme/ops"
BOT = "issueops-bot"
ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "workflow_schemas"

# Pacing at GitHub's own ceiling and no minimum gap: the runs stay quick on the virtual clock.
CONFIG = """\
policy:
  profile: assisted
  required_approvals: {low: 1, medium: 1, high: 1}
  allow_self_approval: false
approvers:
  users: []
  teams: []
  require_repo_permission: false
api:
  max_requests_per_run: 900
  reserve: 200
  writes_per_minute: 80
  min_write_interval_seconds: 0
sla:
  due_hours: 72
  reminder_hours: 48
  escalation_hours: 96
  escalate_to: ["@acme/ops-leads"]
"""

USERS: list[dict[str, Any]] = [
    {"login": BOT, "token": "bot-token", "permission": "write", "type": "Bot"},
    {"login": "alice", "token": "alice-token", "permission": "admin"},
    {"login": "bob", "token": "bob-token", "permission": "maintain"},
    {"login": "carol", "token": "carol-token", "permission": "write"},
    {"login": "dave", "token": "dave-token", "permission": "triage"},
    {"login": "erin", "token": "erin-token", "permission": "read"},
    {"login": "frank", "token": "frank-token", "permission": "none"},
    {"login": "gina", "token": "gina-token"},  # write through the team only
    {"login": "paul", "token": "paul-token", "permission": "write"},  # the items' author
]
TEAMS: list[dict[str, Any]] = [
    {"slug": "ops-approvers", "members": ["gina"], "permission": "write"},
    {"slug": "ops-leads", "members": ["bob"]},
]


def scenario(issues: list[dict[str, Any]], *, labels: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "repo": REPO,
        "clock": {"start": "2026-11-23T09:00:00Z"},
        "users": copy.deepcopy(USERS),
        "teams": copy.deepcopy(TEAMS),
        "labels": [{"name": name, "color": "ededed"} for name in labels],
        "files": {"README.md": "# ops\n"},
        "issues": copy.deepcopy(issues),
    }


class World:
    """One sandbox on a local port, the options that point the pipeline at it, and helpers."""

    def __init__(self, data: dict[str, Any], tmp: Path, *, config: str = CONFIG) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.sandbox = from_scenario(data)
        self.server: RunningServer = serve(self.sandbox, 0)
        self.url = self.server.url
        self.config_path = tmp / "issueops.yml"
        self.config_path.write_text(config, encoding="utf-8")
        self.telemetry_dir = tmp / "telemetry"
        # where a checkout keeps it (the config's default, relative to the working directory),
        # so CLI runs started in `tmp` share the cache and the refusal log with `run`
        self.cache_path = tmp / ".issueops-cache" / "etags.json"
        self.opts = Options(
            repo=REPO,
            api_url=self.url,
            config_path=self.config_path,
            schemas_dir=SCHEMAS,
            telemetry_dir=self.telemetry_dir,
            env={"GITHUB_TOKEN": "bot-token"},
        )
        self.clock = LinkedClock(read=self.sandbox.clock.now, advance=self.sandbox.clock.advance)

    def stop(self) -> None:
        self.server.stop()

    # --- the pipeline -----------------------------------------------------------------------

    def run(self, *stages: str, event_item: int | None = None, **opts: Any) -> RunSummary:
        return run_stages(
            replace(self.opts, **opts),
            stages,
            event_item=event_item,
            clock=self.clock,
            now=self.sandbox.clock.now(),
            cache_path=self.cache_path,
        )

    # --- people, with their own tokens ------------------------------------------------------

    def _call(self, login: str, method: str, path: str, body: Any = None) -> Any:
        token = self.sandbox.token_of(login)
        reply = requests.request(
            method,
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"},
            timeout=10,
        )
        assert reply.status_code < 300, f"{login} {method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None

    def comment(self, login: str, number: int, body: str) -> int:
        created = self._call(login, "POST", f"/repos/{REPO}/issues/{number}/comments", {"body": body})
        self.sandbox.clock.advance(60)  # people do not all type in the same second
        return int(created["id"])

    def edit_comment(self, login: str, comment_id: int, body: str) -> None:
        self._call(login, "PATCH", f"/repos/{REPO}/issues/comments/{comment_id}", {"body": body})
        self.sandbox.clock.advance(60)

    def add_label(self, login: str, number: int, label: str) -> None:
        self._call(login, "POST", f"/repos/{REPO}/issues/{number}/labels", {"labels": [label]})
        self.sandbox.clock.advance(60)

    def clock_advance(self, seconds: float) -> None:
        """Through the control endpoint, as an outside driver would."""
        reply = requests.post(f"{self.url}/_sandbox/clock", json={"advance_seconds": seconds}, timeout=10)
        assert reply.status_code == 200, reply.text

    # --- what happened ----------------------------------------------------------------------

    def labels(self, number: int) -> set[str]:
        return set(self.sandbox.issues[number].labels)

    def state_labels(self, number: int) -> set[str]:
        return {x for x in self.labels(number) if x.startswith("state::")}

    def bot_comments(self, number: int, key: str | None = None) -> list[str]:
        bodies = [
            c.body
            for c in sorted(self.sandbox.comments.values(), key=lambda c: c.id)
            if c.issue_number == number and c.user == BOT
        ]
        if key is None:
            return bodies
        return [b for b in bodies if marker(key) in b]

    def bot_comments_starting(self, number: int, prefix: str) -> list[str]:
        """Bot comments whose marker key starts with `prefix` (e.g. `sla-reminder-`)."""
        return [b for b in self.bot_comments(number) if f"<!-- issueops:{prefix}" in b]

    def bot_reactions(self, comment_id: int) -> list[str]:
        return [r.content for r in self.sandbox.comments[comment_id].reactions if r.user == BOT]

    def comment_event(self, path: Path, number: int, comment_id: int) -> Path:
        """The `issue_comment` payload GitHub would deliver for one comment, as `$GITHUB_EVENT_PATH`
        holds it: the issue and the comment as the REST API renders them (`author_association`
        included), read with an onlooker's token so the bot's ledger is untouched."""
        issue = self._call("alice", "GET", f"/repos/{REPO}/issues/{number}")
        comment = self._call("alice", "GET", f"/repos/{REPO}/issues/comments/{comment_id}")
        payload = {
            "action": "created",
            "issue": issue,
            "comment": comment,
            "repository": {"full_name": REPO},
            "sender": comment["user"],
        }
        path.write_text(json.dumps(payload), encoding="utf-8")
        return path

    def bot_writes(self) -> int:
        return sum(1 for e in self.sandbox.ledger if e.write and e.login == BOT)

    def bot_comment_posts(self) -> Counter[str]:
        """Bot POSTs of new comments, per issue path (compared against the comments that exist)."""
        return Counter(
            e.path.split("?")[0]
            for e in self.sandbox.ledger
            if e.method == "POST" and e.login == BOT and e.path.split("?")[0].endswith("/comments")
        )

    def events(self, name: str) -> list[dict[str, Any]]:
        result = read_directory(self.telemetry_dir)
        assert not result.warnings, [str(w) for w in result.warnings]
        return [e for e in result.events if e.get("event") == name]

    def final_state(self) -> dict[int, tuple[tuple[str, ...], str, tuple[str, ...]]]:
        """Per issue: sorted labels, open/closed, sorted marker keys of the bot's comments."""
        out = {}
        for number, issue in sorted(self.sandbox.issues.items()):
            keys = sorted(
                b.split("<!-- issueops:", 1)[1].split(" ", 1)[0].split("-->", 1)[0]
                for b in self.bot_comments(number)
                if "<!-- issueops:" in b
            )
            out[number] = (tuple(sorted(issue.labels)), issue.state, tuple(keys))
        return out


def issue_comment_payload(path: Path, number: int, comment_id: int, login: str, body: str) -> Path:
    """A minimal `issue_comment` webhook payload, as `$GITHUB_EVENT_PATH` holds it."""
    payload = {
        "action": "created",
        "issue": {"number": number, "title": f"item {number}", "labels": []},
        "comment": {"id": comment_id, "body": body, "user": {"login": login, "type": "User"}},
        "repository": {"full_name": REPO},
        "sender": {"login": login, "type": "User"},
    }
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def cli(w: World, *args: str, env: dict[str, str] | None = None) -> str:
    """`issueops <args>` against the world over HTTP, as the bot; it must exit 0. Its output."""
    result = CliRunner().invoke(
        main,
        [
            *("--repo", REPO, "--api-url", w.url, "--config", str(w.config_path)),
            *("--schemas", str(w.opts.schemas_dir), "--telemetry", str(w.telemetry_dir)),
            *args,
        ],
        env={"GITHUB_TOKEN": "bot-token", "GITHUB_ACTIONS": "", **(env or {})},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output
