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
