"""Run every configured source once: the monitor stage's read step."""

from __future__ import annotations

from collections.abc import Sequence

from issueops.config.settings import FeedSource, GithubSearchSource, HttpCheckSource, Source
from issueops.sources.base import Fetch, SourceResult
from issueops.sources.feed import read_feed
from issueops.sources.github_search import SearchPort, run_search
from issueops.sources.http_check import run_check


def run_source(source: Source, *, fetch: Fetch, port: SearchPort) -> SourceResult:
    if isinstance(source, FeedSource):
        return read_feed(source, fetch)
    if isinstance(source, HttpCheckSource):
        return run_check(source, fetch)
    if isinstance(source, GithubSearchSource):
        return run_search(source, port)
    raise TypeError(f"unknown source type {type(source).__name__}")  # pragma: no cover


def run_sources(sources: Sequence[Source], *, fetch: Fetch, port: SearchPort) -> list[SourceResult]:
    """Each source in config order; one failing source never stops the others."""
    return [run_source(source, fetch=fetch, port=port) for source in sources]
