"""Content fingerprints and the hidden record the bot keeps in its status comment.

GitHub keeps no old issue bodies, so "was this approval given on the current content?" can
only be answered by remembering, at the moment the bot first saw an approval, which content was
current. That memory lives in the bot's own status comment as JSON inside an HTML comment. It is
trusted only when the bot's own account wrote the comment (the caller checks the author).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from issueops.core.model import WorkItem

RECORD_VERSION = 1
RECORD_TAG = "issueops:status-record"
_RECORD_RE = re.compile(r"<!-- " + re.escape(RECORD_TAG) + r" (\{.*?\}) -->", re.DOTALL)

Denied = tuple[str, str, str]  # (login, source, reason)


def fingerprint(item: WorkItem, head_sha: str | None) -> str:
    """Short sha256 of what an approver approves: title, body and the deliverable's head commit.

    Line endings and surrounding whitespace are normalised so that a web-form save that only
    turns LF into CRLF does not lapse every approval.
    """
    body = item.body.replace("\r\n", "\n").replace("\r", "\n").strip()
    payload = json.dumps([item.title.strip(), body, head_sha or ""], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class StatusRecord:
    """What the bot has already seen and said about an item's approvals.

    Sources name where a vote came from: `c:<comment id>` for a comment, `l:<login>@<time>` for an
    `approval::approved` label application, `c:<id>:<command>` for other commands' denials.
    """

    fingerprint: str = ""
    bindings: Mapping[str, str] = field(default_factory=dict)  # approve source -> fingerprint first seen
    granted: frozenset[str] = frozenset()  # sources ever counted (approval.granted already sent)
    counted: Mapping[str, str] = field(default_factory=dict)  # source -> login, counted at the last run
    lapsed: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # source -> (login, reason)
    denied: frozenset[Denied] = frozenset()
    processed: frozenset[int] = frozenset()  # command comments whose effects were applied


def _escape(text: str) -> str:
    """JSON that cannot close the HTML comment around it (`<` and `>` only occur inside strings)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def render_record(record: StatusRecord) -> str:
    """The hidden HTML comment carrying `record`, deterministic (sorted) so replays compare equal."""
    data: dict[str, Any] = {
        "v": RECORD_VERSION,
        "fp": record.fingerprint,
        "bind": dict(sorted(record.bindings.items())),
        "granted": sorted(record.granted),
        "counted": dict(sorted(record.counted.items())),
        "lapsed": {src: list(value) for src, value in sorted(record.lapsed.items())},
        "denied": [list(entry) for entry in sorted(record.denied)],
        "processed": sorted(record.processed),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"<!-- {RECORD_TAG} {_escape(text)} -->"


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValueError("expected strings")
        out[key] = item
    return out


def _str_list(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError("expected a list of strings")
    return list(value)


def _from_json(data: object) -> StatusRecord:
    if not isinstance(data, dict) or data.get("v") != RECORD_VERSION:
        raise ValueError("unknown record version")
    fp = data.get("fp", "")
    if not isinstance(fp, str):
        raise ValueError("fp")
    lapsed_raw = data.get("lapsed", {})
    if not isinstance(lapsed_raw, dict):
        raise ValueError("lapsed")
    lapsed: dict[str, tuple[str, str]] = {}
    for src, pair in lapsed_raw.items():
        values = _str_list(pair)
        if len(values) != 2:
            raise ValueError("lapsed entry")
        lapsed[str(src)] = (values[0], values[1])
    denied: set[Denied] = set()
    denied_raw = data.get("denied", [])
    if not isinstance(denied_raw, list):
        raise ValueError("denied")
    for entry in denied_raw:
        values = _str_list(entry)
        if len(values) != 3:
            raise ValueError("denied entry")
        denied.add((values[0], values[1], values[2]))
    processed_raw = data.get("processed", [])
    if not isinstance(processed_raw, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in processed_raw
    ):
        raise ValueError("processed")
    return StatusRecord(
        fingerprint=fp,
        bindings=_str_map(data.get("bind", {})),
        granted=frozenset(_str_list(data.get("granted", []))),
        counted=_str_map(data.get("counted", {})),
        lapsed=lapsed,
        denied=frozenset(denied),
        processed=frozenset(processed_raw),
    )


def parse_status_record(comment_body: str) -> StatusRecord | None:
    """The record in a status comment body, or None when absent or malformed.

    The last occurrence wins: the bot writes its record at the very end, after any text quoted
    from people, so a look-alike record smuggled into a quoted reason cannot take its place.
    """
    found = _RECORD_RE.findall(comment_body)
    if not found:
        return None
    try:
        return _from_json(json.loads(found[-1]))
    except (ValueError, TypeError):
        return None
