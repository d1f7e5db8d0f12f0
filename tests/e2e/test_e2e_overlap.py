"""Issue #14, overlap: two CLI processes at once against one sandbox over HTTP, started at
different offsets, double nothing. The comment event's run beside the catch-up `commands`, and
two full `run`s (all five stages) side by side: no marker twice on an item, no PR or branch
twice, no intake item twice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from e2e_ops_world import BOT, CONFIG, REPO, SCHEMAS, World, issue_comment_payload, scenario

from issueops.stages.duplicates import marker_key
from issueops.stages.monitor import source_key_of
from issueops.stages.sweep_orphans import item_of_branch

AUTONOMOUS = CONFIG.replace("profile: assisted", "profile: autonomous")
WF = "workflow::content-review"
OFFSETS = [0.0, 0.05, 0.25]  # seconds between the two starts


def _items() -> list[dict[str, object]]:
    review = {"user": "carol", "labels": ["state::triage", "content"]}
    return [
        {
            "title": "Rotate the staging certificate",
            "user": "paul",
            "labels": ["state::awaiting-approval", "workflow::access-request", "risk::medium"],
            "body": "Access request.\n",
            "comments": [
                {"user": "alice", "body": "/approve"},
                {"user": "erin", "body": "/approve"},  # read access: denied, with a reply
                {"user": "frank", "body": "/help"},
            ],
        },
        review | {"title": "[review] Blog post: incident reviews", "body": "https://blog.example.com/a.html"},
        review | {"title": "[review] Docs: the handbook", "body": "https://docs.example.com/b.md"},
    ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(scenario(_items(), labels=["content", WF]), tmp_path, config=AUTONOMOUS)
    yield w
    w.stop()


def _start(w: World, name: str, *args: str) -> subprocess.Popen[str]:
    cwd = w.tmp / name  # each process its own ETag cache, as two runners have
    cwd.mkdir()
    command = [sys.executable, "-m", "issueops", "--repo", REPO, "--api-url", w.url]
    command += ["--config", str(w.config_path), "--schemas", str(SCHEMAS)]
    command += ["--telemetry", str(w.telemetry_dir), *args]
    env = {
        **os.environ,
        "GITHUB_TOKEN": "bot-token",
        "GITHUB_ACTIONS": "",
        "GITHUB_EVENT_NAME": "issue_comment",
    }
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _together(w: World, offset: float | None, *commands: list[str]) -> None:
    """Start each command `offset` seconds after the one before (None: after it ended)."""
    started = []
    for number, args in enumerate(commands):
        if started and offset is None:
            started[-1].wait(timeout=120)
        elif started:
            time.sleep(offset or 0)
        started.append(_start(w, f"run-{number}", *args))
    for proc in started:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output


def doubled(w: World) -> list[str]:
    """Every marker twice on one item, PR head twice, branch twice, intake item twice."""
    found = []
    for number, issue in w.sandbox.issues.items():
        keys = [marker_key(w.sandbox.comments[c].body) for c in issue.comment_ids]
        mine = [
            k for k, c in zip(keys, issue.comment_ids, strict=True) if k and w.sandbox.comments[c].user == BOT
        ]
        found += [f"#{number}: marker {k} x{n}" for k, n in Counter(mine).items() if n > 1]
    heads = Counter(
        i.pull.head_ref for i in w.sandbox.issues.values() if i.pull is not None and i.state == "open"
    )
    found += [f"PR head {h} x{n}" for h, n in heads.items() if n > 1]
    titles = Counter(i.title for i in w.sandbox.issues.values() if i.user == BOT and i.state == "open")
    found += [f"item {t!r} x{n}" for t, n in titles.items() if n > 1]
    return found


@pytest.mark.parametrize("offset", OFFSETS)
def test_the_event_run_beside_the_catch_up_doubles_nothing(world: World, offset: float) -> None:
    alice = next(c for c in world.sandbox.comments.values() if c.user == "alice")
    payload = issue_comment_payload(world.tmp / "event.json", 1, alice.id, "alice", "/approve")
    _together(world, offset, ["commands", "--event", str(payload)], ["commands"])
    assert not doubled(world), doubled(world)
    # The approval took effect in the event's own run (issue #16): the item was processed and
    # waits at the gate before publishing, with one PR.
    assert world.state_labels(1) == {"state::awaiting-approval"}, world.labels(1)
    heads = [i.pull.head_ref for i in world.sandbox.issues.values() if i.pull is not None]
    assert [item_of_branch(h) for h in heads] == [1], heads
    replies = world.bot_comments(1)
    assert len(replies) == len({marker_key(b) for b in replies}) >= 4  # card, denial, help, hand-off


@pytest.mark.parametrize("offset", OFFSETS)
def test_two_full_runs_at_once_double_nothing(world: World, offset: float) -> None:
    _together(world, offset, ["run"], ["run"])
    assert not doubled(world), doubled(world)
    branches = [
        r.removeprefix("refs/heads/") for r in world.sandbox.refs if r.startswith("refs/heads/issueops/")
    ]
    assert sorted(item_of_branch(b) for b in branches) == [1, 2, 3], branches  # one branch per item


@pytest.mark.parametrize("offset", OFFSETS)
def test_two_full_runs_at_once_end_where_one_after_the_other_end(
    world: World, offset: float, tmp_path: Path
) -> None:
    _together(world, offset, ["run"], ["run"])
    reference = World(scenario(_items(), labels=["content", WF]), tmp_path / "reference", config=AUTONOMOUS)
    try:
        _together(reference, None, ["run"], ["run"])
        assert _converged(world) == _converged(reference)
    finally:
        reference.stop()


@pytest.mark.parametrize("offset", [0.0, 0.1])
def test_the_five_stage_workflows_at_once_end_where_one_run_ends(
    world: World, offset: float, tmp_path: Path
) -> None:
    """The five scheduled workflows firing in the same minute, each its own process."""
    _together(world, offset, *([stage] for stage in ("commands", "monitor", "assign", "process", "sweep")))
    assert not doubled(world), doubled(world)
    reference = World(scenario(_items(), labels=["content", WF]), tmp_path / "reference", config=AUTONOMOUS)
    try:
        _together(reference, None, ["run"])
        assert _converged(world) == _converged(reference)
    finally:
        reference.stop()


def _converged(w: World) -> dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]]:
    """The fixed point, with PRs named by their branch: which item's PR got the next number
    depends on which run reached it first, not on what they did."""
    for _ in range(6):
        writes = w.bot_writes()
        w.run("commands", "monitor", "assign", "process", "sweep")
        assert not doubled(w), doubled(w)
        if w.bot_writes() == writes:
            issues = w.sandbox.issues
            return {
                (f"PR {issues[n].pull.head_ref}" if issues[n].pull else f"#{n}"): state  # type: ignore[union-attr]
                for n, state in w.final_state().items()
            }
    raise AssertionError("no fixed point after 6 runs")


# --- intake: both runs read the same sources and each finds the items missing ------------------

FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Status</title><id>tag:status.example.com,2026:feed</id><updated>2026-11-23T08:00:00Z</updated>
  {entries}
</feed>
"""
ENTRY = """<entry><id>tag:status.example.com,2026:incident-{n}</id><title>Incident {n}: degraded API</title>
  <link href="https://status.example.com/incidents/{n}"/><updated>2026-11-23T0{n}:00:00Z</updated>
  <summary>Elevated error rates.</summary></entry>"""


class _Feed(BaseHTTPRequestHandler):
    body = FEED.format(entries="\n".join(ENTRY.format(n=n) for n in (1, 2, 3))).encode()
    # The feed answers once both runs asked (or after 5 s): both then look for existing items at
    # about the same moment, the window in which each finds them missing and opens its own.
    both_asked = threading.Barrier(2)

    def do_GET(self) -> None:
        if self.path.endswith(".atom"):
            try:
                self.both_asked.wait(timeout=5)
            except threading.BrokenBarrierError:
                self.both_asked.reset()
        healthz = self.path == "/healthz"  # the health check fails: an incident item
        body = b'{"status": "down"}' if healthz else self.body
        self.send_response(503 if healthz else 200)
        self.send_header("Content-Type", "application/json" if healthz else "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    """A real Atom feed and a failing health endpoint on a local port: the CLI processes read
    them over HTTP, as on a runner."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _intake_world(tmp: Path, web: str) -> World:
    sources = f"""\
sources:
  - type: feed
    name: status-feed
    url: {web}/history.atom
    max_items: 20
  - type: http
    name: api-health
    url: {web}/healthz
    expected_status: 200
    timeout_seconds: 5
"""
    return World(scenario([], labels=["content", WF]), tmp, config=AUTONOMOUS + sources)


def _intake_items(w: World) -> Counter[str]:
    """Open items the bot opened, by the intake key each carries (dedup's own key)."""
    keys = Counter[str]()
    for issue in w.sandbox.issues.values():
        if issue.user == BOT and issue.pull is None and issue.state == "open":
            keys[source_key_of(issue.body or "") or f"no key: {issue.title}"] += 1
    return keys


# 1.2 s: the runs start in different seconds, so each names its health incident differently
@pytest.mark.parametrize("offset", [*OFFSETS, 1.2])
def test_two_monitor_runs_at_once_open_each_intake_item_once(tmp_path: Path, web: str, offset: float) -> None:
    w = _intake_world(tmp_path, web)
    try:
        _together(w, offset, ["run"], ["run"])
        items = _intake_items(w)
        assert len(items) == 4, items  # 3 feed entries and 1 failing health check
        assert all(n == 1 for n in items.values()), items
        assert not doubled(w), doubled(w)
    finally:
        w.stop()
