"""Monitor planner: new items, dedup across runs, hostile entries, HTTP incidents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from markdown_it import MarkdownIt
from stages_world import BOT, T0, World, item

from issueops.config.settings import Config, FeedSource, GithubSearchSource, HttpCheckSource
from issueops.core.model import AddLabels, CreateItem, Plan, RemoveLabel, UpsertComment
from issueops.sources.base import CheckResult, IntakeEntry, SourceResult
from issueops.stages.monitor import (
    FAILING_LABEL,
    INCIDENT_LABEL,
    check_status_key,
    index_existing,
    plan_monitor,
    source_key_of,
    source_marker,
)
from issueops.stages.text import GITHUB_BODY_LIMIT, ZWSP

FEED = FeedSource(type="feed", name="status", url="https://status.example.com/feed", labels=["incident"])
CHECK = HttpCheckSource(type="http", name="api", url="https://api.example.com/healthz", labels=["incident"])
SEARCH = GithubSearchSource(type="github_search", name="access", query="label:access")
CONFIG = Config(sources=[FEED, CHECK, SEARCH])


def entry(n: int, **kw: object) -> IntakeEntry:
    fields: dict[str, object] = {
        "source": "status",
        "key": f"feed:status:{n:016x}",
        "title": f"Entry {n}",
        "link": f"https://status.example.com/{n}",
        "summary": f"<p>Summary {n}</p>",
        "published": datetime(2026, 3, 1, n % 24, tzinfo=UTC),
    }
    fields.update(kw)
    return IntakeEntry(**fields)  # type: ignore[arg-type]


def feed_result(*entries: IntakeEntry) -> SourceResult:
    return SourceResult("status", "feed", entries=entries)


def check_result(ok: bool, reason: str = "HTTP 503, expected 200") -> SourceResult:
    return SourceResult("api", "http", check=CheckResult(ok, reason if not ok else "HTTP 200 in 12 ms"))


def run(world: World, *results: SourceResult) -> list[Plan]:
    existing = index_existing(world.items.values(), BOT)
    comments = {n: tuple(c) for n, c in world.comments.items()}
    return plan_monitor(
        list(results), existing, config=CONFIG, now=world.now, comments=comments, bot_login=BOT
    )


def creates(plans: list[Plan]) -> list[CreateItem]:
    return [a for p in plans for a in p.actions if isinstance(a, CreateItem)]


# --- keys and trust ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (f"{source_marker('feed:status:abc')}\n### Source", "feed:status:abc"),
        ("text\n<!-- issueops:source=search:acme/web#5 -->", "search:acme/web#5"),
        ("<!-- issueops:source= -->", None),
        ("<!-- issueops:source=bad key -->", None),
        ("no marker", None),
    ],
    ids=["feed", "search-anywhere", "empty", "space-in-key", "none"],
)
def test_source_key_of(body: str, key: str | None) -> None:
    assert source_key_of(body) == key


def test_index_trusts_only_the_bots_items() -> None:
    body = source_marker("feed:status:1")
    forged = item(1, body=body, author="mallory")
    real = item(2, body=body, author=BOT)
    later = item(3, body=body, author=BOT)
    assert index_existing([later, forged, real], BOT) == {"feed:status:1": real}
    assert index_existing([forged], BOT.upper()) == {}


# --- feeds ---------------------------------------------------------------------------------------


def test_new_entries_open_items_oldest_first_with_labels() -> None:
    world = World()
    plans = run(world, feed_result(entry(2), entry(1)))
    made = creates(plans)
    assert [c.title for c in made] == ["Entry 1", "Entry 2"]
    assert made[0].labels == ("state::triage", "source::status", "incident")
    assert source_key_of(made[0].body) == made[0].source_key
    assert all(p.item is None and not p.events for p in plans)  # the applier records item.created


def test_dedup_across_runs_open_and_closed() -> None:
    world = World()
    world.apply(run(world, feed_result(entry(1), entry(2))))
    assert len(world.items) == 2
    world.items[1] = replace(world.items[1], state="closed")  # a person closed one
    world.tick()
    plans = run(world, feed_result(entry(3), entry(2), entry(1)))
    assert [c.title for c in creates(plans)] == ["Entry 3"]
    world.apply(plans)
    assert run(world, feed_result(entry(3), entry(2), entry(1))) == []


def test_same_entry_twice_in_one_run_opens_one_item() -> None:
    assert len(creates(run(World(), feed_result(entry(1), entry(1))))) == 1


def test_forged_marker_does_not_suppress_an_entry() -> None:
    world = World()
    world.add(item(1, body=source_marker(entry(1).key), author="mallory"))
    assert len(creates(run(world, feed_result(entry(1))))) == 1


def test_hostile_entry_is_inert_and_capped() -> None:
    hostile = entry(
        7,
        title="@everyone #1 {{ 7*7 }} \u202eevil",
        summary="<script>alert(1)</script><p>ping @alice and @acme/ops, see #12 and GH-3</p>" + "x" * 70_000,
        link="https://evil.example/@alice",
    )
    (made,) = creates(run(World(), feed_result(hostile)))
    assert made.title == f"@{ZWSP}everyone #{ZWSP}1 {{{{ 7*7 }}}} evil"
    assert len(made.body) <= GITHUB_BODY_LIMIT
    html = MarkdownIt("commonmark").render(made.body)
    assert "<script" not in html and "alert(1)" not in html
    summary = made.body.split("### Summary", 1)[1]
    assert "@&#8203;alice" in summary and "@&#8203;acme/ops" in summary
    assert "#&#8203;12" in summary and "GH-&#8203;3" in summary
    assert made.body.startswith(source_marker(hostile.key))


def test_rtl_and_combining_titles_survive() -> None:
    (made,) = creates(run(World(), feed_result(entry(1, title="שלום e\u0301" + "\u0301" * 30))))
    assert made.title == "שלום é\u0301\u0301"  # composed, then at most two marks


def test_search_links_are_shown_as_code_not_links() -> None:
    hit = IntakeEntry(
        "access",
        "search:acme/web#5",
        "Need access",
        link="https://github.com/acme/web/issues/5",
        detail={"Found issue": "acme/web#5"},
    )
    (made,) = creates(run(World(), SourceResult("access", "github_search", entries=(hit,))))
    assert "`https://github.com/acme/web/issues/5`" in made.body and "`acme/web#5`" in made.body
    assert made.labels == ("state::triage", "source::access")


def test_source_error_and_unknown_source_are_reported_not_acted_on() -> None:
    plans = run(World(), SourceResult("status", "feed", error="HTTP 503"), SourceResult("ghost", "feed"))
    assert all(not p.actions for p in plans)
    assert plans[0].events == [
        {"event": "source.failed", "source": "status", "kind": "feed", "reason": "HTTP 503"}
    ]
    assert "not in the config" in plans[1].reasons[0]


# --- HTTP checks ---------------------------------------------------------------------------------


def test_incident_lifecycle() -> None:
    world = World()
    # A healthy check with no incident: nothing.
    assert run(world, check_result(True)) == []

    # First failure opens one incident.
    plans = run(world, check_result(False))
    (made,) = creates(plans)
    assert made.labels == ("state::triage", "source::api", "incident", INCIDENT_LABEL, FAILING_LABEL)
    assert made.source_key.startswith("http:api:")
    assert plans[0].events[0]["event"] == "check.failed"
    world.apply(plans)
    (number,) = world.items

    # The same failure again: one status comment, edited in place on later runs.
    world.tick()
    plans = run(world, check_result(False))
    assert not creates(plans)
    assert [type(a) for a in plans[0].actions] == [UpsertComment]
    world.apply(plans)
    status = world.bot_comment(number, check_status_key("api"))
    assert status is not None and f"since {'2026-03-02T09:00:00Z'}" in status.body
    assert run(world, check_result(False)) == []  # rerun at the same time: nothing to do
    world.tick()
    world.apply(run(world, check_result(False)))
    assert len(world.comments[number]) == 1  # edited, not a second comment
    assert "since 2026-03-02T09:00:00Z, last seen 2026-03-02T09:10:00Z" in world.comments[number][0].body

    # Recovery: a note and the failing label removed; the incident stays open in triage.
    world.tick()
    plans = run(world, check_result(True))
    kinds = {type(a) for a in plans[0].actions}
    assert kinds == {UpsertComment, RemoveLabel}
    world.apply(plans)
    assert "recovered" in world.comments[number][0].body
    assert FAILING_LABEL not in world.items[number].labels
    assert "state::triage" in world.items[number].labels and world.items[number].state == "open"
    assert run(world, check_result(True)) == []

    # Failing again while the incident is open: a new episode on the same item.
    world.tick()
    plans = run(world, check_result(False, "HTTP 500, expected 200"))
    assert not creates(plans)
    assert any(isinstance(a, AddLabels) and a.labels == (FAILING_LABEL,) for a in plans[0].actions)
    world.apply(plans)
    assert "since 2026-03-02T09:20:00Z" in world.comments[number][0].body
    assert run(world, check_result(False, "HTTP 500, expected 200")) == []

    # Once the incident is closed, the next failure opens a new item.
    world.items[number] = replace(world.items[number], state="closed")
    world.tick()
    assert len(creates(run(world, check_result(False)))) == 1


def test_incident_without_comments_given_falls_back_to_creation_time() -> None:
    world = World()
    world.apply(run(world, check_result(False)))
    world.tick()
    existing = index_existing(world.items.values(), BOT)
    plans = plan_monitor([check_result(False)], existing, config=CONFIG, now=world.now)
    (action,) = plans[0].actions
    assert isinstance(action, UpsertComment) and "since 2026-03-02T09:00:00Z" in action.body


def test_forged_status_comment_is_ignored() -> None:
    world = World()
    world.apply(run(world, check_result(False)))
    (number,) = world.items
    world.comment(
        number, "<!-- issueops:check:api -->\n<!-- issueops:check-since=1999-01-01T00:00:00Z -->", "mallory"
    )
    world.tick()
    plans = run(world, check_result(False))
    (action,) = plans[0].actions
    assert isinstance(action, UpsertComment) and "1999" not in action.body


def test_failure_reason_is_inert() -> None:
    plans = run(World(), check_result(False, "no answer: <script>@alice</script>"))
    (made,) = creates(plans)
    assert "<script>" not in made.body and "@&#8203;alice" in made.body
    assert T0.isoformat() not in made.title
