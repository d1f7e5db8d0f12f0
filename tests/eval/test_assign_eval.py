"""`issueops assign-eval` on the shipped labelled set: rules alone vs rules + scripted model,
through the command line, the real Models client and governor, and the sandbox's stand-in."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from issueops.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".github" / "issueops.yml"
SCHEMAS = ROOT / "workflow_schemas"
ITEMS = Path(__file__).with_name("assign_items.yml")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    base = ["--config", str(CONFIG), "--schemas", str(SCHEMAS)]
    result = CliRunner().invoke(main, [*base, *args], env=env or {"GITHUB_TOKEN": ""})
    return result.exit_code, result.stdout, result.stderr


def evaluation() -> dict[str, Any]:
    code, out, err = run("--json", "assign-eval", str(ITEMS))
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def rate(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    needs_human = sum(1 for r in rows if r[key] is None) / len(rows)
    accuracy = sum(1 for r in rows if r[key] == r["expected"]) / len(rows)
    return round(needs_human, 3), round(accuracy, 3)


def test_the_set_is_large_and_varied() -> None:
    items = yaml.safe_load(ITEMS.read_text(encoding="utf-8"))["items"]
    assert len(items) >= 40
    assert Counter(i["expected"] for i in items).keys() == {
        "incident-follow-up",
        "content-review",
        "access-request",
        "none",
    }
    titles = [i["title"] for i in items]
    assert len(set(titles)) == len(titles)


def test_figures_match_the_rows_and_the_model_lowers_the_needs_human_rate() -> None:
    data = evaluation()
    rows = data["rows"]
    assert data["items"] == len(rows) >= 40
    rules = rate(rows, "rules")
    assisted = rate(rows, "rules_and_model")
    assert (data["rules"]["needs_human_rate"], data["rules"]["accuracy"]) == rules
    assert (data["rules_and_model"]["needs_human_rate"], data["rules_and_model"]["accuracy"]) == assisted
    assert assisted[0] < rules[0] and assisted[1] > rules[1]
    # The rules are the floor: wherever a rule placed an item, rules + model placed it the same way.
    assert all(r["rules_and_model"] == r["rules"] for r in rows if r["rules"] is not None)
    notes = [r["model"] for r in rows]
    # Counted as the report counts a run: an overruled answer is a fallback too.
    assert data["fallbacks"] == sum(1 for n in notes if n.startswith("fallback")) + notes.count("overruled")
    assert sum(data["fallbacks_by_reason"].values()) == data["fallbacks"]
    assert data["fallbacks_by_reason"]["overruled"] == notes.count("overruled")
    assert data["model_placed"] == notes.count("placed")
    assert data["agreement"]["agreed"] == notes.count("agreed")
    assert data["agreement"]["compared"] == notes.count("agreed") + notes.count("overruled")


def test_every_scripted_failure_falls_back_to_the_rules() -> None:
    by_title = {r["title"]: r for r in evaluation()["rows"]}
    expected_notes = {
        "Our SSO login page is broken for some users": "fallback: malformed answer: not a JSON object",
        "Security scan flagged an old library": "fallback: unknown workflow 'security-review'",
        "Email notifications stopped going out": "fallback: timeout: no answer after retries",
        "Please help": "fallback: malformed answer: unexpected fields risk",
        "Incident: API unavailable": "overruled",
        "Upgrade the CI runners to Ubuntu 24.04": "fallback: confidence 0.55 below 0.70",
    }
    for title, note in expected_notes.items():
        assert by_title[title]["model"] == note, title
    # A 429 with a short retry-after is waited out (virtual time) and the answer used.
    assert by_title["Webhook deliveries delayed for two hours"]["rules_and_model"] == "incident-follow-up"
    # The injected item the rules placed keeps its (high-risk) workflow.
    assert by_title["Incident: API unavailable"]["rules_and_model"] == "incident-follow-up"


def test_the_human_report_prints_both_rates() -> None:
    code, out, err = run("assign-eval", str(ITEMS))
    assert code == 0, err
    assert "rules alone:   needs-human" in out and "rules + model: needs-human" in out
    assert "agreed with the rules on" in out


def test_live_without_a_token_says_how_to_get_one() -> None:
    code, _, err = run("assign-eval", "--live", str(ITEMS))
    assert code == 1
    assert "GITHUB_TOKEN" in err and "models: read" in err


def test_a_bad_entry_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "items.yml"
    bad.write_text("items:\n  - {title: ok, expected: none}\n  - {title: x, expected: deploy}\n")
    code, _, err = run("assign-eval", str(bad))
    assert code == 1
    assert "items[2]" in err and "`expected` must be one of" in err and "'deploy'" in err


def test_live_mode_asks_the_configured_endpoint_with_the_users_token(tmp_path: Path) -> None:
    """`--live` as a user runs it, with the sandbox over HTTP standing in for models.github.ai."""
    from issueops.sandbox import Sandbox
    from issueops.sandbox.server import serve

    sandbox = Sandbox()
    sandbox.add_user("user", token="user-token")
    sandbox.inference.add(
        {"match": "deploy group", "answer": {"workflow": "access-request", "confidence": 0.9, "reason": "r"}}
    )
    running = serve(sandbox)
    try:
        config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
        config["assign"] = {
            "model": {
                "endpoint": f"{running.url}/inference/chat/completions",
                "requests_per_minute": 600,
                "timeout_seconds": 5,
            }
        }
        config_path = tmp_path / "issueops.yml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        items = tmp_path / "items.yml"
        items.write_text(
            "items:\n"
            "  - {title: Please add me to the deploy group, expected: access-request}\n"
            "  - {title: Lunch order, expected: none}\n"
        )
        result = CliRunner().invoke(
            main,
            [
                "--config",
                str(config_path),
                "--schemas",
                str(SCHEMAS),
                "--json",
                "assign-eval",
                "--live",
                str(items),
            ],
            env={"GITHUB_TOKEN": "user-token"},
        )
    finally:
        running.stop()
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "live" and data["model_calls"] == 2
    assert data["rules"] == {"needs_human_rate": 1.0, "accuracy": 0.5}
    assert data["rules_and_model"] == {"needs_human_rate": 0.5, "accuracy": 1.0}
    paths = [e.path for e in sandbox.ledger]
    assert paths == ["/inference/chat/completions"] * 2
    assert all(e.login == "user" for e in sandbox.ledger)
