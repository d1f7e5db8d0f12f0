"""The ledger: one entry per API request served (control endpoints excluded), for tests and benchmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    seq: int
    at: str  # virtual-clock time, RFC 3339
    method: str
    path: str  # with the query string
    status: int
    counted: bool  # charged against a primary rate-limit budget
    write: bool  # any method but GET/HEAD
    login: str | None  # the token's user; None when anonymous or unknown
    resource: str | None = None
    fault: bool = False  # the answer was an injected fault

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Ledger(list[LedgerEntry]):
    """A list of entries with a few counting helpers."""

    def counted(self) -> int:
        return sum(1 for e in self if e.counted)

    def writes(self) -> int:
        return sum(1 for e in self if e.write)

    def since(self, seq: int) -> list[LedgerEntry]:
        return [e for e in self if e.seq > seq]
