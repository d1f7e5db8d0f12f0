"""The acceptance checks for the sandbox, against the real CLI process serving the demo scenario:
`issueops sandbox serve --scenario .../demo.yml --port 0`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts/issueops/sandbox/scenarios/demo.yml"
BOT = {"Authorization": "token bot-token"}


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "issueops", "sandbox", "serve", "--scenario", str(DEMO), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_announces_its_url_and_serves(demo_url: str) -> None:
    assert demo_url.startswith("http://127.0.0.1:")
    repo = requests.get(f"{demo_url}/repos/acme/ops", headers=BOT, timeout=5)
    assert repo.status_code == 200
    assert repo.json()["full_name"] == "acme/ops"
    assert repo.json()["url"] == f"{demo_url}/repos/acme/ops"


def test_per_page_2_returns_2_and_a_link_header(demo_url: str) -> None:
    reply = requests.get(f"{demo_url}/repos/acme/ops/issues", params={"per_page": 2}, headers=BOT, timeout=5)
    assert reply.status_code == 200
    assert len(reply.json()) == 2
    repo_id = requests.get(f"{demo_url}/repos/acme/ops", headers=BOT, timeout=5).json()["id"]
    # Real GitHub's Link URLs name the repository by id, and they are served like the /repos form.
    next_url = f"{demo_url}/repositories/{repo_id}/issues?per_page=2&page=2"
    assert f'<{next_url}>; rel="next"' in reply.headers["Link"]
    assert 'rel="last"' in reply.headers["Link"]
    second = requests.get(next_url, headers=BOT, timeout=5)
    assert second.status_code == 200
    assert [i["number"] for i in second.json()] != [i["number"] for i in reply.json()]
    assert 'rel="prev"' in second.headers["Link"]


def test_if_none_match_is_304_and_uncounted_in_the_ledger(demo_url: str) -> None:
    url = f"{demo_url}/repos/acme/ops/issues?per_page=2&state=all"
    first = requests.get(url, headers=BOT, timeout=5)
    again = requests.get(url, headers={**BOT, "If-None-Match": first.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    entries = requests.get(f"{demo_url}/_sandbox/ledger", timeout=5).json()["entries"]
    mine = [e for e in entries if e["path"] == "/repos/acme/ops/issues?per_page=2&state=all"]
    assert [(e["status"], e["counted"]) for e in mine] == [(200, True), (304, False)]


def test_a_read_users_token_cannot_create_a_label(demo_url: str) -> None:
    denied = requests.post(
        f"{demo_url}/repos/acme/ops/labels",
        json={"name": "from-a-reader", "color": "ffffff"},
        headers={"Authorization": "token erin-token"},  # erin has read permission in the demo
        timeout=5,
    )
    assert denied.status_code == 403
    assert denied.json()["message"]
    missing = requests.get(f"{demo_url}/repos/acme/ops/labels/from-a-reader", headers=BOT, timeout=5)
    assert missing.status_code == 404
