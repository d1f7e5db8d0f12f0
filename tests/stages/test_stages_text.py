"""Untrusted text made inert: escaping, neutralised mentions and references, caps."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from issueops.stages.text import (
    GITHUB_BODY_LIMIT,
    ZWSP,
    ZWSP_ENTITY,
    blockquote,
    cap,
    cap_body,
    clean,
    code_span,
    escape_markdown,
    html_to_text,
    plain_line,
)

MD = MarkdownIt("commonmark")


def rendered(markdown: str) -> str:
    return MD.render(markdown)


def visible(html: str) -> str:
    """The text a reader sees: tags dropped, entities and the zero-width space resolved."""
    text = re.sub(r"<[^>]+>", "", html)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    return text.replace(ZWSP, "").strip()


MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")  # what GitHub would link as a mention
REFERENCE = re.compile(r"(?<![\w&])#\d")  # what GitHub would link as an issue reference


@pytest.mark.parametrize(
    ("text", "expected_visible"),
    [
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("**bold** and _em_", "**bold** and _em_"),
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
        ("![pixel](https://tracker.example/p.gif)", "![pixel](https://tracker.example/p.gif)"),
        ("# Heading", "# Heading"),
        ("- item", "- item"),
        ("1. first", "1. first"),
        ("> quoted", "> quoted"),
        ("a | b | c", "a | b | c"),
        ("`code`", "`code`"),
        ("AT&amp;T", "AT&amp;T"),
        ("price $5 and $6", "price $5 and $6"),
        ("~~gone~~", "~~gone~~"),
    ],
    ids=[
        "script-tag",
        "emphasis",
        "javascript-link",
        "tracking-image",
        "heading",
        "bullet",
        "ordered-list",
        "blockquote",
        "table-pipes",
        "code-span",
        "entity-stays-literal",
        "math-dollars",
        "strikethrough",
    ],
)
def test_escape_markdown_renders_the_same_words_and_nothing_else(text: str, expected_visible: str) -> None:
    html = rendered(escape_markdown(text))
    assert "<script" not in html and "<a " not in html and "<img" not in html and "<h1" not in html
    assert "<li" not in html and "<blockquote" not in html and "<code" not in html and "<strong" not in html
    assert visible(html) == expected_visible


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("ping @alice please", MENTION),
        ("@acme/ops-team look", MENTION),
        ("see #123", REFERENCE),
        ("acme/ops#7 is related", REFERENCE),
        ("#1 at line start", REFERENCE),
        ("fixed in GH-42", re.compile(r"GH-\d", re.I)),
    ],
    ids=["user-mention", "team-mention", "issue-ref", "cross-repo-ref", "ref-at-line-start", "gh-ref"],
)
def test_mentions_and_references_do_not_ping_or_link(text: str, forbidden: re.Pattern[str]) -> None:
    escaped = escape_markdown(text)
    assert ZWSP_ENTITY in escaped
    html = rendered(escaped)
    raw_text = re.sub(r"<[^>]+>", "", html).replace("&amp;", "&")
    assert not forbidden.search(raw_text.replace("&#8203;", ZWSP))
    # ...and still reads the same
    assert visible(html).replace("\\", "") == text


def test_email_addresses_read_normally() -> None:
    assert visible(rendered(escape_markdown("mail ops@example.com"))) == "mail ops@example.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc\u202edcba", "abcdcba"),  # right-to-left override (Trojan Source) dropped
        ("שלום עולם", "שלום עולם"),  # Hebrew letters kept
        ("مرحبا", "مرحبا"),  # Arabic letters kept
        ("e\u0301", "é"),  # NFC composes
        ("Z" + "\u0336" * 40, "Z\u0336\u0336"),  # zalgo capped to two marks
        ("a\x00b\x07c", "abc"),  # control characters dropped
        ("line\r\nnext", "line\nnext"),
        ("tab\there", "tab here"),
        ("hidden\u200b@alice", "hidden@alice"),  # a pre-existing zero-width space cannot smuggle
        ("a\ud800b", "ab"),  # a lone surrogate cannot be sent as UTF-8
        ("flag \U0001f3f4\U000e0067\U000e0062\U000e007f", "flag \U0001f3f4\U000e0067\U000e0062\U000e007f"),
    ],
    ids=[
        "rtl-override",
        "hebrew",
        "arabic",
        "combining-nfc",
        "zalgo",
        "controls",
        "crlf",
        "tab",
        "zwsp",
        "lone-surrogate",
        "emoji-tag-sequence-kept",
    ],
)
def test_clean(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_plain_line_for_titles() -> None:
    title = plain_line("  Outage\n@alice   #12 {{ 7*7 }}  ")
    assert title == f"Outage @{ZWSP}alice #{ZWSP}12 {{{{ 7*7 }}}}"
    assert len(plain_line("x" * 1000)) == 256


def test_code_span_with_backticks() -> None:
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    html = rendered(code_span("@alice <b>"))
    assert "<code>@alice &lt;b&gt;</code>" in html


def test_blockquote_prefixes_every_line() -> None:
    assert blockquote("a\n\nb") == "> a\n>\n> b"


@pytest.mark.parametrize(
    ("text", "limit"),
    [("&amp;" * 10, 13), ("\\*" * 10, 9), ("plain text here", 8), ("short", 10)],
    ids=["entity-not-split", "escape-not-split", "plain", "no-cut"],
)
def test_cap_never_splits_an_escape(text: str, limit: int) -> None:
    out = cap(text, limit)
    assert len(out) <= limit
    body = out.removesuffix("…")
    assert not re.search(r"&[#0-9A-Za-z]*$", body)
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


def test_hostile_full_size_body_is_capped_to_the_limit() -> None:
    hostile = ("@everyone <script>x</script> #1 " * 3000)[:GITHUB_BODY_LIMIT]
    assert len(hostile) == GITHUB_BODY_LIMIT
    out = cap_body(escape_markdown(hostile))
    assert len(out) <= GITHUB_BODY_LIMIT
    assert "<script" not in out and "truncated" in out


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Hello <b>world</b></p><p>Second</p>", "Hello world\n\nSecond"),
        ("a<br>b", "a\nb"),
        ("<script>alert(1)</script>kept", "kept"),
        ("AT&amp;T &lt;tag&gt;", "AT&T <tag>"),
        ("plain text", "plain text"),
    ],
    ids=["paragraphs", "br", "script-dropped", "entities", "plain"],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://status.example.com/a_b*c*", "<https://status.example.com/a_b*c*>"),
        ("https://github.com/acme/web/issues/5", "`https://github.com/acme/web/issues/5`"),
        ("https://github.com/acme/web/releases/tag/v1", "<https://github.com/acme/web/releases/tag/v1>"),
        ("javascript:alert(1)", "`javascript:alert(1)`"),
        ("https://x.example/<script>", "`https://x.example/<script>`"),
    ],
    ids=["plain", "github-issue", "github-release", "javascript", "angle-brackets"],
)
def test_link(url: str, expected: str) -> None:
    from issueops.stages.text import link

    assert link(url) == expected


def test_github_issue_urls_in_text_do_not_cross_reference() -> None:
    escaped = escape_markdown("dup of https://github.com/acme/web/pull/12 and GitHub.com/a/b/issues/3")
    assert "pull/&#8203;12" in escaped and "issues/&#8203;3" in escaped
    assert plain_line("see github.com/a/b/issues/3") == f"see github.com/a/b/issues/{ZWSP}3"
