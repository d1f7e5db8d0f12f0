"""The API governor: one policy in front of every request — go, wait, retry or stop.

It knows the primary budget from response headers (no extra requests), keeps this run's own
request budget, paces writes, honours rate-limit answers, retries what is safe to retry,
answers unchanged reads from the conditional-request cache, and refuses writes in a dry run.
It is transport-agnostic: `send(request, transport)` takes a callable that performs one HTTP
exchange (see `issueops.github.transport` for the PyGithub/requests glue).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from issueops.config.settings import ApiConfig
from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.github.cache import EtagCache
from issueops.github.classify import (
    HINTS,
    DryRunViolation,
    UncertainWrite,
    classify,
    describe_target,
    is_auth_exchange,
    is_idempotent,
)
from issueops.github.clock import Clock, SystemClock
from issueops.github.pacing import WritePacer

EventSink = Callable[[str, dict[str, object]], None]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str  # absolute: scheme://host[:port]/path?query
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: str


class TransportError(Exception):
    """No HTTP answer at all: the transport timed out or could not connect."""

    def __init__(self, kind: Literal["timeout", "connection"], detail: str) -> None:
        self.kind = kind
        super().__init__(detail)


Transport = Callable[[HttpRequest], HttpReply]


@dataclass(frozen=True)
class GovernorSettings:
    """The knobs, normally from `api:` in `.github/issueops.yml` (see `from_config`)."""

    max_requests: int = 900
    reserve: int = 50
    writes_per_minute: int = 60  # with the 1 s gap: the one-a-second floor, under GitHub's ~80/min
    min_write_interval: float = 1.0
    max_wait: float = 300.0
    max_retries: int = 4
    secondary_min_wait: float = 60.0  # GitHub: without retry-after, wait at least a minute
    transient_base_wait: float = 1.0
    jitter: float = 0.25  # up to +25 % on each backoff, from a seeded RNG
    max_seconds: float | None = None  # the run's wall-clock budget: no item starts after it

    @classmethod
    def from_config(
        cls, api: ApiConfig, *, max_requests: int | None = None, max_seconds: float | None = None
    ) -> GovernorSettings:
        """From `api:` of the configuration; `--max-requests`/`--max-seconds` win over it."""
        return cls(
            max_requests=api.max_requests_per_run if max_requests is None else max_requests,
            max_seconds=api.max_run_seconds if max_seconds is None else max_seconds,
            reserve=api.reserve,
            writes_per_minute=api.writes_per_minute,
            min_write_interval=api.min_write_interval_seconds,
            max_wait=api.max_wait_seconds,
            max_retries=api.max_retries,
        )


@dataclass
class PrimaryLimit:
    """What the last response said about one rate-limit resource (`core`, `search`, ...)."""

    limit: int
    remaining: int
    reset: float  # epoch seconds
    used: int = 0


@dataclass
class Stats:
    requests_made: int = 0  # every attempt that left the process
    requests_counted: int = 0  # answered, and not a 304 (those are free)
    not_modified: int = 0
    writes: int = 0
    retries: int = 0
    waits: int = 0
    waited_seconds: float = 0.0  # rate-limit and retry waits
    paced_seconds: float = 0.0  # write pacing
    rate_limited_answers: int = 0
    overrun: int = 0  # counted requests beyond the run budget, inside an already started item


def _message(body: str) -> str:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return ""


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


def cache_key(request: HttpRequest) -> str:
    accept = request.headers.get("Accept") or request.headers.get("accept") or ""
    return f"{request.url}#{accept}" if accept else request.url


class Governor:
    def __init__(
        self,
        settings: GovernorSettings | None = None,
        *,
        clock: Clock | None = None,
        on_event: EventSink | None = None,
        cache: EtagCache | None = None,
        rng: random.Random | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings or GovernorSettings()
        self.clock: Clock = clock or SystemClock()
        self.on_event = on_event
        self.cache = cache
        self.rng = rng or random.Random(0)  # noqa: S311 (jitter, not security)
        self.stats = Stats()
        self.primary: dict[str, PrimaryLimit] = {}
        self.pacer = WritePacer(
            min_interval=self.settings.min_write_interval, per_minute=self.settings.writes_per_minute
        )
        self._secrets = tuple(s for s in secrets if s)
        self._writes_forbidden = False
        self._item_depth = 0
        self._started = self.clock.now()
        self._answered = False  # has the server answered once? (else a refused connection is final)
        self.last_date: str | None = None  # the last reply's Date header: the server's clock

    # --- what the runner asks ------------------------------------------------------------

    @property
    def requests_made(self) -> int:
        return self.stats.requests_made

    @property
    def requests_counted(self) -> int:
        return self.stats.requests_counted

    @property
    def dry_run(self) -> bool:
        return self._writes_forbidden

    def forbid_writes(self) -> None:
        """Dry run: from now on any write reaching the HTTP layer is an internal error (one-way)."""
        self._writes_forbidden = True

    def add_secret(self, secret: str | None) -> None:
        """A value (a token) that must never appear in an event or error message."""
        if secret:
            self._secrets = (*self._secrets, secret)

    def budget_left(self) -> int:
        """Requests this run may still spend: the run budget, and the primary limit minus reserve."""
        left = self.settings.max_requests - self.stats.requests_counted
        core = self._live_primary("core")
        if core is not None:
            left = min(left, core.remaining - self.settings.reserve)
        return left

    def can_afford(self, requests: int) -> bool:
        """Would `requests` more counted requests stay within both budgets? (No side effects.)"""
        return requests <= self.budget_left()

    @contextmanager
    def item_scope(self, estimated_requests: int) -> Iterator[None]:
        """Start one item only if it fits; inside, the run budget no longer stops a request.

        The check happens before the item's first request, so a stop never cuts an item in
        half. If the estimate was low, the item finishes (counted in `stats.overrun`); only a
        truly exhausted primary limit (remaining 0) can still stop it.
        """
        if self._item_depth == 0:
            self._ensure_affordable(estimated_requests)
        self._item_depth += 1
        try:
            yield
        finally:
            self._item_depth -= 1

    def summary(self) -> dict[str, object]:
        """Figures for `run.completed` and the run summary."""
        core = self.primary.get("core")
        return {
            "requests_made": self.stats.requests_made,
            "requests_counted": self.stats.requests_counted,
            "not_modified": self.stats.not_modified,
            "writes": self.stats.writes,
            "retries": self.stats.retries,
            "waits": self.stats.waits,
            "waited_seconds": round(self.stats.waited_seconds, 3),
            "paced_seconds": round(self.stats.paced_seconds, 3),
            "overrun": self.stats.overrun,
            "rate_limited_answers": self.stats.rate_limited_answers,
            "rate_remaining": core.remaining if core else None,
        }

    def save_cache(self) -> bool:
        return self.cache.save() if self.cache is not None else False

    # --- the one path every request takes ----------------------------------------------------

    def send(self, request: HttpRequest, transport: Transport) -> HttpReply:
        method = request.method.upper()
        path = urlsplit(request.url).path
        target = describe_target(path)
        is_write = method not in ("GET", "HEAD")
        if is_write and self._writes_forbidden and not is_auth_exchange(method, path):
            raise DryRunViolation(f"dry run: {method} {target} reached the HTTP layer and was not sent")
        idempotent = is_idempotent(method, path)
        resource = "search" if path.rstrip("/").endswith(("/search/issues", "/search/code")) else "core"
        key = cache_key(request) if method == "GET" and self.cache is not None else None
        attempt = 0
        secondary_waits = 0
        while True:
            self._admit(resource, target)
            if is_write:
                self._pace()
            cached = self.cache.get(key) if key is not None and self.cache is not None else None
            headers = dict(request.headers)
            if cached is not None:
                headers["If-None-Match"] = cached.etag
            self.stats.requests_made += 1
            try:
                reply = transport(replace(request, headers=headers))
            except TransportError as exc:
                self._after_write(is_write)
                code = "timeout" if exc.kind == "timeout" else "upstream_unavailable"
                # a server that has not answered once this run is misnamed or down: no retries
                never_answered = exc.kind == "connection" and not self._answered
                if idempotent and attempt < self.settings.max_retries and not never_answered:
                    self._retry_wait(attempt, code, method, target)
                    attempt += 1
                    continue
                error = UncertainWrite if not idempotent else GitHubError
                server = "{0.scheme}://{0.netloc}".format(urlsplit(request.url))
                hint = HINTS[code]
                if exc.kind == "connection":
                    hint = (
                        f"nothing answered at {server}: check --api-url (or $GITHUB_API_URL) and that "
                        "the server is up and reachable from here"
                    )
                raise error(
                    code,
                    self.redact(
                        f"cannot reach the API at {server}: {target}: {method} failed without an answer "
                        f"({exc}) after {attempt + 1} {'try' if attempt == 0 else 'tries'}"
                    ),
                    hint=hint,
                ) from None
            self._after_write(is_write)
            self._observe(reply, resource)
            # only an error's message can say more (a rate limit): a listing page is not parsed twice
            message = _message(reply.body) if reply.status >= 400 else ""
            outcome = classify(reply.status, reply.headers, message)
            if outcome.kind == "not_modified" and cached is not None and self.cache is not None:
                self.cache.hit(key or "")
                return HttpReply(
                    200,
                    {
                        **{k: v for k, v in reply.headers.items() if k != "content-length"},
                        **cached.headers,
                        "etag": cached.etag,
                    },
                    cached.body,
                )
            if outcome.kind in ("ok", "not_modified"):
                etag = reply.headers.get("etag")
                if key is not None and self.cache is not None and etag and reply.status == 200:
                    # the caller reads what a later 304 replays, so a field the cache drops
                    # shows up on the first run, not only on the second
                    return replace(reply, body=self.cache.put(key, etag, reply.body, reply.headers))
                return reply
            if outcome.kind == "rate_limited":
                self.stats.rate_limited_answers += 1
                wait, why = self._rate_limit_wait(reply, resource, outcome.retry_after, secondary_waits)
                if wait > self.settings.max_wait:
                    self._stop(
                        f"{why}: waiting {wait:.0f} s would exceed max_wait_seconds "
                        f"({self.settings.max_wait:.0f} s)",
                        target=target,
                    )
                if attempt >= self.settings.max_retries:
                    raise GitHubError(
                        "rate_limited",
                        f"{target}: {method} still rate-limited after {attempt + 1} tries",
                        status=reply.status,
                        hint=HINTS["rate_limited"],
                    )
                if why == "secondary_limit":
                    secondary_waits += 1
                self._wait(wait, why, method=method, target=target, status=reply.status, attempt=attempt + 1)
                self.stats.retries += 1
                attempt += 1
                continue
            if outcome.kind == "retryable":
                code = outcome.code or "upstream_unavailable"
                if not idempotent:
                    raise UncertainWrite(
                        code,
                        f"{target}: {method} answered {reply.status}; it may or may not have taken effect",
                        status=reply.status,
                        hint=HINTS[code],
                    )
                if attempt < self.settings.max_retries:
                    self._retry_wait(attempt, code, method, target, status=reply.status)
                    attempt += 1
                    continue
                raise GitHubError(
                    code,
                    f"{target}: {method} answered {reply.status} {attempt + 1} times; giving up for this run",
                    status=reply.status,
                    hint=HINTS[code],
                )
            return reply  # a final error: the caller turns it into a classified GitHubError

    def retry_wait(self, attempt: int, *, reason: str, target: str) -> None:
        """The backoff before resending a write whose first attempt was found not to have landed."""
        self._retry_wait(attempt, reason, "POST", target)

    # --- the decisions, one each ---------------------------------------------------------------

    def _live_primary(self, resource: str) -> PrimaryLimit | None:
        """The last known state, or None once its reset time has passed (a fresh window)."""
        state = self.primary.get(resource)
        if state is None or self.clock.now() >= state.reset:
            return None
        return state

    def elapsed(self) -> float:
        """Seconds since this run's governor was made (on its clock: waits and pacing included)."""
        return self.clock.now() - self._started

    def _check_time(self, target: str = "") -> None:
        """Stop once the wall-clock budget is spent; only ever called between items."""
        limit = self.settings.max_seconds
        if limit is not None and self.elapsed() >= limit:
            self._stop(
                f"run time budget of {limit:.0f} s reached ({self.elapsed():.0f} s elapsed)", target=target
            )

    def _ensure_affordable(self, requests: int) -> None:
        self._check_time()
        run_left = self.settings.max_requests - self.stats.requests_counted
        if requests > run_left:
            self._stop(
                f"run request budget: {self.stats.requests_counted} of {self.settings.max_requests} "
                f"spent, the next item needs about {requests}"
            )
        core = self._live_primary("core")
        if core is not None and core.remaining - self.settings.reserve < requests:
            self._wait_for_reset(
                core, "core", f"primary limit: {core.remaining} left, reserve {self.settings.reserve}"
            )

    def _admit(self, resource: str, target: str) -> None:
        """Before one request: stop or wait if a budget says so."""
        state = self._live_primary(resource)
        if self._item_depth > 0:
            if state is not None and state.remaining <= 0:
                self._wait_for_reset(state, resource, f"primary limit ({resource}) exhausted", target=target)
            return
        self._check_time(target)
        if self.stats.requests_counted >= self.settings.max_requests:
            self._stop(f"run request budget of {self.settings.max_requests} requests reached", target=target)
        reserve = self.settings.reserve if resource == "core" else 0
        if state is not None and state.remaining - reserve < 1:
            self._wait_for_reset(
                state,
                resource,
                f"primary limit ({resource}): {state.remaining} left, reserve {reserve}",
                target=target,
            )

    def _wait_for_reset(self, state: PrimaryLimit, resource: str, why: str, *, target: str = "") -> None:
        wait = max(1.0, state.reset - self.clock.now() + 1.0)
        if wait > self.settings.max_wait:
            self._stop(f"{why}; it resets in {wait:.0f} s, more than max_wait_seconds", target=target)
        self._wait(wait, "primary_reset", resource=resource, target=target)
        self.primary.pop(resource, None)  # a new window: the next answer tells us its state

    def _rate_limit_wait(
        self, reply: HttpReply, resource: str, retry_after: float | None, secondary_waits: int
    ) -> tuple[float, str]:
        if retry_after is not None:
            return retry_after, "retry_after"
        remaining = _int_header(reply.headers, "x-ratelimit-remaining")
        reset = _int_header(reply.headers, "x-ratelimit-reset")
        if remaining == 0 and reset is not None:
            return max(1.0, reset - self.clock.now() + 1.0), "primary_reset"
        base = self.settings.secondary_min_wait * (2**secondary_waits)
        return base * (1.0 + self.settings.jitter * self.rng.random()), "secondary_limit"

    def _retry_wait(
        self, attempt: int, reason: str, method: str, target: str, status: int | None = None
    ) -> None:
        base = self.settings.transient_base_wait * (2**attempt)
        wait = base * (1.0 + self.settings.jitter * self.rng.random())
        if wait > self.settings.max_wait:
            self._stop(f"{reason}: the next retry would wait {wait:.0f} s", target=target, outage=True)
        self._wait(wait, reason, method=method, target=target, status=status, attempt=attempt + 1)
        self.stats.retries += 1

    def _pace(self) -> None:
        delay = self.pacer.delay(self.clock.now())
        if delay > 0:
            self.clock.sleep(delay)
            self.stats.paced_seconds += delay

    def _after_write(self, is_write: bool) -> None:
        if is_write:
            self.pacer.record(self.clock.now())
            self.stats.writes += 1

    def _observe(self, reply: HttpReply, resource: str) -> None:
        self._answered = True
        self.last_date = reply.headers.get("date") or self.last_date
        if reply.status == 304:
            self.stats.not_modified += 1
        else:
            self.stats.requests_counted += 1
            if self._item_depth > 0 and self.stats.requests_counted > self.settings.max_requests:
                self.stats.overrun += 1
        remaining = _int_header(reply.headers, "x-ratelimit-remaining")
        reset = _int_header(reply.headers, "x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        named = reply.headers.get("x-ratelimit-resource") or resource
        self.primary[named] = PrimaryLimit(
            limit=_int_header(reply.headers, "x-ratelimit-limit") or 0,
            remaining=remaining,
            reset=float(reset),
            used=_int_header(reply.headers, "x-ratelimit-used") or 0,
        )

    def _wait(self, seconds: float, reason: str, **fields: object) -> None:
        self._emit("api.wait", {"seconds": round(seconds, 3), "reason": reason, **fields})
        self.clock.sleep(seconds)
        self.stats.waits += 1
        self.stats.waited_seconds += seconds

    def _stop(self, reason: str, *, target: str = "", outage: bool = False) -> None:
        reason = self.redact(reason)
        core = self.primary.get("core")
        self._emit(
            "api.budget_stop",
            {
                "reason": reason,
                "target": target,
                "requests_made": self.stats.requests_made,
                "requests_counted": self.stats.requests_counted,
                "rate_remaining": core.remaining if core else None,
                "outage": outage or None,
            },
        )
        raise BudgetExhausted(reason, outage=outage)

    def _emit(self, event: str, fields: dict[str, object]) -> None:
        if self.on_event is None:
            return
        clean = {k: self.redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        clean = {k: v for k, v in clean.items() if v is not None and v != ""}
        self.on_event(event, clean)

    def redact(self, text: str) -> str:
        """The text with every registered secret replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
