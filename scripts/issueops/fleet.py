"""`issueops fleet matrix`: the repositories the GitHub App's installation reaches, as the JSON
`strategy.matrix` of a workflow that runs one shard per repository (issueops-fleet.yml).

Listing them from the installation instead of by hand means a repository the App is installed
on is never silently left out; a topic or the config file's presence narrows the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from issueops.app import app_credentials
from issueops.core.errors import UserError
from issueops.core.options import Options
from issueops.github.app_auth import AppClient
from issueops.github.clock import Clock, SystemClock
from issueops.github.governor import Governor, GovernorSettings


@dataclass(frozen=True)
class FleetFilter:
    owner: str | None = None  # the account the App is installed on (None: every installation)
    topic: str | None = None  # only repositories with this topic
    config_file: str | None = None  # only repositories that have this file (e.g. .github/issueops.yml)
    include_archived: bool = False


def fleet_repositories(opts: Options, wanted: FleetFilter, *, clock: Clock | None = None) -> list[str]:
    """Full names the App's installations reach, filtered, sorted (a stable shard order)."""
    credentials = app_credentials(opts)
    if credentials is None:
        raise UserError(
            "fleet matrix acts as a GitHub App: set ISSUEOPS_APP_ID and ISSUEOPS_APP_PRIVATE_KEY "
            "(or ISSUEOPS_APP_PRIVATE_KEY_FILE)"
        )
    governor = Governor(GovernorSettings(max_requests=opts.max_requests or 900), clock=clock or SystemClock())
    client = AppClient(credentials[0], credentials[1], api_url=opts.api_url, governor=governor)
    try:
        installations = [
            i
            for i in client.installations()
            if wanted.owner is None
            or str((i.get("account") or {}).get("login", "")).lower() == wanted.owner.lower()
        ]
        if not installations:
            where = f" on {wanted.owner}" if wanted.owner else ""
            raise UserError(
                f"the GitHub App {client.slug()} has no installation{where}: install it on the "
                "account's repositories (the App's settings > Install App)"
            )
        found: set[str] = set()
        for installation in installations:
            for repo in client.installation_repositories(int(installation["id"])):
                if _kept(client, int(installation["id"]), repo, wanted):
                    found.add(str(repo["full_name"]))
        return sorted(found, key=str.lower)
    finally:
        client.close()


def _kept(client: AppClient, installation_id: int, repo: dict[str, Any], wanted: FleetFilter) -> bool:
    if (repo.get("archived") or repo.get("disabled")) and not wanted.include_archived:
        return False
    if wanted.topic is not None and wanted.topic.lower() not in [
        str(t).lower() for t in repo.get("topics") or []
    ]:
        return False
    return wanted.config_file is None or client.has_file(
        installation_id, str(repo["full_name"]), wanted.config_file
    )


def matrix(repositories: list[str]) -> dict[str, list[str]]:
    """`strategy.matrix` for the shards: `matrix.repo` is one OWNER/NAME."""
    return {"repo": repositories}
