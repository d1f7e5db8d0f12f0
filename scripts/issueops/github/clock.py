"""Time for the governor: read it and wait on it through one injectable object.

Every pacing and rate-limit decision compares against `x-ratelimit-reset` (epoch seconds), so
the clock speaks epoch seconds. Tests and benchmarks use a virtual clock that never really
sleeps; against the sandbox, waiting advances the sandbox's own clock so its limits reset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time, for production runs."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Time that moves only when someone waits: `sleep` adds to it, nothing blocks."""

    def __init__(self, start: float = 1_736_154_000.0) -> None:
        self._now = float(start)
        self.slept = 0.0  # total virtual seconds waited, for assertions and benchmarks

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds
            self.slept += seconds


class LinkedClock:
    """A virtual clock driven by another one (e.g. the sandbox's): waiting advances it.

    `read` returns the other clock's time and `advance(seconds)` moves it, so a wait until a
    rate-limit reset really makes the (fake) server's window reset.
    """

    def __init__(self, read: Callable[[], datetime], advance: Callable[[float], object]) -> None:
        self._read = read
        self._advance = advance
        self.slept = 0.0

    def now(self) -> float:
        return self._read().timestamp()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._advance(seconds)
            self.slept += seconds
