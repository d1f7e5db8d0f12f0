"""Untrusted text (feed entries, web pages, issue fields) made safe to post on GitHub.

Whatever a feed or a stranger writes must not run as HTML, restyle the bot's comment, ping a
person or team, or link an issue. The approach: strip invisible control characters, escape
HTML, backslash-escape the Markdown characters that change structure, and put a zero-width
space right after `@` and `#` (and `GH-`) when a name or number follows. GitHub then shows
`@alice` and `#123` as plain text: no notification, no cross-reference, no link. The zero-width
space is invisible, so the text still reads as written.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

GITHUB_BODY_LIMIT = 65_536  # characters, issues and comments alike
GITHUB_TITLE_LIMIT = 256
BODY_BUDGET = 60_000  # what the bot lets itself use: room for markers and notes

ZWSP = "\u200b"
ZWSP_ENTITY = "&#8203;"  # the same character, written so it survives any editor untouched

# Bidirectional overrides and isolates (the "Trojan Source" characters) and the marks that
# only steer them. Letters of right-to-left scripts are kept: they are text, not control.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Invisible characters that could hide or split a mention; ZWJ (emoji sequences) is kept.
_INVISIBLE = frozenset("\u200b\u2060\ufeff\u180e")
_MAX_COMBINING = 2  # marks kept on one base character: enough for real scripts, not for "zalgo"

# Always escaped (structure anywhere on a line), and escaped only where a line begins.
_INLINE_SPECIAL = frozenset("\\`*_[]|~$")
_LINE_START_SPECIAL = frozenset("#-+=")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ORDERED_LIST = re.compile(r"(\d{1,9})([.)])")
# A URL of an issue, pull request or discussion: linking it posts a cross-reference there.
_GITHUB_REF_URL = re.compile(r"(?i)(github\.com/[\w.-]+/[\w.-]+/(?:issues|pull|discussions)/)(?=\d)")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$", re.IGNORECASE)


def clean(text: str) -> str:
    """NFC, `\\n` line ends, no control or bidi-override characters, at most two combining marks
    in a row. Keeps every letter of every script."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    marks = 0
    for ch in text:
        if ch in _BIDI_CONTROLS or ch in _INVISIBLE:
            continue
        category = unicodedata.category(ch)
        if ch == "\t":
            ch = " "
        elif ch != "\n" and category in ("Cc", "Cs"):
            continue  # control characters; lone surrogates could not even be sent as UTF-8
        if category in ("Mn", "Me"):
            marks += 1
            if marks > _MAX_COMBINING:
                continue
        else:
            marks = 0
        out.append(ch)
    return "".join(out)


def _neutral_refs(text: str, index: int, out: list[str], zw: str) -> None:
    """Append a zero-width space when the character at `index` starts a mention or a reference."""
    ch = text[index]
    following = text[index + 1] if index + 1 < len(text) else ""
    mention = ch == "@" and following.isascii() and following.isalnum()
    reference = ch == "#" and following.isascii() and following.isdigit()
    gh_ref = ch == "-" and following.isdigit() and text[max(0, index - 2) : index].lower() == "gh"
    if mention or reference or gh_ref:
        out.append(zw)


def escape_markdown(text: str) -> str:
    """Untrusted text as inert Markdown: renders as the same words, does nothing else."""
    # `clean` removed every zero-width space, so the ones inserted here are the only ones.
    lines = _GITHUB_REF_URL.sub(lambda m: m.group(1) + ZWSP, clean(text)).split("\n")
    rendered: list[str] = []
    for line in lines:
        out: list[str] = []
        lead = len(line) - len(line.lstrip(" "))
        body = line[lead:]
        out.append(line[:lead])
        listed = _ORDERED_LIST.match(body)
        for index, ch in enumerate(body):
            if ch == ZWSP:
                out.append(ZWSP_ENTITY)
            elif ch in _ENTITIES:
                out.append(_ENTITIES[ch])
            elif (
                ch in _INLINE_SPECIAL
                or (index == 0 and ch in _LINE_START_SPECIAL)
                or (listed is not None and index == listed.end(1))
            ):
                out.append("\\" + ch)
            else:
                out.append(ch)
            _neutral_refs(body, index, out, ZWSP_ENTITY)
        rendered.append("".join(out))
    return "\n".join(rendered)


def plain_line(text: str, limit: int = GITHUB_TITLE_LIMIT) -> str:
    """Untrusted text for a title (plain text, one line): no pings, no links, capped."""
    flat = _GITHUB_REF_URL.sub(lambda m: m.group(1) + ZWSP, " ".join(clean(text).split()))
    out: list[str] = []
    for index, ch in enumerate(flat):
        out.append(ch)
        _neutral_refs(flat, index, out, ZWSP)
    return cap(_strip_zw_end("".join(out)), limit)


def _strip_zw_end(text: str) -> str:
    return text.rstrip(ZWSP)


def link(url: str) -> str:
    """An outside URL as a link when it is a plain http(s) URL; as code otherwise, and for
    GitHub issue or PR URLs (a link would post a cross-reference on that issue)."""
    url = clean(url).strip()
    if _SAFE_URL.match(url) and not _GITHUB_REF_URL.search(url):
        return f"<{url}>"
    return code_span(url)


def blockquote(text: str) -> str:
    """Escaped text as a Markdown block quote (one `> ` per line)."""
    return "\n".join(f"> {line}" if line else ">" for line in escape_markdown(text).split("\n"))


def code_span(text: str) -> str:
    """Text shown verbatim in a code span (nothing inside is a mention or a link)."""
    flat = " ".join(clean(text).split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


_ENTITY_TAIL = re.compile(r"&#?[0-9A-Za-z]{0,8}$")


def cap(text: str, limit: int, *, note: str = "…") -> str:
    """At most `limit` characters; a cut never leaves half an entity or a dangling backslash."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(note))]
    cut = _ENTITY_TAIL.sub("", cut)
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]  # half of a backslash escape
    return cut + note


def cap_body(body: str, limit: int = GITHUB_BODY_LIMIT) -> str:
    """A whole comment or issue body within GitHub's limit, saying so when it was cut."""
    return cap(body, limit, note="\n\n_(truncated to fit GitHub's size limit)_\n")


class _TextExtractor(HTMLParser):
    """Visible text of an HTML fragment; block tags become line breaks, scripts vanish."""

    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"}
    )
    _SKIP = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Feed summaries are HTML: keep the words, drop the markup, collapse blank runs."""
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
