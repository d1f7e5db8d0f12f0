"""The comment-command parser on its own: what counts as a command, and the /help table."""

from __future__ import annotations

import pytest

from issueops.approvals.grammar import COMMANDS, help_text, parse_commands

ZWSP, ZWNJ, ZWJ, WJ, BOM = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"

# (name, body, expected [(command, argument)])
PARSE_CASES: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("bare approve", "/approve", [("approve", "")]),
    ("approve with a note", "/approve  LGTM, ship it ", [("approve", "LGTM, ship it")]),
    ("approve with a tab note", "/approve\tok", [("approve", "ok")]),
    ("uppercase", "/APPROVE", [("approve", "")]),
    ("mixed case", "/ApProVe", [("approve", "")]),
    ("up to three spaces of indent", "   /approve", [("approve", "")]),
    ("four spaces is code", "    /approve", []),
    ("tab indent is code", "\t/approve", []),
    ("after text on the next line", "Looks fine.\n/approve", [("approve", "")]),
    ("CRLF line endings", "Looks fine.\r\n/approve\r\n/hold wait\r\n", [("approve", ""), ("hold", "wait")]),
    ("mid-line", "I /approve", []),
    ("block quote", "> /approve", []),
    ("nested block quote", "> > /approve", []),
    ("quote lazy continuation", "> quoted\n/approve", []),
    ("after a quote and blank line", "> quoted\n\n/approve", [("approve", "")]),
    ("fenced backticks", "```\n/approve\n```", []),
    ("fenced with info string", "```text\n/approve\n```\n/hold", [("hold", "")]),
    ("unclosed fence runs to the end", "```\n/approve", []),
    ("tilde fence", "~~~\n/approve\n~~~", []),
    ("inline code", "`/approve`", []),
    ("inline code across lines", "see `x\n/approve` there", []),
    ("indented code block", "text\n\n    /approve\n", []),
    ("html comment block", "<!--\n/approve\n-->", []),
    ("html comment one line", "<!-- /approve -->", []),
    ("html comment inline across lines", "hi <!--\n/approve\n--> there", []),
    ("unclosed html comment", "<!--\n/approve", []),
    ("raw html block", "<details>\n/approve\n</details>", []),
    ("html block then blank then command", "<details>\n\n/approve\n\n</details>", [("approve", "")]),
    ("inside a list item continuation", "- item\n  /approve", [("approve", "")]),
    ("list marker before is not line start", "- /approve", []),
    ("heading marker before", "# /approve", []),
    ("setext heading text counts", "/approve\n---", [("approve", "")]),
    ("escaped slash", "\\/approve", []),
    ("entity slash", "&#47;approve", []),
    ("division slash look-alike", "\u2215approve", []),
    ("fullwidth solidus look-alike", "\uff0fapprove", []),
    ("fraction slash look-alike", "\u2044approve", []),
    ("zero-width space before", ZWSP + "/approve", []),
    ("zero-width joiner before", ZWJ + "/approve", []),
    ("word joiner before", WJ + "/approve", []),
    ("byte order mark before", BOM + "/approve", []),
    ("zero-width inside", "/appr" + ZWNJ + "ove", []),
    ("zero-width right after", "/approve" + ZWSP, []),
    ("cyrillic a in the word", "/\u0430pprove", []),
    ("punctuation after the word", "/approve.", []),
    ("approvers is unknown, not approve", "/approvers", [("approvers", "")]),
    ("misspelling is unknown", "/aprove", [("aprove", "")]),
    ("path is not a command", "/usr/bin is full", []),
    ("unrelated slash word is ignored", "/shrug", []),
    (
        "every command once",
        "/approve\n/reject no\n/cancel\n/hold x\n/unhold\n/retry\n/help",
        [
            ("approve", ""),
            ("reject", "no"),
            ("cancel", ""),
            ("hold", "x"),
            ("unhold", ""),
            ("retry", ""),
            ("help", ""),
        ],
    ),
    ("sentinel look-alike text in the body", "zqissueopscmd0x\n/approve", [("approve", "")]),
]


@pytest.mark.parametrize(
    ("body", "expected"), [(b, e) for _, b, e in PARSE_CASES], ids=[n for n, _, _ in PARSE_CASES]
)
def test_parse(body: str, expected: list[tuple[str, str]]) -> None:
    assert [(c.name, c.argument) for c in parse_commands(body)] == expected


def test_unknown_commands_carry_a_suggestion() -> None:
    (found,) = parse_commands("/approvers")
    assert found.spec is None and not found.valid and found.suggestion == "approve"


LOGIN_CASES: list[tuple[str, str, tuple[str, ...], bool]] = [
    ("one login", "/assign @bob", ("bob",), True),
    ("several logins", "/assign @bob, @carol @bob", ("bob", "carol"), True),
    ("hyphenated login", "/unassign @octo-cat", ("octo-cat",), True),
    ("missing at sign", "/assign bob", (), False),
    ("nothing named", "/assign", (), False),
    ("trailing hyphen", "/assign @bob-", (), False),
    ("zero-width in the login", "/assign @b" + ZWSP + "ob", (), False),
]


@pytest.mark.parametrize(
    ("body", "logins", "valid"), [c[1:] for c in LOGIN_CASES], ids=[c[0] for c in LOGIN_CASES]
)
def test_login_arguments(body: str, logins: tuple[str, ...], valid: bool) -> None:
    (found,) = parse_commands(body)
    assert found.logins == logins
    assert found.valid is valid
    if not valid:
        assert found.error


def test_help_is_generated_from_the_table() -> None:
    text = help_text()
    for spec in COMMANDS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `/{spec.name}"))
        assert spec.description in row and spec.who in row
    assert text.count("\n| `/") == len(COMMANDS)


def test_help_lists_the_contract_commands() -> None:
    names = {spec.name for spec in COMMANDS}
    assert names == {
        *("approve", "reject", "hold", "unhold", "retry", "assign", "unassign", "cancel", "help"),
        *("brake", "resume"),  # the brake's own (issue #19)
    }
    privileged = {spec.name for spec in COMMANDS if spec.privileged}
    assert {"approve", "reject", "retry", "unhold", "assign", "hold"} <= privileged
    assert not {"cancel", "help"} & privileged


def test_help_text_has_no_commands_of_its_own() -> None:
    """The bot's help reply must never read as commands (it is also skipped as the bot's)."""
    assert parse_commands(help_text()) == ()
