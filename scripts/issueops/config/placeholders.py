"""The sample config's stand-ins (example.com URLs, the demo's people alice/bob/carol/dave, the
`acme` organisation): left in place they make a pipeline that pings nobody and watches nothing,
so `validate` warns about each, with its `file:line:col`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from issueops.core.errors import Problem

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"https?://(?:[\w-]+\.)*example\.(?:com|org|net)\b[^\s\"']*"),
        "a placeholder URL from the sample config; point it at your own feed or endpoint",
    ),
    (
        re.compile(r"(?<![\w@/.-])(alice|bob|carol|dave)(?![\w-])"),
        "a person from the sample config; replace with a real GitHub login of your repository",
    ),
    (
        re.compile(r"@acme/[\w-]+"),
        "a team of the sample `acme` organisation; replace with your own @org/team",
    ),
)


def _content(line: str) -> str:
    """The line without a YAML comment (a `#` after a space), so documentation does not warn."""
    cut = re.search(r"(^|\s)#", line)
    return line[: cut.start()] if cut else line


def placeholder_warnings(paths: Iterable[Path]) -> list[Problem]:
    """One warning per placeholder found in the given YAML files (files that cannot be read: none)."""
    found: list[Problem] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, start=1):
            text = _content(line)
            for pattern, why in _PATTERNS:
                for match in pattern.finditer(text):
                    found.append(
                        Problem(str(path), number, match.start() + 1, f"{match.group(0)!r} is {why}")
                    )
    return found
