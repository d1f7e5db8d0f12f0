"""The sandbox's stand-in for GitHub Models' inference endpoint: the request shape it accepts
(as GitHub documents it), its answers, its errors, and `inference:` in a scenario."""

from __future__ import annotations

import json
from typing import Any

import pytest

from issueops.core.errors import ConfigError
from issueops.sandbox import Sandbox, SandboxTimeout
from issueops.sandbox.scenario import check_scenario, from_scenario

PATH = "/inference/chat/completions"
GOOD = {
    "model": "openai/gpt-4.1-mini",
    "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "x <item>\nHello\n</item>"}],
}


def post(sb: Sandbox, body: Any, *, token: str | None = "t", method: str = "POST", path: str = PATH) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sb.handle(method, path, headers, raw)


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox()
    sandbox.add_user("u", token="t")
    return sandbox


def test_a_completion_has_the_documented_shape(sb: Sandbox) -> None:
    sb.inference.add({"match": "hello", "answer": {"workflow": "a", "confidence": 0.5, "reason": "r"}})
    reply = post(sb, GOOD)
    assert reply.status == 200
    data = reply.json()
    assert data["object"] == "chat.completion" and data["model"] == "openai/gpt-4.1-mini"
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert json.loads(choice["message"]["content"]) == {"workflow": "a", "confidence": 0.5, "reason": "r"}
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert sb.ledger[-1].path == PATH and sb.ledger[-1].login == "u" and not sb.ledger[-1].counted


def test_the_organisation_attributed_path_is_served(sb: Sandbox) -> None:
    assert post(sb, GOOD, path="/orgs/acme/inference/chat/completions").status == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_request_body"),
        ({"messages": GOOD["messages"]}, 400, "invalid_request_body"),
        ({**GOOD, "model": "acme/unknown"}, 400, "unknown_model"),
        ({**GOOD, "messages": []}, 400, "invalid_request_body"),
        ({**GOOD, "messages": [{"role": "robot", "content": "x"}]}, 400, "invalid_request_body"),
        ({**GOOD, "response_format": {"type": "xml"}}, 400, "invalid_request_body"),
        ({**GOOD, "response_format": {"type": "json_schema"}}, 400, "invalid_request_body"),
    ],
    ids=["not-json", "no-model", "unknown-model", "no-messages", "bad-role", "bad-format", "schema-missing"],
)
def test_bad_requests_are_refused_like_github(sb: Sandbox, body: Any, status: int, code: str) -> None:
    reply = post(sb, body)
    assert reply.status == status and reply.json()["error"]["code"] == code


def test_a_token_is_needed_and_only_post_is_served(sb: Sandbox) -> None:
    assert post(sb, GOOD, token=None).status == 401
    assert post(sb, GOOD, token="wrong").status == 401
    assert post(sb, GOOD, method="GET").status == 405


def test_scripted_429_and_timeout(sb: Sandbox) -> None:
    sb.inference.add(
        {"match": "hello", "status": 429, "retry_after": 30, "times": 1}, {"match": "", "timeout": True}
    )
    limited = post(sb, GOOD)
    assert limited.status == 429 and limited.headers["retry-after"] == "30"
    assert limited.json()["error"]["code"] == "RateLimitReached"
    with pytest.raises(SandboxTimeout):
        post(sb, GOOD)
    assert sb.ledger[-1].fault


def test_unscripted_questions_get_the_default(sb: Sandbox) -> None:
    content = post(sb, GOOD).json()["choices"][0]["message"]["content"]
    assert json.loads(content)["workflow"] == "none"


def test_a_scenario_scripts_the_answers() -> None:
    sandbox = from_scenario(
        {
            "repo": "acme/ops",
            "users": [{"login": "u", "token": "t"}],
            "inference": {"answers": [{"match": "hello", "content": "raw"}], "default": {"workflow": "x"}},
        }
    )
    assert post(sandbox, GOOD).json()["choices"][0]["message"]["content"] == "raw"
    assert sandbox.inference.default == {"workflow": "x"}


def test_a_bad_scripted_answer_is_named() -> None:
    data = {"repo": "acme/ops", "inference": {"answers": [{"match": "x", "answer": {}, "timeout": True}]}}
    problems = [str(p) for p in check_scenario(data)]
    needs = "a scripted answer needs exactly one of answer, content, status, timeout"
    assert problems == [f"<scenario>:1:1: inference.answers: {needs}"]
    with pytest.raises(ConfigError):
        from_scenario({"repo": "acme/ops", "inference": {"answers": [{"bogus": 1}]}})
