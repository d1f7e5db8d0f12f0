"""Named broken configs, workflows and templates: each must be reported at its file, line and field.

Every case starts from a small valid repository layout (written to tmp_path) and replaces or adds
files; validate must name the expected file and line, and the message must name the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from issueops.config.validate import validate_all
from issueops.core.errors import Problem

CONFIG = ".github/issueops.yml"
ALPHA = "workflow_schemas/alpha.yml"
BETA = "workflow_schemas/beta.yml"
ALPHA_TEMPLATE = "workflow_schemas/templates/alpha.md"
ALPHA_GUIDANCE = "workflow_schemas/templates/alpha-guidance.md"

BASE_CONFIG = """\
policy:
  profile: assisted
approvers:
  users: [alice]
sources:
  - type: feed
    name: news
    url: https://news.example.com/feed.xml
"""

BASE_ALPHA = """\
name: alpha
description: Alpha work.
risk: low
match:
  labels: [alpha]
  keywords: [alpha]
owners:
  pool: [alice, bob]
deliverables:
  - path: 'alpha/{{ item.number }}.md'
    template: alpha.md
guidance: alpha-guidance.md
"""

BASELINE = {
    CONFIG: BASE_CONFIG,
    ALPHA: BASE_ALPHA,
    ALPHA_TEMPLATE: "# {{ item.title }}\n\nOwner: {{ owner }}\n",
    ALPHA_GUIDANCE: "Hello {{ owner }}, this is {{ workflow.name }}.\n",
}


def alpha_with(old: str, new: str) -> str:
    assert old in BASE_ALPHA, old
    return BASE_ALPHA.replace(old, new)


def config_with(old: str, new: str) -> str:
    assert old in BASE_CONFIG, old
    return BASE_CONFIG.replace(old, new)


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]
    file: str  # the file the problem must be reported in
    line: int
    names: tuple[str, ...]  # each must appear in the message (the field, and what is wrong)
    extra_files: tuple[str, ...] = field(default=())  # other files allowed to have problems


BETA_DISTINCT = """\
name: beta
description: Beta work.
risk: medium
match:
  labels: [beta]
owners:
  pool: [carol]
"""

CASES = [
    # --- config: YAML --------------------------------------------------------------------------
    Case(
        "config yaml unclosed flow list",
        {CONFIG: "policy:\n  profile: assisted\napprovers:\n  users: [alice\n"},
        CONFIG,
        5,
        ("YAML syntax error", "flow sequence"),
    ),
    Case(
        "config tab indentation",
        {CONFIG: "policy:\n\tprofile: assisted\n"},
        CONFIG,
        2,
        ("YAML syntax error", "tabs"),
    ),
    Case(
        "config duplicate key",
        {CONFIG: BASE_CONFIG + "policy:\n  profile: manual\n"},
        CONFIG,
        9,
        ("duplicate key 'policy'", "first at line 1"),
    ),
    Case(
        "config is a list, not a mapping",
        {CONFIG: "- policy\n- api\n"},
        CONFIG,
        1,
        ("(top level)", "must be a mapping"),
    ),
    # --- config: model -------------------------------------------------------------------------
    Case(
        "config unknown top-level key with suggestion",
        {CONFIG: BASE_CONFIG + "polciy:\n  profile: manual\n"},
        CONFIG,
        9,
        ("polciy", "did you mean 'policy'"),
    ),
    Case(
        "config unknown nested key with suggestion",
        {CONFIG: BASE_CONFIG + "api:\n  max_request_per_run: 100\n"},
        CONFIG,
        10,
        ("api.max_request_per_run", "did you mean 'max_requests_per_run'"),
    ),
    Case(
        "config profile not allowed",
        {CONFIG: config_with("profile: assisted", "profile: autonomus")},
        CONFIG,
        2,
        ("policy.profile", "did you mean 'autonomous'"),
    ),
    Case(
        "config budget not a number",
        {CONFIG: BASE_CONFIG + "api:\n  max_requests_per_run: lots\n"},
        CONFIG,
        10,
        ("api.max_requests_per_run", "expected a whole number"),
    ),
    Case(
        "config writes per minute below minimum",
        {CONFIG: BASE_CONFIG + "api:\n  writes_per_minute: 0\n"},
        CONFIG,
        10,
        ("api.writes_per_minute", "at least 1"),
    ),
    Case(
        "config approvals for unknown risk",
        {
            CONFIG: config_with(
                "  profile: assisted\n", "  profile: assisted\n  required_approvals:\n    critical: 3\n"
            )
        },
        CONFIG,
        4,
        ("policy.required_approvals.critical", "low, medium, high"),
    ),
    Case(
        "config empty section",
        {CONFIG: BASE_CONFIG + "sla:\n"},
        CONFIG,
        9,
        ("sla", "is empty"),
    ),
    Case(
        "config source with unknown type",
        {CONFIG: config_with("type: feed", "type: rss")},
        CONFIG,
        6,
        ("sources[0].type", "unknown type 'rss'", "feed, http, github_search"),
    ),
    Case(
        "config source without type",
        {CONFIG: config_with("  - type: feed\n    name: news", "  - name: news")},
        CONFIG,
        6,
        ("sources[0]", "missing key 'type'"),
    ),
    Case(
        "config feed source without url",
        {CONFIG: config_with("    url: https://news.example.com/feed.xml\n", "")},
        CONFIG,
        6,
        ("sources[0].url", "required key is missing"),
    ),
    Case(
        "config source name with capitals",
        {CONFIG: config_with("name: news", "name: News")},
        CONFIG,
        7,
        ("sources[0].name", "lowercase"),
    ),
    Case(
        "config duplicate source names",
        {CONFIG: BASE_CONFIG + "  - type: github_search\n    name: news\n    query: 'is:open label:news'\n"},
        CONFIG,
        10,
        ("sources[1].name", "already the name of sources[0]"),
    ),
    Case(
        "config http check with bad body regex",
        {
            CONFIG: BASE_CONFIG
            + "  - type: http\n    name: health\n    url: https://api.example.com/healthz\n"
            + "    body_pattern: '(ok'\n"
        },
        CONFIG,
        12,
        ("sources[1].body_pattern", "invalid regular expression"),
    ),
    Case(
        "config source url is not http",
        {CONFIG: config_with("https://news.example.com/feed.xml", "ftp://news.example.com/feed.xml")},
        CONFIG,
        8,
        ("sources[0].url", "not an http(s) URL"),
    ),
    Case(
        "config reminder after escalation",
        {CONFIG: BASE_CONFIG + "sla:\n  reminder_hours: 100\n  escalation_hours: 50\n"},
        CONFIG,
        10,
        ("sla.reminder_hours", "after the escalation"),
    ),
    Case(
        "config hold label in the state family",
        {CONFIG: BASE_CONFIG + "labels:\n  hold: 'state::hold'\n"},
        CONFIG,
        10,
        ("labels.hold", "label family"),
    ),
    Case(
        "config approver login written with @",
        {CONFIG: config_with("users: [alice]", "users: ['@alice']")},
        CONFIG,
        4,
        ("approvers.users[0]", "without '@'"),
    ),
    # --- workflows: YAML and model -------------------------------------------------------------
    Case(
        "workflow yaml bad indentation",
        {ALPHA: "name: alpha\n  description: x\n"},
        ALPHA,
        2,
        ("YAML syntax error",),
    ),
    Case(
        "workflow empty file",
        {BETA: ""},
        BETA,
        1,
        ("empty", "name, description, risk"),
    ),
    Case(
        "workflow missing owners",
        {ALPHA: alpha_with("owners:\n  pool: [alice, bob]\n", "")},
        ALPHA,
        1,
        ("owners", "required key is missing"),
    ),
    Case(
        "workflow unknown match key with suggestion",
        {ALPHA: alpha_with("  keywords: [alpha]\n", "  keywords: [alpha]\n  titel_patterns: ['x']\n")},
        ALPHA,
        7,
        ("match.titel_patterns", "did you mean 'title_patterns'"),
    ),
    Case(
        "workflow risk not allowed",
        {ALPHA: alpha_with("risk: low", "risk: critical")},
        ALPHA,
        3,
        ("risk", "'critical' is not allowed", "low, medium, high"),
    ),
    Case(
        "workflow name with capitals",
        {ALPHA: alpha_with("name: alpha", "name: Alpha")},
        ALPHA,
        1,
        ("name", "lowercase"),
    ),
    Case(
        "workflow empty owner pool",
        {ALPHA: alpha_with("pool: [alice, bob]", "pool: []")},
        ALPHA,
        8,
        ("owners.pool", "at least 1"),
    ),
    Case(
        "workflow owners written as a bare list",
        {ALPHA: alpha_with("owners:\n  pool: [alice, bob]\n", "owners: [alice, bob]\n")},
        ALPHA,
        7,
        ("owners", "under a `pool:` key"),
    ),
    Case(
        "workflow unknown owner strategy",
        {ALPHA: alpha_with("  pool: [alice, bob]\n", "  pool: [alice, bob]\n  strategy: random\n")},
        ALPHA,
        9,
        ("owners.strategy", "round_robin, least_loaded"),
    ),
    Case(
        "workflow deliverable without template",
        {ALPHA: alpha_with("    template: alpha.md\n", "")},
        ALPHA,
        10,
        ("deliverables[0].template", "required key is missing"),
    ),
    Case(
        "workflow merge_pr not a boolean",
        {ALPHA: BASE_ALPHA + "publish:\n  merge_pr: maybe\n"},
        ALPHA,
        14,
        ("publish.merge_pr", "true or false"),
    ),
    Case(
        "workflow title regex does not compile",
        {
            ALPHA: alpha_with(
                "  keywords: [alpha]\n", "  keywords: [alpha]\n  title_patterns:\n    - '[unclosed'\n"
            )
        },
        ALPHA,
        8,
        ("match.title_patterns[0]", "invalid regular expression"),
    ),
    Case(
        "workflow form field regex does not compile",
        {
            ALPHA: alpha_with(
                "  keywords: [alpha]\n", "  keywords: [alpha]\n  form_fields:\n    severity: '(sev'\n"
            )
        },
        ALPHA,
        8,
        ("match.form_fields.severity", "invalid regular expression"),
    ),
    Case(
        "workflow can never match",
        {ALPHA: alpha_with("  keywords: [alpha]\n", "  keywords: [alpha]\n  min_score: 10\n")},
        ALPHA,
        4,
        ("match", "never be chosen", "min_score 10"),
    ),
    Case(
        "workflow whole pool unavailable",
        {CONFIG: BASE_CONFIG + "owners:\n  unavailable: [alice, bob]\n"},
        ALPHA,
        8,
        ("owners.pool", "no one"),
    ),
    Case(
        "workflow escalation target malformed",
        {ALPHA: BASE_ALPHA + "sla:\n  escalate_to: ['@acme/']\n"},
        ALPHA,
        14,
        ("sla.escalate_to[0]", "team mention"),
    ),
    Case(
        "workflow duplicate deliverable paths",
        {
            ALPHA: alpha_with(
                "guidance:", "  - path: 'alpha/{{ item.number }}.md'\n    template: alpha.md\nguidance:"
            )
        },
        ALPHA,
        12,
        ("deliverables[1].path", "same path as deliverables[0]"),
    ),
    Case(
        "workflow deliverable path escapes the repository",
        {ALPHA: alpha_with("'alpha/{{ item.number }}.md'", "'../alpha/{{ item.number }}.md'")},
        ALPHA,
        10,
        ("deliverables[0].path", "relative path"),
    ),
    Case(
        "workflow deliverable path uses an unknown variable",
        {ALPHA: alpha_with("{{ item.number }}", "{{ number }}")},
        ALPHA,
        10,
        ("deliverables[0].path", "unknown variable 'number'"),
    ),
    # --- templates -------------------------------------------------------------------------------
    Case(
        "template file missing",
        {ALPHA: alpha_with("template: alpha.md", "template: alpah.md")},
        ALPHA,
        11,
        ("deliverables[0].template", "does not exist", "did you mean 'alpha.md'"),
    ),
    Case(
        "guidance file missing",
        {ALPHA: alpha_with("guidance: alpha-guidance.md", "guidance: guide.md")},
        ALPHA,
        12,
        ("guidance", "does not exist"),
    ),
    Case(
        "template syntax error",
        {ALPHA_TEMPLATE: "# Title\n\n{% if item.title %}\nunclosed\n"},
        ALPHA_TEMPLATE,
        4,
        ("template syntax error", "endif"),
    ),
    Case(
        "template unknown variable",
        {ALPHA_TEMPLATE: "# {{ item.title }}\n\n{{ ownr }}\n"},
        ALPHA_TEMPLATE,
        3,
        ("'ownr'", "did you mean 'owner'"),
    ),
    Case(
        "template unknown item attribute",
        {ALPHA_TEMPLATE: "# {{ item.title }}\n{{ item.titel }}\n"},
        ALPHA_TEMPLATE,
        2,
        ("'titel'", "did you mean 'title'"),
    ),
    Case(
        "template unknown workflow attribute by subscript",
        {ALPHA_GUIDANCE: "Hi\n\n\n{{ workflow['owner'] }}\n"},
        ALPHA_GUIDANCE,
        4,
        ("'workflow' has no attribute 'owner'",),
    ),
    Case(
        "template unknown filter",
        {ALPHA_TEMPLATE: "# {{ item.title }}\n{{ item.title | shout }}\n"},
        ALPHA_TEMPLATE,
        2,
        ("template syntax error", "shout"),
    ),
    Case(
        "template include is not supported",
        {ALPHA_TEMPLATE: "# {{ item.title }}\n{% include 'footer.md' %}\n"},
        ALPHA_TEMPLATE,
        2,
        ("include", "not supported"),
    ),
    # --- across files ----------------------------------------------------------------------------
    Case(
        "two workflows with the same name",
        {BETA: BETA_DISTINCT.replace("name: beta", "name: alpha")},
        BETA,
        1,
        ("name", "'alpha'", "alpha.yml:1"),
    ),
    Case(
        "two workflows with identical match rules",
        {BETA: BETA_DISTINCT.replace("  labels: [beta]\n", "  keywords: [ALPHA]\n  labels: [alpha]\n")},
        BETA,
        4,
        ("match", "same rules as workflow 'alpha'"),
    ),
]


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in {**BASELINE, **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def problems_for(root: Path, files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[Problem]:
    write(root, files)
    monkeypatch.chdir(root)
    return validate_all(Path(CONFIG), Path("workflow_schemas")).problems


def test_the_baseline_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {})
    monkeypatch.chdir(tmp_path)
    report = validate_all(Path(CONFIG), Path("workflow_schemas"))
    assert report.problems == []
    assert [w.name for w in report.workflows] == ["alpha"]


def test_there_are_enough_named_cases() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_case_is_reported_at_file_line_and_field(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems = problems_for(tmp_path, case.files, monkeypatch)
    listing = "\n".join(str(p) for p in problems)
    hits = [p for p in problems if p.path == case.file and p.line == case.line]
    assert hits, f"nothing reported at {case.file}:{case.line}; got:\n{listing}"
    assert any(all(name in p.message for name in case.names) for p in hits), listing
    stray = [p for p in problems if p.path not in (case.file, *case.extra_files)]
    assert not stray, f"unexpected problems elsewhere:\n{listing}"
    assert all(p.line >= 1 and p.col >= 1 for p in problems)


# Findings that are shown but do not fail validation.
WARNING_CASES = [
    Case(
        "owner on leave",
        {CONFIG: BASE_CONFIG + "owners:\n  unavailable: [bob]\n"},
        ALPHA,
        8,
        ("owners.pool[1]", "'bob'", "owners.unavailable"),
    ),
    Case(
        "match source the config does not define",
        {ALPHA: alpha_with("  keywords: [alpha]\n", "  keywords: [alpha]\n  sources: [newz]\n")},
        ALPHA,
        7,
        ("match.sources[0]", "'newz'", "known: news"),
    ),
    Case(
        "template nobody uses",
        {"workflow_schemas/templates/orphan.md": "x\n"},
        "workflow_schemas/templates/orphan.md",
        1,
        ("no workflow uses this template",),
    ),
    Case(
        "file name differs from the workflow name",
        {ALPHA: alpha_with("name: alpha", "name: alpha-two")},
        ALPHA,
        1,
        ("name", "differs from the file name 'alpha'"),
    ),
    Case(
        "high risk needs fewer approvals than low",
        {
            CONFIG: config_with(
                "  profile: assisted\n", "  profile: assisted\n  required_approvals: {low: 2, high: 1}\n"
            )
        },
        CONFIG,
        3,
        ("policy.required_approvals", "fewer approvals"),
    ),
]


@pytest.mark.parametrize("case", WARNING_CASES, ids=[c.id for c in WARNING_CASES])
def test_warning_case_is_shown_but_passes(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, case.files)
    monkeypatch.chdir(tmp_path)
    report = validate_all(Path(CONFIG), Path("workflow_schemas"))
    assert report.problems == [], "\n".join(map(str, report.problems))
    listing = "\n".join(map(str, report.warnings))
    hits = [w for w in report.warnings if w.path == case.file and w.line == case.line]
    assert any(all(name in w.message for name in case.names) for w in hits), listing
    assert f"warning: {hits[0]}" in report.human()
    assert report.summary()["warnings"] and report.summary()["ok"] is True
