"""The sandbox's virtual clock: every timestamp and rate-limit window reads it, so tests never sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2025, 1, 6, 9, 0, 0, tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """RFC 3339 / ISO 8601 (a trailing `Z` allowed) to an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """GitHub's timestamp form: whole seconds, UTC, `Z`."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"  # quicker than strftime


def http_date(value: datetime) -> str:
    """The HTTP date form of `Date` and `Last-Modified` (always GMT, English names)."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    utc = value.astimezone(UTC)
    return f"{days[utc.weekday()]}, {utc.day:02d} {months[utc.month - 1]} {utc:%Y %H:%M:%S} GMT"


class VirtualClock:
    """A clock that moves only when told (`advance`, `set`) or by `tick_seconds` per served request."""

    def __init__(self, start: datetime = DEFAULT_START, tick_seconds: float = 0.0) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start.astimezone(UTC)
        self.tick_seconds = tick_seconds

    def now(self) -> datetime:
        return self._now

    def timestamp(self) -> int:
        """Seconds since the epoch, as `x-ratelimit-reset` uses."""
        return int(self._now.timestamp())

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"the sandbox clock cannot go backwards ({seconds} s); use a positive number")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to `when`; it must not be earlier than now (time only moves forward)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < self._now:
            raise ValueError(f"the sandbox clock cannot go back from {iso(self._now)} to {iso(when)}")
        self._now = when.astimezone(UTC)
        return self._now

    def tick(self) -> None:
        """Called once per served request; a no-op unless `tick_seconds` was configured."""
        if self.tick_seconds:
            self._now += timedelta(seconds=self.tick_seconds)
