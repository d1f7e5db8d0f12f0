"""The conditional-request cache: ETag and the fields we read per URL, kept between runs in one file.

A GET sent with `If-None-Match` that GitHub answers 304 does not count against the primary
rate limit, so an unchanged repository costs about nothing to read again. The server validates
every ETag, so a stale or foreign entry can only cost a normal 200, never a wrong answer.

What it holds is what a run needs, not a fixed number of URLs: a run visits its URLs in the
same order every time, so an entry-count LRU smaller than one run evicts every entry before it
is reused. Entries are bounded by bytes instead (far above what one repository's runs touch),
least recently used first. Each body is cut down to the fields the adapter reads back
(`KEPT_FIELDS`), and the file is gzip-compressed JSON: well under 1 KB an item.

Beside HTTP entries it keeps *memos*: a value derived from GitHub together with the version it
was read at (an item's label history at its `updated_at`), valid while that version stands.
The file is replaced atomically (temp file + rename): a run killed mid-write leaves the old file.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2
KEPT_HEADERS = ("link", "content-type")  # what a replayed 200 needs (pagination, JSON)
MAX_BODY_CHARS = 4_000_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # of kept text; the compressed file is several times smaller
MEMO_PREFIX = "memo:"

# Every field of a GitHub answer that `convert.py` and `adapter.py` read, at any depth; the rest
# of a cached body is dropped. A field missing here is a `ContractError` (or a different answer)
# on a replayed 304, which tests/github/test_github_cache_fields.py catches for every read.
KEPT_FIELDS = frozenset(
    {
        # issues, comments, label events, pull requests (convert.py)
        *("number", "title", "body", "state", "state_reason", "locked", "comments", "pull_request"),
        *("user", "login", "type", "labels", "name", "assignees", "id", "issue_url"),
        *("created_at", "updated_at", "closed_at", "event", "label", "actor"),
        *("head", "base", "ref", "sha", "merged", "merged_at"),
        # search, permissions, the repository, git objects, labels, errors (adapter.py)
        *("items", "total_count", "incomplete_results", "repository_url", "html_url"),
        *("role_name", "permission", "default_branch", "object", "tree", "path", "mode", "truncated"),
        *("color", "description", "slug", "message", "errors", "code"),
        # who commented in what capacity (the cheap refusal of strangers), timeline cross-references
        # (Copilot's pull request), and the App's installation listings (the fleet)
        *("author_association", "source", "issue", "draft"),
        *("repositories", "full_name", "topics", "account", "archived", "disabled", "expires_at"),
    }
)


def slim(value: Any) -> Any:
    """`value` with only `KEPT_FIELDS` left in every object, however deep."""
    if isinstance(value, dict):
        return {k: slim(v) for k, v in value.items() if k in KEPT_FIELDS}
    if isinstance(value, list):
        return [slim(v) for v in value]
    return value


def _kept_only(value: dict[str, Any]) -> dict[str, Any]:
    """`slim` for one object as the decoder builds it (its members are already slimmed)."""
    for key in [k for k in value if k not in KEPT_FIELDS]:
        del value[key]
    return value


def slim_body(body: str) -> str:
    """A JSON body cut to the fields we read (compact separators); any other text unchanged.

    The decoder drops the other fields as it builds each object (what `slim` does afterwards,
    in half the time: a page of 100 issues is 270 KB of JSON)."""
    try:
        data = json.loads(body, object_hook=_kept_only)
    except ValueError:
        return body
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class CachedReply:
    etag: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def size(self, key: str) -> int:
        headers = sum(len(k) + len(v) for k, v in self.headers.items())
        return len(key) + len(self.etag) + len(self.body) + headers


class EtagCache:
    """URL -> (ETag, slimmed body, a few headers) and memos, bounded by bytes; `save()` persists it."""

    def __init__(self, path: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedReply] = OrderedDict()
        self._bytes = 0
        self._dirty = False
        self.load_problem: str | None = None  # why an existing file was ignored, if it was
        self.hits = 0
        self.memo_hits = 0
        self.evicted = 0

    @classmethod
    def load(cls, path: Path | None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> EtagCache:
        """Read the file if there is one; a missing or unreadable file means an empty cache."""
        cache = cls(path, max_bytes=max_bytes)
        if path is None or not path.exists():
            return cache
        try:
            raw = path.read_bytes()
            data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
            if not isinstance(data, dict) or data.get("version") not in (1, FORMAT_VERSION):
                raise ValueError("unknown format version")
            if data["version"] == 1:  # whole bodies, a dict: slimmed on the way in
                rows = [
                    (k, e["etag"], slim_body(str(e["body"])), e.get("headers", {}))
                    for k, e in data["entries"].items()
                ]
            else:
                rows = data["entries"]
            for key, etag, body, headers in rows:
                cache._store(
                    str(key),
                    CachedReply(str(etag), str(body), {str(k): str(v) for k, v in headers.items()}),
                )
        except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
            cache._entries.clear()
            cache._bytes = 0
            cache.load_problem = f"{path}: ignored ({exc}); it is rebuilt on save"
        cache._dirty = False
        return cache

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """The kept text, in characters (the byte budget's measure)."""
        return self._bytes

    def get(self, key: str) -> CachedReply | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def hit(self, key: str) -> CachedReply | None:
        """`get` for a 304 answer: counts the hit."""
        entry = self.get(key)
        if entry is not None:
            self.hits += 1
        return entry

    def put(self, key: str, etag: str, body: str, headers: dict[str, str]) -> str:
        """Keep a 200 answer (its body slimmed); returns the body as kept, the one a 304 replays."""
        if not etag or len(body) > MAX_BODY_CHARS:
            return body
        kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
        entry = CachedReply(etag=etag, body=slim_body(body), headers=kept)
        self._store(key, entry)
        return entry.body

    # --- memos: derived values valid while their version stands ---------------------------------

    def recall(self, key: str, version: str) -> str | None:
        """The memo `key` if it was remembered at `version`, else None (and it is then stale)."""
        entry = self.get(MEMO_PREFIX + key)
        if entry is None or entry.etag != version:
            return None
        self.memo_hits += 1
        return entry.body

    def remember(self, key: str, version: str, value: str) -> None:
        if len(value) <= MAX_BODY_CHARS:
            self._store(MEMO_PREFIX + key, CachedReply(etag=version, body=value))

    def forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size(key)
            self._dirty = True

    def _store(self, key: str, entry: CachedReply) -> None:
        old = self._entries.get(key)
        if old == entry:
            self._entries.move_to_end(key)
            return
        if old is not None:
            self._bytes -= old.size(key)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._bytes += entry.size(key)
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            gone, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size(gone)
            self.evicted += 1
        self._dirty = True

    def save(self) -> bool:
        """Write the file atomically if anything changed; returns whether it wrote."""
        if self.path is None or not self._dirty:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": FORMAT_VERSION,
            "entries": [[key, e.etag, e.body, e.headers] for key, e in self._entries.items()],
        }
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=".etags-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(gzip.compress(data, compresslevel=6, mtime=0))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._dirty = False
        return True
