"""The workflows' safety rules, asserted on the parsed YAML of every file (and the raw text for pins).

Each rule here is one a reviewer would otherwise have to re-check by eye on every change:
least privilege, one run at a time, a time limit, no expression spliced into a shell line,
third-party code pinned by commit, schedules that avoid minute 0 and run in stage order,
uniform dispatch inputs that default to a dry run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from workflow_runsteps import ACTION, ROOT, WORKFLOWS, load_yaml, run_steps, triggers, workflow_files

from issueops.actions_env import RUN_OUTPUTS

FILES = workflow_files()
IDS = [p.name for p in FILES]

# Verified against the actions' own repositories: each SHA is the commit the release tag points
# at, also tagged with the major version, and an ancestor of the default branch (see the report).
VERIFIED_PINS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/create-github-app-token": ("1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
}

# Which jobs may hold which write scopes. Anything not listed may only read.
WRITE_SCOPES: dict[tuple[str, str], set[str]] = {
    ("issueops-monitor.yml", "monitor"): {"issues"},
    ("issueops-assign.yml", "assign"): {"issues"},
    ("issueops-process.yml", "process"): {"contents", "issues", "pull-requests"},
    # an approval takes effect in its own run: processing or publishing the item (issue #16)
    ("issueops-commands.yml", "commands"): {"contents", "issues", "pull-requests"},
    ("issueops-sweep.yml", "sweep"): {"contents", "issues", "pull-requests"},  # orphan repairs
    ("issueops-setup.yml", "setup"): {"issues"},
    # the telemetry publishers run only git, never issueops code (see issueops-telemetry.yml)
    ("issueops-telemetry.yml", "publish"): {"contents"},
    **{
        (f"issueops-{stage}.yml", "telemetry"): {"contents"}
        for stage in ("monitor", "assign", "process", "commands", "sweep")
    },
}

BASE_COMMIT = "${{ github.event.pull_request.base.sha }}"
STAGE_WORKFLOWS = ["monitor", "assign", "process", "sweep", "commands"]
UNTRUSTED = re.compile(
    r"github\.event\.(issue|comment|pull_request|review|review_comment|head_commit|commits|pages|label)"
    r"|github\.head_ref|github\.event\.workflow_run|inputs\.|github\.event\.inputs"
)
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>\s+#.*)?$")


def _jobs(path: Path) -> dict[str, dict[str, Any]]:
    return dict(load_yaml(path).get("jobs") or {})


def _write_scopes(permissions: Any) -> set[str]:
    if permissions in ("write-all",):
        return {"*"}
    if not isinstance(permissions, dict):
        return set()
    return {scope for scope, level in permissions.items() if level == "write"}


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_top_level_permissions_are_empty(path: Path) -> None:
    data = load_yaml(path)
    assert data.get("permissions") == {}, f"{path.name}: declare `permissions: {{}}` at the top"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_job_declares_least_privilege(path: Path) -> None:
    for job_id, job in _jobs(path).items():
        assert "permissions" in job, f"{path.name}:{job_id}: declare the job's `permissions:`"
        allowed = WRITE_SCOPES.get((path.name, job_id), set())
        extra = _write_scopes(job["permissions"]) - allowed
        assert not extra, f"{path.name}:{job_id}: write access to {sorted(extra)} is not needed"
        for scope, level in (job["permissions"] or {}).items():
            assert level in ("read", "write", "none"), f"{path.name}:{job_id}: {scope}: {level}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_concurrency_names_the_workflow_and_never_cancels(path: Path) -> None:
    data = load_yaml(path)
    concurrency = data.get("concurrency")
    assert isinstance(concurrency, dict), f"{path.name}: declare `concurrency:` with a group"
    assert str(data["name"]) in str(concurrency["group"]), f"{path.name}: the group must name the workflow"
    assert concurrency.get("cancel-in-progress") is False, f"{path.name}: cancel-in-progress must be false"
    for job_id, job in _jobs(path).items():
        if "concurrency" in job:
            assert job["concurrency"].get("cancel-in-progress") is False, f"{path.name}:{job_id}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_job_has_a_timeout(path: Path) -> None:
    for job_id, job in _jobs(path).items():
        if "uses" in job:  # a reusable-workflow call: the called jobs carry the timeout
            target = job["uses"]
            assert target.startswith(("$/", "./")), f"{path.name}:{job_id}: call local workflows only"
            called = ROOT / target.split("/", 1)[1]
            for called_id, called_job in _jobs(called).items():
                assert isinstance(called_job.get("timeout-minutes"), int), f"{called.name}:{called_id}"
            continue
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 60, f"{path.name}:{job_id}: timeout-minutes"


# Setup (checkout, Python, install, cache restore) and the steps after the run (cache save,
# telemetry upload) need time too: the run's own budget leaves them at least this much of the job.
JOB_OVERHEAD_SECONDS = 120


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_issueops_run_stops_before_its_job_times_out(path: Path) -> None:
    """A run that hits `timeout-minutes` is cancelled with no summary and no outputs; a time
    budget below it makes the run stop between items, say so and write them."""
    for job_id, job in _jobs(path).items():
        for step in job.get("steps") or ():
            env = step.get("env") or {}
            if "ISSUEOPS_INPUT_MAX_REQUESTS" not in env:  # a step that does not talk to the API
                continue
            raw = str(env.get("ISSUEOPS_INPUT_MAX_SECONDS", ""))
            assert raw.isdigit(), f"{path.name}:{job_id}: pass ISSUEOPS_INPUT_MAX_SECONDS (a number)"
            limit = int(job["timeout-minutes"]) * 60 - JOB_OVERHEAD_SECONDS
            assert 0 < int(raw) <= limit, f"{path.name}:{job_id}: max seconds {raw} must be <= {limit}"


@pytest.mark.parametrize("path", [*FILES, ACTION], ids=[*IDS, "action.yml"])
def test_no_expression_inside_run(path: Path) -> None:
    for step in run_steps(path):
        assert "${{" not in step.script, f"{step.label}: pass values through env:, never inside run:"


@pytest.mark.parametrize("path", [*FILES, ACTION], ids=[*IDS, "action.yml"])
def test_untrusted_context_never_reaches_env_except_dispatch_inputs(path: Path) -> None:
    """Inputs may reach env: (the launcher validates them); event text never does."""
    for step in run_steps(path):
        for key, value in step.env.items():
            hits = {m.group(0) for m in UNTRUSTED.finditer(value)} - {"inputs."}
            assert not hits, f"{step.label}: env {key} takes {sorted(hits)} from the event"


@pytest.mark.parametrize("path", [*FILES, ACTION], ids=[*IDS, "action.yml"])
def test_the_token_is_never_printed_or_traced(path: Path) -> None:
    for step in run_steps(path):
        assert not re.search(r"\bset\s+-[a-z]*x", step.script), f"{step.label}: no shell tracing"
        for line in step.script.splitlines():
            if re.search(r"\b(echo|printf)\b.*\$\{?GITHUB_TOKEN", line):
                assert re.search(r"\|\s*base64\b", line), f"{step.label}: prints the token: {line.strip()}"
        if "GITHUB_TOKEN" in step.script and "base64" in step.script:
            assert "::add-mask::" in step.script, f"{step.label}: mask the derived credential"


@pytest.mark.parametrize("path", [*FILES, ACTION], ids=[*IDS, "action.yml"])
def test_every_uses_is_pinned_to_a_verified_commit(path: Path) -> None:
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _USES_LINE.match(line)
        if not match:
            continue
        seen += 1
        ref = match.group("ref")
        where = f"{path.name}:{number}"
        if ref.startswith("$/"):
            continue  # this repository, same commit as the calling workflow
        assert not ref.startswith("./"), f"{where}: use the self-repository form `$/...`"
        action, _, sha = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{where}: pin {action} to a full commit SHA"
        comment = (match.group("comment") or "").strip()
        version = re.fullmatch(r"#\s*(v\d+\.\d+\.\d+)", comment)
        assert version, f"{where}: add the release as a comment, e.g. `# v1.2.3`"
        repo = "/".join(action.split("/")[:2])
        assert repo in VERIFIED_PINS, f"{where}: {repo} is not in the verified pin table"
        assert (sha, version.group(1)) == VERIFIED_PINS[repo], f"{where}: pin differs from the verified one"
    assert seen, f"{path.name}: no uses: lines found (the check would be vacuous)"


def _checkouts(path: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for job_id, job in _jobs(path).items():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                out.append((job_id, step.get("with") or {}))
    return out


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_checkouts_keep_no_credentials_and_never_take_pr_code(path: Path) -> None:
    on = triggers(load_yaml(path))
    for job_id, options in _checkouts(path):
        assert options.get("persist-credentials") is False, f"{path.name}:{job_id}: persist-credentials"
        ref = str(options.get("ref", ""))
        if ref != BASE_COMMIT:  # the base commit of a pull request is the repository's own code
            assert "${{" not in ref and "head" not in ref, f"{path.name}:{job_id}: checkout ref {ref!r}"
        if "issue_comment" in on or "issues" in on:
            assert "ref" not in options, f"{path.name}:{job_id}: event workflows check out the default branch"
        if "pull_request" in on and "ref" not in options and path.name.startswith("issueops-"):
            # the pull request's own files: only the definitions a what-if reads as data
            sparse = str(options.get("sparse-checkout", "")).split()
            assert sparse == [".github/issueops.yml", "workflow_schemas"], f"{path.name}:{job_id}: {sparse}"
            assert options.get("path") and options.get("sparse-checkout-cone-mode") is False


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_no_pull_request_target_and_justified_issue_comment(path: Path) -> None:
    on = triggers(load_yaml(path))
    assert "pull_request_target" not in on and "workflow_run" not in on, path.name
    if "issue_comment" in on:
        text = path.read_text(encoding="utf-8")
        ignore = re.search(r"issue_comment:.*# zizmor: ignore\[dangerous-triggers\]\s*(?P<why>.+)", text)
        assert ignore and len(ignore.group("why").split()) >= 5, f"{path.name}: write why the trigger is safe"


def _crons(path: Path) -> list[str]:
    schedule = triggers(load_yaml(path)).get("schedule") or []
    return [str(entry["cron"]) for entry in schedule]


def _minutes(cron: str) -> list[int]:
    field = cron.split()[0]
    assert re.fullmatch(r"\d+(,\d+)*", field), f"{cron!r}: use explicit minutes, not ranges or steps"
    return [int(m) for m in field.split(",")]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_cron_minutes_are_odd_and_never_zero(path: Path) -> None:
    for cron in _crons(path):
        assert len(cron.split()) == 5, f"{path.name}: {cron!r}"
        for minute in _minutes(cron):
            assert minute != 0, f"{path.name}: {cron!r} runs at minute 0, GitHub's busiest"
            assert minute % 2 == 1, f"{path.name}: {cron!r}: pick an odd minute"


def test_stage_schedules_run_in_pipeline_order() -> None:
    """commands catch-up, then monitor, then assign, then process within the hour; sweep last."""
    order = ["commands", "monitor", "assign", "process", "sweep"]
    firsts = [min(_minutes(_crons(WORKFLOWS / f"issueops-{stage}.yml")[0])) for stage in order]
    assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts), dict(zip(order, firsts, strict=True))


@pytest.mark.parametrize("stage", STAGE_WORKFLOWS)
def test_stage_workflows_run_on_a_schedule_and_by_hand(stage: str) -> None:
    on = triggers(load_yaml(WORKFLOWS / f"issueops-{stage}.yml"))
    assert "schedule" in on and "workflow_dispatch" in on


DISPATCHED = [p for p in FILES if "workflow_dispatch" in triggers(load_yaml(p))]


@pytest.mark.parametrize("path", DISPATCHED, ids=[p.name for p in DISPATCHED])
def test_every_dispatch_has_the_uniform_inputs(path: Path) -> None:
    dispatch = triggers(load_yaml(path))["workflow_dispatch"]
    inputs = (dispatch or {}).get("inputs") or {}
    assert {"dry_run", "limit", "max_requests", "item"} <= set(inputs), f"{path.name}: {sorted(inputs)}"
    assert inputs["dry_run"]["type"] == "boolean" and inputs["dry_run"]["default"] is True
    for name in ("limit", "max_requests", "item"):
        assert inputs[name].get("required", False) is False, f"{path.name}: {name} must be optional"
        assert inputs[name].get("default", "") == "", f"{path.name}: {name} defaults to empty"


@pytest.mark.parametrize("stage", ["monitor", "assign", "process", "sweep"])
def test_stage_step_runs_its_command_through_the_launcher(stage: str) -> None:
    path = WORKFLOWS / f"issueops-{stage}.yml"
    scripts = [s.script.strip() for s in run_steps(path) if "issueops.actions_env" in s.script]
    assert scripts == [f"python -m issueops.actions_env exec {stage}"]


def test_comment_workflow_hands_the_event_file_to_the_program() -> None:
    path = WORKFLOWS / "issueops-commands.yml"
    data = load_yaml(path)
    on = triggers(data)
    assert on["issue_comment"] == {"types": ["created"]} and on["issues"] == {"types": ["labeled"]}
    (step,) = [s for s in run_steps(path) if "issueops.actions_env" in s.script]
    assert 'exec commands --event "$GITHUB_EVENT_PATH"' in step.script
    group = data["concurrency"]["group"]
    assert "github.event.issue.number" in group, "one concurrency group per item"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_conditional_request_cache_is_per_workflow_and_per_run(path: Path) -> None:
    for job_id, job in _jobs(path).items():
        for step in job.get("steps") or []:
            uses = str(step.get("uses", ""))
            if not uses.startswith("actions/cache"):
                continue
            options = step["with"]
            assert options["path"] == ".issueops-cache", f"{path.name}:{job_id}"
            assert "github.workflow" in options["key"] and "github.run_id" in options["key"]
            if "restore-keys" in options:
                assert str(options["restore-keys"]).strip().endswith("-"), "a prefix of the key"
                assert "github.workflow" in options["restore-keys"], "never another workflow's cache"


@pytest.mark.parametrize("stage", STAGE_WORKFLOWS)
def test_each_stage_uploads_its_telemetry_per_run_and_publishes_it(stage: str) -> None:
    path = WORKFLOWS / f"issueops-{stage}.yml"
    jobs = _jobs(path)
    uploads = [
        s for s in jobs[stage]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert len(uploads) == 1 and uploads[0]["if"] == "always()"
    assert (
        "github.run_id" in uploads[0]["with"]["name"] and "github.run_attempt" in uploads[0]["with"]["name"]
    )
    publisher = jobs["telemetry"]
    assert publisher["uses"] == "$/.github/workflows/issueops-telemetry.yml"
    assert publisher["needs"] == stage and publisher["if"].startswith("always()")


def test_the_composite_action_matches_the_launcher_and_outputs() -> None:
    data = load_yaml(ACTION)
    assert data["runs"]["using"] == "composite"
    assert set(data["inputs"]) >= {
        "command",
        "dry-run",
        "limit",
        "max-requests",
        "item",
        "token",
        "api-url",
        "config",
        "python-version",
    }
    assert data["inputs"]["dry-run"]["default"] == "true", "a dry run unless asked otherwise"
    assert tuple(data["outputs"]) == RUN_OUTPUTS
    for name, spec in data["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    text = ACTION.read_text(encoding="utf-8")
    for name in data["inputs"]:
        used = re.search(rf"inputs\.{re.escape(name)}(?![\w-])", text)
        assert used, f"input {name} is declared but never used"
    for step in run_steps(ACTION):
        assert step.shell == "bash", f"{step.label}: composite run steps need a shell"
    install = next(s for s in run_steps(ACTION) if "pip install" in s.script)
    assert install.env["ACTION_PATH"] == "${{ github.action_path }}"


def test_the_composite_action_caches_and_uploads_telemetry_also_when_the_run_fails() -> None:
    steps = load_yaml(ACTION)["runs"]["steps"]
    order = [str(s.get("uses", s.get("id", s.get("name")))).split("@")[0] for s in steps]
    uses = {str(s["uses"]).split("@")[0]: s for s in steps if "uses" in s}
    assert order.index("actions/cache/restore") < order.index("run") < order.index("actions/cache/save")
    assert order.index("run") < order.index("actions/upload-artifact")
    assert uses["actions/cache/restore"]["with"]["path"] == ".issueops-cache"  # the config's cache_path
    for name in ("actions/cache/save", "actions/upload-artifact"):
        assert str(uses[name]["if"]).startswith("always()"), f"{name} must run after a failed command too"
    upload = uses["actions/upload-artifact"]["with"]
    assert "${{ inputs.telemetry }}/**/*.jsonl" in upload["path"]
    assert "${{ inputs.telemetry }}/summaries/*.json" in upload["path"]  # the capped summary's pointer
    run = next(s for s in steps if s.get("id") == "run")
    assert run["env"]["ISSUEOPS_INPUT_SCHEMAS"] == "${{ inputs.schemas }}"
    assert run["env"]["ISSUEOPS_INPUT_TELEMETRY"] == "${{ inputs.telemetry }}"


def test_the_issue_form_feeds_the_pipeline() -> None:
    from issueops.config.forms import field_key

    form = load_yaml(ROOT / ".github" / "ISSUE_TEMPLATE" / "work-item.yml")
    assert form["labels"] == ["state::triage"]
    fields = {field_key(b["attributes"]["label"]): b for b in form["body"] if b["type"] != "markdown"}
    assert {"request_type", "summary", "details", "urgency"} <= set(fields)
    assert fields["request_type"]["attributes"]["options"] == [
        "Incident follow-up",
        "Access request",
        "Content review",
    ]
    for key in ("request_type", "summary", "details", "urgency"):
        assert fields[key]["validations"]["required"] is True, key


def test_models_read_only_on_the_assign_job_and_only_when_the_config_turns_the_model_on() -> None:
    """GitHub Models is asked by the assign stage alone; `models: read` follows `assign.model`."""
    from issueops.config.loader import read_config

    loaded, problems = read_config(ROOT / ".github" / "issueops.yml")
    assert loaded is not None, problems
    on = loaded.model.assign.model_on is not None
    for path in FILES:
        for job_id, job in _jobs(path).items():
            models = (job.get("permissions") or {}).get("models")
            if (path.name, job_id) == ("issueops-assign.yml", "assign"):
                assert (models == "read") is on, f"{path.name}:{job_id}: models: read iff assign.model is on"
                text = path.read_text(encoding="utf-8")
                assert on or "# models: read" in text, "keep the commented line that documents the switch"
            else:
                assert models is None, f"{path.name}:{job_id}: only the assign job talks to GitHub Models"
