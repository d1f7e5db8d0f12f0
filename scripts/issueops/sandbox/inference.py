"""A deterministic stand-in for GitHub Models' inference endpoint.

`POST /inference/chat/completions` (and the organisation-attributed
`/orgs/{org}/inference/chat/completions`) with the request and response shapes GitHub documents
for the Models REST API: a body with `model` (`publisher/name`) and `messages`, optional
`response_format`; an OpenAI-style `chat.completion` answer, or `{"error": {code, message}}`.
What the "model" says is scripted per scenario: each entry matches the item text (the part of
the user message between `<item>` markers) and answers with a JSON object, raw text (malformed
JSON), an error status (429 with `retry-after`) or no answer at all (a timeout). Unmatched
questions get `default`. Every request body is kept in `requests` for tests to read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INFERENCE_PATH = re.compile(r"^/(?:orgs/[^/]+/)?inference/chat/completions/?$")
KNOWN_MODELS = frozenset(
    {"openai/gpt-4.1-mini", "openai/gpt-4.1", "openai/gpt-4.1-nano", "openai/gpt-4o", "openai/gpt-4o-mini"}
)
ROLES = frozenset({"system", "user", "assistant", "developer"})
DEFAULT_ANSWER: Mapping[str, Any] = {"workflow": "none", "confidence": 0.0, "reason": "no scripted answer"}
_ITEM = re.compile(r"<item>\n?(.*?)\n?</item>", re.DOTALL)


@dataclass
class Scripted:
    """One scripted answer. `match` is a case-insensitive substring of the item text ("" = any)."""

    match: str = ""
    answer: Mapping[str, Any] | None = None  # sent as the message content, as JSON
    content: str | None = None  # the message content as is (e.g. malformed JSON)
    status: int | None = None  # an error answer instead (e.g. 429)
    retry_after: int | None = None
    timeout: bool = False  # no answer at all
    times: int | None = None  # fires this many times, then falls through; None: every time
    fired: int = 0

    def __post_init__(self) -> None:
        given = [self.answer is not None, self.content is not None, self.status is not None, self.timeout]
        if sum(given) != 1:
            raise ValueError("a scripted answer needs exactly one of answer, content, status, timeout")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Scripted:
        allowed = {"match", "answer", "content", "status", "retry_after", "timeout", "times"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"scripted answer: unknown keys {unknown}; allowed: {sorted(allowed)}")
        return cls(**dict(data))


class InferenceTimeout(Exception):
    """A scripted timeout: the transport raises a read timeout."""


@dataclass
class InferenceStandIn:
    script: list[Scripted] = field(default_factory=list)
    default: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_ANSWER))
    requests: list[dict[str, Any]] = field(default_factory=list)
    limit_per_minute: int = 15

    def add(self, *entries: Scripted | Mapping[str, Any]) -> None:
        for entry in entries:
            self.script.append(entry if isinstance(entry, Scripted) else Scripted.from_mapping(entry))

    def handle(self, body: bytes | None, now: int) -> tuple[int, dict[str, str], dict[str, Any]]:
        """One request (already authenticated). Raises InferenceTimeout for a scripted timeout."""
        try:
            request = json.loads(body or b"")
        except ValueError:
            return _error(400, "invalid_request_body", "The request body is not valid JSON.")
        problem = _check(request)
        if problem is not None:
            return _error(400, *problem)
        self.requests.append(request)
        item = _item_text(request)
        entry = self._pick(item)
        if entry is not None and entry.timeout:
            raise InferenceTimeout("scripted timeout")
        if entry is not None and entry.status is not None:
            wait = entry.retry_after or 60
            message = (
                f"Rate limit of {self.limit_per_minute} per 60s exceeded for UserByModelByMinute. "
                f"Please wait {wait} seconds before retrying."
            )
            headers = {"retry-after": str(wait)} if entry.status == 429 else {}
            code = "RateLimitReached" if entry.status == 429 else "scripted_error"
            return entry.status, headers, {"error": {"code": code, "message": message, "details": message}}
        if entry is not None and entry.content is not None:
            content = entry.content
        else:
            scripted = entry.answer if entry is not None else None
            content = json.dumps(scripted if scripted is not None else self.default)
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in request["messages"]) // 4
        completion_tokens = max(1, len(content) // 4)
        return (
            200,
            {"x-ratelimit-limit-requests": str(self.limit_per_minute)},
            {
                "id": f"chatcmpl-sbx-{len(self.requests)}",
                "object": "chat.completion",
                "created": now,
                "model": request["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def _pick(self, item: str) -> Scripted | None:
        lowered = item.lower()
        for entry in self.script:
            if entry.times is not None and entry.fired >= entry.times:
                continue
            if entry.match.lower() in lowered:
                entry.fired += 1
                return entry
        return None


def _item_text(request: Mapping[str, Any]) -> str:
    users = [m for m in request["messages"] if m.get("role") == "user"]
    text = str(users[-1].get("content", "")) if users else ""
    found = _ITEM.search(text)
    return found.group(1) if found else text


def _check(request: Any) -> tuple[str, str] | None:
    """What GitHub documents as required: `model` and `messages` (each with role and content)."""
    if not isinstance(request, dict):
        return "invalid_request_body", "The request body must be a JSON object."
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return "invalid_request_body", "model is required."
    if model not in KNOWN_MODELS:
        return "unknown_model", f"Unknown model: {model}"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "invalid_request_body", "messages is required and must be a non-empty array."
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return "invalid_request_body", "each message needs a role: system, user, assistant or developer."
        if not isinstance(message.get("content"), str):
            return "invalid_request_body", "each message needs a content string."
    fmt = request.get("response_format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return "invalid_request_body", "response_format.type must be text, json_object or json_schema."
        if kind == "json_schema" and not isinstance(fmt.get("json_schema"), dict):
            return "invalid_request_body", "response_format.json_schema is required for type json_schema."
    return None


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    return status, {}, {"error": {"code": code, "message": message}}
