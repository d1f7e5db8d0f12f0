"""issueops.actions_env: the event payload, step summary, outputs, workflow commands and launcher."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issueops import actions_env as ae
from issueops.actions_env import (
    STEP_SUMMARY_LIMIT,
    ActionsEvent,
    EventComment,
    EventError,
    InputError,
    RunInputs,
    annotate,
    append_step_summary,
    build_argv,
    fit_summary,
    format_outputs,
    load_event,
    mask,
    parse_event,
    quarantine,
    read_event,
    resolve_inputs,
    set_outputs,
    split_command,
    summary_outputs,
)

# --- the event payload ---------------------------------------------------------------------------

COMMENT = {
    "action": "created",
    "issue": {"number": 42, "title": "x", "labels": [], "user": {"login": "paul"}},
    "comment": {
        "id": 1001,
        "body": "/approve",
        "user": {"login": "alice", "type": "User"},
        "author_association": "NONE",
        "created_at": "2026-11-23T09:00:00Z",
        "updated_at": "2026-11-23T09:00:00Z",
    },
    "sender": {"login": "alice", "type": "User"},
    "repository": {"full_name": "acme/ops"},
}
ALICE_SAYS = EventComment(
    1001, "/approve", "alice", "User", "NONE", "2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"
)
PR_COMMENT = {**COMMENT, "issue": {"number": 7, "pull_request": {"url": "..."}}}
LABELED = {
    "action": "labeled",
    "issue": {"number": 5},
    "label": {"name": "approval::approved"},
    "sender": {"login": "bob", "type": "User"},
    "repository": {"full_name": "acme/ops"},
}
DISPATCH = {"inputs": {"dry_run": True, "limit": "5", "item": ""}, "repository": {"full_name": "acme/ops"}}

EVENT_CASES = [
    (
        "issue_comment",
        COMMENT,
        ActionsEvent(
            name="issue_comment",
            action="created",
            issue_number=42,
            comment_id=1001,
            sender_login="alice",
            sender_type="User",
            repository="acme/ops",
            comment=ALICE_SAYS,
            issue_author="paul",
            issue_title="x",
        ),
    ),
    (
        "issue_comment",
        PR_COMMENT,
        ActionsEvent(
            name="issue_comment",
            action="created",
            issue_number=7,
            comment_id=1001,
            is_pull_request=True,
            sender_login="alice",
            sender_type="User",
            repository="acme/ops",
            comment=ALICE_SAYS,
        ),
    ),
    (
        "issues",
        LABELED,
        ActionsEvent(
            name="issues",
            action="labeled",
            issue_number=5,
            label="approval::approved",
            sender_login="bob",
            sender_type="User",
            repository="acme/ops",
        ),
    ),
    (
        "workflow_dispatch",
        DISPATCH,
        ActionsEvent(
            name="workflow_dispatch",
            repository="acme/ops",
            inputs={"dry_run": "true", "limit": "5", "item": ""},
        ),
    ),
    ("schedule", {"schedule": "13 * * * *"}, ActionsEvent(name="schedule")),
    (
        "issues",
        {"issue": {"number": "42"}, "comment": {"id": True}, "label": {"name": 3}},
        ActionsEvent(name="issues"),
    ),
    ("issues", {"issue": [], "sender": "x"}, ActionsEvent(name="issues")),
]
EVENT_IDS = [
    "comment on an issue",
    "comment on a pull request",
    "label applied",
    "dispatch inputs become text",
    "schedule has no item",
    "wrong types are dropped, not trusted",
    "wrong shapes are dropped",
]


@pytest.mark.parametrize(("name", "payload", "expected"), EVENT_CASES, ids=EVENT_IDS)
def test_parse_event(name: str, payload: dict[str, Any], expected: ActionsEvent) -> None:
    assert parse_event(name, payload) == expected


def test_is_item_event() -> None:
    assert parse_event("issue_comment", COMMENT).is_item_event
    assert not parse_event("schedule", {}).is_item_event
    assert not parse_event("issues", {}).is_item_event


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "event.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not readable JSON"),
        ("[1, 2]", "JSON list, not an object"),
        ("\udcff", "not readable"),
    ],
    ids=["missing file", "invalid JSON", "array instead of object", "undecodable bytes"],
)
def test_read_event_errors_name_the_file(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "event.json"
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe{")
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(EventError, match=message) as info:
        read_event(path, "issue_comment")
    assert str(path) in str(info.value)
    assert info.value.exit_code == 1


def test_read_event_keeps_the_path(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(COMMENT))
    event = read_event(path, "issue_comment")
    assert event.path == path and event.issue_number == 42


@pytest.mark.parametrize(
    ("env", "expected_number"),
    [
        ({}, None),
        ({"GITHUB_ACTIONS": "false", "GITHUB_EVENT_NAME": "issue_comment"}, None),
        ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "issue_comment"}, None),
        ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": "@"}, None),
        ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "issue_comment", "GITHUB_EVENT_PATH": "@"}, 42),
    ],
    ids=["not in actions", "actions false", "no payload path", "no event name", "on a runner"],
)
def test_load_event(tmp_path: Path, env: dict[str, str], expected_number: int | None) -> None:
    path = _write(tmp_path, json.dumps(COMMENT))
    env = {k: (str(path) if v == "@" else v) for k, v in env.items()}
    event = load_event(env)
    assert (event.issue_number if event else None) == expected_number


# --- the step summary ----------------------------------------------------------------------------

NOTE = b"Summary truncated"


@pytest.mark.parametrize(
    ("markdown", "used", "limit", "check"),
    [
        ("# hi", 0, 100, lambda out: out == b"# hi\n"),
        ("x" * 99, 0, 100, lambda out: out == b"x" * 99 + b"\n"),
        ("x" * 999, 1, 1000, lambda out: NOTE in out and len(out) <= 999),
        ("line\n" * 100, 0, 300, lambda out: NOTE in out and out.startswith(b"line\n") and len(out) <= 300),
        ("é" * 200, 0, 250, lambda out: NOTE in out and len(out) <= 250 and out.decode("utf-8") is not None),
        ("```\n" + "code\n" * 100, 0, 300, lambda out: out.count(b"```") == 2 and len(out) <= 300),
        ("y" * 500, 0, 120, lambda out: out.startswith(b"\n> **Summary truncated**") and len(out) <= 120),
        ("z" * 500, 0, 20, lambda out: out == b""),
        ("z", 100, 100, lambda out: out == b""),
        ("z", 200, 100, lambda out: out == b""),
    ],
    ids=[
        "fits: newline added",
        "fits exactly",
        "one byte over: truncated with a note",
        "cut on a line boundary",
        "never inside a multi-byte character",
        "an open code fence is closed",
        "only the note fits",
        "not even the note fits",
        "file already full",
        "file already over the limit",
    ],
)
def test_fit_summary(markdown: str, used: int, limit: int, check: Any) -> None:
    out = fit_summary(markdown, used, limit)
    assert check(out), out
    assert used + len(out) <= max(limit, used)


def test_truncation_note_counts_what_was_left_out() -> None:
    out = fit_summary("line\n" * 100, 0, 300)
    omitted = int(re.search(rb": (\d+) bytes", out).group(1))  # type: ignore[union-attr]
    kept = out[: out.index(b"\n> **Summary")]
    assert omitted == 500 - len(kept)


def test_append_step_summary_never_passes_one_mib(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    chunk = "| a | b |\n" * 40_000  # 400 kB a call
    for _ in range(4):
        append_step_summary(env, chunk)
    size = target.stat().st_size
    assert size <= STEP_SUMMARY_LIMIT
    assert target.read_bytes().count(NOTE) == 1  # later calls found no room, not even for a note
    assert size > STEP_SUMMARY_LIMIT - 200  # and the room was used


def test_append_step_summary_appends_and_is_a_no_op_outside_actions(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    append_step_summary({}, "ignored")
    append_step_summary({"GITHUB_STEP_SUMMARY": str(target)}, "")
    assert not target.exists()
    append_step_summary({"GITHUB_STEP_SUMMARY": str(target)}, "one")
    append_step_summary({"GITHUB_STEP_SUMMARY": str(target)}, "two\n")
    assert target.read_text() == "one\ntwo\n"


# --- outputs -------------------------------------------------------------------------------------


def parse_output_file(text: str) -> dict[str, str]:
    """Read `$GITHUB_OUTPUT` the way the runner does (heredoc form only)."""
    out: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        name, _, delimiter = line.partition("<<")
        value: list[str] = []
        for body in lines:
            if body == delimiter:
                break
            value.append(body)
        else:
            raise AssertionError(f"unterminated output {name}")
        out[name] = "\n".join(value)
    return out


def _counter() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"EOF{n}"


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"a": "1"}, {"a": "1"}),
        ({"multi": "one\ntwo\n"}, {"multi": "one\ntwo\n"}),
        (
            {"t": True, "f": False, "n": None, "i": 3, "x": 1.5},
            {"t": "true", "f": "false", "n": "", "i": "3", "x": "1.5"},
        ),
        ({"obj": {"b": 1, "a": [1]}}, {"obj": '{"a": [1], "b": 1}'}),
        ({"looks-like-delim": "EOF1\nEOF2"}, {"looks-like-delim": "EOF1\nEOF2"}),
        ({"sneaky": "x\nother<<Z\ny\nZ"}, {"sneaky": "x\nother<<Z\ny\nZ"}),
    ],
    ids=[
        "plain",
        "multi-line",
        "scalars",
        "JSON for containers",
        "delimiter collision redrawn",
        "injection attempt",
    ],
)
def test_format_outputs_round_trips(mapping: dict[str, Any], expected: dict[str, str]) -> None:
    counter = _counter()
    text = format_outputs(mapping, lambda: next(counter))
    assert parse_output_file(text) == expected


@pytest.mark.parametrize(
    "name", ["", "1abc", "a b", "a\nb", "a<<b"], ids=["empty", "digit", "space", "newline", "heredoc"]
)
def test_format_outputs_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="output name"):
        format_outputs({name: "x"})


def test_format_outputs_gives_up_when_every_delimiter_collides() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        format_outputs({"a": "SAME"}, lambda: "SAME")


def test_random_delimiters_differ() -> None:
    text = format_outputs({"a": "1", "b": "2"})
    delimiters = re.findall(r"<<(\S+)", text)
    assert len(set(delimiters)) == 2 and all(d.startswith("ghadelimiter_") for d in delimiters)


def test_set_outputs_appends_to_the_file(tmp_path: Path) -> None:
    target = tmp_path / "output"
    set_outputs({}, {"a": "1"})
    set_outputs({"GITHUB_OUTPUT": str(target)}, {"a": "1"})
    set_outputs({"GITHUB_OUTPUT": str(target)}, {"b": "x\ny"})
    assert parse_output_file(target.read_text()) == {"a": "1", "b": "x\ny"}


def test_summary_outputs_cover_the_declared_names() -> None:
    summary = {
        "command": "assign",
        "dry_run": True,
        "items_seen": 3,
        "items_changed": 2,
        "items_failed": 0,
        "items_deferred": 1,
        "requests_made": 9,
        "requests_counted": 7,
        "budget_stop": None,
        "exit_code": 0,
    }
    out = summary_outputs(summary)
    assert tuple(sorted(out)) == tuple(sorted(ae.RUN_OUTPUTS))
    assert out["dry-run"] == "true" and out["items-changed"] == "2" and out["budget-stop"] == ""
    assert json.loads(out["summary"]) == summary


# --- workflow commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("error", "boom"), {}, "::error::boom"),
        (("warning", "w", "a.py", 3), {}, "::warning file=a.py,line=3::w"),
        (("notice", "100% done\r\nnext"), {}, "::notice::100%25 done%0D%0Anext"),
        (("error", "x::y"), {}, "::error::x::y"),
        (("error", "m", "dir/a:b,c.yml", 1), {}, "::error file=dir/a%3Ab%2Cc.yml,line=1::m"),
        (("error", "m"), {"title": "t: 1, 2"}, "::error title=t%3A 1%2C 2::m"),
        (("error", "m", "f", 2), {"col": 4, "end_line": 5}, "::error file=f,line=2,endLine=5,col=4::m"),
        (("error", "\n::set-output name=x::1"), {}, "::error::%0A::set-output name=x::1"),
    ],
    ids=[
        "plain",
        "file and line",
        "percent and newlines escaped",
        "'::' in the message is data",
        "':' and ',' escaped in properties",
        "title escaped",
        "column and end line",
        "a newline cannot start another command",
    ],
)
def test_annotate(args: tuple[Any, ...], kwargs: dict[str, Any], expected: str) -> None:
    assert annotate(*args, **kwargs) == expected
    assert "\n" not in annotate(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("debug", "x"), {}), (("error", "x", "f", 0), {}), (("error", "x"), {"col": -1})],
    ids=["unknown kind", "line 0", "negative column"],
)
def test_annotate_rejects(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        annotate(*args, **kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3cr3t", "::add-mask::s3cr3t"),
        ("a%b", "::add-mask::a%25b"),
        ("line1\nline2\r\n", "::add-mask::line1\n::add-mask::line2"),
        ("", ""),
        ("  \n ", ""),
    ],
    ids=["plain", "percent escaped", "one command per line", "empty", "blank"],
)
def test_mask(value: str, expected: str) -> None:
    assert mask(value) == expected


def test_quarantine() -> None:
    assert quarantine("::error::x", "tok") == "::stop-commands::tok\n::error::x\n::tok::"
    with pytest.raises(ValueError):
        quarantine("tok inside", "tok")
    assert quarantine("text").startswith("::stop-commands::issueops-")


# --- the launcher --------------------------------------------------------------------------------

INPUT_CASES: list[tuple[dict[str, str], RunInputs | str]] = [
    ({"ISSUEOPS_INPUT_DRY_RUN": "true"}, RunInputs(True, "the dry_run input is true")),
    ({"ISSUEOPS_INPUT_DRY_RUN": "false"}, RunInputs(False, "the dry_run input is false")),
    (
        {"ISSUEOPS_INPUT_DRY_RUN": "FALSE", "ISSUEOPS_LIVE": ""},
        RunInputs(False, "the dry_run input is false"),
    ),
    (
        {"ISSUEOPS_INPUT_DRY_RUN": "true", "ISSUEOPS_LIVE": "true"},
        RunInputs(True, "the dry_run input is true"),
    ),
    ({}, RunInputs(True, "the repository variable ISSUEOPS_LIVE is not 'true' (set it to go live)")),
    ({"ISSUEOPS_LIVE": "true"}, RunInputs(False, "the repository variable ISSUEOPS_LIVE is 'true'")),
    ({"ISSUEOPS_LIVE": " True "}, RunInputs(False, "the repository variable ISSUEOPS_LIVE is 'true'")),
    (
        {"ISSUEOPS_LIVE": "yes"},
        RunInputs(True, "the repository variable ISSUEOPS_LIVE is not 'true' (set it to go live)"),
    ),
    ({"ISSUEOPS_INPUT_DRY_RUN": "maybe"}, "`dry_run` must be true or false"),
    (
        {
            "ISSUEOPS_INPUT_DRY_RUN": "true",
            "ISSUEOPS_INPUT_LIMIT": " 5 ",
            "ISSUEOPS_INPUT_MAX_REQUESTS": "200",
            "ISSUEOPS_INPUT_MAX_SECONDS": "720",
            "ISSUEOPS_INPUT_ITEM": "42",
        },
        RunInputs(True, "the dry_run input is true", limit=5, max_requests=200, max_seconds=720, item=42),
    ),
    ({"ISSUEOPS_INPUT_LIMIT": "0"}, "dry"),
    ({"ISSUEOPS_INPUT_LIMIT": "-1"}, "`limit` must be a whole number of at least 0, got '-1'"),
    ({"ISSUEOPS_INPUT_LIMIT": "1e3"}, "`limit` must be a whole number"),
    ({"ISSUEOPS_INPUT_LIMIT": "5; rm -rf /"}, "`limit` must be a whole number"),
    ({"ISSUEOPS_INPUT_MAX_REQUESTS": "0"}, "`max_requests` must be a whole number of at least 1"),
    ({"ISSUEOPS_INPUT_MAX_SECONDS": "12m"}, "`max_seconds` must be a whole number of at least 1"),
    ({"ISSUEOPS_INPUT_ITEM": "0"}, "`item` must be a whole number of at least 1"),
    ({"ISSUEOPS_INPUT_ITEM": "#42"}, "`item` must be a whole number"),
    ({"ISSUEOPS_INPUT_ITEM": "9" * 13}, "`item` must be a whole number"),
    ({"ISSUEOPS_INPUT_REPO": "acme/ops"}, "dry"),
    ({"ISSUEOPS_INPUT_REPO": "acme"}, "`repo` must look like OWNER/NAME"),
    ({"ISSUEOPS_INPUT_REPO": "acme/ops --token x"}, "`repo` must look like OWNER/NAME"),
    ({"ISSUEOPS_INPUT_API_URL": "http://127.0.0.1:8080/api/v3"}, "dry"),
    ({"ISSUEOPS_INPUT_API_URL": "--token-env=X"}, "`api-url` must be an http(s) URL"),
    ({"ISSUEOPS_INPUT_CONFIG": "--dry-run"}, "`config` must be a path"),
    ({"ISSUEOPS_INPUT_TOKEN_ENV": "APP_TOKEN"}, "dry"),
    ({"ISSUEOPS_INPUT_TOKEN_ENV": "X; echo"}, "`token-env` must be an environment variable name"),
    (
        {"ISSUEOPS_INPUT_DRY_RUN": "true", "ISSUEOPS_INPUT_APP_SLUG": "github-actions"},
        RunInputs(True, "the dry_run input is true", bot_login="github-actions[bot]"),
    ),
    (
        {"ISSUEOPS_INPUT_DRY_RUN": "true", "ISSUEOPS_INPUT_APP_SLUG": " acme-ops-bot "},
        RunInputs(True, "the dry_run input is true", bot_login="acme-ops-bot[bot]"),
    ),
    (
        {"ISSUEOPS_INPUT_DRY_RUN": "true", "ISSUEOPS_INPUT_APP_SLUG": ""},
        RunInputs(True, "the dry_run input is true"),
    ),
    ({"ISSUEOPS_INPUT_APP_SLUG": "x --repo y"}, "`app-slug` must be a GitHub App slug"),
]
INPUT_IDS = [
    "dispatch dry",
    "dispatch live",
    "dispatch live, any case",
    "dispatch dry wins over ISSUEOPS_LIVE",
    "schedule without ISSUEOPS_LIVE is dry",
    "schedule with ISSUEOPS_LIVE=true is live",
    "ISSUEOPS_LIVE trimmed and case-insensitive",
    "ISSUEOPS_LIVE=yes is not true: dry",
    "bad dry_run",
    "all numbers",
    "limit 0 is allowed",
    "negative limit",
    "exponent",
    "shell text",
    "zero budget",
    "time budget with a unit",
    "item 0",
    "item with a hash",
    "item too long",
    "repo ok",
    "repo without owner",
    "repo with extra words",
    "api-url ok",
    "api-url that is an option",
    "config that is an option",
    "token-env ok",
    "token-env not a name",
    "the workflow token's app",
    "an App's slug, trimmed",
    "no app: a personal token",
    "app-slug with words",
]


@pytest.mark.parametrize(("env", "expected"), INPUT_CASES, ids=INPUT_IDS)
def test_resolve_inputs(env: dict[str, str], expected: RunInputs | str) -> None:
    if isinstance(expected, RunInputs):
        assert resolve_inputs(env) == expected
    elif expected == "dry":
        assert resolve_inputs(env).dry_run is True
    else:
        with pytest.raises(InputError, match=re.escape(expected)) as info:
            resolve_inputs(env)
        assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["assign"], (["assign"], [])),
        (["labels", "sync"], (["labels", "sync"], [])),
        (["commands", "--event", "/e.json"], (["commands"], ["--event", "/e.json"])),
        (["report", "--format", "md"], (["report"], ["--format", "md"])),
    ],
    ids=["one word", "two words", "with options", "report format"],
)
def test_split_command(args: list[str], expected: tuple[list[str], list[str]]) -> None:
    assert split_command(args) == expected


@pytest.mark.parametrize("args", [[], ["labels"], ["serve"], ["--dry-run", "assign"], ["sandbox", "serve"]])
def test_split_command_rejects(args: list[str]) -> None:
    with pytest.raises(InputError, match="unknown issueops command"):
        split_command(args)


DRY = RunInputs(True, "r")
LIVE = RunInputs(False, "r")


@pytest.mark.parametrize(
    ("words", "extra", "inputs", "argv", "warnings"),
    [
        (["assign"], [], DRY, ["--dry-run", "assign"], 0),
        (["assign"], [], LIVE, ["assign"], 0),
        (
            ["process"],
            [],
            RunInputs(False, "r", limit=3, max_requests=50, item=9),
            ["--limit", "3", "--max-requests", "50", "process", "--item", "9"],
            0,
        ),
        (["commands"], ["--event", "/e.json"], LIVE, ["commands", "--event", "/e.json"], 0),
        (["labels", "sync"], [], RunInputs(True, "r", item=9), ["--dry-run", "labels", "sync"], 1),
        (["run"], [], RunInputs(False, "r", item=9), ["run"], 1),
        (
            ["report"],
            ["--format", "md"],
            RunInputs(
                True, "r", telemetry="hist", repo="a/b", api_url="http://h:9", config="c.yml", token_env="T"
            ),
            [
                "--repo", "a/b", "--api-url", "http://h:9", "--config", "c.yml", "--token-env", "T",
                "--telemetry", "hist", "--dry-run", "report", "--format", "md",
            ],
            0,
        ),
    ],
    ids=[
        "dry run flag",
        "live has no flag",
        "numbers and per-command item",
        "event passed through",
        "item ignored by labels sync, with a warning",
        "item ignored by run, with a warning",
        "every global before the command",
    ],
)  # fmt: skip
def test_build_argv(
    words: list[str], extra: list[str], inputs: RunInputs, argv: list[str], warnings: int
) -> None:
    got, notes = build_argv(words, extra, inputs)
    assert got == argv
    assert len(notes) == warnings


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.lines: list[str] = []

    def execute(self, file: str, argv: list[str]) -> None:
        self.calls.append((file, argv))

    def out(self, line: str) -> None:
        self.lines.append(line)


def test_main_launches_issueops_with_validated_options() -> None:
    rec = Recorder()
    env = {"ISSUEOPS_INPUT_DRY_RUN": "false", "ISSUEOPS_INPUT_LIMIT": "2", "ISSUEOPS_INPUT_ITEM": "4"}
    code = ae.main(["exec", "assign"], env, rec.execute, rec.out)
    assert code == 0
    ((file, argv),) = rec.calls
    assert argv[1:] == ["-m", "issueops", "--limit", "2", "assign", "--item", "4"] and argv[0] == file
    assert any("issueops --limit 2 assign --item 4" in line for line in rec.lines)
    assert not any(line.startswith("::notice") for line in rec.lines)


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"GITHUB_ACTIONS": "true"}, "::notice title=issueops::dry run: no write will be sent"),
        ({}, "notice: dry run: no write will be sent"),
    ],
    ids=["an annotation on a runner", "a plain line elsewhere"],
)
def test_main_announces_a_dry_run(env: dict[str, str], line: str) -> None:
    rec = Recorder()
    assert ae.main(["exec", "sweep"], env, rec.execute, rec.out) == 0
    assert rec.calls[0][1][3:] == ["--dry-run", "sweep"]
    assert any(got.startswith(line) for got in rec.lines)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["exec", "assign"], {"ISSUEOPS_INPUT_LIMIT": "x"}, "::error title=issueops input::input `limit`"),
        (["exec", "deploy"], {}, "::error title=issueops input::unknown issueops command"),
        (["assign"], {}, "usage:"),
        ([], {}, "usage:"),
    ],
    ids=["bad input", "unknown command", "missing exec", "nothing"],
)
def test_main_refuses_before_running_anything(argv: list[str], env: dict[str, str], message: str) -> None:
    rec = Recorder()
    assert ae.main(argv, {**env, "GITHUB_ACTIONS": "true"}, rec.execute, rec.out) == 2
    assert rec.calls == []
    assert rec.lines[0].startswith(message)


@pytest.mark.parametrize(
    ("env", "masked"),
    [
        ({"GITHUB_ACTIONS": "true", "ISSUEOPS_INPUT_TOKEN_ENV": "APP_TOKEN", "APP_TOKEN": "s3cr3t"}, True),
        ({"ISSUEOPS_INPUT_TOKEN_ENV": "APP_TOKEN", "APP_TOKEN": "s3cr3t"}, False),
        ({"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "s3cr3t"}, False),
        ({"GITHUB_ACTIONS": "true", "ISSUEOPS_INPUT_TOKEN_ENV": "APP_TOKEN"}, False),
    ],
    ids=[
        "another variable on a runner",
        "never outside Actions",
        "GITHUB_TOKEN is masked by the runner",
        "unset",
    ],
)
def test_main_masks_a_token_read_from_another_variable(env: dict[str, str], masked: bool) -> None:
    rec = Recorder()
    ae.main(["exec", "monitor"], env, rec.execute, rec.out)
    assert ("::add-mask::s3cr3t" in rec.lines) is masked
    assert not any("s3cr3t" in line for line in rec.lines if not line.startswith("::add-mask::"))
    assert all("s3cr3t" not in arg for arg in rec.calls[0][1])
