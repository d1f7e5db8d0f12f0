"""`issueops validate` and `issueops schema export` through the command line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from issueops.cli import main
from issueops.config.validate import json_schema_texts

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".github" / "issueops.yml"
SCHEMAS = ROOT / "workflow_schemas"
POSITION = re.compile(r"^error: (\S+?):(\d+):(\d+): ", re.MULTILINE)


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"GITHUB_TOKEN": ""})
    return result.exit_code, result.stdout, result.stderr


def test_validate_the_examples_exits_0_and_lists_workflows() -> None:
    code, out, err = run("--config", str(CONFIG), "--schemas", str(SCHEMAS), "validate")
    assert code == 0, err
    for name in ("incident-follow-up", "access-request", "content-review"):
        assert name in out
    assert "risk high" in out and "owners:" in out and "deliverables:" in out
    assert "OK:" in out


def test_validate_json_is_one_document() -> None:
    code, out, err = run("--json", "--config", str(CONFIG), "--schemas", str(SCHEMAS), "validate")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True and doc["problems"] == []
    assert doc["config"]["profile"] == "assisted"
    by_name = {w["name"]: w for w in doc["workflows"]}
    assert by_name["incident-follow-up"]["risk"] == "high"
    assert by_name["incident-follow-up"]["gates"] == {"before_processing": True, "before_publishing": True}
    assert by_name["access-request"]["deliverables"][0]["template"] == "access-change-record.md"
    assert doc["counts"]["workflows"] == len(doc["workflows"]) >= 3


def test_validate_broken_exits_1_with_file_line_col(tmp_path: Path) -> None:
    schemas = tmp_path / "workflow_schemas"
    shutil.copytree(SCHEMAS, schemas)
    config = tmp_path / "issueops.yml"
    config.write_text(CONFIG.read_text(encoding="utf-8").replace("profile: assisted", "profile: auto"))
    wf = schemas / "access-request.yml"
    wf.write_text(wf.read_text(encoding="utf-8").replace("risk: medium", "risk: urgent"))

    code, out, err = run("--config", str(config), "--schemas", str(schemas), "validate")

    assert code == 1
    found = {(Path(path).name, int(line)) for path, line, _ in POSITION.findall(err)}
    assert ("issueops.yml", line_of(config, "profile: auto")) in found, err
    assert ("access-request.yml", line_of(wf, "risk: urgent")) in found, err
    assert "policy.profile" in err and "risk" in err
    assert "2 error(s); nothing was written." in err
    assert out == ""


def test_validate_missing_schemas_directory_is_an_error(tmp_path: Path) -> None:
    code, _, err = run("--config", str(CONFIG), "--schemas", str(tmp_path / "nope"), "validate")
    assert code == 1
    assert "workflow directory not found" in err


def test_schema_export_writes_both_files(tmp_path: Path) -> None:
    out_dir = tmp_path / "schemas"
    code, out, err = run("schema", "export", "--out", str(out_dir))
    assert code == 0, err
    expected = json_schema_texts()
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert (out_dir / name).read_text(encoding="utf-8") == text
        assert text.endswith("}\n")
        assert f"wrote {out_dir / name}" in out
    schema = json.loads((out_dir / "workflow.schema.json").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "description", "risk", "match", "owners"}
