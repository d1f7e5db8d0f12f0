"""`issueops validate`: every problem of the config, the workflows and their templates, at once.

The loader reports what a single file gets wrong; this module adds what only shows across files
(duplicate names, identical match rules, templates that are missing or use unknown variables,
owners who are on leave). It reads files and writes nothing; `export_json_schemas` is the one
writer here, used by `issueops schema export`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from issueops.config.loader import Loaded, field_name, read_config, read_workflows
from issueops.config.placeholders import placeholder_warnings
from issueops.config.report import ValidationReport, effective_sla
from issueops.config.settings import Config, GithubSearchSource, HttpCheckSource
from issueops.config.template_check import check_template
from issueops.config.workflows import MatchRules, WorkflowSchema
from issueops.core.errors import Problem
from issueops.core.yamlpos import DataPath, SourceMap

TEMPLATES_DIR = "templates"
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
TEAM = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_LABEL_LENGTH = 50  # GitHub refuses longer label names
BOT_LABEL_FAMILIES = ("state::", "workflow::", "risk::", "source::")


# --- findings ----------------------------------------------------------------------------------------


class _Findings:
    """Collects problems and warnings positioned by a file's source map."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, path: str, source: SourceMap, at: DataPath, message: str, *, key: bool = False) -> None:
        span = source.key(at) if key else source.value(at)
        self.problems.append(Problem(path, span.line, span.col, message))

    def warn(self, path: str, source: SourceMap, at: DataPath, message: str, *, key: bool = False) -> None:
        span = source.key(at) if key else source.value(at)
        self.warnings.append(Problem(path, span.line, span.col, message))


def _check_regex(f: _Findings, path: str, source: SourceMap, at: DataPath, pattern: str) -> None:
    name = field_name(at)
    if pattern == "":
        f.error(path, source, at, f"{name}: an empty pattern matches everything; remove it or write one")
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        f.error(
            path,
            source,
            at,
            f"{name}: invalid regular expression {pattern!r}: {exc.msg}{where}; "
            "fix it, or escape special characters with a backslash",
        )


def _check_logins(
    f: _Findings, path: str, source: SourceMap, at: DataPath, logins: Sequence[str], *, teams: bool
) -> None:
    """Logins (and, where mentions are allowed, `@org/team`) are well formed and not repeated."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(logins):
        where = (*at, i)
        name = field_name(where)
        bare = entry[1:] if entry.startswith("@") else entry
        if teams and "/" in bare:
            if not entry.startswith("@") or not TEAM.match(bare):
                f.error(
                    path,
                    source,
                    where,
                    f"{name}: '{entry}' is not a team mention; write it as @org/team-slug",
                )
        elif entry.startswith("@") and not teams:
            f.error(path, source, where, f"{name}: write the login without '@': {bare}")
        elif not LOGIN.match(bare):
            f.error(path, source, where, f"{name}: '{entry}' is not a valid GitHub login; fix the spelling")
        key = bare.lower()
        if key in seen:
            f.error(
                path, source, where, f"{name}: '{entry}' is listed twice (also at [{seen[key]}]); remove one"
            )
        else:
            seen[key] = i


def _check_label(f: _Findings, path: str, source: SourceMap, at: DataPath, label: str, *, own: bool) -> None:
    name = field_name(at)
    if not label.strip():
        f.error(path, source, at, f"{name}: a label name cannot be empty")
    elif len(label) > MAX_LABEL_LENGTH:
        f.error(path, source, at, f"{name}: '{label}' is longer than GitHub's {MAX_LABEL_LENGTH} characters")
    elif own and label.startswith(BOT_LABEL_FAMILIES):
        f.error(
            path,
            source,
            at,
            f"{name}: '{label}' is in a label family the pipeline manages itself "
            f"({', '.join(BOT_LABEL_FAMILIES)}); pick another name",
        )


def _check_sla_order(
    f: _Findings, path: str, source: SourceMap, at: DataPath, reminder: float, due: float, escalation: float
) -> None:
    if reminder >= escalation:
        f.error(
            path,
            source,
            (*at, "reminder_hours"),
            f"{field_name((*at, 'reminder_hours'))}: the reminder ({reminder:g}h) would come at or after the "
            f"escalation ({escalation:g}h); make reminder_hours smaller than escalation_hours",
            key=True,
        )
    elif escalation < due:
        f.warn(
            path,
            source,
            (*at, "escalation_hours"),
            f"{field_name((*at, 'escalation_hours'))}: escalation ({escalation:g}h) comes before the item is "
            f"due ({due:g}h); is that intended?",
            key=True,
        )


def _check_config(f: _Findings, loaded: Loaded[Config]) -> None:
    cfg, path, src = loaded.model, loaded.path, loaded.source
    _check_logins(f, path, src, ("approvers", "users"), cfg.approvers.users, teams=False)
    _check_logins(f, path, src, ("owners", "unavailable"), cfg.owners.unavailable, teams=False)
    _check_logins(f, path, src, ("sla", "escalate_to"), cfg.sla.escalate_to, teams=True)
    for i, team in enumerate(cfg.approvers.teams):
        at: DataPath = ("approvers", "teams", i)
        if not TEAM.match(team):
            f.error(
                path, src, at, f"{field_name(at)}: '{team}' is not a team slug; write it as ops-approvers"
            )
    if cfg.bot_login is not None and not LOGIN.match(cfg.bot_login.removesuffix("[bot]")):
        f.error(path, src, ("bot_login",), f"bot_login: '{cfg.bot_login}' is not a valid GitHub login")

    _check_models_permission(f, loaded)

    approvals = cfg.policy.required_approvals
    if not approvals["low"] <= approvals["medium"] <= approvals["high"]:
        f.warn(
            path,
            src,
            ("policy", "required_approvals"),
            "policy.required_approvals: a higher risk needs fewer approvals than a lower one; "
            "usually low <= medium <= high",
            key=True,
        )

    seen_labels: dict[str, str] = {}
    for key, label in cfg.labels.model_dump().items():
        at = ("labels", key)
        _check_label(f, path, src, at, label, own=True)
        if label in seen_labels:
            f.error(
                path, src, at, f"labels.{key}: same name as labels.{seen_labels[label]}; each needs its own"
            )
        seen_labels.setdefault(label, key)

    names: dict[str, int] = {}
    for i, source in enumerate(cfg.sources):
        at = ("sources", i)
        if source.name in names:
            f.error(
                path,
                src,
                (*at, "name"),
                f"sources[{i}].name: '{source.name}' is already the name of sources[{names[source.name]}]; "
                "source names must be unique (they become source:: labels)",
            )
        names.setdefault(source.name, i)
        for j, label in enumerate(source.labels):
            _check_label(f, path, src, (*at, "labels", j), label, own=False)
        if isinstance(source, GithubSearchSource):
            if not source.query.strip():
                f.error(
                    path, src, (*at, "query"), f"sources[{i}].query: is empty; write a GitHub search query"
                )
            continue
        parts = urlsplit(source.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            f.error(
                path,
                src,
                (*at, "url"),
                f"sources[{i}].url: '{source.url}' is not an http(s) URL; write it as https://host/path",
            )
        if isinstance(source, HttpCheckSource) and source.body_pattern is not None:
            _check_regex(f, path, src, (*at, "body_pattern"), source.body_pattern)

    sla = cfg.sla
    _check_sla_order(f, path, src, ("sla",), sla.reminder_hours, sla.due_hours, sla.escalation_hours)


def _max_score(match: MatchRules) -> int:
    """The highest score the documented weights allow (labels x weight, keywords 1, title 2, ...)."""
    return (
        match.label_weight * len(match.labels)
        + len(match.keywords)
        + 2 * len(match.title_patterns)
        + len(match.body_patterns)
        + 3 * len(match.form_fields)
        + 3 * len(match.sources)
    )


def _template_file(
    f: _Findings,
    loaded: Loaded[WorkflowSchema],
    at: DataPath,
    name: str,
    templates_dir: Path,
    checked: dict[Path, list[Problem]],
) -> Path | None:
    """The template file `name` refers to, or None after reporting why it cannot be used."""
    path, src = loaded.path, loaded.source
    label = field_name(at)
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not name.strip():
        f.error(
            path,
            src,
            at,
            f"{label}: '{name}' must be a file name under {templates_dir}/ (no '..', not absolute)",
        )
        return None
    target = templates_dir / relative
    if not target.is_file():
        existing = (
            sorted(p.name for p in templates_dir.glob("*") if p.is_file()) if templates_dir.is_dir() else []
        )
        close = [c for c in existing if c.lower() == name.lower()]
        close = close or difflib.get_close_matches(name, existing, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        f.error(
            path, src, at, f"{label}: template file {target} does not exist; {hint}create it or fix the name"
        )
        return None
    if target not in checked:
        checked[target] = _template_file_problems(target)
    return target


def _template_file_problems(target: Path) -> list[Problem]:
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [Problem(str(target), 1, 1, "the template is not UTF-8 text; save it as UTF-8")]
    return [Problem(str(target), issue.line, 1, issue.message) for issue in check_template(text)]


def _check_path_pattern(f: _Findings, loaded: Loaded[WorkflowSchema], at: DataPath, pattern: str) -> None:
    path, src = loaded.path, loaded.source
    label = field_name(at)
    for issue in check_template(pattern):
        f.error(path, src, at, f"{label}: {issue.message}")
    literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "x", pattern)
    parts = literal.split("/")
    if literal.startswith("/") or ".." in parts:
        f.error(
            path,
            src,
            at,
            f"{label}: '{pattern}' must be a relative path inside the repository (no leading '/', no '..')",
        )
    elif literal.endswith("/") or not parts[-1].strip():
        f.error(
            path,
            src,
            at,
            f"{label}: '{pattern}' names a directory; end it with a file name, "
            "e.g. .../{{ item.number }}.md",
        )


def _check_workflow(
    f: _Findings,
    loaded: Loaded[WorkflowSchema],
    config: Config | None,
    source_names: set[str] | None,
    templates_dir: Path,
    checked: dict[Path, list[Problem]],
) -> None:
    wf, path, src = loaded.model, loaded.path, loaded.source
    cfg = config or Config()

    stem = Path(path).stem
    if stem != wf.name:
        f.warn(
            path,
            src,
            ("name",),
            f"name: '{wf.name}' differs from the file name '{stem}'; consider renaming one",
        )

    match = wf.match
    for i, pattern in enumerate(match.title_patterns):
        _check_regex(f, path, src, ("match", "title_patterns", i), pattern)
    for i, pattern in enumerate(match.body_patterns):
        _check_regex(f, path, src, ("match", "body_patterns", i), pattern)
    for key, pattern in match.form_fields.items():
        _check_regex(f, path, src, ("match", "form_fields", key), pattern)
    for i, keyword in enumerate(match.keywords):
        if not keyword.strip():
            at: DataPath = ("match", "keywords", i)
            f.error(path, src, at, f"{field_name(at)}: an empty keyword matches every item; remove it")
    for i, label in enumerate(match.labels):
        _check_label(f, path, src, ("match", "labels", i), label, own=False)
    if source_names is not None:
        for i, name in enumerate(match.sources):
            if name not in source_names:
                at = ("match", "sources", i)
                known = ", ".join(sorted(source_names)) or "(none configured)"
                f.warn(
                    path,
                    src,
                    at,
                    f"{field_name(at)}: no source named '{name}' in the config (known: {known})",
                )
    best = _max_score(match)
    if best < match.min_score:
        f.error(
            path,
            src,
            ("match",),
            f"match: this workflow can never be chosen: its rules score at most {best}, below min_score "
            f"{match.min_score}; add labels, keywords or patterns, or lower min_score",
            key=True,
        )

    _check_logins(f, path, src, ("owners", "pool"), wf.owners.pool, teams=False)
    away = {login.lower() for login in cfg.owners.unavailable}
    on_leave = [i for i, login in enumerate(wf.owners.pool) if login.lower() in away]
    if on_leave and len(on_leave) == len(wf.owners.pool):
        f.error(
            path,
            src,
            ("owners", "pool"),
            "owners.pool: everyone in the pool is listed in the config's owners.unavailable, so no one "
            "can be assigned; add an available owner",
            key=True,
        )
    else:
        for i in on_leave:
            at = ("owners", "pool", i)
            f.warn(
                path,
                src,
                at,
                f"{field_name(at)}: '{wf.owners.pool[i]}' is listed in owners.unavailable; "
                "they will be skipped until removed from that list",
            )
    _check_logins(f, path, src, ("sla", "escalate_to"), wf.sla.escalate_to, teams=True)
    for i, login in enumerate(wf.sla.escalate_to):
        if login.lstrip("@").lower() in away:
            at = ("sla", "escalate_to", i)
            f.warn(path, src, at, f"{field_name(at)}: '{login}' is listed in owners.unavailable")

    own = wf.sla
    if (own.reminder_hours, own.due_hours, own.escalation_hours) != (None, None, None):
        # Only when this workflow sets a clock itself; inherited defaults are checked in the config.
        sla = effective_sla(wf, config)
        _check_sla_order(
            f, path, src, ("sla",), sla["reminder_hours"], sla["due_hours"], sla["escalation_hours"]
        )

    seen_paths: dict[str, int] = {}
    for i, deliverable in enumerate(wf.deliverables):
        at = ("deliverables", i)
        _check_path_pattern(f, loaded, (*at, "path"), deliverable.path)
        if deliverable.path in seen_paths:
            f.error(
                path,
                src,
                (*at, "path"),
                f"deliverables[{i}].path: same path as deliverables[{seen_paths[deliverable.path]}]; "
                "each deliverable needs its own file",
            )
        seen_paths.setdefault(deliverable.path, i)
        _template_file(f, loaded, (*at, "template"), deliverable.template, templates_dir, checked)
    if wf.guidance is not None:
        _template_file(f, loaded, ("guidance",), wf.guidance, templates_dir, checked)
    if not wf.deliverables and wf.guidance is None:
        f.warn(
            path,
            src,
            ("name",),
            "this workflow has no deliverables and no guidance: it only assigns an owner",
        )


def _match_key(match: MatchRules) -> tuple[Any, ...]:
    """Match rules up to order and case, for spotting two workflows that always tie."""
    return (
        frozenset(label.lower() for label in match.labels),
        frozenset(k.lower() for k in match.keywords),
        frozenset(match.title_patterns),
        frozenset(match.body_patterns),
        frozenset(match.form_fields.items()),
        frozenset(match.sources),
        match.label_weight,
        match.min_score,
    )


def _check_across(f: _Findings, workflows: Sequence[Loaded[WorkflowSchema]]) -> None:
    by_name: dict[str, Loaded[WorkflowSchema]] = {}
    by_match: dict[tuple[Any, ...], Loaded[WorkflowSchema]] = {}
    for loaded in workflows:
        wf = loaded.model
        first = by_name.get(wf.name)
        if first is not None:
            line = first.source.value(("name",)).line
            f.error(
                loaded.path,
                loaded.source,
                ("name",),
                f"name: '{wf.name}' is already the name of the workflow in {first.path}:{line}; "
                "workflow names must be unique (they become workflow:: labels)",
            )
        else:
            by_name[wf.name] = loaded
        key = _match_key(wf.match)
        twin = by_match.get(key)
        if twin is not None:
            line = twin.source.key(("match",)).line
            f.error(
                loaded.path,
                loaded.source,
                ("match",),
                f"match: the same rules as workflow '{twin.model.name}' ({twin.path}:{line}); "
                "every item would tie between them, so make them differ",
                key=True,
            )
        else:
            by_match[key] = loaded


def _unused_templates(templates_dir: Path, used: Iterable[Path]) -> list[Problem]:
    if not templates_dir.is_dir():
        return []
    used_set = {p.resolve() for p in used}
    return [
        Problem(str(p), 1, 1, "no workflow uses this template; reference it or delete it")
        for p in sorted(templates_dir.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.resolve() not in used_set
    ]


ASSIGN_WORKFLOW = Path("workflows") / "issueops-assign.yml"


def _check_models_permission(f: _Findings, loaded: Loaded[Config]) -> None:
    """`models: read` on the assign job exactly when `assign.model` is on (least privilege), when
    the workflow sits next to the config (`.github/workflows/issueops-assign.yml`)."""
    workflow = Path(loaded.path).parent / ASSIGN_WORKFLOW
    try:
        data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        permissions = data["jobs"]["assign"]["permissions"] or {}
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return
    granted = isinstance(permissions, dict) and permissions.get("models") == "read"
    on = loaded.model.assign.model_on is not None
    if on and not granted:
        f.warn(
            loaded.path,
            loaded.source,
            ("assign", "model"),
            f"assign.model is on but the assign job of {workflow} lacks `models: read`: every "
            "model request will be refused (uncomment the `models: read` line there)",
            key=True,
        )
    elif granted and not on:
        f.warn(
            loaded.path,
            loaded.source,
            ("assign",),
            f"the assign job of {workflow} has `models: read` but assign.model is off: "
            "remove the permission (least privilege)",
            key=True,
        )


def validate_all(config_path: Path, schemas_dir: Path) -> ValidationReport:
    """Every problem of the config, the workflows in `schemas_dir` and their templates. Writes nothing."""
    report = ValidationReport(str(config_path), str(schemas_dir))
    f = _Findings()

    loaded_config, config_problems = read_config(config_path)
    f.problems.extend(config_problems)
    if loaded_config is not None:
        report.config = loaded_config.model
        _check_config(f, loaded_config)

    workflows, workflow_problems = read_workflows(schemas_dir)
    f.problems.extend(workflow_problems)
    templates_dir = schemas_dir / TEMPLATES_DIR
    checked: dict[Path, list[Problem]] = {}
    source_names = {s.name for s in loaded_config.model.sources} if loaded_config is not None else None
    for loaded in workflows:
        _check_workflow(f, loaded, report.config, source_names, templates_dir, checked)
    _check_across(f, workflows)
    for found in checked.values():
        f.problems.extend(found)
    if not workflow_problems:  # a workflow that failed to load may be the one using a template
        f.warnings.extend(_unused_templates(templates_dir, checked))
    if not workflows and not workflow_problems:
        f.warnings.append(
            Problem(
                str(schemas_dir),
                1,
                1,
                "no workflow files (*.yml) here: assign will leave every item in triage",
            )
        )

    config_files = [config_path] if config_path.is_file() else []
    f.warnings.extend(placeholder_warnings([*config_files, *(Path(w.path) for w in workflows)]))

    report.workflows = [w.model for w in workflows]
    report.workflow_files = [w.path for w in workflows]
    report.problems = _ordered(f.problems)
    report.warnings = _ordered(f.warnings)
    return report


def _ordered(problems: list[Problem]) -> list[Problem]:
    return sorted(dict.fromkeys(problems), key=lambda p: (p.path, p.line, p.col, p.message))


# --- JSON Schema export --------------------------------------------------------------------------------

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema_texts() -> dict[str, str]:
    """File name -> JSON Schema text (sorted keys, trailing newline): what export writes."""
    out: dict[str, str] = {}
    for name, model in (("config.schema.json", Config), ("workflow.schema.json", WorkflowSchema)):
        schema = {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def export_json_schemas(out_dir: Path) -> list[Path]:
    """Write config.schema.json and workflow.schema.json into `out_dir` for editors and CI."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in json_schema_texts().items():
        target = out_dir / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


__all__ = ["ValidationReport", "export_json_schemas", "json_schema_texts", "validate_all"]
