"""The Copilot hand-off's figures (`copilot.*` events), as the rollout plan measures them: how
many hand-offs, the time to Copilot's PR and to its merge (P50/P95), completion within 48 hours
and 7 days, the completion rate by workflow, and hand-offs blocked (flagged for a manual review)
or abandoned (back to the owner). Times are the events' own (`hours_to_pr`, `hours_to_merge`,
measured from the hand-off recorded on the item), so a late run does not stretch them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from issueops.telemetry.kpi import Stat, human_duration, human_percent

HOUR = 3600.0
WITHIN_48H = 48.0
WITHIN_7D = 7 * 24.0


@dataclass(frozen=True)
class CopilotUsage:
    hand_offs: int = 0  # items GitHub took Copilot for
    refused: int = 0  # items Copilot could not be assigned to
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    time_to_pr: Stat = field(default_factory=Stat)  # seconds
    time_to_merge: Stat = field(default_factory=Stat)  # seconds
    merged: int = 0
    within_48h: int = 0
    within_7d: int = 0
    completion_48h: float | None = None  # of the hand-offs
    completion_7d: float | None = None
    by_workflow: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocked: int = 0  # flagged for a manual review
    abandoned: int = 0  # back to the owner (PR closed unmerged, or nobody on it)
    reminders: int = 0
    escalations: int = 0

    @property
    def used(self) -> bool:
        return bool(self.hand_offs or self.refused)


def _hours(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class CopilotCounts:
    """Fed event by event (the report's loop), one entry per item for each outcome."""

    def __init__(self) -> None:
        self.handed: dict[int, str] = {}
        self.refused: dict[int, str] = {}
        self.to_pr: dict[int, float] = {}
        self.to_merge: dict[int, float] = {}
        self.returned: set[int] = set()
        self.rungs: dict[str, set[int]] = {"reminder": set(), "escalation": set(), "manual_review": set()}

    def add(self, record: Mapping[str, Any]) -> None:
        event = str(record.get("event", ""))
        if not event.startswith("copilot."):
            return
        item = record.get("item")
        if not isinstance(item, int) or isinstance(item, bool):
            return
        workflow = str(record.get("workflow") or "")
        if event == "copilot.handed_off":
            self.handed[item] = workflow
        elif event == "copilot.refused":
            self.refused[item] = str(record.get("reason", "unknown"))
        elif event == "copilot.pr_opened" and (hours := _hours(record.get("hours_to_pr"))) is not None:
            self.to_pr.setdefault(item, hours)
        elif event == "copilot.pr_merged" and (hours := _hours(record.get("hours_to_merge"))) is not None:
            self.to_merge.setdefault(item, hours)
        elif event == "copilot.returned":
            self.returned.add(item)
        elif event == "copilot.overdue" and str(record.get("rung")) in self.rungs:
            self.rungs[str(record["rung"])].add(item)

    def usage(self) -> CopilotUsage:
        handed = len(self.handed)
        merged = [h for item, h in self.to_merge.items() if item in self.handed]
        within_48h = sum(1 for h in merged if h <= WITHIN_48H)
        within_7d = sum(1 for h in merged if h <= WITHIN_7D)
        by_workflow: dict[str, dict[str, Any]] = {}
        for item, workflow in sorted(self.handed.items()):
            row = by_workflow.setdefault(workflow, {"hand_offs": 0, "merged": 0, "rate": None})
            row["hand_offs"] += 1
            row["merged"] += 1 if item in self.to_merge else 0
        for row in by_workflow.values():
            row["rate"] = round(row["merged"] / row["hand_offs"], 3)
        reasons: dict[str, int] = {}
        for reason in self.refused.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        return CopilotUsage(
            hand_offs=handed,
            refused=len(self.refused),
            refused_by_reason=dict(sorted(reasons.items())),
            time_to_pr=Stat.of(h * HOUR for h in self.to_pr.values()),
            time_to_merge=Stat.of(h * HOUR for h in merged),
            merged=len(merged),
            within_48h=within_48h,
            within_7d=within_7d,
            completion_48h=round(within_48h / handed, 3) if handed else None,
            completion_7d=round(within_7d / handed, 3) if handed else None,
            by_workflow=by_workflow,
            blocked=len(self.rungs["manual_review"] - set(self.to_merge)),
            abandoned=len(self.returned - set(self.to_merge)),
            reminders=len(self.rungs["reminder"]),
            escalations=len(self.rungs["escalation"]),
        )


def copilot_figures(usage: CopilotUsage) -> list[tuple[str, str]]:
    """The rows every report format shows for the Copilot hand-off."""

    def stat(s: Stat) -> str:
        if not s.n:
            return "—"
        return f"P50 {human_duration(s.p50)}, P95 {human_duration(s.p95)} ({s.n})"

    refused = ", ".join(f"{k} {v}" for k, v in usage.refused_by_reason.items())
    return [
        ("hand-offs to Copilot", f"{usage.hand_offs:,}"),
        ("refused (owner took over)", f"{usage.refused:,}" + (f" ({refused})" if refused else "")),
        ("time to Copilot's PR", stat(usage.time_to_pr)),
        ("time to merge", stat(usage.time_to_merge)),
        ("completed within 48 h (target 80%)", f"{human_percent(usage.completion_48h)} ({usage.within_48h})"),
        ("completed within 7 days (target 95%)", f"{human_percent(usage.completion_7d)} ({usage.within_7d})"),
        ("reminders, escalations", f"{usage.reminders:,}, {usage.escalations:,}"),
        ("blocked (manual review)", f"{usage.blocked:,}"),
        ("abandoned (back to the owner)", f"{usage.abandoned:,}"),
    ]


def workflow_rows(usage: CopilotUsage) -> list[list[str]]:
    return [
        [name, f"{row['hand_offs']:,}", f"{row['merged']:,}", human_percent(row["rate"])]
        for name, row in usage.by_workflow.items()
    ]
