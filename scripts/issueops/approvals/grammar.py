"""Comment commands: the command table (data) and a markdown-aware parser.

A command counts only when a line starts with an ASCII `/` (after at most three spaces) and
that line is plain text once the comment is rendered: not in a block quote, fenced or indented
code, inline code, an HTML block or an HTML comment. Markdown structure is decided by
markdown-it-py (CommonMark, as GitHub renders it), never by regexes, so a quoted reply or a
code sample can never approve anything.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

ArgKind = Literal["none", "text", "logins"]


@dataclass(frozen=True)
class CommandSpec:
    """One row of the command table; `/help` and docs are generated from these rows."""

    name: str
    privileged: bool
    args: str  # usage shown in /help, e.g. "[reason]", "@login"
    arg_kind: ArgKind
    description: str
    who: str  # who may use it, in words


PRIVILEGED_WHO = "write, maintain or admin, or a configured approver"
HOLD_WHO = "triage or more, the item's author, a configured approver, or a person in `commands.hold.users`"
ANYONE_WHO = "anyone"
BRAKE_WHO = "maintain or admin, or a configured approver"

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "approve",
        True,
        "[note]",
        "text",
        "Approve the item as it is now (title, body, deliverable).",
        PRIVILEGED_WHO,
    ),
    CommandSpec("reject", True, "[reason]", "text", "Veto: the item is rejected.", PRIVILEGED_WHO),
    CommandSpec("cancel", False, "", "none", "Withdraw your own earlier /approve or /reject.", ANYONE_WHO),
    CommandSpec(
        "hold",
        True,
        "[reason]",
        "text",
        "Freeze the item: nothing moves automatically until /unhold.",
        HOLD_WHO,
    ),
    CommandSpec("unhold", True, "", "none", "Lift a hold.", PRIVILEGED_WHO),
    CommandSpec(
        "retry", True, "", "none", "Send a failed item back to the step where it failed.", PRIVILEGED_WHO
    ),
    CommandSpec("assign", True, "@login", "logins", "Assign one or more people.", PRIVILEGED_WHO),
    CommandSpec(
        "unassign",
        True,
        "@login",
        "logins",
        "Unassign people.",
        PRIVILEGED_WHO + "; anyone may unassign themselves",
    ),
    CommandSpec(
        "brake",
        True,
        "[reason]",
        "text",
        "Stop the whole pipeline now: every run is a dry run until /resume (see the alert issue).",
        BRAKE_WHO,
    ),
    CommandSpec(
        "resume",
        True,
        "",
        "none",
        "On the brake's alert issue: lift the brake; held work carries on.",
        BRAKE_WHO,
    ),
    CommandSpec("help", False, "", "none", "Show this table.", ANYONE_WHO),
)
# Handled by the brake (issueops.brake), not by the commands stage: they act on the whole pipeline.
BRAKE_COMMANDS: frozenset[str] = frozenset({"brake", "resume"})
COMMANDS_BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
PRIVILEGED: frozenset[str] = frozenset(spec.name for spec in COMMANDS if spec.privileged)


@dataclass(frozen=True)
class ParsedCommand:
    """One command found in a comment.

    `spec` is None for an unknown command that looks like a known one (`/approvers`, `/aprove`):
    worth a `confused` reaction. `error` says why a known command's arguments are unusable.
    """

    name: str  # lower-cased word after the slash
    spec: CommandSpec | None
    argument: str  # the rest of the line, trimmed (a note, a reason, logins)
    logins: tuple[str, ...]  # for /assign and /unassign, without the @
    line: int  # 0-based line in the comment body
    error: str | None = None
    suggestion: str | None = None  # for unknown commands: the closest known name

    @property
    def known(self) -> bool:
        return self.spec is not None

    @property
    def valid(self) -> bool:
        return self.spec is not None and self.error is None


# A line start: at most three spaces (four would be code), an ASCII slash, an ASCII word, then
# the end of the line or a space/tab. Anything else after the word (a letter, `s`, a zero-width
# character, punctuation) means it is not this command.
_LINE_RE = re.compile(r"^ {0,3}/([A-Za-z]+)(?:[ \t]+(.*))?$")
_LOGIN_RE = re.compile(r"^@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})$")
_SUGGEST_CUTOFF = 0.8

_MD = MarkdownIt("commonmark", {"html": True})


def _sentinel_base(body: str) -> str:
    """A marker that does not occur in the body, made of letters only so markdown ignores it."""
    base = "zqissueopscmd"
    lowered = body.lower()
    while base in lowered:
        base += "q"
    return base


def _plain_lines(text: str, candidates: list[int]) -> set[int]:
    """Of the candidate lines, those that render as plain text (not quoted, not code, not HTML).

    Each candidate gets a unique letters-only tag right after its slash; after parsing, a tag
    that shows up in a direct `text` child of an inline token outside any block quote marks
    a plain line. The tag does not change the markdown structure: a slash-word is plain
    paragraph text either way.
    """
    if not candidates:
        return set()
    lines = text.split("\n")
    base = _sentinel_base(text)
    tags = {index: f"{base}{n}x" for n, index in enumerate(candidates)}
    for index, tag in tags.items():
        slash = lines[index].index("/")
        lines[index] = lines[index][: slash + 1] + tag + lines[index][slash + 1 :]
    tokens = _MD.parse("\n".join(lines))
    plain_text: list[str] = []
    quote_depth = 0
    for token in tokens:
        if token.type == "blockquote_open":
            quote_depth += 1
        elif token.type == "blockquote_close":
            quote_depth -= 1
        elif token.type == "inline" and quote_depth == 0:
            plain_text.extend(_direct_text(token))
    joined = "\n".join(plain_text)
    return {index for index, tag in tags.items() if tag in joined}


def _direct_text(token: Token) -> list[str]:
    """Text children of an inline token, excluding code spans, inline HTML and image alt text."""
    return [child.content for child in token.children or () if child.type == "text"]


def _parse_logins(argument: str) -> tuple[tuple[str, ...], str | None]:
    parts = [part for part in re.split(r"[ \t,]+", argument) if part]
    if not parts:
        return (), "name at least one person, e.g. `@octocat`"
    logins: list[str] = []
    for part in parts:
        match = _LOGIN_RE.match(part)
        if match is None:
            return (), f"`{part[:40]}` is not a GitHub login; write it as `@login`"
        if match.group(1).lower() not in (x.lower() for x in logins):
            logins.append(match.group(1))
    return tuple(logins), None


def _suggest(word: str) -> str | None:
    close = difflib.get_close_matches(word, list(COMMANDS_BY_NAME), n=1, cutoff=_SUGGEST_CUTOFF)
    return close[0] if close else None


def _build(word: str, argument: str, line: int) -> ParsedCommand | None:
    name = word.lower()
    spec = COMMANDS_BY_NAME.get(name)
    if spec is None:
        suggestion = _suggest(name)
        if suggestion is None:
            return None  # `/tmp is full`: not addressed to us at all
        return ParsedCommand(name, None, argument, (), line, suggestion=suggestion)
    logins: tuple[str, ...] = ()
    error: str | None = None
    if spec.arg_kind == "logins":
        logins, error = _parse_logins(argument)
    return ParsedCommand(name, spec, argument, logins, line, error=error)


@lru_cache(maxsize=4096)
def parse_commands(body: str) -> tuple[ParsedCommand, ...]:
    """Every command in a comment body, in line order (pure, so results are cached by body)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    matches: dict[int, re.Match[str]] = {}
    for index, line in enumerate(lines):
        match = _LINE_RE.match(line)
        if match is not None:
            matches[index] = match
    plain = _plain_lines(text, sorted(matches))
    found: list[ParsedCommand] = []
    for index in sorted(plain):
        match = matches[index]
        command = _build(match.group(1), (match.group(2) or "").strip(" \t"), index)
        if command is not None:
            found.append(command)
    return tuple(found)


def help_text() -> str:
    """The `/help` answer, generated from the command table."""
    rows = [
        "| command | who may use it | what it does |",
        "| --- | --- | --- |",
    ]
    for spec in COMMANDS:
        usage = f"/{spec.name} {spec.args}".strip()
        rows.append(f"| `{usage}` | {spec.who} | {spec.description} |")
    notes = [
        "",
        "A command counts only at the start of a line, outside quotes and code; commands are "
        "case-insensitive. An edited comment never grants anything: post a new comment instead.",
        "An approval counts for the item's content at the moment it was given: if the title, the body "
        "or the deliverable changes, approve again.",
    ]
    return "\n".join(["**Comment commands**", "", *rows, *notes])
