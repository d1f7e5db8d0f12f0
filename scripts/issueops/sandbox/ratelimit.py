"""Per-token rate-limit budgets on the virtual clock: the primary hourly limit per resource and the
secondary content-creation limit (per minute and per hour)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from issueops.sandbox.clock import VirtualClock

WINDOWS: dict[str, int] = {"core": 3600, "search": 60}
# Buckets GitHub reports on /rate_limit that no sandbox route spends: (limit, window seconds),
# GitHub's figures for a personal access token.
UNMODELLED_RESOURCES: dict[str, tuple[int, int]] = {
    "graphql": (5000, 3600),
    "integration_manifest": (5000, 3600),
    "source_import": (100, 60),
    "code_scanning_upload": (1000, 3600),
    "code_scanning_autofix": (10, 60),
    "actions_runner_registration": (10000, 3600),
    "scim": (15000, 3600),
    "dependency_snapshots": (100, 60),
    "dependency_sbom": (100, 3600),
    "audit_log": (1750, 3600),
    "audit_log_streaming": (15, 60),
    "code_search": (10, 60),
}

DOCS_PRIMARY = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
DOCS_SECONDARY = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Configurable budgets (scenario `rate_limit:`); GitHub's defaults for a personal access token."""

    core: int = 5000
    search: int = 30
    anonymous: int = 60
    content_per_minute: int = 80
    content_per_hour: int = 500


@dataclass(slots=True)
class Bucket:
    resource: str
    limit: int
    window: int
    used: int = 0
    reset: int = 0  # epoch seconds; 0 = no window open yet

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self, now: int) -> dict[str, str]:
        reset = self.reset if self.reset > now else now + self.window
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": self.resource,
        }

    def as_json(self, now: int) -> dict[str, int]:
        reset = self.reset if self.reset > now else now + self.window
        return {"limit": self.limit, "used": self.used, "remaining": self.remaining, "reset": reset}


@dataclass(slots=True)
class _Content:
    """The content-creating requests of the last hour, and of the last minute (a suffix of it):
    two queues trimmed from the front, so a check costs O(1), not a walk over the hour."""

    times: deque[float] = field(default_factory=deque)
    minute: deque[float] = field(default_factory=deque)


class RateLimiter:
    """Budgets keyed by identity (a login, or `anonymous`)."""

    def __init__(self, clock: VirtualClock, limits: Limits | None = None) -> None:
        self.clock = clock
        self.limits = limits or Limits()
        self.overrides: dict[str, int] = {}  # login -> core limit (e.g. 1000 for GITHUB_TOKEN)
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._content: dict[str, _Content] = {}

    def bucket(self, key: str, resource: str) -> Bucket:
        """The current window's bucket; a window that has passed its reset starts afresh."""
        now = self.clock.timestamp()
        found = self._buckets.get((key, resource))
        if found is None:
            if resource == "core":
                limit = (
                    self.limits.anonymous if key == "anonymous" else self.overrides.get(key, self.limits.core)
                )
            else:
                limit = 10 if key == "anonymous" else self.limits.search
            found = Bucket(resource, limit, WINDOWS.get(resource, 3600))
            self._buckets[(key, resource)] = found
        if found.reset and now >= found.reset:
            found.used, found.reset = 0, 0
        return found

    def charge(self, bucket: Bucket) -> None:
        if not bucket.reset:
            bucket.reset = self.clock.timestamp() + bucket.window
        bucket.used += 1

    def content_wait(self, key: str) -> int | None:
        """Seconds until another content-creating request is allowed; None when allowed now."""
        now = self.clock.now().timestamp()
        content = self._content.setdefault(key, _Content())
        times, recent = content.times, content.minute
        while times and times[0] <= now - 3600:
            times.popleft()
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.limits.content_per_minute:
            return max(int(recent[0] + 60 - now) + 1, 1)
        if len(times) >= self.limits.content_per_hour:
            return max(int(times[0] + 3600 - now) + 1, 1)
        return None

    def record_content(self, key: str) -> None:
        content = self._content.setdefault(key, _Content())
        now = self.clock.now().timestamp()
        content.times.append(now)
        content.minute.append(now)

    def overview(self, key: str) -> dict[str, object]:
        """The body of GET /rate_limit for this identity."""
        now = self.clock.timestamp()
        core = self.bucket(key, "core").as_json(now)
        resources: dict[str, object] = {"core": core, "search": self.bucket(key, "search").as_json(now)}
        for name, (limit, window) in UNMODELLED_RESOURCES.items():
            resources[name] = {"limit": limit, "used": 0, "remaining": limit, "reset": now + window}
        return {"resources": resources, "rate": core}
