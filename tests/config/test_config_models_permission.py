"""`issueops validate` warns when `assign.model` and the assign job's `models: read` disagree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from issueops.config.validate import validate_all

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "workflow_schemas"
WORKFLOW = ROOT / ".github" / "workflows" / "issueops-assign.yml"


def setup(tmp: Path, *, model_on: bool, granted: bool) -> Path:
    github = tmp / ".github"
    (github / "workflows").mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8")
    if granted:
        text = text.replace("      # models: read #", "      models: read #")
    (github / "workflows" / "issueops-assign.yml").write_text(text, encoding="utf-8")
    config = github / "issueops.yml"
    config.write_text(
        "assign:\n  model:\n    min_confidence: 0.8\n" if model_on else "{}\n", encoding="utf-8"
    )
    return config


@pytest.mark.parametrize(
    ("model_on", "granted", "warning"),
    [
        (True, False, "lacks `models: read`"),
        (False, True, "remove the permission (least privilege)"),
        (True, True, None),
        (False, False, None),
    ],
    ids=["on-without-permission", "permission-without-feature", "both", "neither"],
)
def test_models_permission_matches_the_feature(
    tmp_path: Path, model_on: bool, granted: bool, warning: str | None
) -> None:
    config = setup(tmp_path, model_on=model_on, granted=granted)
    report = validate_all(config, SCHEMAS)
    assert report.problems == []
    found = [str(w) for w in report.warnings if "models: read" in w.message]
    if warning is None:
        assert found == []
    else:
        assert len(found) == 1 and warning in found[0]
        assert found[0].startswith(f"{config}:")


def test_no_workflow_next_to_the_config_no_warning(tmp_path: Path) -> None:
    config = tmp_path / "issueops.yml"
    shutil.copy(ROOT / ".github" / "issueops.yml", config)
    config.write_text(config.read_text(encoding="utf-8") + "\nassign:\n  model: {}\n", encoding="utf-8")
    report = validate_all(config, SCHEMAS)
    assert not [w for w in report.warnings if "models: read" in w.message]
