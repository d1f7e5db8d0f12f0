"""The external linters, offline: zizmor (security audit) and GitHub's JSON schemas via check-jsonschema.

Both come from the dev extra on PyPI and live next to the interpreter running the tests. Neither
touches the network here: zizmor runs `--offline` (online audits off) and check-jsonschema uses
its vendored copies of the schemas (`--builtin-schema`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_runsteps import ACTION, ROOT, WORKFLOWS, workflow_files

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}; run `make test` (installs .[dev])")
    return str(path)


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "ZIZMOR_OFFLINE": "true"}
    env.pop("GITHUB_TOKEN", None)  # nothing here may reach GitHub, even by accident
    env.pop("GH_TOKEN", None)
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_zizmor_finds_nothing() -> None:
    result = _run(
        [_tool("zizmor"), "--offline", "--no-progress", "--format", "json", str(WORKFLOWS), str(ACTION)]
    )
    findings = json.loads(result.stdout or "[]")
    summary = [f"{f.get('ident')}: {f.get('desc')} {json.dumps(f.get('locations'))[:400]}" for f in findings]
    assert result.returncode == 0 and not findings, "\n".join(summary) or result.stderr


def test_every_zizmor_ignore_carries_a_reason() -> None:
    for path in [*workflow_files(), ACTION]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = re.search(r"#\s*zizmor:\s*ignore\[[a-z-]+(,\s*[a-z-]+)*\](?P<why>.*)$", line)
            if match:
                assert len(match.group("why").split()) >= 5, f"{path.name}:{number}: say why it is safe"


def test_workflows_match_githubs_workflow_schema() -> None:
    files = [str(p) for p in workflow_files()]
    result = _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_matches_githubs_action_schema() -> None:
    result = _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_issue_forms_match_githubs_issue_form_schema() -> None:
    forms = sorted((ROOT / ".github" / "ISSUE_TEMPLATE").glob("*.yml"))
    forms = [p for p in forms if p.name != "config.yml"]
    assert forms
    result = _run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-issue-forms", *map(str, forms)]
    )
    assert result.returncode == 0, result.stdout + result.stderr
