"""GitHub Apps in the sandbox: apps (a public key each), their installations, and the expiring
installation tokens minted for them, with GitHub's rules for the app's JWT and for the tokens.

GitHub's rules, as documented for "Authenticating as a GitHub App": the JWT is RS256-signed by
the app's private key, `iss` is the app's ID (or client ID), `iat` is not in the future, `exp` is
in the future and at most 10 minutes after now. An installation token (`ghs_...`) expires one
hour after it was minted and reaches only the repositories and permissions it was minted for.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

from issueops.sandbox.clock import VirtualClock
from issueops.sandbox.http import ApiError

TOKEN_LIFETIME = timedelta(hours=1)
JWT_MAX_LIFETIME = 600  # seconds: GitHub refuses an `exp` further than 10 minutes ahead
DOCS_APP_JWT = (
    "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/"
    "generating-a-json-web-token-jwt-for-a-github-app"
)
LEVELS = {"read": 1, "write": 2, "admin": 3}
DEFAULT_PERMISSIONS = {"issues": "write", "contents": "write", "pull_requests": "write", "metadata": "read"}


@dataclass
class App:
    id: int
    slug: str
    public_key: str  # PEM: the sandbox verifies the JWT with it, as GitHub does
    name: str
    owner: str
    client_id: str
    permissions: dict[str, str]

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app: App
    account: str
    repositories: list[str] | None  # None: all repositories of the account
    permissions: dict[str, str]
    suspended: bool = False

    @property
    def selection(self) -> str:
        return "all" if self.repositories is None else "selected"


@dataclass
class InstallationToken:
    token: str = field(repr=False)
    installation: Installation
    expires_at: datetime
    repositories: list[str]  # full names, lower-case
    permissions: dict[str, str]


def _jwt_error(message: str) -> ApiError:
    return ApiError(401, message, documentation_url=DOCS_APP_JWT)


def permits(granted: Mapping[str, str], name: str, level: str) -> bool:
    """Does `granted` hold permission `name` at `level` (write implies read)?"""
    have = granted.get(name)
    return have is not None and LEVELS.get(have, 0) >= LEVELS[level]


class AppRegistry:
    """The apps, installations and tokens of one sandbox GitHub; time is the shared virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, InstallationToken] = {}
        self._app_ids = itertools.count(900_001)
        self._installation_ids = itertools.count(50_000_001)
        self._minted = itertools.count(1)

    # --- seeding ---------------------------------------------------------------------------
    def add_app(
        self,
        slug: str,
        public_key: str,
        *,
        owner: str,
        app_id: int | None = None,
        name: str | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> App:
        app = App(
            id=app_id if app_id is not None else next(self._app_ids),
            slug=slug,
            public_key=public_key,
            name=name or slug,
            owner=owner,
            client_id=f"Iv23li{hashlib.sha1(slug.encode(), usedforsecurity=False).hexdigest()[:14]}",
            permissions=dict(permissions or DEFAULT_PERMISSIONS),
        )
        self.apps[app.id] = app
        return app

    def install(
        self,
        app: App,
        account: str,
        repositories: Iterable[str] | None = None,
        *,
        permissions: Mapping[str, str] | None = None,
    ) -> Installation:
        """Install `app` on `account`: on the named repositories (`name` or `owner/name`), or all."""
        names = None
        if repositories is not None:
            names = [r if "/" in r else f"{account}/{r}" for r in repositories]
        installation = Installation(
            id=next(self._installation_ids),
            app=app,
            account=account,
            repositories=names,
            permissions=dict(permissions or app.permissions),
        )
        self.installations[installation.id] = installation
        return installation

    # --- authentication --------------------------------------------------------------------
    def app_for_jwt(self, encoded: str) -> App:
        """The app a JWT authenticates, or 401 with GitHub's message for what is wrong with it."""
        try:
            header = jwt.get_unverified_header(encoded)
            claims = jwt.decode(encoded, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _jwt_error("A JSON web token could not be decoded") from exc
        if header.get("alg") != "RS256":
            raise _jwt_error("A JSON web token could not be decoded")
        app = self._issuer(claims.get("iss"))
        if app is None:
            raise _jwt_error(f"Integration not found: 'iss' claim {claims.get('iss')!r} names no app")
        try:
            jwt.decode(
                encoded,
                app.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_iss": False},
            )
        except jwt.PyJWTError as exc:
            raise _jwt_error("A JSON web token could not be decoded") from exc
        now = self.clock.timestamp()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or iat > now:
            raise _jwt_error("'Issued at' claim ('iat') must be an Integer representing a time in the past.")
        if not isinstance(exp, int) or exp <= now:
            raise _jwt_error(
                "'Expiration time' claim ('exp') must be a numeric value representing the future time "
                "at which the assertion expires."
            )
        if exp - now > JWT_MAX_LIFETIME:
            raise _jwt_error("'Expiration time' claim ('exp') is too far in the future.")
        return app

    def _issuer(self, iss: Any) -> App | None:
        for app in self.apps.values():
            if str(iss) in (str(app.id), app.client_id):
                return app
        return None

    def token(self, raw: str) -> InstallationToken | None:
        """A live installation token; None when unknown or expired (GitHub: 401 Bad credentials)."""
        found = self.tokens.get(raw)
        if found is None or found.expires_at <= self.clock.now():
            return None
        return found

    # --- minting ---------------------------------------------------------------------------
    def mint(
        self,
        installation: Installation,
        reachable: list[str],
        *,
        repositories: Iterable[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> InstallationToken:
        """A token for `installation`, narrowed to `repositories` (names) and `permissions` when asked.

        `reachable` is the installation's repositories (full names). Asking for more than the
        installation holds is GitHub's 422.
        """
        scope = [r.lower() for r in reachable]
        if repositories is not None:
            wanted = [
                f"{installation.account}/{r}".lower() if "/" not in r else r.lower() for r in repositories
            ]
            missing = [w for w in wanted if w not in scope]
            if missing:
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible "
                    "to the parent installation.",
                )
            scope = wanted
        granted = dict(installation.permissions)
        if permissions is not None:
            for name, level in permissions.items():
                if level not in LEVELS or not permits(installation.permissions, name, level):
                    raise ApiError(422, "The permissions requested are not granted to this installation.")
            granted = {name: str(level) for name, level in permissions.items()}
            granted.setdefault("metadata", "read")
        serial = next(self._minted)
        digest = hashlib.sha256(f"{installation.id}:{serial}".encode()).hexdigest()
        raw = "ghs_" + "".join(c for c in digest if c.isalnum())[:36]
        minted = InstallationToken(raw, installation, self.clock.now() + TOKEN_LIFETIME, scope, granted)
        self.tokens[raw] = minted
        return minted
