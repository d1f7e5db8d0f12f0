"""The global options of every command, resolved from flags and the environment (no click here)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from issueops.core.errors import UserError

DEFAULT_API_URL = "https://api.github.com"

# GitHub's own rules: an owner is 1-39 letters, digits and inner hyphens; a name is . _ - and alnum
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


@dataclass(frozen=True)
class Options:
    repo: str | None = None
    api_url: str = DEFAULT_API_URL
    token_env: str = "GITHUB_TOKEN"  # noqa: S105 (a variable name, not a secret)
    config_path: Path = Path(".github/issueops.yml")
    schemas_dir: Path = Path("workflow_schemas")
    telemetry_dir: Path = Path("telemetry")
    dry_run: bool = False
    json_output: bool = False
    limit: int | None = None
    max_requests: int | None = None
    max_seconds: int | None = None  # wall-clock budget of the run
    item: int | None = None
    bot_login: str | None = None  # the token's own login, for tokens that cannot read GET /user
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False, compare=False)

    @property
    def token(self) -> str | None:
        """Read at use, never stored in a repr, a log line or telemetry."""
        return self.env.get(self.token_env) or None

    @property
    def app_id(self) -> str | None:
        """The GitHub App to act as (`ISSUEOPS_APP_ID`); when set, App authentication is used."""
        return self.env.get("ISSUEOPS_APP_ID", "").strip() or None

    @property
    def app_private_key(self) -> str | None:
        """The App's private key: `ISSUEOPS_APP_PRIVATE_KEY` (the PEM text) or the file named by
        `ISSUEOPS_APP_PRIVATE_KEY_FILE`. Read at use, never stored."""
        text = self.env.get("ISSUEOPS_APP_PRIVATE_KEY", "").strip()
        if text:
            return text.replace("\\n", "\n") + "\n"
        path = self.env.get("ISSUEOPS_APP_PRIVATE_KEY_FILE", "").strip()
        if not path:
            return None
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(
                f"ISSUEOPS_APP_PRIVATE_KEY_FILE={path}: cannot read it ({exc.strerror}); "
                "give the path of the App's .pem file"
            ) from None


def check_repo(value: str | None) -> str:
    """`OWNER/NAME`, or a UserError naming the option and the fix (checked when a command needs it)."""
    if not value:
        raise UserError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    if not _REPO.fullmatch(value):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise UserError(
            f"--repo {shown!r} is not OWNER/NAME; pass it as in --repo acme/ops "
            "(or set GITHUB_REPOSITORY to that form)"
        )
    return value


def check_api_url(value: str) -> str:
    """An http(s) base URL with a host, or a UserError that shows the likely fix."""
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    shown = value if len(value) <= 80 else value[:80] + "..."
    if "://" not in value:
        guess = f"http://{value}" if value.startswith(("127.", "localhost", "[::1]")) else f"https://{value}"
        raise UserError(f"--api-url {shown!r} has no scheme; pass the full URL, e.g. --api-url {guess}")
    raise UserError(
        f"--api-url {shown!r} is not an http(s) URL; pass e.g. --api-url https://api.github.com "
        "(or https://HOST/api/v3 for GitHub Enterprise Server)"
    )
