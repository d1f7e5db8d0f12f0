"""The commands workflow's job-level `if:` and concurrency group, evaluated by GitHub's own
expression evaluator (npm `@actions/expressions`, installed by `make fidelity`) against payloads
shaped like GitHub's: what can never be a command for that person starts no job, nothing else is
dropped, and strangers' comments share one concurrency group.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from workflow_runsteps import ROOT, WORKFLOWS, load_yaml

EVALUATOR = ROOT / "tests/fidelity/evaluate.mjs"
PACKAGE = ROOT / "tests/fidelity/node_modules/@actions/expressions/package.json"
COMMANDS = load_yaml(WORKFLOWS / "issueops-commands.yml")

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not PACKAGE.is_file(),
    reason="needs node and tests/fidelity/node_modules (run `make fidelity`)",
)


def evaluate(expression: str, cases: list[dict[str, Any]], *, as_: str) -> list[Any]:
    request = json.dumps({"expression": expression, "as": as_, "cases": cases})
    done = subprocess.run(
        ["node", str(EVALUATOR)], input=request, capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def comment(
    body: str, association: str, *, login: str = "mallory", author: str = "paul", kind: str = "User"
) -> dict[str, Any]:
    """The contexts of an `issue_comment` event, as the payload has them."""
    user = {"login": login, "type": kind}
    event = {
        "action": "created",
        "issue": {"number": 7, "user": {"login": author, "type": "User"}},
        "comment": {"id": 1, "body": body, "user": user, "author_association": association},
        "sender": user,
    }
    return {"github": {"event_name": "issue_comment", "event": event}, "vars": {}, "inputs": {}}


SCHEDULE: dict[str, Any] = {"github": {"event_name": "schedule", "event": {}}, "vars": {}, "inputs": {}}

# (name, contexts, whether a job starts)
IF_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("a collaborator's /approve", comment("/approve", "COLLABORATOR", login="carol"), True),
    ("an org member's /hold", comment("/hold", "MEMBER", login="bob"), True),
    ("the owner's /retry", comment("/retry", "OWNER", login="acme"), True),
    ("a contributor's /approve: the permission endpoint decides", comment("/approve", "CONTRIBUTOR"), True),
    ("a stranger's /approve", comment("/approve", "NONE"), False),
    ("a first-timer's /reject", comment("/reject spam", "FIRST_TIMER"), False),
    ("a first-time contributor's /unhold", comment("/unhold", "FIRST_TIME_CONTRIBUTOR"), False),
    ("a mannequin's /assign", comment("/assign @x", "MANNEQUIN"), False),
    ("a stranger's /hold on someone else's item", comment("/hold", "NONE"), False),
    ("a stranger's /hold on their own item", comment("/hold", "NONE", author="mallory"), True),
    ("a stranger's /help", comment("/help", "NONE"), True),
    ("a stranger's /HELP (case ignored)", comment("/HELP", "NONE"), True),
    ("a stranger unassigns themselves", comment("/unassign @mallory", "NONE"), True),
    ("no slash at all", comment("thanks!", "COLLABORATOR"), False),
    ("a bot's comment", comment("/approve", "NONE", login="renovate[bot]", kind="Bot"), False),
    (
        "the filter turned off by a repository variable",
        {**comment("/approve", "NONE"), "vars": {"ISSUEOPS_ASSOCIATION_FILTER": "off"}},
        True,
    ),
    (
        "a label applied by a person",
        {"github": {"event_name": "issues", "event": {"sender": {"login": "bob", "type": "User"}}}},
        True,
    ),
    (
        "a label applied by a bot",
        {"github": {"event_name": "issues", "event": {"sender": {"login": "x[bot]", "type": "Bot"}}}},
        False,
    ),
    ("the hourly catch-up", SCHEDULE, True),
]


def test_the_job_starts_only_for_what_can_be_a_command() -> None:
    expression = str(COMMANDS["jobs"]["commands"]["if"])
    got = evaluate(expression, [contexts for _, contexts, _ in IF_CASES], as_="boolean")
    wrong = [name for (name, _, expected), result in zip(IF_CASES, got, strict=True) if result != expected]
    assert not wrong, wrong


GROUP_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("a collaborator: the item's own group", comment("/approve", "COLLABORATOR"), "issueops-commands-7"),
    ("a stranger: one group for every item", comment("/help", "NONE"), "issueops-commands-strangers"),
    ("a first-timer too", comment("/hold", "FIRST_TIMER", author="mallory"), "issueops-commands-strangers"),
    ("the catch-up", SCHEDULE, "issueops-commands-all"),
    (
        "a dispatch for one item",
        {"github": {"event_name": "workflow_dispatch", "event": {}}, "inputs": {"item": "12"}},
        "issueops-commands-12",
    ),
]


def test_strangers_share_one_concurrency_group() -> None:
    group = str(COMMANDS["concurrency"]["group"])
    match = re.fullmatch(r"(?s)(?P<prefix>[^$]*)\$\{\{(?P<expr>.*)\}\}", group.strip())
    assert match, group
    got = evaluate(match.group("expr"), [contexts for _, contexts, _ in GROUP_CASES], as_="text")
    names = [match.group("prefix") + text for text in got]
    assert names == [expected for _, _, expected in GROUP_CASES]
