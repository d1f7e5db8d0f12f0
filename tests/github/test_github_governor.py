"""The governor's decisions, driven by a scripted fake transport and a virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from issueops.app import server_now
from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.github.cache import EtagCache
from issueops.github.classify import DryRunViolation, UncertainWrite
from issueops.github.clock import VirtualClock
from issueops.github.governor import (
    Governor,
    GovernorSettings,
    HttpReply,
    HttpRequest,
    TransportError,
)

BASE = "http://gh.test:80/repos/acme/ops"
Answer = HttpReply | TransportError | Callable[[HttpRequest], HttpReply]


@dataclass
class Script:
    """Answers requests in order; remembers what was sent."""

    answers: list[Answer]
    sent: list[HttpRequest] = field(default_factory=list)

    def __call__(self, request: HttpRequest) -> HttpReply:
        self.sent.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, TransportError):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def reply(status: int = 200, body: str = "{}", **headers: str) -> HttpReply:
    return HttpReply(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


@dataclass
class Rig:
    governor: Governor
    clock: VirtualClock
    events: list[tuple[str, dict[str, object]]]


def rig(**settings: object) -> Rig:
    clock = VirtualClock(start=1000.0)
    events: list[tuple[str, dict[str, object]]] = []
    governor = Governor(
        GovernorSettings(**settings),  # type: ignore[arg-type]
        clock=clock,
        on_event=lambda name, fields: events.append((name, fields)),
        cache=EtagCache(None),
    )
    return Rig(governor, clock, events)


def get(path: str = "/issues") -> HttpRequest:
    return HttpRequest("GET", BASE + path, {"Authorization": "token sekret"})


def post(path: str = "/issues/1/comments") -> HttpRequest:
    return HttpRequest("POST", BASE + path, {}, '{"body": "x"}')


def test_secondary_limit_with_retry_after_waits_exactly() -> None:
    r = rig()
    script = Script(
        [reply(403, '{"message": "You have exceeded a secondary rate limit"}', retry_after="2"), reply()]
    )
    assert r.governor.send(post(), script).status == 200
    assert r.clock.slept == pytest.approx(2.0)
    assert next(e for e in r.events if e[0] == "api.wait")[1]["reason"] == "retry_after"
    assert len(script.sent) == 2


def test_secondary_limit_without_header_waits_a_minute_then_doubles() -> None:
    r = rig(jitter=0.0)
    limited = reply(403, '{"message": "You have exceeded a secondary rate limit."}')
    script = Script([limited, limited, reply()])
    r.governor.send(get(), script)
    assert [e[1]["seconds"] for e in r.events if e[0] == "api.wait"] == [60.0, 120.0]


def test_primary_exhausted_waits_until_reset() -> None:
    r = rig()
    script = Script([reply(403, "{}", x_ratelimit_remaining="0", x_ratelimit_reset="1030"), reply()])
    r.governor.send(get(), script)
    assert r.clock.now() == pytest.approx(1031.0)


def test_wait_beyond_ceiling_stops_the_run() -> None:
    r = rig(max_wait=100)
    script = Script([reply(429, "{}", retry_after="3600")])
    with pytest.raises(BudgetExhausted):
        r.governor.send(get(), script)
    assert r.events[-1][0] == "api.budget_stop"
    assert r.clock.slept == 0


def test_persistent_5xx_on_read_becomes_transient_error() -> None:
    r = rig(max_retries=3)
    script = Script([reply(500)])
    with pytest.raises(GitHubError) as info:
        r.governor.send(get("/issues/42"), script)
    assert info.value.code == "upstream_unavailable"
    assert info.value.failure_class == "transient"
    assert "acme/ops#42" in str(info.value)
    assert len(script.sent) == 4


def test_timeout_on_read_is_retried() -> None:
    r = rig()
    script = Script([TransportError("timeout", "ReadTimeout"), reply()])
    assert r.governor.send(get(), script).status == 200
    assert r.governor.requests_made == 2
    assert r.governor.requests_counted == 1


def test_5xx_on_comment_post_is_not_resent() -> None:
    r = rig()
    script = Script([reply(502)])
    with pytest.raises(UncertainWrite):
        r.governor.send(post(), script)
    assert len(script.sent) == 1


def test_5xx_on_idempotent_write_is_retried() -> None:
    r = rig()
    script = Script([reply(502), reply(200)])
    r.governor.send(post("/issues/1/labels"), script)
    assert len(script.sent) == 2


@pytest.mark.parametrize(
    "status", [404, 422, 401, 409], ids=["not found", "validation", "denied", "conflict"]
)
def test_final_errors_are_not_retried(status: int) -> None:
    r = rig()
    script = Script([reply(status)])
    assert r.governor.send(get(), script).status == status
    assert len(script.sent) == 1


def test_conditional_read_replays_cached_body_and_is_free() -> None:
    r = rig()

    def server(request: HttpRequest) -> HttpReply:
        if request.headers.get("If-None-Match") == '"v1"':
            return reply(304, "", etag='"v1"')
        return reply(200, "[1,2]", etag='"v1"', link='<x?page=2>; rel="next"')

    first = r.governor.send(get(), server)
    second = r.governor.send(get(), server)
    assert (second.status, second.body, second.headers["link"]) == (200, "[1,2]", first.headers["link"])
    assert (r.governor.requests_made, r.governor.requests_counted) == (2, 1)


def test_dry_run_refuses_writes_at_the_http_layer() -> None:
    r = rig()
    r.governor.forbid_writes()
    script = Script([reply()])
    with pytest.raises(DryRunViolation):
        r.governor.send(post(), script)
    assert script.sent == []
    r.governor.send(HttpRequest("POST", "http://gh.test:80/app/installations/3/access_tokens"), script)


def test_writes_are_paced() -> None:
    r = rig(min_write_interval=1.0, writes_per_minute=60)
    script = Script([reply(201)])
    for _ in range(10):
        r.governor.send(post("/issues/1/labels"), script)
    assert r.clock.now() - 1000.0 == pytest.approx(9.0)


def test_run_budget_stops_before_the_request() -> None:
    r = rig(max_requests=2)
    script = Script([reply()])
    r.governor.send(get(), script)
    r.governor.send(get(), script)
    with pytest.raises(BudgetExhausted):
        r.governor.send(get(), script)
    assert len(script.sent) == 2
    assert r.events[-1][0] == "api.budget_stop"


def test_item_scope_checks_before_and_lets_a_started_item_finish() -> None:
    r = rig(max_requests=5, reserve=0)
    script = Script([reply()])
    with r.governor.item_scope(3):
        for _ in range(4):
            r.governor.send(get(), script)
    assert r.governor.stats.overrun == 0
    with pytest.raises(BudgetExhausted), r.governor.item_scope(3):
        r.governor.send(get(), script)  # pragma: no cover - never reached
    assert r.governor.requests_made == 4
    assert r.governor.can_afford(1)
    assert not r.governor.can_afford(2)


def test_reserve_of_primary_limit_respected() -> None:
    r = rig(reserve=10, max_wait=60)
    script = Script([reply(200, "{}", x_ratelimit_remaining="10", x_ratelimit_reset="5000")])
    r.governor.send(get(), script)
    assert not r.governor.can_afford(1)
    with pytest.raises(BudgetExhausted):
        r.governor.send(get(), script)


def test_token_never_in_events_or_errors() -> None:
    r = rig(max_retries=0)
    r.governor.add_secret("sekret")
    script = Script([TransportError("connection", "boom sekret")])
    with pytest.raises(GitHubError) as info:
        r.governor.send(get(), script)
    assert "sekret" not in str(info.value)
    assert all("sekret" not in str(fields) for _, fields in r.events)


# --- the run's time budget -------------------------------------------------------------------


def test_time_budget_stops_before_the_next_item_never_inside_one() -> None:
    r = rig(max_seconds=10)
    send = Script([reply(200, "[]")])
    with r.governor.item_scope(3):
        r.governor.send(get(), send)
        r.clock.sleep(30)  # the item runs long: it is finished, not cut
        r.governor.send(post(), send)
    stop = pytest.raises(BudgetExhausted, match=r"run time budget of 10 s reached \(\d+ s elapsed\)")
    with stop, r.governor.item_scope(3):
        pytest.fail("an item started after the time budget")
    assert [name for name, _ in r.events] == ["api.budget_stop"]
    assert "run time budget" in str(r.events[0][1]["reason"])


def test_time_budget_stops_a_read_between_items_and_none_means_no_limit() -> None:
    r = rig(max_seconds=5)
    r.clock.sleep(5)
    with pytest.raises(BudgetExhausted, match="run time budget"):
        r.governor.send(get(), Script([reply(200, "[]")]))
    unlimited = rig()
    unlimited.clock.sleep(10**6)
    assert unlimited.governor.send(get(), Script([reply(200, "[]")])).status == 200


def test_the_server_clock_is_the_last_replys_date_and_a_reply_without_one_keeps_it() -> None:
    """A run tells the time by GitHub's clock (the Date header), not the runner's."""
    r = rig()
    assert server_now(r.governor) is None  # nothing answered yet: the caller uses its own clock
    r.governor.send(get(), Script([reply(date="Mon, 23 Nov 2026 09:00:00 GMT")]))
    r.governor.send(get("/labels"), Script([reply()]))
    assert server_now(r.governor) == datetime(2026, 11, 23, 9, tzinfo=UTC)
    r.governor.send(get("/comments"), Script([reply(status=304, date="Mon, 23 Nov 2026 09:05:00 GMT")]))
    assert server_now(r.governor) == datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
