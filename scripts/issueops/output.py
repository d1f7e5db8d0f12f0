"""Human-readable run output: the plan table and the summary (plain text and Markdown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from issueops.core.markdown import table_cell
from issueops.runner import PlanRow, RunSummary


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return out


def plan_rows(rows: Sequence[PlanRow]) -> list[list[str]]:
    return [[r.stage, r.target, r.action, r.detail] for r in rows]


def human_summary(summary: RunSummary) -> str:
    lines: list[str] = []
    title = "Plan (dry run: no write was sent)" if summary.dry_run else "Changes"
    if summary.rows:
        lines.append(f"{title}:")
        lines += ["  " + x for x in _table(["stage", "item", "action", "detail"], plan_rows(summary.rows))]
        lines.append("")
    else:
        lines.append("Nothing to change." if not summary.dry_run else "Plan: nothing to change.")
    for name, counts in summary.stages.items():
        lines.append(
            f"{name:>9}: {counts['seen']} seen, {counts['changed']} changed, "
            f"{counts['failed']} failed, {counts['deferred']} deferred"
        )
    lines.append(
        f"requests: {summary.requests_made} made, {summary.requests_counted} counted against the limit; "
        f"{summary.duration_ms} ms"
    )
    if summary.model is not None:
        lines.append(model_line(summary.model))
    if summary.budget_stop:
        lines.append(f"stopped early to respect the API budget ({summary.budget_stop}); deferred:")
        lines.append("  " + ", ".join(summary.deferred))
    elif summary.deferred:
        lines.append(f"deferred by --limit: {', '.join(summary.deferred)}")
    lines += _orphan_lines(summary)
    for failure in summary.failures:
        lines.append(
            f"FAILED {failure['stage']} {failure['target']}: {failure['failure_class']}/"
            f"{failure['failure_code']}: {failure['message']}\n  what to do: {failure['hint']}"
        )
    return "\n".join(lines)


def model_line(model: dict[str, Any]) -> str:
    """GitHub Models use in one run, counted apart from the REST requests."""
    compared = model.get("compared", 0)
    agreement = f"{model.get('agreed', 0)}/{compared} agreed with the rules" if compared else "no comparison"
    return (
        f"model calls: {model.get('calls', 0)}; placed {model.get('placed', 0)} items, "
        f"fallbacks {model.get('fallbacks', 0)}, {agreement}"
    )


def _orphan_lines(summary: RunSummary) -> list[str]:
    """The sweep's orphan report: every finding, repaired or only reported."""
    found = [str(line) for line in (summary.orphans or {}).get("lines", ())]
    if not found:
        return []
    title = "Orphans (dry run: repairs planned, not made)" if summary.dry_run else "Orphans"
    return [f"{title}:", *(f"  {line}" for line in found)]


def markdown_summary(summary: RunSummary, *, max_rows: int = 500) -> str:
    """For the Actions step summary: counts, the plan (when dry-run) or changes, what was deferred."""
    mode = "dry run" if summary.dry_run else "live"
    out = [f"## issueops {summary.command} ({mode})", ""]
    out += ["| stage | seen | changed | failed | deferred |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, c in summary.stages.items():
        out.append(f"| {name} | {c['seen']} | {c['changed']} | {c['failed']} | {c['deferred']} |")
    out += [
        "",
        f"API requests: **{summary.requests_made}** made, **{summary.requests_counted}** counted.",
        "",
    ]
    if summary.model is not None:
        out += [model_line(summary.model), ""]
    if summary.budget_stop:
        out += [f"> Stopped early to respect the API budget: {summary.budget_stop}.", ""]
    if summary.deferred:
        out += [f"Deferred to the next run: {', '.join(summary.deferred[:200])}", ""]
    if summary.rows:
        out += [f"### {'Plan' if summary.dry_run else 'Changes'}", ""]
        out += ["| stage | item | action | detail |", "| --- | --- | --- | --- |"]
        for row in summary.rows[:max_rows]:
            out.append(f"| {row.stage} | {row.target} | {row.action} | {table_cell(row.detail)} |")
        if len(summary.rows) > max_rows:
            out.append(f"\n_{len(summary.rows) - max_rows} more rows left out._")
    orphans = _orphan_lines(summary)
    if orphans:
        out += ["", f"### {orphans[0].rstrip(':')}", ""]
        out += [f"- {table_cell(line.strip())}" for line in orphans[1:]]
        out.append("")
    for failure in summary.failures:
        out.append(
            f"- **failed** {failure['stage']} {failure['target']}: `{failure['failure_code']}` "
            f"({failure['failure_class']}): {table_cell(failure['hint'])}"
        )
    return "\n".join(out) + "\n"
