"""Acting as a GitHub App: the app's JWT (PyGithub's `Auth.AppAuth`), where it is installed, and
installation tokens that are minted again before they expire, however long the run.

The JWT and the refresh read the governor's clock, not the wall clock: on GitHub that is the
same thing, and against the sandbox it is its virtual clock, so a test outlives a token cheaply.
Every token minted and the private key are registered with the governor as secrets, so neither
reaches a log line, an error message or telemetry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from github import Auth, Github, GithubException
from issueops.core.errors import GitHubError
from issueops.github.classify import HINTS, code_for_status
from issueops.github.clock import Clock
from issueops.github.governor import Governor
from issueops.github.transport import USER_AGENT, governing, install

REFRESH_MARGIN = timedelta(minutes=5)  # mint the next token this long before the current one expires
INSTALL_HINT = (
    "install the App on {repo} (the App's settings > Install App > Configure > Repository access), "
    "or run with a token instead (unset ISSUEOPS_APP_ID)"
)


@dataclass(frozen=True)
class Minted:
    """An installation token and when GitHub lets it expire."""

    token: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"Minted(token=<redacted>, expires_at={self.expires_at.isoformat()})"


class ClockedAppAuth(Auth.AppAuth):
    """PyGithub's App authentication, with the JWT's `iat`/`exp` from the governor's clock."""

    def __init__(self, app_id: int | str, private_key: str, clock: Clock) -> None:
        super().__init__(app_id, private_key)
        self._clock = clock

    def create_jwt(self, expiration: int | None = None) -> str:
        now = int(self._clock.now())
        payload = {
            "iat": now + self._jwt_issued_at,  # a minute back, for clock drift (GitHub's advice)
            "exp": now + (expiration if expiration is not None else self._jwt_expiry),
            "iss": str(self.app_id),
        }
        assert self._sign_func is not None
        signed = self._sign_func(payload)
        return signed.decode("utf-8") if isinstance(signed, bytes) else signed


class InstallationTokenAuth(Auth.Auth):
    """An installation token for PyGithub's requests, minted again `REFRESH_MARGIN` before expiry."""

    def __init__(self, mint: Callable[[], Minted], clock: Clock) -> None:
        self._mint = mint
        self._clock = clock
        self._current: Minted | None = None
        self.minted = 0  # how many tokens this run needed

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        now = datetime.fromtimestamp(self._clock.now(), UTC)
        if self._current is None or now >= self._current.expires_at - REFRESH_MARGIN:
            self._current = self._mint()
            self.minted += 1
        return self._current.token

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"


class AppClient:
    """Requests made as the App itself (JWT): its identity, its installations, installation tokens."""

    def __init__(
        self, app_id: int | str, private_key: str, *, api_url: str, governor: Governor, timeout: int = 15
    ) -> None:
        if not str(app_id).strip().isdigit():
            raise GitHubError(
                "validation",
                f"ISSUEOPS_APP_ID={str(app_id)!r}: expected the App's numeric ID",
                hint="copy the App ID from the App's settings page (General > About)",
            )
        if "PRIVATE KEY-----" not in private_key:
            raise GitHubError(
                "validation",
                "the GitHub App private key is not a PEM key",
                hint="set ISSUEOPS_APP_PRIVATE_KEY to the .pem file's whole text (or "
                "ISSUEOPS_APP_PRIVATE_KEY_FILE to its path)",
            )
        install()
        governor.add_secret(private_key)
        self.governor = governor
        self.api_url = api_url.rstrip("/")
        self._auth = ClockedAppAuth(int(str(app_id).strip()), private_key, governor.clock)
        self._github = Github(
            auth=self._auth,
            base_url=self.api_url,
            per_page=100,
            timeout=timeout,
            user_agent=USER_AGENT,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self._slug: str | None = None
        self._readers: dict[int, Github] = {}

    @contextmanager
    def _calling(self, target: str) -> Iterator[None]:
        with governing(self.governor):
            try:
                yield
            except GithubException as exc:
                data = exc.data if isinstance(exc.data, dict) else {}
                message = str(data.get("message") or "")
                code = code_for_status(exc.status)
                text = f"{target}: GitHub answered {exc.status}" + (f" {message}" if message else "")
                raise GitHubError(
                    code, self.governor.redact(text), status=exc.status, hint=HINTS[code]
                ) from None
            except requests.RequestException as exc:
                raise GitHubError(
                    "upstream_unavailable",
                    f"{target}: {type(exc).__name__}",
                    hint=HINTS["upstream_unavailable"],
                ) from None

    def _get(self, path: str) -> Any:
        _, data = self._github.requester.requestJsonAndCheck("GET", path)
        return data

    def slug(self) -> str:
        """The App's slug (GET /app): the bot is `<slug>[bot]`."""
        if self._slug is None:
            with self._calling("the GitHub App (GET /app)"):
                self._slug = str(self._get("/app")["slug"])
        return self._slug

    def bot_login(self) -> str:
        return f"{self.slug()}[bot]"

    def installation_for(self, repo: str) -> int:
        """The installation that reaches `repo`; a clear error naming it when there is none."""
        owner, _, name = repo.partition("/")
        path = f"/repos/{quote(owner)}/{quote(name)}/installation"
        with governing(self.governor):
            try:
                return int(self._get(path)["id"])
            except GithubException as exc:
                if exc.status != 404:
                    raise
        raise GitHubError(
            "not_found",
            f"{repo}: the GitHub App {self.slug()} is not installed on this repository "
            f"(GET {path} answers 404)",
            status=404,
            hint=INSTALL_HINT.format(repo=repo),
        )

    def installations(self) -> list[dict[str, Any]]:
        """Every installation of the App (GET /app/installations, all pages)."""
        found: list[dict[str, Any]] = []
        with self._calling("the App's installations"):
            page = 1
            while True:
                batch = self._get(f"/app/installations?per_page=100&page={page}")
                found.extend(batch)
                if len(batch) < 100:
                    return found
                page += 1

    def mint(self, installation_id: int) -> Minted:
        """A fresh installation token (POST /app/installations/{id}/access_tokens)."""
        with self._calling(f"installation {installation_id}'s access token"):
            _, data = self._github.requester.requestJsonAndCheck(
                "POST", f"/app/installations/{installation_id}/access_tokens"
            )
        token = str(data["token"])
        self.governor.add_secret(token)
        expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        return Minted(token, expires.astimezone(UTC))

    def installation_auth(
        self, installation_id: int | None = None, *, repo: str = ""
    ) -> InstallationTokenAuth:
        """Tokens of `installation_id`, or of the installation on `repo`: looked up with the first
        token, inside the run's first request, so the lookup is budgeted like any request."""
        found: list[int] = [installation_id] if installation_id is not None else []

        def mint() -> Minted:
            if not found:
                found.append(self.installation_for(repo))
            return self.mint(found[0])

        return InstallationTokenAuth(mint, self.governor.clock)

    def installation_repositories(self, installation_id: int) -> list[dict[str, Any]]:
        """The repositories an installation reaches (GET /installation/repositories, all pages)."""
        reader = self._as_installation(installation_id)
        found: list[dict[str, Any]] = []
        with self._calling(f"installation {installation_id}'s repositories"):
            page = 1
            while True:
                _, data = reader.requester.requestJsonAndCheck(
                    "GET", "/installation/repositories", parameters={"per_page": 100, "page": page}
                )
                batch = list(data.get("repositories") or [])
                found.extend(batch)
                if len(found) >= int(data.get("total_count") or 0) or not batch:
                    return found
                page += 1

    def has_file(self, installation_id: int, repo: str, path: str) -> bool:
        """Is `path` on `repo`'s default branch (GET contents: 200 or 404)?"""
        reader = self._as_installation(installation_id)
        owner, _, name = repo.partition("/")
        url = f"/repos/{quote(owner)}/{quote(name)}/contents/{quote(path)}"
        with self._calling(f"{repo} file {path}"):
            try:
                reader.requester.requestJsonAndCheck("GET", url)
            except GithubException as exc:
                if exc.status == 404:
                    return False
                raise
        return True

    def _as_installation(self, installation_id: int) -> Github:
        if installation_id not in self._readers:
            self._readers[installation_id] = Github(
                auth=self.installation_auth(installation_id),
                base_url=self.api_url,
                per_page=100,
                user_agent=USER_AGENT,
                retry=None,
                seconds_between_requests=None,
                seconds_between_writes=None,
            )
        return self._readers[installation_id]

    def close(self) -> None:
        self._github.close()
        for reader in self._readers.values():
            reader.close()
