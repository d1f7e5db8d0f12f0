"""The repository's own config, workflows, templates and JSON Schemas are valid and up to date."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import BaseModel

from issueops.config.loader import load_config, load_workflows, workflow_files
from issueops.config.settings import Config
from issueops.config.templates import TemplateContext, render
from issueops.config.validate import json_schema_texts, validate_all
from issueops.config.workflows import WorkflowSchema

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".github" / "issueops.yml"
SCHEMAS = ROOT / "workflow_schemas"
TEMPLATES = SCHEMAS / "templates"
DOCS = ROOT / "docs" / "configuration.md"

# Every YAML config and workflow checked in (not GitHub Actions workflows, not test fixtures).
CONFIG_FILES = [CONFIG]
WORKFLOW_FILES = workflow_files(SCHEMAS)
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def test_there_are_examples() -> None:
    assert CONFIG.is_file()
    assert {p.stem for p in WORKFLOW_FILES} >= {"incident-follow-up", "access-request", "content-review"}


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.policy.profile == "assisted"
    assert {s.type for s in config.sources} == {"feed", "http", "github_search"}


def test_every_workflow_loads() -> None:
    workflows = {w.name: w for w in load_workflows(SCHEMAS)}
    assert workflows["incident-follow-up"].risk == "high"
    assert workflows["access-request"].risk == "medium"
    assert workflows["content-review"].risk == "low"
    for workflow in workflows.values():
        assert workflow.deliverables and workflow.guidance
        assert set(workflow.owners.pool) <= {"alice", "bob", "carol", "dave"}


def test_the_examples_validate_with_zero_problems() -> None:
    report = validate_all(CONFIG, SCHEMAS)
    assert report.problems == [], "\n".join(map(str, report.problems))
    # the only warnings are the sample's placeholders, which a user replaces (README, Install)
    others = [w for w in report.warnings if "sample" not in w.message]
    assert others == [], "\n".join(map(str, others))
    assert report.warnings, "the sample's placeholders (alice, example.com) are flagged"
    assert len(report.workflows) == len(WORKFLOW_FILES)


@pytest.mark.parametrize("name", sorted(json_schema_texts()))
def test_committed_json_schema_is_fresh(name: str) -> None:
    committed = SCHEMAS / name
    assert committed.is_file(), f"{committed} is missing: run `issueops schema export`"
    assert committed.read_text(encoding="utf-8") == json_schema_texts()[name], (
        f"{committed.relative_to(ROOT)} is stale: run `issueops schema export` and commit the result"
    )


@pytest.mark.parametrize(
    "path", [*CONFIG_FILES, *WORKFLOW_FILES], ids=lambda p: str(Path(p).relative_to(ROOT))
)
def test_example_names_its_json_schema_and_passes_it(path: Path) -> None:
    """Editors use the modeline; the exported JSON Schema must agree with the pydantic model."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path} must start with `# yaml-language-server: $schema=...`"
    schema_path = (path.parent / match.group(1)).resolve()
    expected = "config.schema.json" if path in CONFIG_FILES else "workflow.schema.json"
    assert schema_path == (SCHEMAS / expected).resolve()
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


SAMPLE = TemplateContext(
    item={
        "number": 42,
        "title": "API outage {{ 7*7 }}",
        "body": "It broke.",
        "author": "eve",
        "labels": ["incident"],
        "url": "https://github.example/acme/ops/issues/42",
        "created_at": "2025-01-01T00:00:00Z",
        "source": "status-feed",
        "assignees": ["alice"],
    },
    workflow={"name": "incident-follow-up", "description": "Postmortem.", "risk": "high"},
    repo="acme/ops",
    now="2025-01-02T00:00:00Z",
    owner="alice",
    form={},
    branch="issueops/42-api-outage",
)


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.md")), ids=lambda p: p.name)
def test_every_template_renders_without_form_answers(path: Path) -> None:
    text = render(path.read_text(encoding="utf-8"), SAMPLE)
    assert "API outage {{ 7*7 }}" in text or "@alice" in text
    assert "{{" not in text.replace("{{ 7*7 }}", "")


def test_deliverable_paths_render_to_relative_files() -> None:
    for workflow in load_workflows(SCHEMAS):
        for deliverable in workflow.deliverables:
            rendered = render(deliverable.path, SAMPLE)
            assert not rendered.startswith("/") and ".." not in rendered.split("/")
            assert rendered.endswith(".md") and "42" in rendered


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """`policy.profile`, `sources[].url`, ... for every field of every nested model."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        annotation: Any = info.annotation
        is_list = typing.get_origin(annotation) is list
        inner = typing.get_args(annotation)[0] if is_list else annotation
        while typing.get_origin(inner) is typing.Annotated:
            inner = typing.get_args(inner)[0]
        members = typing.get_args(inner) or (inner,)
        seen: set[str] = set()
        for member in members:
            if isinstance(member, type) and issubclass(member, BaseModel):
                for sub in _field_paths(member, f"{path}[]." if is_list else f"{path}."):
                    if sub not in seen:
                        seen.add(sub)
                        paths.append(sub)
    return paths


@pytest.mark.parametrize(
    ("model", "title"), [(Config, "config"), (WorkflowSchema, "workflow")], ids=["config", "workflow"]
)
def test_docs_describe_every_key(model: type[BaseModel], title: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [p for p in _field_paths(model) if f"`{p}`" not in text]
    assert not missing, f"docs/configuration.md does not describe these {title} keys: {missing}"


@pytest.mark.parametrize("name", sorted(json_schema_texts()))
def test_exported_json_schema_is_a_valid_2020_12_schema(name: str) -> None:
    schema = json.loads(json_schema_texts()[name])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
