"""Write pacing: a minimum gap between writes and at most N writes in any 60-second window.

GitHub's secondary limits punish bursts of content creation (about 80 a minute) without a
header to warn you; spacing writes out keeps a run from ever meeting them. Pure arithmetic on
timestamps: the governor asks how long to wait and records when a write was sent.
"""

from __future__ import annotations

from collections import deque

WINDOW_SECONDS = 60.0


class WritePacer:
    def __init__(self, *, min_interval: float, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.min_interval = max(0.0, min_interval)
        self.per_minute = per_minute
        self._recent: deque[float] = deque()
        self._last: float | None = None

    def delay(self, now: float) -> float:
        """Seconds to wait before the next write may go out (0 when it may go now)."""
        self._expire(now)
        wait = 0.0
        if self._last is not None:
            wait = max(wait, self._last + self.min_interval - now)
        if len(self._recent) >= self.per_minute:
            wait = max(wait, self._recent[0] + WINDOW_SECONDS - now)
        return max(0.0, wait)

    def record(self, now: float) -> None:
        """A write was sent at `now`."""
        self._last = now
        self._recent.append(now)
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - WINDOW_SECONDS:
            self._recent.popleft()
