"""A newcomer's day one, as a test: README's install steps, run literally in a fresh git repository,
then `issueops validate` (exit 0) and a dry-run `run` against the sandbox with the copied files.

The README's shell blocks are read from README.md (between `<!-- install:... -->` markers) and run
with bash, so a step missing from README fails here. The one substitution: instead of
`pip install` (which needs a package index), the copied package is run from the copied
`scripts/` folder, and the copied `pyproject.toml` is checked to build exactly that folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from cli_world import BOT_TOKEN, ROOT, clean_env, sandbox_server

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_block(marker: str) -> str:
    match = re.search(rf"<!-- install:{marker} -->\n```(?:sh|yaml)\n(.*?)```", README, re.S)
    assert match, f"README.md has no install:{marker} block"
    return match.group(1)


def fresh_repo(tmp: Path) -> Path:
    """`<tmp>/issueops` is this repository (README's ISSUEOPS=../issueops) and `<tmp>/target` an
    empty git repository, the user's."""
    (tmp / "issueops").symlink_to(ROOT, target_is_directory=True)
    target = tmp / "target"
    target.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def run_block(block: str, cwd: Path) -> None:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"README step failed:\n{block}\n{done.stderr}"


def copied_issueops(target: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`issueops` from the copied `scripts/` (what `pip install .` of the copied files installs)."""
    return subprocess.run(
        [sys.executable, "-m", "issueops", *args],
        cwd=target,
        env=clean_env(PYTHONPATH=str(target / "scripts"), **env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _dry_run_everything(target: Path) -> None:
    with sandbox_server() as url:
        run = copied_issueops(
            target, "run", "--repo", "acme/ops", "--api-url", url, "--dry-run", GITHUB_TOKEN=BOT_TOKEN
        )
    assert run.returncode == 0, run.stderr
    assert "Plan (dry run: no write was sent)" in run.stdout
    assert "assign:" in run.stdout and "Traceback" not in run.stderr


def test_route_2_copied_files_install_validate_and_dry_run(tmp_path: Path) -> None:
    target = fresh_repo(tmp_path)
    run_block(readme_block("copy"), target)
    # everything `pip install .` needs came along: the package, its pyproject and the readme it names
    project = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    where = project["tool"]["setuptools"]["packages"]["find"]["where"]
    assert (target / where[0] / "issueops" / "cli.py").is_file()
    assert (target / project["project"]["readme"]).is_file()
    assert "issueops-assign.yml" in os.listdir(target / ".github" / "workflows")
    assert (target / "telemetry" / "README.md").is_file()

    validate = copied_issueops(target, "validate")
    assert validate.returncode == 0, validate.stderr
    assert "placeholder URL" in validate.stdout  # the newcomer is told what to replace
    assert validate.stdout.rstrip().splitlines()[-1].startswith("OK:")
    _dry_run_everything(target)
    # the runs' files stay out of commits; telemetry/README.md does not
    run_files = list((target / "telemetry").rglob("*.jsonl"))
    assert run_files
    ignored = ["git", "check-ignore", "-q"]
    assert subprocess.run([*ignored, str(run_files[0])], cwd=target, check=False).returncode == 0
    assert subprocess.run([*ignored, "telemetry/README.md"], cwd=target, check=False).returncode == 1


def test_route_1_the_action_with_the_readme_workflow(tmp_path: Path) -> None:
    target = fresh_repo(tmp_path)
    run_block(readme_block("action"), target)
    workflow = yaml.safe_load(readme_block("action-workflow"))
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["assign"]["steps"] if str(s.get("uses", "")).startswith("OWNER/")]
    assert set(step["with"]) <= set(action["inputs"]), "README's workflow passes an input the action lacks"
    assert re.fullmatch(r"OWNER/issueops@[0-9a-f]{40}", step["uses"])
    assert workflow["jobs"]["assign"]["permissions"] == {"contents": "read", "issues": "write"}
    # the action installs issueops from its own files; its config and schemas are the user's copies
    validate = subprocess.run(
        [sys.executable, "-m", "issueops", "validate"],
        cwd=target,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 0, validate.stderr


@pytest.mark.parametrize("marker", ["action", "copy", "check"])
def test_every_readme_install_block_uses_only_files_that_exist(marker: str) -> None:
    for path in re.findall(r'"\$ISSUEOPS/?([^"*]*)"', readme_block(marker)):
        if path:
            assert (ROOT / path).exists(), f"README copies {path}, which this repository does not have"
