"""Org scale, end to end over HTTP: issueops acting as a GitHub App against a sandbox fleet
(several repositories, one installation), the token's expiry and refresh, the installation's
reach, `issueops fleet matrix`, and a fleet run equal to single-repository runs."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from e2e_world import DEMO_SCENARIO, SCHEMAS, no_web, state_of, write_config
from test_e2e_pipeline import SMALL

from issueops.app import run_stages
from issueops.cli import main
from issueops.core.errors import GitHubError
from issueops.core.options import Options
from issueops.demo import DemoWeb
from issueops.github.clock import LinkedClock
from issueops.runner import RunSummary
from issueops.sandbox.apps import App
from issueops.sandbox.clock import VirtualClock
from issueops.sandbox.fleet import Fleet
from issueops.sandbox.scenario import build_sandbox, load_scenario
from issueops.sandbox.server import RunningServer, serve
from issueops.sources.base import Fetch

SLUG = "issueops-app"
BOT = f"{SLUG}[bot]"


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    """(private PEM, public PEM) of the test App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _scenario(repo: str) -> dict[str, Any]:
    data = copy.deepcopy(SMALL)
    data["repo"] = repo
    return data


class Org:
    """A fleet on 127.0.0.1 with the App installed, and how to run issueops as the App on it."""

    def __init__(self, fleet: Fleet, app: App, private_key: str, server: RunningServer, tmp: Path) -> None:
        self.fleet, self.app, self.private_key, self.server, self.tmp = fleet, app, private_key, server, tmp

    def env(self) -> dict[str, str]:
        return {"ISSUEOPS_APP_ID": str(self.app.id), "ISSUEOPS_APP_PRIVATE_KEY": self.private_key}

    def run(self, repo: str, *, config: Path, fetch: Fetch = no_web, **overrides: Any) -> RunSummary:
        clock = LinkedClock(read=self.fleet.clock.now, advance=self.fleet.clock.advance)
        opts = Options(
            repo=repo,
            api_url=self.server.url,
            config_path=config,
            schemas_dir=SCHEMAS,
            telemetry_dir=self.tmp / "telemetry" / repo.replace("/", "_"),
            env=self.env(),
            **overrides,
        )
        return run_stages(
            opts,
            ("commands", "monitor", "assign", "process", "sweep"),
            clock=clock,
            now=self.fleet.clock.now(),
            fetch=fetch,
            cache_path=self.tmp / f"etags-{repo.replace('/', '_')}.json",
        )


@pytest.fixture
def org_factory(keys: tuple[str, str], tmp_path: Path) -> Iterator[Any]:
    servers: list[RunningServer] = []

    def build(
        scenarios: list[dict[str, Any]] | None = None,
        *,
        installed: list[str] | None = None,
        extra: tuple[str, ...] = (),
        topics: dict[str, list[str]] | None = None,
        start: datetime | None = None,
    ) -> Org:
        fleet = Fleet(clock=VirtualClock(start) if start else None)
        for data in scenarios or []:
            fleet.adopt(build_sandbox(data), topics=(topics or {}).get(str(data["repo"]), []))
        for name in extra:
            fleet.add_repo(name, topics=(topics or {}).get(name, []))
        app = fleet.add_app(SLUG, keys[1], owner="acme")
        fleet.install(app, "acme", installed)
        server = serve(fleet)
        servers.append(server)
        return Org(fleet, app, keys[0], server, tmp_path)

    yield build
    for server in servers:
        server.stop()


def _state(org: Org, repo: str) -> str:
    """The repository as the e2e comparisons see it, with the server's port taken out."""
    return json.dumps(state_of(org.fleet.repo(repo)), sort_keys=True).replace(org.server.url, "<base>")


def _telemetry_text(tmp: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (tmp / "telemetry").rglob("*.jsonl"))


# --- the App flow ------------------------------------------------------------------------------


def test_the_demo_pipeline_runs_as_the_app_and_names_itself(org_factory: Any, tmp_path: Path) -> None:
    org = org_factory([dict(load_scenario(DEMO_SCENARIO))])
    repo = org.fleet.repo("acme/ops")

    summary = org.run(
        "acme/ops",
        config=write_config(tmp_path / "cfg", profile="autonomous", sources=("status-page", "web-form")),
        fetch=DemoWeb(),
    )

    assert summary.items_changed > 0 and summary.items_failed == 0, summary.failures
    writes = [e for e in repo.ledger if e.write]
    assert writes and {e.login for e in writes} == {BOT}, (
        "every write is the App's bot, found without --bot-login"
    )
    front = [(e.method, e.path.split("?")[0], e.status) for e in org.fleet.ledger]
    assert ("GET", "/repos/acme/ops/installation", 200) in front
    assert ("GET", "/app", 200) in front
    tokens = [t for t in org.fleet.apps.tokens]
    assert tokens, "an installation token was minted"
    text = _telemetry_text(tmp_path)
    assert text, "the run wrote telemetry"
    assert "PRIVATE KEY" not in text and not any(t in text for t in tokens)


def test_a_run_that_outlives_its_first_token_refreshes_it(org_factory: Any, tmp_path: Path) -> None:
    org = org_factory([_scenario("acme/ops")])
    org.fleet.clock.tick_seconds = 150.0  # each request 2.5 virtual minutes: the run lasts hours
    started = org.fleet.clock.now()

    summary = org.run("acme/ops", config=write_config(tmp_path / "cfg", profile="autonomous"))

    repo = org.fleet.repo("acme/ops")
    assert (org.fleet.clock.now() - started).total_seconds() > 3600, "the run outlives one token's hour"
    minted = [e for e in org.fleet.ledger if e.method == "POST" and e.path.endswith("/access_tokens")]
    assert len(minted) >= 2, "a second token was minted before the first expired"
    assert summary.items_failed == 0, summary.failures
    assert [e for e in repo.ledger if e.status == 401] == [], "no request went out with an expired token"
    assert [e for e in org.fleet.ledger if e.status == 401] == []


def test_an_expired_token_is_bad_credentials_and_a_scoped_token_stays_in_its_repository(
    org_factory: Any,
) -> None:
    org = org_factory(extra=("acme/ops", "acme/web"))
    installation = next(iter(org.fleet.apps.installations.values()))
    scoped = org.fleet.apps.mint(installation, org.fleet.reachable(installation), repositories=["ops"])

    def get(path: str, token: str) -> requests.Response:
        return requests.get(f"{org.server.url}{path}", headers={"Authorization": f"token {token}"}, timeout=5)

    assert get("/repos/acme/ops/issues", scoped.token).status_code == 200
    outside = requests.post(
        f"{org.server.url}/repos/acme/web/issues",
        headers={"Authorization": f"token {scoped.token}"},
        json={"title": "x"},
        timeout=5,
    )
    assert (outside.status_code, outside.json()["message"]) == (403, "Resource not accessible by integration")
    read_only = org.fleet.apps.mint(
        installation, org.fleet.reachable(installation), permissions={"issues": "read"}
    )
    denied = requests.post(
        f"{org.server.url}/repos/acme/ops/issues",
        headers={"Authorization": f"token {read_only.token}"},
        json={"title": "x"},
        timeout=5,
    )
    assert (denied.status_code, denied.json()["message"]) == (403, "Resource not accessible by integration")

    org.fleet.clock.advance(3600)

    expired = get("/repos/acme/ops/issues", scoped.token)
    assert (expired.status_code, expired.json()["message"]) == (401, "Bad credentials")


def test_a_private_repository_outside_the_token_reads_as_absent(org_factory: Any) -> None:
    org = org_factory(extra=("acme/ops",))
    org.fleet.add_repo("acme/secret", private=True)
    installation = next(iter(org.fleet.apps.installations.values()))
    scoped = org.fleet.apps.mint(installation, org.fleet.reachable(installation), repositories=["ops"])
    reply = requests.get(
        f"{org.server.url}/repos/acme/secret/issues",
        headers={"Authorization": f"token {scoped.token}"},
        timeout=5,
    )
    assert reply.status_code == 404


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iat": 0, "exp": 300}, None),
        (
            {"iat": 120, "exp": 400},
            "'Issued at' claim ('iat') must be an Integer representing a time in the past.",
        ),
        ({"iat": -900, "exp": -10}, "'Expiration time' claim ('exp') must be a numeric value"),
        ({"iat": -60, "exp": 900}, "'Expiration time' claim ('exp') is too far in the future."),
    ],
    ids=["valid", "issued-in-the-future", "expired", "exp-too-far"],
)
def test_the_app_jwt_follows_githubs_time_rules(
    org_factory: Any, keys: tuple[str, str], claims: dict[str, int], message: str | None
) -> None:
    import jwt

    org = org_factory(extra=("acme/ops",))
    now = org.fleet.clock.timestamp()
    token = jwt.encode(
        {"iss": str(org.app.id), "iat": now + claims["iat"], "exp": now + claims["exp"]},
        keys[0],
        algorithm="RS256",
    )
    reply = requests.get(f"{org.server.url}/app", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    if message is None:
        assert (reply.status_code, reply.json()["slug"]) == (200, SLUG)
    else:
        assert reply.status_code == 401 and reply.json()["message"].startswith(message)


def test_a_jwt_signed_by_another_key_is_refused(org_factory: Any) -> None:
    import jwt

    org = org_factory(extra=("acme/ops",))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = org.fleet.clock.timestamp()
    token = jwt.encode({"iss": str(org.app.id), "iat": now - 60, "exp": now + 300}, other, algorithm="RS256")
    reply = requests.get(f"{org.server.url}/app", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert (reply.status_code, reply.json()["message"]) == (401, "A JSON web token could not be decoded")


def test_a_repository_outside_the_installation_is_refused_naming_it_and_the_fix(
    org_factory: Any, tmp_path: Path
) -> None:
    org = org_factory([_scenario("acme/ops"), _scenario("acme/web")], installed=["ops"])

    with pytest.raises(GitHubError) as caught:
        org.run("acme/web", config=write_config(tmp_path / "cfg", profile="autonomous"))

    assert "acme/web: the GitHub App issueops-app is not installed on this repository" in str(caught.value)
    assert "install the App on acme/web" in caught.value.hint
    assert [e for e in org.fleet.repo("acme/web").ledger if e.write] == []


# --- the fleet -----------------------------------------------------------------------------------


def _matrix(org: Org, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--api-url", org.server.url, "fleet", "matrix", *args], env=org.env())
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_fleet_matrix_lists_what_the_installation_reaches(org_factory: Any) -> None:
    org = org_factory(
        extra=("acme/ops", "acme/web", "acme/api", "acme/old", "other/x"),
        installed=["ops", "web", "api"],
        topics={"acme/ops": ["issueops"], "acme/api": ["issueops", "backend"]},
        start=datetime.now(UTC),  # the CLI signs its JWT with the wall clock
    )
    org.fleet.repo("acme/web").commit_files("main", {".github/issueops.yml": "version: 1\n"})

    assert _matrix(org, "--owner", "acme") == {"repo": ["acme/api", "acme/ops", "acme/web"]}
    assert _matrix(org, "--owner", "acme", "--topic", "issueops") == {"repo": ["acme/api", "acme/ops"]}
    assert _matrix(org, "--owner", "acme", "--with-config", ".github/issueops.yml") == {"repo": ["acme/web"]}
    org.fleet.add_repo("acme/new")
    org.fleet.install(org.app, "acme", ["new"])
    assert "acme/new" in _matrix(org)["repo"], "a newly installed repository joins without editing anything"


def test_fleet_matrix_without_app_credentials_says_what_to_set(org_factory: Any) -> None:
    org = org_factory(extra=("acme/ops",))
    result = CliRunner().invoke(
        main, ["--api-url", org.server.url, "fleet", "matrix"], env={"ISSUEOPS_APP_ID": ""}
    )
    assert result.exit_code == 1
    assert "set ISSUEOPS_APP_ID and ISSUEOPS_APP_PRIVATE_KEY" in result.output


def test_a_fleet_run_leaves_each_repository_as_a_single_repository_run_would(
    org_factory: Any, tmp_path: Path
) -> None:
    names = ["acme/ops", "acme/web", "acme/api"]
    config = write_config(tmp_path / "cfg", profile="autonomous")
    fleet_org = org_factory([_scenario(n) for n in names])
    for _ in range(3):  # the scheduled runs, one shard per repository each time
        for name in names:
            summary = fleet_org.run(name, config=config)
            assert summary.items_failed == 0, (name, summary.failures)

    for name in names:
        alone = org_factory([_scenario(name)])
        for _ in range(3):
            alone.run(name, config=config)
        assert _state(fleet_org, name) == _state(alone, name), name
        assert any(issue.labels for issue in fleet_org.fleet.repo(name).issues.values())


def test_fleet_shards_write_their_summaries_and_one_report_aggregates_them(
    org_factory: Any, tmp_path: Path
) -> None:
    """The workflow's shape through the CLI: matrix, one dry shard per repository writing its
    summary file, then `fleet report` over the downloaded folder (one shard never reported)."""
    names = ["acme/api", "acme/ops", "acme/web"]
    org = org_factory([_scenario(n) for n in names], start=datetime.now(UTC))
    config = write_config(tmp_path / "cfg", profile="autonomous")
    listed = _matrix(org, "--owner", "acme")["repo"]
    assert listed == names
    shards = tmp_path / "shards"
    for index, name in enumerate(listed[:2]):
        env = {**org.env(), "ISSUEOPS_SUMMARY_FILE": str(shards / f"shard-{index}" / "summary.json")}
        result = CliRunner().invoke(
            main,
            [
                "--repo",
                name,
                "--api-url",
                org.server.url,
                "--config",
                str(config),
                "--schemas",
                str(SCHEMAS),
                "--telemetry",
                str(tmp_path / "telemetry" / str(index)),
                "--dry-run",
                "assign",
            ],
            env=env,
        )
        assert result.exit_code == 0, result.output
    assert all(not e.write for n in names for e in org.fleet.repo(n).ledger), "dry shards send no write"

    report = CliRunner().invoke(
        main, ["fleet", "report", str(shards)], env={"ISSUEOPS_FLEET_MATRIX": json.dumps({"repo": listed})}
    )

    assert report.exit_code == 1, "a repository without a summary fails the report job"
    assert "| acme/api | assign |" in report.output and "| acme/ops | assign |" in report.output
    assert "Missing (the shard left no summary: see its job log): acme/web" in report.output


def test_the_cli_refuses_a_repository_outside_the_installation_with_the_fix(
    org_factory: Any, tmp_path: Path
) -> None:
    org = org_factory(
        [_scenario("acme/ops"), _scenario("acme/web")], installed=["ops"], start=datetime.now(UTC)
    )
    config = write_config(tmp_path / "cfg", profile="autonomous")
    result = CliRunner().invoke(
        main,
        [
            "--repo",
            "acme/web",
            "--api-url",
            org.server.url,
            "--config",
            str(config),
            "--schemas",
            str(SCHEMAS),
            "--telemetry",
            str(tmp_path / "telemetry"),
            "assign",
        ],
        env=org.env(),
    )
    assert result.exit_code == 1
    assert "error: acme/web: the GitHub App issueops-app is not installed on this repository" in result.output
    assert "fix: install the App on acme/web" in result.output
    assert "PRIVATE KEY" not in result.output


def test_a_budget_too_small_for_the_apps_setup_is_a_budget_stop(org_factory: Any, tmp_path: Path) -> None:
    org = org_factory([_scenario("acme/ops")])

    summary = org.run("acme/ops", config=write_config(tmp_path / "cfg", profile="autonomous"), max_requests=1)

    assert summary.budget_stop and summary.exit_code == 0 and summary.items_changed == 0
    assert [e for e in org.fleet.repo("acme/ops").ledger if e.write] == []
