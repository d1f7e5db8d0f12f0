"""What `issueops validate` prints: a listing of the config and the workflows, and the findings.

Kept apart from the checks so the text and the --json document can change without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from issueops.config.policy import gates_for
from issueops.config.settings import Config
from issueops.config.workflows import MatchRules, WorkflowSchema
from issueops.core.errors import Problem


@dataclass
class ValidationReport:
    """All findings. `problems` fail validation (exit 1); `warnings` are shown but do not."""

    config_path: str
    schemas_dir: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    config: Config | None = None
    workflows: list[WorkflowSchema] = field(default_factory=list)
    workflow_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        """The --json document."""
        config = self.config
        return {
            "ok": self.ok,
            "config": None
            if config is None
            else {
                "path": self.config_path,
                "profile": config.policy.profile,
                "required_approvals": dict(config.policy.required_approvals),
                "approvers": {"users": config.approvers.users, "teams": config.approvers.teams},
                "sources": [{"name": s.name, "type": s.type} for s in config.sources],
            },
            "schemas_dir": self.schemas_dir,
            "workflows": [
                _workflow_summary(w, path, config)
                for w, path in zip(self.workflows, self.workflow_files, strict=True)
            ],
            "problems": [_problem_dict(p) for p in self.problems],
            "warnings": [_problem_dict(p) for p in self.warnings],
            "counts": {
                "workflows": len(self.workflows),
                "problems": len(self.problems),
                "warnings": len(self.warnings),
            },
        }

    def human(self) -> str:
        """A readable listing of the config and every workflow, then the findings."""
        lines: list[str] = []
        config = self.config
        if config is not None:
            approvals = ", ".join(f"{r} {n}" for r, n in config.policy.required_approvals.items())
            lines.append(f"Config {self.config_path}: profile {config.policy.profile}; approvals {approvals}")
            approvers = [*config.approvers.users, *(f"team {t}" for t in config.approvers.teams)]
            lines.append(f"  approvers: {', '.join(approvers) or '(repository write permission only)'}")
            sources = ", ".join(f"{s.name} ({s.type})" for s in config.sources) or "(none)"
            lines.append(f"  sources:   {sources}")
            if config.owners.unavailable:
                lines.append(f"  unavailable: {', '.join(config.owners.unavailable)}")
        lines.append(f"Workflows in {self.schemas_dir} ({len(self.workflows)}):")
        for workflow, path in zip(self.workflows, self.workflow_files, strict=True):
            lines.extend(_workflow_lines(workflow, path, config))
        for title, found in (("warning", self.warnings), ("error", self.problems)):
            for problem in found:
                lines.append(f"{title}: {problem}")
        if self.ok:
            tail = f" ({len(self.warnings)} warning(s))" if self.warnings else ""
            lines.append(
                f"OK: config, {len(self.workflows)} workflow(s) and their templates are valid{tail}."
            )
        else:
            lines.append(f"{len(self.problems)} error(s).")
        return "\n".join(lines)


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {"path": problem.path, "line": problem.line, "col": problem.col, "message": problem.message}


def _match_summary(match: MatchRules) -> list[str]:
    parts: list[str] = []
    if match.labels:
        parts.append(f"labels {', '.join(match.labels)} (x{match.label_weight})")
    if match.keywords:
        parts.append(f"keywords {', '.join(match.keywords)}")
    if match.title_patterns:
        parts.append(f"title ~ {' | '.join(match.title_patterns)}")
    if match.body_patterns:
        parts.append(f"body ~ {' | '.join(match.body_patterns)}")
    if match.form_fields:
        parts.append("form " + ", ".join(f"{k} ~ {v}" for k, v in match.form_fields.items()))
    if match.sources:
        parts.append(f"sources {', '.join(match.sources)}")
    parts.append(f"min score {match.min_score}")
    return parts


def effective_sla(workflow: WorkflowSchema, config: Config | None) -> dict[str, Any]:
    defaults = (config or Config()).sla
    own = workflow.sla
    return {
        "due_hours": own.due_hours if own.due_hours is not None else defaults.due_hours,
        "reminder_hours": own.reminder_hours if own.reminder_hours is not None else defaults.reminder_hours,
        "escalation_hours": own.escalation_hours
        if own.escalation_hours is not None
        else defaults.escalation_hours,
        "escalate_to": list(own.escalate_to or defaults.escalate_to),
    }


def _workflow_summary(workflow: WorkflowSchema, path: str, config: Config | None) -> dict[str, Any]:
    profile = (config or Config()).policy.profile
    gates = gates_for(profile, workflow.risk)
    return {
        "name": workflow.name,
        "file": path,
        "risk": workflow.risk,
        "description": workflow.description,
        "match": workflow.match.model_dump(),
        "owners": {"pool": workflow.owners.pool, "strategy": workflow.owners.strategy},
        "deliverables": [d.model_dump() for d in workflow.deliverables],
        "guidance": workflow.guidance,
        "publish": workflow.publish.model_dump(),
        "hand_off": workflow.hand_off.model_dump(),
        "sla": effective_sla(workflow, config),
        "gates": {"before_processing": gates.before_processing, "before_publishing": gates.before_publishing},
    }


def _workflow_lines(workflow: WorkflowSchema, path: str, config: Config | None) -> list[str]:
    cfg = config or Config()
    gates = gates_for(cfg.policy.profile, workflow.risk)
    waits = [
        name
        for name, on in (("processing", gates.before_processing), ("publishing", gates.before_publishing))
        if on
    ]
    approvals = cfg.policy.required_approvals[workflow.risk]
    sla = effective_sla(workflow, config)
    escalate = f" -> {', '.join(sla['escalate_to'])}" if sla["escalate_to"] else ""
    deliverables = [f"{d.path} <- {d.template}" for d in workflow.deliverables] or ["(none)"]
    publish = workflow.publish
    published = [
        f"{publish.merge_method} the PR" if publish.merge_pr else "leave the PR open",
        "close the item" if publish.close_item else "keep the item open",
    ]
    lines = [
        f"- {workflow.name} (risk {workflow.risk}) {path}",
        f"    {workflow.description}",
        f"    match:        {'; '.join(_match_summary(workflow.match))}",
        f"    owners:       {', '.join(workflow.owners.pool)} ({workflow.owners.strategy})",
        f"    deliverables: {deliverables[0]}",
        *(f"                  {d}" for d in deliverables[1:]),
        f"    guidance:     {workflow.guidance or '(none)'}; hand-off to {workflow.hand_off.mode}",
        f"    approval:     {approvals} approval(s) before {' and '.join(waits) or 'nothing'}"
        if waits
        else "    approval:     none needed",
        f"    publish:      {', '.join(published)}",
        f"    sla:          due {sla['due_hours']:g}h, reminder {sla['reminder_hours']:g}h, "
        f"escalation {sla['escalation_hours']:g}h{escalate}",
    ]
    return lines


__all__ = ["ValidationReport", "effective_sla"]
