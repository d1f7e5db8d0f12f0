"""The GitHub Models inference endpoint, through its own API governor.

One POST per question to `.../inference/chat/completions` (GitHub's documented request and
response shapes, an OpenAI-style chat completion). The governor is the same class that guards
the REST calls, in a second instance so the model's requests are budgeted and counted apart:
its budget is `assign.model.max_calls_per_run`, its pace `requests_per_minute`; a 429 with
`retry-after` is waited out when short and ends the model's part of the run when long. Any
failure is a `ModelsUnavailable` with a short reason: the caller falls back to the rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import requests

from issueops.config.settings import ApiConfig, ModelAssignConfig
from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.github.clock import Clock
from issueops.github.governor import (
    EventSink,
    Governor,
    GovernorSettings,
    HttpReply,
    HttpRequest,
    TransportError,
)

USER_AGENT = "issueops (models)"
API_VERSION = "2022-11-28"
MODEL_MAX_RETRIES = 1  # one more try after a timeout or 5xx: the rules are a fine answer too


class ModelsUnavailable(Exception):
    """No usable reply; `reason` is short and carries no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def model_governor_settings(settings: ModelAssignConfig, api: ApiConfig) -> GovernorSettings:
    """The model's own budget and pace; waits are capped by the config's `max_wait_seconds`."""
    return GovernorSettings(
        max_requests=settings.max_calls_per_run,
        reserve=0,
        writes_per_minute=settings.requests_per_minute,
        min_write_interval=60.0 / settings.requests_per_minute,
        max_wait=min(api.max_wait_seconds, 2 * settings.timeout_seconds),
        max_retries=MODEL_MAX_RETRIES,
    )


def model_events(sink: EventSink) -> EventSink:
    """The governor's `api.*` events under `model.*` names, so they are counted apart."""

    def emit(event: str, fields: dict[str, object]) -> None:
        sink(event.replace("api.", "model.", 1) if event.startswith("api.") else event, fields)

    return emit


def _error_message(body: str) -> str:
    """GitHub Models answers errors as {"error": {"code", "message"}}; REST as {"message"}."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or error.get("message") or "")
    return str(data.get("message") or "")


class ModelsApi:
    """Sends chat-completion requests; remembers a stop (quota, credentials) for the rest of the run."""

    def __init__(
        self,
        settings: ModelAssignConfig,
        token: str,
        *,
        api: ApiConfig,
        clock: Clock,
        on_event: EventSink | None = None,
    ) -> None:
        self.endpoint = settings.endpoint
        self.timeout = settings.timeout_seconds
        self.governor = Governor(
            model_governor_settings(settings, api),
            clock=clock,
            on_event=model_events(on_event) if on_event else None,
            secrets=(token,),
        )
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "Content-Type": "application/json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        self._session = requests.Session()
        self._session.trust_env = False  # no ~/.netrc credentials, no proxy surprises
        self.stopped: str | None = None

    @property
    def calls(self) -> int:
        """Requests that left the process (retries included)."""
        return self.governor.requests_made

    def complete(self, payload: Mapping[str, object]) -> str:
        """The response body of one chat completion (HTTP 200), or ModelsUnavailable."""
        if self.stopped is not None:
            raise ModelsUnavailable(self.stopped)
        request = HttpRequest("POST", self.endpoint, dict(self._headers), json.dumps(payload))
        try:
            reply = self.governor.send(request, self._exchange)
        except BudgetExhausted as stop:
            kind = "call budget" if "run request budget" in str(stop) else "quota"
            self.stopped = f"{kind}: {stop}"
            raise ModelsUnavailable(self.stopped) from None
        except GitHubError as exc:
            raise ModelsUnavailable(f"{exc.code}: no answer after retries") from None
        if reply.status == 200:
            return reply.body
        reason = f"HTTP {reply.status}"
        message = _error_message(reply.body)
        if message:
            reason += f" {' '.join(message.split())[:80]}"
        if reply.status in (401, 403):
            self.stopped = f"{reason} (the token needs `models: read`)"
            raise ModelsUnavailable(self.stopped)
        raise ModelsUnavailable(self.governor.redact(reason))

    def _exchange(self, request: HttpRequest) -> HttpReply:
        try:
            response = self._session.post(
                request.url,
                data=str(request.body).encode("utf-8"),
                headers=request.headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise TransportError("timeout", f"no answer from the model within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise TransportError("connection", type(exc).__name__) from None
        headers = {name.lower(): value for name, value in response.headers.items()}
        return HttpReply(response.status_code, headers, response.text or "")

    def close(self) -> None:
        self._session.close()
