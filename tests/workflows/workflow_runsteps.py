"""Read the workflows and the composite action as data, and turn their `run:` steps into commands.

Why: the checks in this folder assert properties of every workflow (permissions, pins, cron...),
and the end-to-end tests drive the very `run:` scripts the runner would execute, with the `env:`
GitHub would give them, instead of a hand-copied imitation that could drift from the YAML.

`${{ }}` expressions are evaluated by a deliberately small evaluator: dotted lookups in a context
(`inputs.limit`, `vars.ISSUEOPS_LIVE`, `steps.app-token.outputs.token`), string literals and `||`.
That is all the env blocks here use; anything else raises, so a new construct cannot be skipped
silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
_LITERAL = re.compile(r"^'((?:[^']|'')*)'$")

# GitHub's shells for `run:` on Linux: an unspecified shell is `bash -e {0}`; `shell: bash` adds
# pipefail and skips the profile files.
SHELLS: dict[str, list[str]] = {
    "": ["bash", "-e"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
    "sh": ["sh", "-e"],
}


def load_yaml(path: Path) -> dict[str, Any]:
    """A workflow or action file; YAML 1.1 reads the key `on` as True, so it is put back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    if True in data:
        data["on"] = data.pop(True)
    return data


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """`on:` as a mapping whatever its YAML form (string, list or mapping)."""
    on = workflow.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(name): None for name in on}
    return dict(on or {})


@dataclass(frozen=True)
class RunStep:
    """One `run:` step with the `env:` GitHub would merge for it (workflow, job, step)."""

    source: Path
    job: str
    index: int
    name: str
    script: str
    shell: str
    env: dict[str, str] = field(default_factory=dict)
    condition: str | None = None
    working_directory: str | None = None

    @property
    def label(self) -> str:
        return f"{self.source.name}:{self.job}:{self.name or self.index}"


def _env_text(values: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (values or {}).items():
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        else:
            out[str(key)] = "" if value is None else str(value)
    return out


def run_steps(path: Path) -> list[RunStep]:
    """Every `run:` step of a workflow (any job) or of a composite action."""
    data = load_yaml(path)
    steps: list[RunStep] = []
    if "runs" in data:  # a composite action
        for index, step in enumerate(data["runs"].get("steps", [])):
            if "run" in step:
                steps.append(
                    RunStep(
                        source=path,
                        job="(action)",
                        index=index,
                        name=str(step.get("name", "")),
                        script=str(step["run"]),
                        shell=str(step.get("shell", "")),
                        env=_env_text(step.get("env")),
                        condition=step.get("if"),
                        working_directory=step.get("working-directory"),
                    )
                )
        return steps
    top_env = _env_text(data.get("env"))
    defaults = (data.get("defaults") or {}).get("run", {})
    for job_id, job in (data.get("jobs") or {}).items():
        job_env = {**top_env, **_env_text(job.get("env"))}
        job_defaults = {**defaults, **((job.get("defaults") or {}).get("run", {}))}
        for index, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            steps.append(
                RunStep(
                    source=path,
                    job=str(job_id),
                    index=index,
                    name=str(step.get("name", "")),
                    script=str(step["run"]),
                    shell=str(step.get("shell", job_defaults.get("shell", ""))),
                    env={**job_env, **_env_text(step.get("env"))},
                    condition=step.get("if"),
                    working_directory=step.get("working-directory", job_defaults.get("working-directory")),
                )
            )
    return steps


def _lookup(path: str, context: Mapping[str, Any]) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ""  # GitHub renders a missing property as an empty string
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def evaluate(expression: str, context: Mapping[str, Any]) -> str:
    """`a.b || 'x'` and friends: `||` returns the first truthy operand (GitHub's semantics)."""
    result: Any = ""
    for operand in (part.strip() for part in expression.split("||")):
        literal = _LITERAL.match(operand)
        if literal:
            result = literal.group(1).replace("''", "'")
        elif _PATH.match(operand):
            result = _lookup(operand, context)
        else:
            raise ValueError(f"expression not supported by the test evaluator: {operand!r}")
        if result not in ("", None, False, 0):
            return _text(result)
    return _text(result)


def render(value: str, context: Mapping[str, Any]) -> str:
    """Substitute every `${{ }}` in an env value, as the runner does before the step starts."""
    return _EXPR.sub(lambda m: evaluate(m.group(1), context), value)


def command(
    step: RunStep,
    context: Mapping[str, Any],
    runner_env: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """(argv, env) to run the step's script as the runner would: its shell, `-c`, the script.

    `runner_env` holds what the runner itself sets (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH,
    RUNNER_TEMP, GITHUB_OUTPUT, PATH...); the step's own `env:` is rendered and laid over it.
    """
    if "${{" in step.script:
        raise ValueError(f"{step.label}: an expression inside run: would be spliced into the script")
    env = dict(os.environ if runner_env is None else runner_env)
    env.update({key: render(value, context) for key, value in step.env.items()})
    shell = SHELLS.get(step.shell)
    if shell is None:
        raise ValueError(f"{step.label}: shell {step.shell!r} is not modelled")
    return [*shell, "-c", step.script], env


def find_step(path: Path, name: str) -> RunStep:
    """The `run:` step called `name` in a workflow or action (exactly one must match)."""
    matches = [step for step in run_steps(path) if step.name == name]
    if len(matches) != 1:
        raise LookupError(f"{path.name}: {len(matches)} run steps named {name!r}")
    return matches[0]
