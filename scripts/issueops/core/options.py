"""The global options of every command, resolved from flags and the environment (no click here)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from issueops.core.errors import UserError

DEFAULT_API_URL = "https://api.github.com"


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
