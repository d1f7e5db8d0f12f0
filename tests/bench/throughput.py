"""How many new items an hour a token can carry through assign and process, from measured costs.

A ceiling is the smaller of two limits: the token's primary budget (requests an hour) over the
counted requests an item costs, and GitHub's secondary content-creation limit (about 500
content-creating requests an hour, 80 a minute, whatever the token) over the content-creating
requests an item costs. The figures are GitHub's documented limits (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass

CONTENT_PER_HOUR = 500  # GitHub's secondary limit on content-creating requests, any token


@dataclass(frozen=True)
class TokenKind:
    name: str
    per_hour: int  # primary budget, requests an hour
    note: str


TOKEN_KINDS = (
    TokenKind("GITHUB_TOKEN", 1_000, "per repository"),
    TokenKind("GitHub App (floor)", 5_000, "per installation, shared by the fleet"),
    TokenKind("GitHub App (ceiling)", 12_500, "+50/h per repo and per user over 20"),
    TokenKind("personal access token", 5_000, "per user, across everything they run"),
)


@dataclass(frozen=True)
class Ceiling:
    kind: TokenKind
    by_requests: float  # new items an hour the primary budget allows
    by_content: float  # new items an hour the content-creation limit allows

    @property
    def items_per_hour(self) -> float:
        return min(self.by_requests, self.by_content)

    @property
    def bound_by(self) -> str:
        return "requests" if self.by_requests <= self.by_content else "content limit"


def ceilings(counted_per_item: float, creates_per_item: float) -> list[Ceiling]:
    """One ceiling per token kind; an item costing nothing of a kind is not bound by it."""
    if counted_per_item < 0 or creates_per_item < 0:
        raise ValueError("costs per item cannot be negative")
    by_content = CONTENT_PER_HOUR / creates_per_item if creates_per_item else float("inf")
    return [
        Ceiling(kind, kind.per_hour / counted_per_item if counted_per_item else float("inf"), by_content)
        for kind in TOKEN_KINDS
    ]


def table(counted_per_item: float, creates_per_item: float) -> list[str]:
    """The lines `make bench` prints."""
    lines = [
        f"  per new item (assign + process): {counted_per_item:.2f} counted requests, "
        f"{creates_per_item:.2f} content-creating",
        f"  {'token':<22} {'limit/h':>8} {'by requests':>12} {'by content':>11} {'ceiling':>8}  bound by",
    ]
    for c in ceilings(counted_per_item, creates_per_item):
        lines.append(
            f"  {c.kind.name:<22} {c.kind.per_hour:>8,} {c.by_requests:>12,.0f} {c.by_content:>11,.0f} "
            f"{c.items_per_hour:>8,.0f}  {c.bound_by} ({c.kind.note})"
        )
    return lines
