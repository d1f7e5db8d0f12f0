"""A small world for the end-to-end tests: a sandbox, the real PyGithub adapter in-process,
a virtual clock, and a normalised snapshot of the sandbox state to compare runs by."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from issueops.app import run_stages
from issueops.core.options import Options
from issueops.github.clock import LinkedClock
from issueops.runner import RunSummary
from issueops.sandbox import Sandbox
from issueops.sandbox.http import SandboxResponse
from issueops.sandbox.inprocess import activate
from issueops.sources.base import Fetch, FetchError, FetchResult

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / ".github" / "issueops.yml"
SCHEMAS = REPO_ROOT / "workflow_schemas"
DEMO_SCENARIO = REPO_ROOT / "scripts" / "issueops" / "sandbox" / "scenarios" / "demo.yml"
ALL_STAGES = ("commands", "monitor", "assign", "process", "sweep")
BOT = "issueops-bot"

_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


class Killed(BaseException):
    """The process died: raised after a request was served; nothing in issueops may catch it."""


def no_web(url: str, timeout: float) -> FetchResult:
    """The intake sources' fetch when a test has none: nothing is reachable."""
    del timeout
    raise FetchError(f"{url}: not reachable in the e2e tests")


def write_config(tmp: Path, *, profile: str = "assisted", sources: Sequence[str] = ()) -> Path:
    """The repository's own config with another policy profile, keeping only the named sources."""
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["policy"]["profile"] = profile
    data["sources"] = [s for s in data.get("sources", []) if s["name"] in sources]
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "issueops.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class World:
    """One sandbox and how to run the pipeline against it (in-process, virtual time)."""

    sandbox: Sandbox
    tmp: Path
    config: Path = CONFIG
    schemas: Path = SCHEMAS
    fetch: Fetch = no_web
    runs: int = 0
    before: list[Callable[[int, str, str], None]] = field(default_factory=list)
    after: list[Callable[[int, str, str, SandboxResponse], None]] = field(default_factory=list)
    served: int = 0
    approved: set[str] = field(default_factory=set)  # the gates the test's people approved already

    def options(self, **overrides: Any) -> Options:
        base: dict[str, Any] = {
            "repo": "acme/ops",
            "api_url": self.sandbox.base_url,
            "config_path": self.config,
            "schemas_dir": self.schemas,
            "telemetry_dir": self.tmp / "telemetry",
            "env": {"GITHUB_TOKEN": "bot-token"},
        }
        base.update(overrides)
        return Options(**base)

    def run(self, names: Sequence[str] = ALL_STAGES, **overrides: Any) -> RunSummary:
        self.runs += 1
        clock = LinkedClock(read=self.sandbox.clock.now, advance=self.sandbox.clock.advance)
        with self.serving():
            return run_stages(
                self.options(**overrides),
                names,
                clock=clock,
                now=self.sandbox.clock.now(),
                fetch=self.fetch,
                cache_path=self.tmp / "etags.json",
            )

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Route requests to the sandbox; `before` hooks see each request before it is served
        (numbered from 1 over the world's life), `after` hooks once it took effect."""
        original = self.sandbox.handle

        def handle(method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> SandboxResponse:
            if path.startswith("/_sandbox"):
                return original(method, path, headers, body)
            number = self.served + 1
            for early in list(self.before):
                early(number, method, path)
            reply = original(method, path, headers, body)
            self.served = number
            for hook in list(self.after):
                hook(number, method, path, reply)
            return reply

        self.sandbox.handle = handle  # type: ignore[method-assign,assignment]
        try:
            with activate(self.sandbox):
                yield
        finally:
            del self.sandbox.handle

    def bot_writes(self) -> int:
        return sum(1 for e in self.sandbox.ledger if e.write and e.login == BOT)

    def act(self, login: str, method: str, path: str, payload: Mapping[str, Any]) -> Any:
        """A person's request with their own token, straight to the sandbox (no hooks)."""

        token = self.sandbox.token_of(login) or ""
        reply = Sandbox.handle(
            self.sandbox,
            method,
            f"/repos/acme/ops{path}",
            {"Authorization": f"token {token}", "Content-Type": "application/json"},
            json.dumps(payload).encode(),
        )
        assert reply.status < 300, (reply.status, reply.body[:300])
        return reply.json()

    def comment(self, login: str, number: int, body: str) -> None:
        self.act(login, "POST", f"/issues/{number}/comments", {"body": body})


def world(sandbox: Sandbox, tmp: Path, **fields: Any) -> World:
    tmp.mkdir(parents=True, exist_ok=True)
    return World(sandbox=sandbox, tmp=tmp, **fields)


def _text(value: str | None) -> str:
    return _ISO_TIME.sub("<time>", value or "")


def state_of(sandbox: Sandbox) -> dict[str, Any]:
    """The sandbox as the comparisons see it: no ids, no times, comments and PRs by content."""
    issues: dict[int, Any] = {}
    for number, issue in sorted(sandbox.issues.items()):
        comments = [_text(sandbox.comments[cid].body) for cid in issue.comment_ids]
        entry: dict[str, Any] = {
            "title": issue.title,
            "body": _text(issue.body),
            "state": issue.state,
            "state_reason": issue.state_reason,
            "labels": sorted(issue.labels),
            "assignees": sorted(issue.assignees),
            "comments": sorted(
                (c.user, body)
                for c, body in zip(
                    (sandbox.comments[cid] for cid in issue.comment_ids), comments, strict=True
                )
            ),
        }
        if issue.pull is not None:
            entry["pull"] = {
                "head": issue.pull.head_ref,
                "base": issue.pull.base_ref,
                "merged": issue.pull.merged,
            }
        issues[number] = entry
    git = sandbox.state.git
    main = sandbox.refs[f"refs/heads/{sandbox.state.repo.default_branch}"]
    branches = {}
    for ref, sha in sorted(sandbox.refs.items()):
        # A side branch is what its PR changes (against its merge base): where it was cut from
        # depends on which PRs were merged before, which a crash may legitimately reorder.
        files = git.flatten(git.commits[sha].tree)
        base = git.merge_base(main, sha) if sha != main else None
        unchanged = git.flatten(git.commits[base].tree) if base else {}
        branches[ref] = {
            path: _text(git.blobs[blob].decode())
            for path, (mode, blob) in sorted(files.items())
            if unchanged.get(path) != (mode, blob)
        }
    return {"issues": issues, "branches": branches}


def duplicates(sandbox: Sandbox) -> list[str]:
    """The bot's doubles: a comment twice on one issue, an item twice (same title), a PR twice
    (same head branch). People may repeat themselves; the bot may not."""
    found = []
    for number, issue in sandbox.issues.items():
        mine = [sandbox.comments[c] for c in issue.comment_ids if sandbox.comments[c].user == BOT]
        bodies = [_text(c.body) for c in mine]
        found += [f"#{number}: comment twice: {b[:60]!r}" for b in set(bodies) if bodies.count(b) > 1]
    titles = [i.title for i in sandbox.issues.values() if i.pull is None and i.user == BOT]
    found += [f"item twice: {t!r}" for t in set(titles) if titles.count(t) > 1]
    heads = [i.pull.head_ref for i in sandbox.issues.values() if i.pull is not None]
    found += [f"PR twice: {h}" for h in set(heads) if heads.count(h) > 1]
    return found
