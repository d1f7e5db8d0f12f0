"""The sandbox fleet's App routes against GitHub's REST description, and the fleet's routing:
every App route exists there and every body it answers (success and error) matches its schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
import sandbox_openapi as oa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from issueops.sandbox.apps import App
from issueops.sandbox.fleet import FRONT_ROUTES, Fleet
from issueops.sandbox.inprocess import activate

needs_spec = pytest.mark.skipif(
    not oa.spec_available() and os.environ.get("CI") != "true",
    reason="GitHub's REST description is missing: run `npm ci --prefix tests/fidelity`",
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fleet(key: rsa.RSAPrivateKey) -> Iterator[tuple[Fleet, App]]:
    fleet = Fleet()
    for name in ("acme/ops", "acme/web", "other/x"):
        fleet.add_repo(name)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    app = fleet.add_app("issueops-app", public, owner="acme")
    fleet.install(app, "acme")
    with activate(fleet):
        yield fleet, app


def _jwt(fleet: Fleet, app: App, key: rsa.RSAPrivateKey) -> str:
    now = fleet.clock.timestamp()
    return jwt.encode({"iss": str(app.id), "iat": now - 60, "exp": now + 540}, key, algorithm="RS256")


@needs_spec
def test_every_app_route_exists_in_the_description() -> None:
    missing = [f"{m} {t}" for m, t in FRONT_ROUTES if oa.operation(m, t) is None]
    assert missing == []


@needs_spec
def test_app_route_bodies_match_the_description(fleet: tuple[Fleet, App], key: rsa.RSAPrivateKey) -> None:
    sb, app = fleet
    base = sb.base_url
    bearer = {"Authorization": f"Bearer {_jwt(sb, app, key)}"}
    installation = next(iter(sb.apps.installations))
    exchanges: list[tuple[str, str, requests.Response]] = [
        ("GET", "/app", requests.get(f"{base}/app", headers=bearer, timeout=5)),
        ("GET", "/app/installations", requests.get(f"{base}/app/installations", headers=bearer, timeout=5)),
        (
            "GET",
            "/repos/{owner}/{repo}/installation",
            requests.get(f"{base}/repos/acme/web/installation", headers=bearer, timeout=5),
        ),
        (
            "GET",
            "/repos/{owner}/{repo}/installation",
            requests.get(f"{base}/repos/other/x/installation", headers=bearer, timeout=5),
        ),
    ]
    minted = requests.post(
        f"{base}/app/installations/{installation}/access_tokens", headers=bearer, json={}, timeout=5
    )
    exchanges.append(("POST", "/app/installations/{installation_id}/access_tokens", minted))
    token = {"Authorization": f"token {minted.json()['token']}"}
    exchanges.append(
        (
            "GET",
            "/installation/repositories",
            requests.get(f"{base}/installation/repositories", headers=token, timeout=5),
        )
    )
    statuses = [r.status_code for _, _, r in exchanges]
    assert statuses == [200, 200, 200, 404, 201, 200]
    violations: list[str] = []
    for method, template, reply in exchanges:
        documented, schema = oa.response_schema(method, template, reply.status_code)
        assert documented, f"{method} {template} -> {reply.status_code} is not documented"
        schema = schema or oa.named_schema("basic-error")
        if template == "/app/installations":
            # The description inlines this list's items with `account: allOf[Simple User, Enterprise]`
            # (an account both at once, which no answer of GitHub's is); the named `installation`
            # schema, which GET /repos/{owner}/{repo}/installation uses, says `anyOf`.
            schema = {"type": "array", "items": oa.named_schema("installation")}
        violations += [f"{method} {template}: {m}" for m in oa.errors_for(schema, reply.json())]
    assert violations == []
    assert minted.json()["token"].startswith("ghs_")
    assert [r["full_name"] for r in exchanges[-1][2].json()["repositories"]] == ["acme/ops", "acme/web"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"repositories": ["x"]}, 422, "There is at least one repository that does not exist"),
        ({"permissions": {"administration": "write"}}, 422, "The permissions requested are not granted"),
        ({"repositories": ["ops"], "permissions": {"issues": "read"}}, 201, None),
    ],
    ids=["unknown-repository", "permission-not-granted", "narrowed"],
)
def test_a_token_can_be_narrowed_never_widened(
    fleet: tuple[Fleet, App], key: rsa.RSAPrivateKey, body: dict[str, Any], status: int, message: str | None
) -> None:
    sb, app = fleet
    installation = next(iter(sb.apps.installations))
    reply = requests.post(
        f"{sb.base_url}/app/installations/{installation}/access_tokens",
        headers={"Authorization": f"Bearer {_jwt(sb, app, key)}"},
        json=body,
        timeout=5,
    )
    assert reply.status_code == status
    if message:
        assert reply.json()["message"].startswith(message)
    else:
        assert reply.json()["permissions"] == {"issues": "read", "metadata": "read"}


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("", "Requires authentication"),
        ("token ghp_personal", "A JSON web token could not be decoded"),
        ("Bearer not.a.jwt", "A JSON web token could not be decoded"),
    ],
    ids=["none", "a-token-not-a-jwt", "garbage"],
)
def test_app_routes_need_the_apps_jwt(fleet: tuple[Fleet, App], authorization: str, message: str) -> None:
    sb, _ = fleet
    headers = {"Authorization": authorization} if authorization else {}
    reply = requests.get(f"{sb.base_url}/app", headers=headers, timeout=5)
    assert (reply.status_code, reply.json()["message"]) == (401, message)


def test_repositories_share_one_clock_and_one_budget(fleet: tuple[Fleet, App]) -> None:
    sb, _ = fleet
    ops, web = sb.repo("acme/ops"), sb.repo("acme/web")
    ops.add_user("alice", token="alice-token", permission="write")
    web.add_user("alice", token="alice-token", permission="write")
    headers = {"Authorization": "token alice-token"}
    first = requests.get(f"{sb.base_url}/repos/acme/ops/issues", headers=headers, timeout=5)
    second = requests.get(f"{sb.base_url}/repos/acme/web/issues", headers=headers, timeout=5)
    assert int(first.headers["x-ratelimit-remaining"]) - int(second.headers["x-ratelimit-remaining"]) == 1
    assert ops.clock is web.clock is sb.clock
    assert (
        requests.get(f"{sb.base_url}/repos/acme/nope/issues", headers=headers, timeout=5).status_code == 404
    )
    assert ops.state.repo.id != web.state.repo.id


# --- fleet scenarios -------------------------------------------------------------------------------


def _fleet_yaml(tmp_path: Any, key: rsa.RSAPrivateKey, installation: str) -> Any:
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (tmp_path / "app.pub.pem").write_text(public, encoding="utf-8")
    path = tmp_path / "fleet.yml"
    path.write_text(
        "clock: {start: 2026-11-23T09:00:00Z}\n"
        "repos:\n"
        "  - {repo: acme/ops, topics: [issueops], labels: [{name: incident}]}\n"
        "  - {repo: acme/web}\n"
        "apps:\n"
        "  - {slug: issueops-app, owner: acme, id: 4242, public_key_file: app.pub.pem}\n"
        "installations:\n"
        f"  - {installation}\n",
        encoding="utf-8",
    )
    return path


def test_a_fleet_scenario_builds_repositories_apps_and_installations(
    tmp_path: Any, key: rsa.RSAPrivateKey
) -> None:
    from issueops.sandbox.fleet_scenario import fleet_from_scenario

    fleet = fleet_from_scenario(
        _fleet_yaml(tmp_path, key, "{app: issueops-app, account: acme, repositories: [ops]}")
    )

    assert sorted(fleet.repos) == ["acme/ops", "acme/web"]
    assert fleet.topics["acme/ops"] == ["issueops"] and "incident" in fleet.repo("acme/ops").labels
    (installation,) = fleet.apps.installations.values()
    assert installation.app.id == 4242 and fleet.reachable(installation) == ["acme/ops"]
    assert fleet.repo("acme/ops").clock is fleet.clock and fleet.clock.now().year == 2026
    assert fleet.repo("acme/ops").users["issueops-app[bot]"].type == "Bot"


@pytest.mark.parametrize(
    ("installation", "line", "message"),
    [
        ("{app: other-app, account: acme}", 8, "no app 'other-app' in `apps`"),
        ("{app: issueops-app, account: acme, repositories: [nope]}", 8, "'nope' is not one of the fleet's"),
        ("{app: issueops-app, account: acme, colour: red}", 8, "unknown key 'colour' in an installation"),
        ("{app: issueops-app, account: acme, permissions: {issues: all}}", 8, "permissions map a name"),
    ],
    ids=["unknown-app", "unknown-repository", "unknown-key", "bad-permission"],
)
def test_fleet_scenario_problems_name_the_line(
    tmp_path: Any, key: rsa.RSAPrivateKey, installation: str, line: int, message: str
) -> None:
    from issueops.core.errors import ConfigError
    from issueops.sandbox.fleet_scenario import fleet_from_scenario

    path = _fleet_yaml(tmp_path, key, installation)
    with pytest.raises(ConfigError) as caught:
        fleet_from_scenario(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == (str(path), line) and message in problem.message


def test_a_problem_inside_a_repository_names_its_line(tmp_path: Any) -> None:
    from issueops.core.errors import ConfigError
    from issueops.sandbox.fleet_scenario import load_fleet

    path = tmp_path / "fleet.yml"
    path.write_text(
        "repos:\n  - repo: acme/ops\n    users:\n      - {login: a, permission: root}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_fleet(path)
    assert [p.line for p in caught.value.problems] == [4]


def test_link_urls_by_repository_id_reach_the_right_repository_and_keep_the_tokens_scope(
    fleet: tuple[Fleet, App],
) -> None:
    sb, _ = fleet
    web = sb.repo("acme/web")
    for n in range(120):
        web.add_issue(f"item {n}")
    installation = next(iter(sb.apps.installations.values()))
    scoped = sb.apps.mint(installation, sb.reachable(installation), repositories=["web"])
    headers = {"Authorization": f"token {scoped.token}"}
    first = requests.get(f"{sb.base_url}/repos/acme/web/issues?per_page=100", headers=headers, timeout=5)
    following = requests.get(first.links["next"]["url"], headers=headers, timeout=5)
    assert f"/repositories/{web.state.repo.id}/" in first.links["next"]["url"]
    assert (len(first.json()), following.status_code, len(following.json())) == (100, 200, 20)
    ops_id = sb.repo("acme/ops").state.repo.id
    outside = requests.post(
        f"{sb.base_url}/repositories/{ops_id}/issues", headers=headers, json={"title": "x"}, timeout=5
    )
    assert outside.status_code == 403, "a repository reached by id is still outside the token"
