"""What every intake source produces, and the fetcher it reads the web through.

A source turns the outside world into plain values (entries, a check result, or an error);
the monitor planner decides what those mean for work items. The fetcher is injected, so the
sources never open a connection of their own and tests never touch the network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SourceKind = Literal["feed", "http", "github_search"]


@dataclass(frozen=True)
class FetchResult:
    status: int
    body: bytes
    elapsed_ms: float
    headers: Mapping[str, str] = field(default_factory=dict)


class FetchError(Exception):
    """No HTTP answer at all (DNS, refused, TLS, timeout). The fetcher raises it; sources turn it
    into a failed check or a source error."""


Fetch = Callable[[str, float], FetchResult]  # (url, timeout in seconds) -> result


@dataclass(frozen=True)
class IntakeEntry:
    """One thing a feed or a search found; `key` is its dedup key across runs."""

    source: str
    key: str
    title: str
    link: str = ""
    summary: str = ""
    published: datetime | None = None
    detail: Mapping[str, str] = field(default_factory=dict)  # extra facts shown in the body


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str
    status: int | None = None
    elapsed_ms: float | None = None


@dataclass(frozen=True)
class SourceResult:
    """The outcome of one source in one run: entries (feed, search), a check (http), or an error
    when the source itself could not be read."""

    source: str
    kind: SourceKind
    entries: tuple[IntakeEntry, ...] = ()
    check: CheckResult | None = None
    error: str | None = None


def digest(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def feed_key(source: str, identity: str) -> str:
    """`feed:<source>:<sha256(guid or link)[:16]>`: stable as long as the entry's id is."""
    return f"feed:{source}:{digest(identity)}"


def http_key(source: str) -> str:
    """`http:<source>`: an HTTP check has one incident stream; episodes get a suffix."""
    return f"http:{source}"


def intake_stream(key: str) -> str:
    """What an item's intake key stands for: itself, except that a health check's incidents
    (`http:<source>:<opened at>`) are the one stream `http:<source>`."""
    if key.startswith("http:"):
        return ":".join(key.split(":")[:2])
    return key


def search_key(repo: str, number: int) -> str:
    return f"search:{repo}#{number}"
