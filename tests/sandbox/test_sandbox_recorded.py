"""Recorded-exchange fidelity: every route the sandbox serves that `@octokit/fixtures` records is
replayed from the recording and answered like GitHub answered it (see sandbox_recorded.py)."""

from __future__ import annotations

import json
import os

import pytest
import sandbox_recorded as rec

from issueops.sandbox import Sandbox

pytestmark = pytest.mark.skipif(
    not rec.FIXTURES.is_dir() and os.environ.get("CI") != "true",
    reason="GitHub's recorded exchanges are missing: run `npm ci --prefix tests/fidelity`",
)


def _replay(sb: Sandbox, exchange: rec.Recorded) -> list[str]:
    """The unexplained differences between the sandbox's answer and the recorded one."""
    mapping = rec.placeholders(sb)
    body = exchange.body
    payload = rec.substitute(json.dumps(body), mapping).encode() if body not in ("", None) else None
    headers = {k: v for k, v in exchange.request_headers.items() if k in ("accept", "authorization")}
    reply = sb.handle(exchange.method, rec.substitute(exchange.path, mapping), headers, payload)
    where = f"{exchange.scenario}#{exchange.index} {exchange.method} {exchange.path}"
    if reply.status != exchange.status:
        return [f"{where}: status {reply.status}, recorded {exchange.status}: {reply.body[:200]!r}"]
    problems: list[str] = []
    served_headers = {k.lower() for k in reply.headers}
    for kind, names in (
        ("missing header", set(exchange.headers) - served_headers),
        ("extra header", served_headers - set(exchange.headers)),
    ):
        problems += [
            f"{where}: {kind} {n}" for n in sorted(names) if not rec.allowed(exchange.scenario, kind, n)
        ]
    recorded_rels = rec.link_rels(exchange.headers.get("link"))
    served_rels = rec.link_rels(reply.headers.get("Link"))
    if recorded_rels != served_rels:
        problems.append(f"{where}: Link rels {sorted(served_rels)}, recorded {sorted(recorded_rels)}")
    recorded_link = rec.substitute(
        exchange.headers.get("link", ""), {"https://api.github.com": sb.base_url, **mapping}
    )
    if recorded_link != reply.headers.get("Link", ""):  # the very URLs, /repositories/{id} form included
        problems.append(f"{where}: Link {reply.headers.get('Link')!r}, recorded {recorded_link!r}")
    if isinstance(exchange.response, (dict, list)):
        served = reply.json()
        for kind, path in rec.shape_differences(exchange.response, served):
            if not rec.allowed(exchange.scenario, kind, path):
                problems.append(f"{where}: {kind} {path}")
    elif exchange.response not in ("", None) and reply.body.decode() != exchange.response:
        problems.append(f"{where}: text {reply.body[:80]!r}, recorded {exchange.response[:80]!r}")
    return problems


@pytest.mark.parametrize("scenario", sorted(rec.SCENARIOS))
def test_recorded_exchanges_replay_like_github(scenario: str) -> None:
    sb = rec.SCENARIOS[scenario]()
    problems: list[str] = []
    for exchange in rec.recording(scenario):
        problems += _replay(sb, exchange)
    assert problems == []


def test_every_recorded_scenario_is_replayed_or_listed_as_not_served() -> None:
    recorded = {p.name for p in rec.FIXTURES.iterdir() if p.is_dir()}
    assert recorded == set(rec.SCENARIOS) | set(rec.NOT_SERVED)
    for scenario in rec.NOT_SERVED:
        first = rec.recording(scenario)[0]
        # The repository the recording used exists, so a 404 means the route is not served.
        name = first.path.split("/")[3] if first.path.startswith("/repos/") else scenario
        sb = rec.base_world(name)
        sb.add_issue("an issue to act on", None, "octokit-fixture-user-a")
        reply = sb.handle(first.method, first.path, {"authorization": f"token {rec.TOKEN}"}, None)
        assert reply.status == 404, f"{scenario} is served now: replay it instead of listing it"


def test_every_exception_is_still_needed() -> None:
    """A row no replay uses is stale: the table only shrinks as the sandbox gets closer."""
    used: set[rec.Allowed] = set()
    original = rec.allowed

    def spy(scenario: str, kind: str, where: str) -> rec.Allowed | None:
        row = original(scenario, kind, where)
        if row is not None:
            used.add(row)
        return row

    rec.allowed = spy  # type: ignore[assignment]
    try:
        for scenario, build in rec.SCENARIOS.items():
            sb = build()
            for exchange in rec.recording(scenario):
                _replay(sb, exchange)
    finally:
        rec.allowed = original  # type: ignore[assignment]
    assert [row for row in rec.EXCEPTIONS if row not in used] == []


def test_every_extra_field_allowed_is_in_the_rest_description() -> None:
    """The table may only excuse fields GitHub documents today (added after the recordings)."""
    import sandbox_openapi as oa

    if not oa.spec_available():
        pytest.skip("GitHub's REST description is missing")
    described = json.dumps(oa.spec())
    for row in rec.EXCEPTIONS:
        if row.kind == "extra field":
            for glob in row.where.split():
                name = glob.rsplit(".", 1)[-1]
                assert f'"{name}":' in described, f"{name} is not a field of the REST description"
