"""The global options of every command, resolved from flags and the environment (no click here)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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
    max_seconds: int | None = None  # wall-clock budget of the run
    item: int | None = None
    bot_login: str | None = None  # the token's own login, for tokens that cannot read GET /user
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False, compare=False)

    @property
    def token(self) -> str | None:
        """Read at use, never stored in a repr, a log line or telemetry."""
        return self.env.get(self.token_env) or None
