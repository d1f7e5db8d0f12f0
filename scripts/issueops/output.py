"""Human-readable run output: the plan table and the summary (plain text and Markdown)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    if summary.deferred:
        head, first = deferred_overview(summary.deferred)
        why = (
            f"stopped early to respect the API budget ({summary.budget_stop})"
            if summary.budget_stop
            else "deferred by --limit"
        )
        lines.append(f"{why}; deferred: {head}")
        lines.append("  " + ", ".join(first))
    elif summary.budget_stop:
        lines.append(f"stopped early to respect the API budget ({summary.budget_stop})")
    if summary.interrupted:
        lines.append(f"INTERRUPTED: {summary.interrupted}; the next run picks up the rest.")
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


ItemLink = Callable[[str], str]


def _plain(target: str) -> str:
    return target


def item_linker(html_base: str, repo: str) -> ItemLink:
    """`#42` -> a Markdown link to the issue; any other target (an intake key) is left as text."""
    base = f"{html_base.rstrip('/')}/{repo}/issues/"

    def link(target: str) -> str:
        number = target[1:] if target.startswith("#") else target
        return f"[#{number}]({base}{number})" if number.isdigit() else table_cell(target)

    return link


def _details(summary_line: str, body: list[str], *, open_at: int, count: int) -> list[str]:
    """Short lists inline; a long one folded in `<details>` so the page stays readable."""
    if count <= open_at:
        return body
    return ["<details>", f"<summary>{summary_line}</summary>", "", *body, "", "</details>", ""]


def deferred_overview(deferred: Sequence[str], *, shown: int = 20) -> tuple[str, list[str]]:
    """`assign: 1,200 items, process: 3 items` and the first `shown` entries (the rest counted)."""
    per_stage: dict[str, int] = {}
    for entry in deferred:
        stage = entry.partition(":")[0]
        per_stage[stage] = per_stage.get(stage, 0) + 1
    head = ", ".join(f"{stage}: {n:,} item(s)" for stage, n in per_stage.items())
    first = list(deferred[:shown])
    if len(deferred) > shown:
        first.append(f"... and {len(deferred) - shown:,} more")
    return head, first


def markdown_summary(summary: RunSummary, *, max_rows: int = 500, link: ItemLink = _plain) -> str:
    """For the Actions step summary: counts, the plan (when dry-run) or changes, what was deferred."""
    mode = "dry run" if summary.dry_run else "live"
    out = [f"## issueops {summary.command} ({mode})", ""]
    if summary.interrupted:
        out += [f"> **Interrupted**: {summary.interrupted}. The counts below are up to that point.", ""]
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
        out += [f"> Stopped early to respect the API budget: {table_cell(summary.budget_stop)}.", ""]
    if summary.deferred:
        head, first = deferred_overview(summary.deferred)
        out += [f"Deferred to the next run: {head}.", ""]
        body = [f"- {table_cell(entry)}" for entry in first]
        out += _details(f"{len(summary.deferred):,} deferred", body, open_at=10, count=len(summary.deferred))
        if len(summary.deferred) <= 10:
            out.append("")
    if summary.failures:
        out += ["### Failed items", ""]
        for failure in summary.failures:
            out.append(
                f"- **failed** {failure['stage']} {link(_target(failure['target']))}: "
                f"`{failure['failure_code']}` ({failure['failure_class']}): {table_cell(failure['hint'])}"
            )
        out.append("")
    if summary.rows:
        table = ["| stage | item | action | detail |", "| --- | --- | --- | --- |"]
        for row in summary.rows[:max_rows]:
            table.append(f"| {row.stage} | {link(row.target)} | {row.action} | {table_cell(row.detail)} |")
        if len(summary.rows) > max_rows:
            table.append(f"\n_{len(summary.rows) - max_rows:,} more rows left out (`--json` has them all)._")
        out += [f"### {'Plan' if summary.dry_run else 'Changes'}", ""]
        out += _details(f"{len(summary.rows):,} rows", table, open_at=20, count=len(summary.rows))
    orphans = _orphan_lines(summary)
    if orphans:
        out += ["", f"### {orphans[0].rstrip(':')}", ""]
        out += [f"- {table_cell(line.strip())}" for line in orphans[1:]]
        out.append("")
    return "\n".join(out) + "\n"


def _target(target: object) -> str:
    return f"#{target}" if isinstance(target, int) else str(target)


def markdown_error(command: str, message: str, fix: str, exit_code: int) -> str:
    """The step summary of a run that ended with an error before its summary existed."""
    title = f"## issueops {command} failed" if command else "## issueops failed"
    out = [f"{title} (exit {exit_code})", "", f"> {table_cell(message)}"]
    if fix:
        out += ["", f"**Fix:** {table_cell(fix)}"]
    return "\n".join(out) + "\n"
