"""The fleet report: the shards' summaries aggregated, table-driven from made-up summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from issueops.core.errors import UserError
from issueops.fleet import aggregate, read_shard_summaries, report_markdown, write_shard_summary


def _summary(**fields: Any) -> dict[str, Any]:
    base = {
        "command": "run",
        "items_changed": 2,
        "items_failed": 0,
        "items_deferred": 1,
        "requests_counted": 40,
        "exit_code": 0,
        "budget_stop": None,
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("summaries", "expected", "failed", "missing", "unreadable"),
    [
        (
            [("a.json", {"repo": "acme/web", **_summary()}), ("b.json", {"repo": "acme/ops", **_summary()})],
            ["acme/ops", "acme/web"],
            [],
            [],
            [],
        ),
        (
            [("a.json", {"repo": "acme/ops", **_summary(items_failed=1, exit_code=1)})],
            ["acme/ops"],
            ["acme/ops"],
            [],
            [],
        ),
        ([("a.json", {"repo": "acme/ops", **_summary()})], ["acme/ops", "acme/api"], [], ["acme/api"], []),
        ([("a.json", None), ("b.json", {"no": "repo"})], None, [], [], ["a.json", "b.json"]),
    ],
    ids=["all-ok-sorted", "a-failed-shard", "a-shard-never-reported", "unreadable-files"],
)
def test_aggregate(
    summaries: list[tuple[str, Any]],
    expected: list[str] | None,
    failed: list[str],
    missing: list[str],
    unreadable: list[str],
) -> None:
    report = aggregate(summaries, expected)
    if expected is not None and not missing:
        assert [r.repo for r in report.rows] == expected
    assert (report.failed, report.missing, report.unreadable) == (failed, missing, unreadable)


def test_the_report_totals_and_escapes_cells() -> None:
    report = aggregate(
        [
            ("a.json", {"repo": "acme/ops", **_summary(command="a|b")}),
            ("b.json", {"repo": "acme/web", **_summary(budget_stop="run budget")}),
        ]
    )
    text = report_markdown(report)
    assert "| **total** | | 4 | 0 | 2 | 80 | |" in text
    assert "a\\|b" in text and "ok (budget stop: run budget)" in text


def test_summaries_round_trip_through_files(tmp_path: Path) -> None:
    write_shard_summary(tmp_path / "s" / "0" / "summary.json", "acme/ops", _summary())
    (tmp_path / "s" / "junk.json").write_text("{not json", encoding="utf-8")
    report = aggregate(read_shard_summaries(tmp_path / "s"))
    assert [r.repo for r in report.rows] == ["acme/ops"] and report.unreadable == ["junk.json"]


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such folder"):
        read_shard_summaries(tmp_path / "nope")


def test_the_fleet_workflow_fans_out_over_the_listed_repositories_with_bounded_parallelism() -> None:
    from workflow_runsteps import WORKFLOWS, load_yaml

    jobs = load_yaml(WORKFLOWS / "issueops-fleet.yml")["jobs"]
    strategy = jobs["shard"]["strategy"]
    assert strategy["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    assert 1 <= strategy["max-parallel"] <= 5, "one installation's limits are shared by every shard"
    assert strategy["fail-fast"] is False, "one repository's failure must not cancel the others"
    assert jobs["shard"]["needs"] == "matrix" and "count != '0'" in jobs["shard"]["if"]
    assert jobs["report"]["needs"] == ["matrix", "shard"] and jobs["report"]["if"].startswith("always()")
    listed = [s.get("run", "") for s in jobs["matrix"]["steps"]]
    assert any("issueops fleet matrix --with-config .github/issueops.yml" in run for run in listed)
    shard_env = next(s["env"] for s in jobs["shard"]["steps"] if s.get("name") == "issueops fleet shard")
    assert "ISSUEOPS_INPUT_APP_SLUG" not in shard_env, "the App names itself from GET /app"
    assert shard_env["ISSUEOPS_SUMMARY_FILE"].endswith(".json")
