"""GitHub issue search as an intake source (its own limit: 30 searches a minute)."""

from __future__ import annotations

from typing import Protocol

from issueops.config.settings import GithubSearchSource
from issueops.core.errors import GitHubError
from issueops.core.model import SearchHit
from issueops.sources.base import IntakeEntry, SourceResult, search_key


class SearchPort(Protocol):
    """The one port operation this source needs (GitHubPort has it)."""

    def search_issues(self, query: str, limit: int) -> list[SearchHit]: ...


def entries_of(source: GithubSearchSource, hits: list[SearchHit]) -> SourceResult:
    entries = []
    seen: set[str] = set()
    for hit in hits[: source.max_items]:
        key = search_key(hit.repo, hit.number)
        if key in seen:
            continue
        seen.add(key)
        entries.append(
            IntakeEntry(
                source=source.name,
                key=key,
                title=hit.title or f"{hit.repo}#{hit.number}",
                link=hit.html_url,
                published=hit.updated_at,
                detail={"Found issue": f"{hit.repo}#{hit.number}", "State there": hit.state},
            )
        )
    return SourceResult(source.name, "github_search", entries=tuple(entries))


def run_search(source: GithubSearchSource, port: SearchPort) -> SourceResult:
    """One search; a failed search is a source error for this run (BudgetExhausted propagates)."""
    try:
        hits = port.search_issues(source.query, source.max_items)
    except GitHubError as exc:
        return SourceResult(
            source.name, "github_search", error=f"search {source.query!r} failed: {exc} ({exc.code})"
        )
    return entries_of(source, hits)
