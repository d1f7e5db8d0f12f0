"""How often the bot answers strangers' refused commands: the one memory kept across runs.

A flood of command comments from people the repository does not know must not be answered by a
flood of replies (content-creating writes, shared with everything the pipeline does) nor cost a
request each. The log remembers, per refused comment, how it was answered; the verdict for a new
one follows from the log and the comment's own time (never the run's clock), so a replay and a
second run decide the same:

- `reply`: the first refusal of this person on this item within `reply_hours`: a reaction and
  the denial reply;
- `react`: a later one on the same item: the reaction only;
- `silent`: the person was already refused `silence_after` times within `window_hours`: nothing
  at all, not even a read.

Pure data and arithmetic; reading and writing the file is the runner's job (`to_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from issueops.config.settings import RefusalsConfig

Verdict = Literal["reply", "react", "silent"]
VERDICTS: frozenset[str] = frozenset({"reply", "react", "silent"})
KEEP = timedelta(days=30)  # answers older than this (before the newest) are forgotten


@dataclass(frozen=True)
class Answer:
    """How one refused comment was answered."""

    login: str  # lower-cased
    item: int
    comment: int
    at: datetime  # the comment's creation time
    verdict: Verdict


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    fresh: bool  # decided now (act on it); False: decided by an earlier run (nothing to do)
    refusals: int  # this person's refusals in the window, this one included


@dataclass
class RefusalLog:
    settings: RefusalsConfig = field(default_factory=RefusalsConfig)
    answers: dict[int, Answer] = field(default_factory=dict)
    changed: bool = False

    def judge(self, login: str, item: int, comment: int, at: datetime) -> Judgement:
        """The verdict for one refused comment, recorded so it is decided only once."""
        key = login.lower()
        window_start = at - timedelta(hours=self.settings.window_hours)
        earlier = [
            a
            for a in self.answers.values()
            if a.login == key and window_start < a.at <= at and a.comment != comment
        ]
        known = self.answers.get(comment)
        if known is not None:
            return Judgement(known.verdict, False, len(earlier) + 1)
        newest = max((a.at for a in self.answers.values()), default=at)
        if at < newest - KEEP:
            return Judgement("silent", False, len(earlier) + 1)  # too old to answer, already forgotten
        reply_start = at - timedelta(hours=self.settings.reply_hours)
        verdict: Verdict
        if len(earlier) >= self.settings.silence_after:
            verdict = "silent"
        elif any(a.item == item and a.verdict == "reply" and reply_start < a.at for a in earlier):
            verdict = "react"
        else:
            verdict = "reply"
        self.answers[comment] = Answer(key, item, comment, at, verdict)
        self.changed = True
        return Judgement(verdict, True, len(earlier) + 1)

    def pruned(self) -> RefusalLog:
        """Without answers older than `KEEP` before the newest one (the file stays small)."""
        if not self.answers:
            return self
        newest = max(a.at for a in self.answers.values())
        kept = {k: a for k, a in self.answers.items() if a.at >= newest - KEEP}
        return RefusalLog(self.settings, kept, self.changed)

    def to_json(self) -> str:
        rows = [
            {
                "login": a.login,
                "item": a.item,
                "comment": a.comment,
                "at": a.at.isoformat(),
                "verdict": a.verdict,
            }
            for a in sorted(self.pruned().answers.values(), key=lambda a: a.comment)
        ]
        return json.dumps({"version": 1, "answers": rows}, indent=0) + "\n"

    @classmethod
    def from_json(cls, text: str, settings: RefusalsConfig) -> RefusalLog:
        """The log from its file; an unreadable or foreign file gives an empty log (the worst
        that costs is one more answer per person)."""
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError:
            return cls(settings)
        rows = data.get("answers") if isinstance(data, dict) else None
        answers: dict[int, Answer] = {}
        for row in rows if isinstance(rows, list) else []:
            answer = _answer(row)
            if answer is not None:
                answers[answer.comment] = answer
        return cls(settings, answers)


def _answer(row: Any) -> Answer | None:
    if not isinstance(row, dict):
        return None
    login, item, comment, at, verdict = (row.get(k) for k in ("login", "item", "comment", "at", "verdict"))
    if not (isinstance(login, str) and isinstance(item, int) and isinstance(comment, int)):
        return None
    if not isinstance(at, str) or verdict not in VERDICTS:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return Answer(login.lower(), item, comment, when, verdict)
