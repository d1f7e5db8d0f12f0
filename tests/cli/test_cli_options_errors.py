"""Global options anywhere, and each class of error with its exit code, message and fix.

Every case runs the CLI as a process (as a user does); the API cases against a served sandbox."""

from __future__ import annotations

import socket
from pathlib import Path

import click
import pytest
from cli_world import BOT_TOKEN, clean_env, issueops, sandbox_server, user_dir

from issueops.cli import GLOBAL_NAMES, main
from issueops.github.classify import auth_hint


@pytest.fixture(scope="module")
def api_url() -> str:  # type: ignore[misc]
    with sandbox_server() as url:
        yield url


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            found += _leaf_commands(cmd, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("words", _leaf_commands(main), ids=" ".join)
def test_every_command_lists_the_global_options_in_its_help(words: tuple[str, ...], tmp_path: Path) -> None:
    result = issueops(*words, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for flag in ("--repo", "--api-url", "--config", "--dry-run", "--json", "--limit", "--max-requests"):
        assert flag in result.stdout, f"issueops {' '.join(words)} --help does not list {flag}"


def test_the_group_and_the_commands_take_the_same_global_options() -> None:
    names = {str(p.name) for p in main.params}
    assert names >= GLOBAL_NAMES
    for words in _leaf_commands(main):
        cmd: click.Command = main
        for word in words:
            assert isinstance(cmd, click.Group)
            cmd = cmd.commands[word]
        assert {str(p.name) for p in cmd.params} >= GLOBAL_NAMES, words


def test_options_after_the_command_plan_the_same_as_before(api_url: str, tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    env = clean_env(GITHUB_TOKEN=BOT_TOKEN)
    before = issueops(
        "--repo", "acme/ops", "--api-url", api_url, "--dry-run", "--json", "assign", cwd=work, env=env
    )
    after = issueops(
        "assign", "--dry-run", "--json", "--repo", "acme/ops", "--api-url", api_url, cwd=work, env=env
    )
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert '"dry_run": true' in after.stdout
    assert before.stdout.split('"duration_ms"')[0] == after.stdout.split('"duration_ms"')[0]


def test_a_value_after_the_command_wins_over_one_before(api_url: str, tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    env = clean_env(GITHUB_TOKEN=BOT_TOKEN)
    result = issueops(
        "--repo",
        "acme/nope",
        "assign",
        "--repo",
        "acme/ops",
        "--api-url",
        api_url,
        "--dry-run",
        cwd=work,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "assign:" in result.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ERROR_CASES = [
    # (name, args, token, exit code, must be in stderr, must not be in stderr)
    (
        "repo without owner",
        ["--repo", "acme"],
        BOT_TOKEN,
        1,
        ["--repo 'acme' is not OWNER/NAME", "acme/ops"],
        [],
    ),
    ("unknown option is usage", ["--repo", "acme/ops", "--frobnicate"], BOT_TOKEN, 2, ["No such option"], []),
    ("bad token is 401", ["--repo", "acme/ops"], "not-a-token", 1, ["invalid or expired"], ["lacks"]),
    ("no token", ["--repo", "acme/ops"], "", 1, ["no token", "GITHUB_TOKEN"], []),
]


@pytest.mark.parametrize(
    ("name", "args", "token", "code", "present", "absent"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_user_errors_exit_with_their_code_and_say_the_fix(
    api_url: str,
    tmp_path: Path,
    name: str,
    args: list[str],
    token: str,
    code: int,
    present: list[str],
    absent: list[str],
) -> None:
    work = user_dir(tmp_path)
    result = issueops(
        "assign", "--api-url", api_url, "--dry-run", *args, cwd=work, env=clean_env(GITHUB_TOKEN=token)
    )
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "bug in issueops" not in result.stderr
    for text in present:
        assert text in result.stderr, result.stderr
    for text in absent:
        assert text not in result.stderr, result.stderr


def test_an_api_url_without_scheme_says_the_full_url(tmp_path: Path) -> None:
    port = _closed_port()
    result = issueops(
        "assign",
        "--repo",
        "acme/ops",
        "--api-url",
        f"127.0.0.1:{port}",
        cwd=user_dir(tmp_path),
        env=clean_env(GITHUB_TOKEN=BOT_TOKEN),
    )
    assert result.returncode == 1
    assert f"--api-url http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_api_is_named_not_called_a_5xx(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = issueops(
        "assign",
        "--repo",
        "acme/ops",
        "--api-url",
        url,
        "--dry-run",
        cwd=user_dir(tmp_path),
        env=clean_env(GITHUB_TOKEN=BOT_TOKEN),
    )
    assert result.returncode == 1, result.stderr
    assert f"cannot reach the API at {url}" in result.stderr
    assert "5xx" not in result.stderr and "Traceback" not in result.stderr
    assert "after 1 try" in result.stderr  # a server that never answered is not retried for seconds


AUTH_CASES = [
    ("401 is the token itself", 401, None, "acme/ops#4", "invalid or expired"),
    ("403 names GitHub's header", 403, "issues=write", "acme/ops#4", "permission issues: write"),
    (
        "403 header with two",
        403,
        "contents=write; pull_requests=write",
        "x",
        "contents: write or pull-requests: write",
    ),
    ("403 on a branch", 403, None, "acme/ops branch issueops/4", "contents: write"),
    ("403 on an item", 403, None, "acme/ops#4", "issues: write"),
]


@pytest.mark.parametrize(
    ("name", "status", "header", "target", "expected"), AUTH_CASES, ids=[c[0] for c in AUTH_CASES]
)
def test_auth_hints(name: str, status: int, header: str | None, target: str, expected: str) -> None:
    assert expected in auth_hint(status, header, target)


def test_validate_fails_when_the_config_does_not_exist(tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    result = issueops("validate", "--config", "missing.yml", cwd=work)
    assert result.returncode == 1
    assert "missing.yml: the config file does not exist" in result.stderr


def test_validate_warns_about_the_samples_placeholders_with_file_and_line(tmp_path: Path) -> None:
    work = user_dir(tmp_path)
    result = issueops("validate", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "'https://status.example.com/history.atom' is a placeholder URL" in result.stdout
    lines = (work / ".github" / "issueops.yml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "status.example.com" in text)
    assert f".github/issueops.yml:{line}:" in result.stdout
    # replaced by real values, the warnings go away
    config = work / ".github" / "issueops.yml"
    text = (
        config.read_text(encoding="utf-8")
        .replace("example.com", "status.acme-corp.io")
        .replace("alice", "octo-lead")
    )
    config.write_text(text.replace("@acme/ops-leads", "@acme-corp/leads"), encoding="utf-8")
    again = issueops("validate", cwd=work)
    assert ".github/issueops.yml" not in again.stdout.split("Config ")[0]
