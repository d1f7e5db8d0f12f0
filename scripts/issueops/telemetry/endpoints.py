"""Monitoring endpoint URLs: only http(s) is ever opened, and a password never reaches a message."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def http_url(url: str, *, what: str) -> str:
    """`host:9091` means http; only http and https with a host are accepted (never file: or ftp:)."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    split = urlsplit(text)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ValueError(f"{what} URL {safe_url(url)!r} must be http(s)://HOST[:PORT]")
    return urlunsplit(split)


def safe_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    split = urlsplit(url if "://" in url else f"http://{url}")
    if split.username is None and split.password is None:
        return url
    host = split.hostname or ""
    netloc = f"{host}:{split.port}" if split.port else host
    return urlunsplit(split._replace(netloc=netloc))
