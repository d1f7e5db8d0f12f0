"""HTTP health checks: expected status, optional body pattern, latency bound."""

from __future__ import annotations

import re

from issueops.config.settings import HttpCheckSource
from issueops.sources.base import CheckResult, Fetch, FetchError, SourceResult

MAX_SCANNED_BYTES = 1_000_000  # the body pattern looks at the first megabyte


def evaluate(source: HttpCheckSource, status: int, body: bytes, elapsed_ms: float) -> CheckResult:
    """Pure verdict on one response; the first failed condition is the reason."""
    if status != source.expected_status:
        return CheckResult(False, f"HTTP {status}, expected {source.expected_status}", status, elapsed_ms)
    if elapsed_ms > source.max_latency_ms:
        return CheckResult(
            False, f"slow: {elapsed_ms:.0f} ms, limit {source.max_latency_ms} ms", status, elapsed_ms
        )
    if source.body_pattern is not None:
        text = body[:MAX_SCANNED_BYTES].decode("utf-8", "replace")
        if re.search(source.body_pattern, text) is None:
            return CheckResult(False, "the body does not match body_pattern", status, elapsed_ms)
    return CheckResult(True, f"HTTP {status} in {elapsed_ms:.0f} ms", status, elapsed_ms)


def run_check(source: HttpCheckSource, fetch: Fetch) -> SourceResult:
    """One request; no answer at all is a failed check too (that is what a check is for)."""
    try:
        response = fetch(source.url, source.timeout_seconds)
    except (FetchError, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        return SourceResult(source.name, "http", check=CheckResult(False, f"no answer: {detail}"))
    try:
        result = evaluate(source, response.status, response.body, response.elapsed_ms)
    except re.error as exc:
        return SourceResult(
            source.name,
            "http",
            error=f"source {source.name}: body_pattern is not a valid regex ({exc}); fix it in the config",
        )
    return SourceResult(source.name, "http", check=result)
