"""Injected failures: a status (or a timeout) on the Nth matching request, some number of times,
optionally with a seeded probability, and optionally after the request took effect (`apply`)."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_KINDS = ("read", "connect")


@dataclass(slots=True)
class Fault:
    status: int = 502
    route: str | None = None  # regex searched in the request path (query excluded)
    method: str | None = None
    nth: int = 1  # the first matching request that fails (1 = the next one)
    times: int | None = 1  # how many times it fires; None = every time from the nth on
    probability: float | None = None  # each eligible request fails with this chance (seeded)
    seed: int = 0
    apply: bool = False  # let the request take effect, then answer with the fault
    retry_after: int | None = None
    timeout: str | None = None  # "read" or "connect": no answer at all
    message: str | None = None
    seen: int = 0
    fired: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        for name, kind in (("status", int), ("nth", int), ("seed", int)):
            if not isinstance(getattr(self, name), kind) or isinstance(getattr(self, name), bool):
                raise ValueError(f"fault {name} must be an integer, got {getattr(self, name)!r}")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 0):
            raise ValueError(f"fault times must be a non-negative integer or null, got {self.times!r}")
        if self.retry_after is not None and not isinstance(self.retry_after, int):
            raise ValueError(
                f"fault retry_after must be an integer number of seconds, got {self.retry_after!r}"
            )
        if not 100 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP status (100-599), got {self.status}")
        if self.timeout is not None and self.timeout not in TIMEOUT_KINDS:
            raise ValueError(f"fault timeout must be 'read' or 'connect', got {self.timeout!r}")
        if self.timeout == "connect" and self.apply:
            raise ValueError("a connect timeout never reaches the server, so it cannot `apply`")
        if self.nth < 1:
            raise ValueError(f"fault nth must be >= 1, got {self.nth}")
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ValueError(f"fault probability must be between 0 and 1, got {self.probability}")
        self._pattern = re.compile(self.route) if self.route else None
        self._rng = random.Random(self.seed)  # noqa: S311 - simulation, not security

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return self._pattern is None or self._pattern.search(path) is not None

    def consider(self) -> bool:
        """Count one matching request; True when this one fails."""
        self.seen += 1
        if self.exhausted or self.seen < self.nth:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "route": self.route,
            "method": self.method,
            "nth": self.nth,
            "times": self.times,
            "probability": self.probability,
            "seed": self.seed,
            "apply": self.apply,
            "retry_after": self.retry_after,
            "timeout": self.timeout,
            "message": self.message,
            "seen": self.seen,
            "fired": self.fired,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build from the control endpoint's JSON; `count` is accepted as a synonym of `times`."""
        known = {
            "status",
            "route",
            "method",
            "nth",
            "times",
            "count",
            "probability",
            "seed",
            "apply",
            "retry_after",
            "timeout",
            "message",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown fault field(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        fields = dict(data)
        if "count" in fields:
            fields["times"] = fields.pop("count")
        return cls(**fields)


class FaultSet:
    """The active faults; the first that fires on a request decides its answer."""

    def __init__(self) -> None:
        self.items: list[Fault] = []

    def add(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """`faults.add(status=502, route="/comments$", method="POST", apply=True)` or a ready Fault."""
        made = fault if fault is not None else Fault.from_json(fields)
        self.items.append(made)
        return made

    def clear(self) -> None:
        self.items.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        chosen: Fault | None = None
        for fault in self.items:
            if fault.matches(method, path) and fault.consider() and chosen is None:
                chosen = fault
        return chosen

    def __len__(self) -> int:
        return len(self.items)
