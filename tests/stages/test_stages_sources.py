"""Intake sources through an injected fetcher and a fake search port: no network at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from issueops.config.settings import FeedSource, GithubSearchSource, HttpCheckSource
from issueops.core.errors import GitHubError
from issueops.core.model import SearchHit
from issueops.sources.base import FetchError, FetchResult, feed_key, search_key
from issueops.sources.collect import run_sources
from issueops.sources.feed import read_feed
from issueops.sources.github_search import run_search
from issueops.sources.http_check import run_check

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Status</title>
<item><guid>urn:status:2</guid><title>API degraded</title><link>https://status.example.com/2</link>
<description>&lt;p&gt;Errors @alice &lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</description>
<pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate></item>
<item><guid>urn:status:1</guid><title>Maintenance</title><link>javascript:alert(1)</link>
<pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id><updated>2026-03-02T00:00:00Z</updated>
<entry><id>tag:example.com,2026:1</id><title>Atom entry</title><link href="https://example.com/a"/>
<updated>2026-03-02T07:00:00Z</updated><summary>Short</summary></entry>
<entry><title>No id</title><link href="https://example.com/b"/><updated>2026-03-01T07:00:00Z</updated></entry>
</feed>"""


class Web:
    """A fetcher that answers from a table and records what was asked."""

    def __init__(self, answers: dict[str, FetchResult | Exception]):
        self.answers = answers
        self.asked: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> FetchResult:
        self.asked.append((url, timeout))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def feed(url: str = "https://status.example.com/feed", max_items: int = 20) -> FeedSource:
    return FeedSource(type="feed", name="status", url=url, max_items=max_items)


def test_rss_entries_with_keys_links_and_dates() -> None:
    web = Web({"https://status.example.com/feed": FetchResult(200, RSS, 12.0)})
    result = read_feed(feed(), web)
    assert result.error is None
    first, second = result.entries
    assert first.key == feed_key("status", "urn:status:2")
    assert first.title == "API degraded"
    assert first.link == "https://status.example.com/2"
    assert first.published == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert "@alice" in first.summary and "<script" not in first.summary  # feedparser sanitises HTML
    assert second.link == ""  # a javascript: link is dropped
    assert web.asked == [("https://status.example.com/feed", 20.0)]


def test_atom_entry_without_id_keys_on_its_link() -> None:
    web = Web({"https://status.example.com/feed": FetchResult(200, ATOM, 5.0)})
    entries = read_feed(feed(), web).entries
    assert entries[0].key == feed_key("status", "tag:example.com,2026:1")
    assert entries[1].key == feed_key("status", "https://example.com/b")


def test_keys_are_stable_across_reads() -> None:
    web = Web({"https://status.example.com/feed": FetchResult(200, RSS, 1.0)})
    assert [e.key for e in read_feed(feed(), web).entries] == [e.key for e in read_feed(feed(), web).entries]


def test_max_items_caps_entries() -> None:
    web = Web({"https://status.example.com/feed": FetchResult(200, RSS, 1.0)})
    assert len(read_feed(feed(max_items=1), web).entries) == 1


@pytest.mark.parametrize(
    ("answer", "error_part"),
    [
        (FetchResult(503, b"down", 3.0), "HTTP 503"),
        (FetchError("connection refused"), "did not answer"),
        (FetchResult(200, b"<html>not a feed", 3.0), "not a readable RSS/Atom feed"),
    ],
    ids=["http-error", "no-answer", "not-a-feed"],
)
def test_feed_errors_are_source_errors(answer: FetchResult | Exception, error_part: str) -> None:
    result = read_feed(feed(), Web({"https://status.example.com/feed": answer}))
    assert result.entries == () and result.error is not None and error_part in result.error


def test_feed_bytes_are_never_taken_for_a_path_or_url() -> None:
    # feedparser opens a bytes argument as a file name if it can; we hand it a stream instead.
    web = Web({"https://status.example.com/feed": FetchResult(200, b"/etc/hostname", 1.0)})
    result = read_feed(feed(), web)
    assert result.entries == ()


def check(**kw: object) -> HttpCheckSource:
    base: dict[str, object] = {"type": "http", "name": "api", "url": "https://api.example.com/healthz"}
    base.update(kw)
    return HttpCheckSource.model_validate(base)


@pytest.mark.parametrize(
    ("source", "answer", "ok", "reason_part"),
    [
        (check(), FetchResult(200, b"ok", 40.0), True, "HTTP 200"),
        (check(), FetchResult(503, b"", 40.0), False, "HTTP 503, expected 200"),
        (check(expected_status=204), FetchResult(204, b"", 40.0), True, "HTTP 204"),
        (check(max_latency_ms=100), FetchResult(200, b"", 250.0), False, "slow: 250 ms, limit 100 ms"),
        (
            check(body_pattern='"status":\\s*"ok"'),
            FetchResult(200, b'{"status": "ok"}', 1.0),
            True,
            "HTTP 200",
        ),
        (check(body_pattern='"status":\\s*"ok"'), FetchResult(200, b'{"status":"bad"}', 1.0), False, "body"),
        (check(), FetchError("timed out"), False, "no answer: timed out"),
        (check(), ConnectionError("refused"), False, "no answer: refused"),
    ],
    ids=["ok", "bad-status", "other-expected", "slow", "body-ok", "body-mismatch", "timeout", "oserror"],
)
def test_http_check(
    source: HttpCheckSource, answer: FetchResult | Exception, ok: bool, reason_part: str
) -> None:
    web = Web({source.url: answer})
    result = run_check(source, web)
    assert result.check is not None
    assert result.check.ok is ok
    assert reason_part in result.check.reason
    assert web.asked == [(source.url, source.timeout_seconds)]


def test_http_check_bad_pattern_is_a_source_error() -> None:
    result = run_check(
        check(body_pattern="("), Web({"https://api.example.com/healthz": FetchResult(200, b"", 1)})
    )
    assert result.check is None and result.error is not None and "body_pattern" in result.error


class Search:
    def __init__(self, hits: list[SearchHit] | Exception):
        self.hits = hits
        self.calls: list[tuple[str, int]] = []

    def search_issues(self, query: str, limit: int) -> list[SearchHit]:
        self.calls.append((query, limit))
        if isinstance(self.hits, Exception):
            raise self.hits
        return self.hits


SEARCH = GithubSearchSource(type="github_search", name="access", query="is:open label:access", max_items=2)


def test_search_hits_become_entries() -> None:
    hits = [
        SearchHit("acme/web", 5, "Need access", "https://github.com/acme/web/issues/5", "open"),
        SearchHit("acme/web", 5, "Need access", "https://github.com/acme/web/issues/5", "open"),
        SearchHit("acme/api", 9, "", "https://github.com/acme/api/issues/9", "open"),
    ]
    port = Search(hits)
    result = run_search(SEARCH, port)
    assert port.calls == [("is:open label:access", 2)]
    assert [e.key for e in result.entries] == [search_key("acme/web", 5)]  # deduplicated, capped


def test_search_failure_is_a_source_error() -> None:
    result = run_search(SEARCH, Search(GitHubError("rate_limited", "slow down")))
    assert result.error is not None and "rate_limited" in result.error


def test_run_sources_isolates_each_source() -> None:
    web = Web(
        {
            "https://status.example.com/feed": FetchError("dns"),
            "https://api.example.com/healthz": FetchResult(200, b"", 1),
        }
    )
    results = run_sources([feed(), check(), SEARCH], fetch=web, port=Search([]))
    assert [r.kind for r in results] == ["feed", "http", "github_search"]
    assert results[0].error and results[1].check and results[1].check.ok and results[2].entries == ()
