"""The refusal throttle: which answer a stranger's refused command gets, decided once per comment,
and which comments count as refused outright (answered without reading the item)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from issueops.app import event_budget
from issueops.approvals.engine import Authority
from issueops.approvals.grammar import parse_commands
from issueops.approvals.throttle import KEEP, RefusalLog
from issueops.config.settings import Config, RefusalsConfig
from issueops.core.model import Actor, Comment, React, UpsertComment
from issueops.core.options import Options
from issueops.stages.commands import plan_refusal, refused_outright

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Said = tuple[str, int, float]  # (login, item, hours after T0)


@dataclass(frozen=True)
class ThrottleCase:
    name: str
    before: tuple[Said, ...]
    now: Said
    verdict: str
    settings: RefusalsConfig = field(default_factory=RefusalsConfig)


def _hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


CASES = [
    ThrottleCase("the first refusal gets a reply", (), ("mallory", 1, 0), "reply"),
    ThrottleCase("the same item the same day: a reaction", (("mallory", 1, 0),), ("mallory", 1, 3), "react"),
    ThrottleCase("another item: a reply", (("mallory", 1, 0),), ("mallory", 2, 0.1), "reply"),
    ThrottleCase("the same item a day later: a reply", (("mallory", 1, 0),), ("mallory", 1, 24.5), "reply"),
    ThrottleCase("another person is counted apart", (("mallory", 1, 0),), ("trudy", 1, 1), "reply"),
    ThrottleCase("logins are compared without case", (("Mallory", 1, 0),), ("mallory", 1, 1), "react"),
    ThrottleCase(
        "ten refusals in the window: silence",
        tuple(("mallory", n, n / 10) for n in range(1, 11)),
        ("mallory", 20, 2),
        "silent",
    ),
    ThrottleCase(
        "nine refusals in the window: still a reply",
        tuple(("mallory", n, n / 10) for n in range(1, 10)),
        ("mallory", 20, 2),
        "reply",
    ),
    ThrottleCase(
        "refusals out of the window do not count",
        tuple(("mallory", n, n / 10) for n in range(1, 11)),
        ("mallory", 20, 30),
        "reply",
    ),
    ThrottleCase(
        "silence_after from the config",
        (("mallory", 1, 0), ("mallory", 2, 0)),
        ("mallory", 3, 1),
        "silent",
        RefusalsConfig(silence_after=2),
    ),
    ThrottleCase(
        "reply_hours from the config",
        (("mallory", 1, 0),),
        ("mallory", 1, 2),
        "reply",
        RefusalsConfig(reply_hours=1),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdict(case: ThrottleCase) -> None:
    log = RefusalLog(case.settings)
    for index, (login, item, hours) in enumerate(case.before):
        log.judge(login, item, 100 + index, _hours(hours))
    login, item, hours = case.now
    judged = log.judge(login, item, 1, _hours(hours))
    assert (judged.verdict, judged.fresh) == (case.verdict, True)
    again = log.judge(login, item, 1, _hours(hours))
    assert (again.verdict, again.fresh) == (case.verdict, False)  # decided once, never again


def test_the_log_survives_its_file_and_forgets_old_answers() -> None:
    log = RefusalLog()
    log.judge("mallory", 1, 10, T0)
    log.judge("mallory", 1, 11, T0 + timedelta(hours=1))
    log.judge("trudy", 2, 12, T0 + KEEP + timedelta(minutes=30))
    back = RefusalLog.from_json(log.to_json(), RefusalsConfig())
    assert set(back.answers) == {11, 12}  # 10 is older than KEEP before the newest
    assert back.answers[11].verdict == "react" and back.answers[12].login == "trudy"
    assert not back.judge("mallory", 1, 11, T0 + timedelta(hours=1)).fresh
    # an answer older than the log remembers is not answered again
    assert back.judge("mallory", 1, 10, T0).verdict == "silent"


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"answers": {}}', '{"answers": [{"login": 3}, "x", {"login": "a", "item": 1}]}'],
)
def test_a_broken_file_is_an_empty_log(text: str) -> None:
    assert RefusalLog.from_json(text, RefusalsConfig()).answers == {}


def _comment(body: str, association: str = "NONE", login: str = "mallory") -> Comment:
    return Comment(1, 7, Actor(login), body, T0, T0, association)


OUTRIGHT = [
    ("/approve", "NONE", "paul", None, True),
    ("/hold\n/unhold\n/retry\n/assign @x\n/reject", "FIRST_TIMER", "paul", None, True),
    ("/aprove", "NONE", "paul", None, True),  # only a look-alike: a confused reaction, no reads
    ("/cancel", "NONE", "paul", None, True),  # a stranger has nothing to withdraw
    ("/help", "NONE", "paul", None, False),
    ("/approve\n/help", "NONE", "paul", None, False),
    ("/unassign @mallory", "NONE", "paul", None, False),
    ("/hold", "NONE", "mallory", None, False),  # the item's author may hold
    ("/approve", "CONTRIBUTOR", "paul", None, False),  # the permission endpoint decides
    ("/approve", "", "paul", None, False),  # unknown association: looked up
    ("/approve", "NONE", "paul", {"approvers": {"users": ["mallory"]}}, False),
    ("/hold", "NONE", "paul", {"commands": {"hold": {"users": ["mallory"]}}}, False),
    ("/approve", "NONE", "paul", {"commands": {"refusals": {"by_association": False}}}, False),
]


@pytest.mark.parametrize(("body", "association", "author", "config", "outright"), OUTRIGHT)
def test_refused_outright(
    body: str, association: str, author: str, config: dict[str, object] | None, outright: bool
) -> None:
    comment = _comment(body, association)
    authority = Authority.build(
        config=Config.model_validate(config or {}),
        bot_login="issueops-bot",
        item_author=author,
        permissions={},
        approver_logins=frozenset(),
        comments=(comment,),
    )
    assert refused_outright(comment, parse_commands(body), authority) is outright


def test_plan_refusal_answers_each_verdict() -> None:
    log = RefusalLog(RefusalsConfig(silence_after=2))
    first = plan_refusal(7, _comment("/approve"), parse_commands("/approve"), log)
    assert [type(a) for a in first[0]] == [React, UpsertComment]
    assert [e["event"] for e in first[1]] == ["approval.denied"]
    second_comment = Comment(2, 7, Actor("mallory"), "/hold", T0, T0, "NONE")
    second = plan_refusal(7, second_comment, parse_commands("/hold"), log)
    assert second[0] == [React(7, "-1", 2)]
    assert [(e["event"], e.get("mode")) for e in second[1]] == [
        ("approval.denied", None),
        ("command.throttled", "react"),
    ]
    third_comment = Comment(3, 8, Actor("mallory"), "/aprove", T0, T0, "NONE")
    third = plan_refusal(8, third_comment, parse_commands("/aprove"), log)
    assert third == ([], [{"event": "command.throttled", "login": "mallory", "comment": 3} | _silent(3)])
    assert plan_refusal(7, _comment("/approve"), parse_commands("/approve"), log) == ([], [])


def _silent(refusals: int) -> dict[str, object]:
    return {"mode": "silent", "refusals": refusals}


def test_an_event_run_has_a_small_budget_and_leaves_the_reserve() -> None:
    config = Config.model_validate({"api": {"max_requests_per_run": 900, "reserve": 50}})
    tight, opts = event_budget(config, Options(max_requests=5000))
    assert (tight.api.max_requests_per_run, tight.api.reserve, opts.max_requests) == (60, 400, 60)
    small, opts = event_budget(config, Options(max_requests=10))
    assert small.api.max_requests_per_run == 10 and opts.max_requests == 10
    custom = Config.model_validate({"api": {"reserve": 600}, "commands": {"event_reserve": 100}})
    assert event_budget(custom, Options())[0].api.reserve == 600
