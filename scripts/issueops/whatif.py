"""`issueops whatif`: the effect of a proposed config or workflow change on a captured backlog.

Two sandboxes are built from the same scenario (written by `issueops snapshot`); the pipeline runs
on each, in-process and on the sandbox's virtual clock, once an hour for the hours asked (the
current config and workflows on one, the proposed ones on the other), and the two end states
are compared item by item. Only the sandbox is reachable from inside a simulation, so it sends no
request to GitHub. The monitor stage is left out: intake depends on the outside world, which a
simulation cannot replay.
"""

from __future__ import annotations

import copy
import secrets
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from issueops.app import load_definitions, run_stages
from issueops.config.settings import Config
from issueops.core.errors import ConfigError
from issueops.core.markdown import table_cell
from issueops.core.options import Options
from issueops.core.states import STATE_PREFIX
from issueops.github.clock import LinkedClock
from issueops.sandbox import Sandbox
from issueops.sandbox.inprocess import activate
from issueops.sandbox.scenario import build_sandbox, check_scenario
from issueops.sources.base import FetchError, FetchResult
from issueops.telemetry.reader import read_directory

SIMULATED_STAGES = ("commands", "assign", "process", "sweep")
COMPARED = (
    "workflow",
    "risk",
    "owner",
    "state",
    "approvals_needed",
    "comments",
    "prs",
    "reminders",
    "escalations",
)
_NO_OWNER = "(none)"


def _no_web(url: str, timeout: float) -> FetchResult:
    del timeout
    raise FetchError(f"{url}: a what-if simulation reaches no web source")


@dataclass(frozen=True)
class ItemOutcome:
    """Where one item ends on one side, and what the simulation did to it."""

    number: int
    title: str
    workflow: str
    risk: str
    owner: str
    state: str
    approvals_needed: int
    comments: int  # comments the bot posted during the simulation
    prs: int  # pull requests the bot opened during the simulation
    reminders: int
    escalations: int

    def value(self, name: str) -> object:
        return getattr(self, name)


@dataclass
class Side:
    """One simulated future: its outcomes per item and what it cost in API requests."""

    name: str
    outcomes: dict[int, ItemOutcome]
    requests: int
    counted: int
    writes: int
    failed_runs: list[str] = field(default_factory=list)

    def states(self) -> dict[str, int]:
        return dict(sorted(Counter(o.state for o in self.outcomes.values()).items()))


@dataclass
class WhatIf:
    hours: int
    baseline: Side
    proposed: Side
    differing: list[tuple[int, dict[str, tuple[object, object]]]]

    def as_json(self) -> dict[str, Any]:
        def side(s: Side) -> dict[str, Any]:
            return {
                "requests": s.requests,
                "requests_counted": s.counted,
                "writes": s.writes,
                "states": s.states(),
                "failed_runs": s.failed_runs,
            }

        return {
            "hours": self.hours,
            "runs": self.hours,  # one run an hour
            "stages": list(SIMULATED_STAGES),
            "items_compared": len(self.baseline.outcomes.keys() | self.proposed.outcomes.keys()),
            "baseline": side(self.baseline),
            "proposed": side(self.proposed),
            "items": [
                {
                    "number": number,
                    "title": self.title(number),
                    "differences": {k: {"baseline": a, "proposed": b} for k, (a, b) in diff.items()},
                }
                for number, diff in self.differing
            ],
        }

    def title(self, number: int) -> str:
        found = self.proposed.outcomes.get(number) or self.baseline.outcomes.get(number)
        return found.title if found else ""


def _label_value(labels: list[str], prefix: str) -> str:
    values = sorted(label[len(prefix) :] for label in labels if label.startswith(prefix))
    return ",".join(values) if values else "-"


def _events_by_item(telemetry: Path) -> dict[tuple[int, str], int]:
    counts: Counter[tuple[int, str]] = Counter()
    if not telemetry.is_dir():
        return counts
    for record in read_directory(telemetry).events:
        item = record.get("item")
        if isinstance(item, int):
            counts[(item, str(record.get("event")))] += 1
    return counts


@dataclass(frozen=True)
class _Before:
    """What existed before the simulation, so that only what it added is counted."""

    numbers: frozenset[int]
    comments: frozenset[int]


def _before(sandbox: Sandbox) -> _Before:
    return _Before(frozenset(sandbox.state.issues), frozenset(sandbox.state.comments))


def _outcomes(
    sandbox: Sandbox, bot: str, before: _Before, config: Config, telemetry: Path
) -> dict[int, ItemOutcome]:
    state = sandbox.state
    events = _events_by_item(telemetry)
    opened_by_bot: Counter[int] = Counter()
    for issue in state.issues.values():
        if (
            issue.pull is not None
            and issue.user.casefold() == bot.casefold()
            and issue.number not in before.numbers
        ):
            head = issue.pull.head_ref
            prefix, _, rest = head.partition("/")
            number = rest.split("-", 1)[0]
            if prefix == "issueops" and number.isdigit():
                opened_by_bot[int(number)] += 1
    out: dict[int, ItemOutcome] = {}
    for issue in state.issues.values():
        if issue.pull is not None:
            continue
        labels = list(issue.labels)
        managed = any(label.startswith((STATE_PREFIX, "workflow::")) for label in labels)
        if not managed:
            continue
        risk = _label_value(labels, "risk::")
        label_state = _label_value(labels, STATE_PREFIX)
        needed = 0
        if label_state == "awaiting-approval" and risk in ("low", "medium", "high"):
            needed = config.policy.required_approvals.get(risk, 1)  # type: ignore[call-overload]
        comments = [state.comments[i] for i in issue.comment_ids]
        owners = [a for a in issue.assignees if a.casefold() != bot.casefold()]
        out[issue.number] = ItemOutcome(
            number=issue.number,
            title=issue.title,
            workflow=_label_value(labels, "workflow::"),
            risk=risk,
            owner=",".join(sorted(owners)) or _NO_OWNER,
            state=label_state if issue.state == "open" else f"{label_state} (closed)",
            approvals_needed=needed,
            comments=sum(
                1 for c in comments if c.user.casefold() == bot.casefold() and c.id not in before.comments
            ),
            prs=opened_by_bot[issue.number],
            reminders=events[(issue.number, "sla.reminder")],
            escalations=events[(issue.number, "sla.escalation")],
        )
    return out


def simulate(
    name: str,
    scenario: Mapping[str, Any],
    opts: Options,
    config: Config,
    *,
    hours: int,
    workdir: Path,
) -> Side:
    """Run the pipeline once an hour for `hours` hours on a sandbox built from `scenario`."""
    sandbox = build_sandbox(copy.deepcopy(dict(scenario)))
    bot = str(scenario.get("bot") or opts.bot_login or config.bot_login or "issueops-bot")
    token = secrets.token_hex(16)
    sandbox.add_user(bot, token=token, permission="write", type="Bot" if bot.endswith("[bot]") else "User")
    side_dir = workdir / name
    telemetry = side_dir / "telemetry"
    run_opts = replace(
        opts,
        repo=str(scenario["repo"]),
        api_url=sandbox.base_url,
        telemetry_dir=telemetry,
        env={"GITHUB_TOKEN": token},
        token_env="GITHUB_TOKEN",  # noqa: S106 (a variable name)
        bot_login=bot,
        dry_run=False,
        json_output=False,
        limit=None,
        item=None,
    )
    clock = LinkedClock(read=sandbox.clock.now, advance=sandbox.clock.advance)
    before = _before(sandbox)
    failed: list[str] = []
    with activate(sandbox):
        for hour in range(hours):
            summary = run_stages(
                run_opts,
                SIMULATED_STAGES,
                clock=clock,
                now=sandbox.clock.now(),
                fetch=_no_web,
                cache_path=side_dir / "etags.json",
            )
            if summary.items_failed:
                failed.append(f"hour {hour + 1}: {summary.items_failed} item(s) failed")
            sandbox.clock.advance(3600)
    ledger = list(sandbox.ledger)
    return Side(
        name,
        _outcomes(sandbox, bot, before, config, telemetry),
        requests=len(ledger),
        counted=sum(1 for e in ledger if e.counted),
        writes=sum(1 for e in ledger if e.write),
        failed_runs=failed,
    )


def compare(baseline: Side, proposed: Side, *, hours: int) -> WhatIf:
    differing: list[tuple[int, dict[str, tuple[object, object]]]] = []
    for number in sorted(baseline.outcomes.keys() | proposed.outcomes.keys()):
        a, b = baseline.outcomes.get(number), proposed.outcomes.get(number)
        diff = {
            key: (a.value(key) if a else None, b.value(key) if b else None)
            for key in COMPARED
            if (a.value(key) if a else None) != (b.value(key) if b else None)
        }
        if diff:
            differing.append((number, diff))
    return WhatIf(hours, baseline, proposed, differing)


def run_whatif(
    opts: Options,
    scenario: Mapping[str, Any],
    *,
    proposed_config: Path,
    proposed_schemas: Path | None,
    hours: int,
    workdir: Path | None = None,
) -> WhatIf:
    """Baseline: the global --config/--schemas; proposed: the new files (same schemas if none)."""
    problems = check_scenario(scenario)
    if problems:
        raise ConfigError(problems)
    proposed = replace(opts, config_path=proposed_config, schemas_dir=proposed_schemas or opts.schemas_dir)
    current_config, _, _ = load_definitions(opts)  # both sides are checked before either runs
    proposed_config_model, _, _ = load_definitions(proposed)
    root = workdir or Path(tempfile.mkdtemp(prefix="issueops-whatif-"))
    base = simulate("baseline", scenario, opts, current_config, hours=hours, workdir=root)
    new = simulate("proposed", scenario, proposed, proposed_config_model, hours=hours, workdir=root)
    return compare(base, new, hours=hours)


def render_markdown(result: WhatIf, *, limit: int = 200) -> str:
    b, p = result.baseline, result.proposed
    lines = [
        f"## What-if: {len(result.differing)} item(s) end differently",
        "",
        f"The pipeline ({', '.join(SIMULATED_STAGES)}) ran once an hour for {result.hours} hour(s) on a "
        "copy of the backlog with the current config and with the proposed one. No request reached GitHub.",
        "",
        "| | current | proposed |",
        "| --- | --- | --- |",
        f"| API requests (counted) | {b.requests} ({b.counted}) | {p.requests} ({p.counted}) |",
        f"| writes | {b.writes} | {p.writes} |",
    ]
    for state in sorted(b.states().keys() | p.states().keys()):
        lines.append(f"| items `{state}` | {b.states().get(state, 0)} | {p.states().get(state, 0)} |")
    if b.failed_runs or p.failed_runs:
        lines.append(
            f"| failed items | {'; '.join(b.failed_runs) or '-'} | {'; '.join(p.failed_runs) or '-'} |"
        )
    if not result.differing:
        lines += ["", "No item ends differently."]
        return "\n".join(lines) + "\n"
    lines += ["", "| item | what | current | proposed |", "| --- | --- | --- | --- |"]
    shown = 0
    for number, diff in result.differing:
        title = result.title(number)
        for key, (a, c) in diff.items():
            if shown >= limit:
                break
            lines.append(f"| #{number} {table_cell(title, 60)} | {key} | {table_cell(a)} | {table_cell(c)} |")
            shown += 1
    total = sum(len(d) for _, d in result.differing)
    if total > shown:
        lines.append(f"\n{total - shown} more difference(s) in the `--json` document.")
    return "\n".join(lines) + "\n"
