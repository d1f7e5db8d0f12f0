"""The loader's contract: defaults for missing/empty files, all problems at once, YAML corners."""

from __future__ import annotations

from pathlib import Path

import pytest

from issueops.config.loader import field_name, load_config, load_workflows
from issueops.config.settings import Config
from issueops.core.errors import ConfigError
from issueops.core.yamlpos import read_yaml

WORKFLOW = """\
name: {name}
description: Something.
risk: low
match:
  labels: [{name}]
owners:
  pool: [alice]
"""


def test_missing_config_is_the_default(tmp_path: Path) -> None:
    assert load_config(tmp_path / "nope.yml") == Config()


@pytest.mark.parametrize(
    "text", ["", "\n", "# only a comment\n", "---\n"], ids=["empty", "newline", "comment", "marker"]
)
def test_empty_config_is_the_default(tmp_path: Path, text: str) -> None:
    path = tmp_path / "issueops.yml"
    path.write_text(text)
    assert load_config(path) == Config()


def test_config_error_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "issueops.yml"
    path.write_text("policy:\n  profile: nope\napi:\n  reserve: -1\nbogus: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = [(p.line, p.message.split(":")[0]) for p in caught.value.problems]
    assert lines == [(2, "policy.profile"), (4, "api.reserve"), (5, "bogus")]
    assert str(caught.value).startswith(f"{path}:2:")


def test_partial_required_approvals_keep_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "issueops.yml"
    path.write_text("policy:\n  required_approvals:\n    high: 3\n")
    assert load_config(path).policy.required_approvals == {"low": 1, "medium": 1, "high": 3}


def test_merge_keys_and_anchors_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "issueops.yml"
    path.write_text(
        "sources:\n"
        "  - &check {type: http, name: one, url: 'https://a.example.com/', timeout_seconds: 3}\n"
        "  - <<: *check\n"
        "    name: two\n"
        "owners:\n"
        "  unavailable: [dave]\n"
    )
    config = load_config(path)
    assert [(s.name, getattr(s, "timeout_seconds", None)) for s in config.sources] == [("one", 3), ("two", 3)]
    assert read_yaml(path).source.key(("owners", "unavailable")).line == 6


def test_merge_key_values_are_overridden_by_explicit_keys(tmp_path: Path) -> None:
    path = tmp_path / "wf.yml"
    path.write_text("base: &b\n  a: 1\n  b: 2\nthing:\n  <<: *b\n  b: 3\n")
    doc = read_yaml(path)
    assert doc.problems == []
    assert doc.data["thing"] == {"a": 1, "b": 3}


def test_recursive_alias_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("a: &x\n  - *x\n")
    doc = read_yaml(path)
    assert any("refers to itself" in p.message for p in doc.problems)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\n")
    doc = read_yaml(path)
    assert any("expands to more than" in p.message for p in doc.problems)


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "issueops.yml"
    path.write_bytes(b"policy:\n  profile: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_multiple_documents_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "issueops.yml"
    path.write_text("policy: {}\n---\napi: {}\n")
    with pytest.raises(ConfigError, match="one document per file") as caught:
        load_config(path)
    assert caught.value.problems[0].line == 2


def test_boolean_looking_keys_are_reported_as_written(tmp_path: Path) -> None:
    path = tmp_path / "issueops.yml"
    path.write_text("on: true\n")
    with pytest.raises(ConfigError, match="on: unknown key"):
        load_config(path)


def test_load_workflows_reads_yml_and_yaml_only(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(WORKFLOW.format(name="a"))
    (tmp_path / "b.yaml").write_text(WORKFLOW.format(name="b"))
    (tmp_path / "workflow.schema.json").write_text("{}")
    (tmp_path / ".hidden.yml").write_text("garbage: [")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "c.yml").write_text("garbage: [")
    assert [w.name for w in load_workflows(tmp_path)] == ["a", "b"]


def test_load_workflows_reports_all_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(WORKFLOW.format(name="a").replace("risk: low", "risk: lo"))
    (tmp_path / "b.yml").write_text(WORKFLOW.format(name="b").replace("  pool: [alice]\n", ""))
    with pytest.raises(ConfigError) as caught:
        load_workflows(tmp_path)
    assert [(Path(p.path).name, p.line) for p in caught.value.problems] == [("a.yml", 3), ("b.yml", 6)]


def test_missing_workflow_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workflow directory not found"):
        load_workflows(tmp_path / "nope")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ((), "(top level)"),
        (("policy", "profile"), "policy.profile"),
        (("sources", 2, "url"), "sources[2].url"),
        (("match", "form_fields", "Which team?"), "match.form_fields['Which team?']"),
    ],
    ids=["root", "nested", "list item", "odd key"],
)
def test_field_names(path: tuple[object, ...], shown: str) -> None:
    assert field_name(path) == shown
