"""`issueops fleet matrix`: the repositories the GitHub App's installation reaches, as the JSON
`strategy.matrix` of a workflow that runs one shard per repository (issueops-fleet.yml).

Listing them from the installation instead of by hand means a repository the App is installed
on is never silently left out; a topic or the config file's presence narrows the list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issueops.app import app_credentials
from issueops.core.errors import UserError
from issueops.core.markdown import table_cell
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


# --- the shards' summaries, aggregated into one report ----------------------------------------------


@dataclass(frozen=True)
class ShardRow:
    repo: str
    command: str
    changed: int
    failed: int
    deferred: int
    counted: int
    exit_code: int
    budget_stop: str | None


@dataclass(frozen=True)
class FleetReport:
    rows: list[ShardRow]
    missing: list[str]  # expected repositories whose shard left no summary (crashed, cancelled)
    unreadable: list[str]  # summary files that are not a shard summary

    @property
    def failed(self) -> list[str]:
        return [r.repo for r in self.rows if r.exit_code or r.failed]


def write_shard_summary(path: Path, repo: str, summary: dict[str, Any]) -> None:
    """One shard's run summary, with its repository, where the fleet workflow uploads it from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"repo": repo, **summary}, sort_keys=True, default=str), encoding="utf-8")


def read_shard_summaries(folder: Path) -> list[tuple[str, Any]]:
    """(file name, parsed JSON or None when unreadable) for every *.json under `folder`."""
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; give the folder the shards' summaries were downloaded to")
    found: list[tuple[str, Any]] = []
    for path in sorted(folder.rglob("*.json")):
        try:
            found.append((str(path.relative_to(folder)), json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            found.append((str(path.relative_to(folder)), None))
    return found


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def aggregate(summaries: list[tuple[str, Any]], expected: list[str] | None = None) -> FleetReport:
    """Rows by repository (sorted); what was expected and never reported is listed as missing."""
    rows: list[ShardRow] = []
    unreadable: list[str] = []
    for name, data in summaries:
        if not isinstance(data, dict) or not isinstance(data.get("repo"), str) or not data["repo"]:
            unreadable.append(name)
            continue
        stop = data.get("budget_stop")
        rows.append(
            ShardRow(
                repo=data["repo"],
                command=str(data.get("command") or ""),
                changed=_int(data, "items_changed"),
                failed=_int(data, "items_failed"),
                deferred=_int(data, "items_deferred"),
                counted=_int(data, "requests_counted"),
                exit_code=_int(data, "exit_code"),
                budget_stop=str(stop) if stop else None,
            )
        )
    rows.sort(key=lambda r: r.repo.lower())
    seen = {r.repo.lower() for r in rows}
    missing = sorted((r for r in expected or [] if r.lower() not in seen), key=str.lower)
    return FleetReport(rows, missing, unreadable)


def report_markdown(report: FleetReport) -> str:
    """The fleet's one report: a row per repository, the totals, and what is missing."""
    lines = [
        "## issueops fleet",
        "",
        f"{len(report.rows)} repositories reported, {len(report.failed)} with failures, "
        f"{len(report.missing)} missing.",
        "",
        "| repository | command | changed | failed | deferred | requests counted | result |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in report.rows:
        result = "failed" if r.exit_code or r.failed else "ok"
        if r.budget_stop:
            result += f" (budget stop: {r.budget_stop})"
        lines.append(
            f"| {table_cell(r.repo)} | {table_cell(r.command)} | {r.changed} | {r.failed} | {r.deferred} "
            f"| {r.counted} | {table_cell(result)} |"
        )
    lines.append(
        f"| **total** | | {sum(r.changed for r in report.rows)} | {sum(r.failed for r in report.rows)} "
        f"| {sum(r.deferred for r in report.rows)} | {sum(r.counted for r in report.rows)} | |"
    )
    if report.missing:
        lines += [
            "",
            "Missing (the shard left no summary: see its job log): "
            + ", ".join(table_cell(m) for m in report.missing),
        ]
    if report.unreadable:
        lines += ["", "Unreadable summary files: " + ", ".join(table_cell(u) for u in report.unreadable)]
    return "\n".join(lines) + "\n"
