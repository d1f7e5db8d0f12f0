"""RSS and Atom feeds, parsed by feedparser from bytes the injected fetcher read."""

from __future__ import annotations

import calendar
import io
from datetime import UTC, datetime
from typing import Any

import feedparser

from issueops.config.settings import FeedSource
from issueops.sources.base import Fetch, FetchError, IntakeEntry, SourceResult, feed_key

MAX_FEED_BYTES = 5_000_000  # a feed larger than this is not a feed we want to parse


def _when(entry: Any) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _http_link(value: object) -> str:
    text = str(value or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


def _identity(entry: Any, link: str, title: str, published: datetime | None) -> str:
    """The entry's id or guid; else its link; else its title and date (a weak but stable key)."""
    for candidate in (entry.get("id"), entry.get("guid"), link):
        if candidate and str(candidate).strip():
            return str(candidate).strip()
    return f"{title}\n{published.isoformat() if published else ''}"


def parse_feed(source: FeedSource, body: bytes, headers: dict[str, str] | None = None) -> SourceResult:
    """Entries of a feed document, newest first as the feed lists them, at most `max_items`."""
    parsed = feedparser.parse(io.BytesIO(body[:MAX_FEED_BYTES]), response_headers=headers or {})
    raw_entries = list(parsed.get("entries") or [])
    if not raw_entries and parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        return SourceResult(
            source.name,
            "feed",
            error=f"{source.url} is not a readable RSS/Atom feed ({problem}); check the source's url",
        )
    entries: list[IntakeEntry] = []
    seen: set[str] = set()
    for entry in raw_entries[: source.max_items]:
        link = _http_link(entry.get("link"))
        title = str(entry.get("title") or "").strip()
        published = _when(entry)
        key = feed_key(source.name, _identity(entry, link, title, published))
        if key in seen:
            continue
        seen.add(key)
        summary = str(entry.get("summary") or entry.get("description") or "")
        entries.append(
            IntakeEntry(
                source=source.name,
                key=key,
                title=title or link or "(untitled entry)",
                link=link,
                summary=summary,
                published=published,
            )
        )
    return SourceResult(source.name, "feed", entries=tuple(entries))


def read_feed(source: FeedSource, fetch: Fetch, timeout: float = 20.0) -> SourceResult:
    """Fetch and parse one feed; an unreachable or failing feed is a source error, not a crash."""
    try:
        response = fetch(source.url, timeout)
    except (FetchError, OSError) as exc:
        return SourceResult(source.name, "feed", error=f"{source.url} did not answer: {exc}")
    if not 200 <= response.status < 300:
        return SourceResult(
            source.name, "feed", error=f"{source.url} answered HTTP {response.status}; expected 2xx"
        )
    headers = {k.lower(): v for k, v in response.headers.items()}
    return parse_feed(source, response.body, headers)
