"""The conditional-request cache: ETag and body per URL, kept between runs in one JSON file.

A GET sent with `If-None-Match` that GitHub answers 304 does not count against the primary
rate limit, so an unchanged repository costs about nothing to read again. The server validates
every ETag, so a stale or foreign entry can only cost a normal 200, never a wrong answer.
The file is replaced atomically (temp file + rename): a run killed mid-write leaves the old file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

FORMAT_VERSION = 1
KEPT_HEADERS = ("link", "content-type")  # what a replayed 200 needs (pagination, JSON)
MAX_BODY_CHARS = 4_000_000


@dataclass(frozen=True)
class CachedReply:
    etag: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class EtagCache:
    """Least-recently-used map of URL -> (ETag, body, a few headers); `save()` persists it."""

    def __init__(self, path: Path | None = None, *, max_entries: int = 2000) -> None:
        self.path = path
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CachedReply] = OrderedDict()
        self._dirty = False
        self.load_problem: str | None = None  # why an existing file was ignored, if it was
        self.hits = 0

    @classmethod
    def load(cls, path: Path | None, *, max_entries: int = 2000) -> EtagCache:
        """Read the file if there is one; a missing or unreadable file means an empty cache."""
        cache = cls(path, max_entries=max_entries)
        if path is None or not path.exists():
            return cache
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError("unknown format version")
            for key, raw in data["entries"].items():
                cache._entries[str(key)] = CachedReply(
                    etag=str(raw["etag"]),
                    body=str(raw["body"]),
                    headers={str(k): str(v) for k, v in raw.get("headers", {}).items()},
                )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            cache._entries.clear()
            cache.load_problem = f"{path}: ignored ({exc}); it is rebuilt on save"
        return cache

    def __len__(self) -> int:
        return len(self._entries)

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

    def put(self, key: str, etag: str, body: str, headers: dict[str, str]) -> None:
        if not etag or len(body) > MAX_BODY_CHARS:
            return
        kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
        entry = CachedReply(etag=etag, body=body, headers=kept)
        if self._entries.get(key) == entry:
            self._entries.move_to_end(key)
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        self._dirty = True

    def forget(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self._dirty = True

    def save(self) -> bool:
        """Write the file atomically if anything changed; returns whether it wrote."""
        if self.path is None or not self._dirty:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": FORMAT_VERSION,
            "entries": {
                key: {"etag": e.etag, "body": e.body, "headers": e.headers}
                for key, e in self._entries.items()
            },
        }
        fd, tmp = tempfile.mkstemp(prefix=".etags-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._dirty = False
        return True
