"""`issueops assign-eval`: how well do the rules, and the rules with a model, place a labelled set?

Each item of the set has a title, a body, labels and the workflow a person would pick
(`expected`, or `none` when a person should decide). Both ways are run over every item with the
same decision code as the assign stage: the rules alone (`RuleMatcher`), and the rules with the
model's answers (`ModelMatcher`). Printed: per item what each way chose, then the needs-human
rate and the accuracy of each, and the model's calls, fallbacks and agreement with the rules.

The model is either the set's scripted answers, served by the sandbox's stand-in for GitHub
Models through the real client and governor (`--scripted`, virtual time: no waiting), or the
real endpoint with the user's token (`--live`), with the configured (or default) model settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from issueops.config.settings import Config, ModelAssignConfig
from issueops.config.workflows import WorkflowSchema
from issueops.core.errors import UserError
from issueops.core.model import Actor, ItemContext, WorkItem
from issueops.github.clock import Clock, LinkedClock, SystemClock
from issueops.github.models_api import MODEL_MAX_RETRIES, ModelsApi
from issueops.model_assist import ModelAsker
from issueops.stages.assign import RuleMatcher
from issueops.stages.assign_model import NONE_CHOICE, ModelMatcher, ModelOutcome, wants_model
from issueops.telemetry.report_model import ModelUsage

SCRIPTED_TOKEN = "eval-token"  # noqa: S105 (the stand-in's own token, not a secret)
SCRIPTED_BASE = "http://models.sandbox.test"
_ITEM_KEYS = {"title", "body", "labels", "expected", "model"}


@dataclass(frozen=True)
class EvalItem:
    number: int
    title: str
    body: str
    labels: tuple[str, ...]
    expected: str | None
    scripted: tuple[Mapping[str, Any], ...]  # the stand-in's answers for this item, in order


@dataclass(frozen=True)
class EvalRow:
    item: EvalItem
    rules: str | None
    assisted: str | None
    note: str  # what the model did: "placed", "agreed", a fallback reason...


@dataclass
class EvalResult:
    rows: list[EvalRow] = field(default_factory=list)
    usage: ModelUsage = field(default_factory=ModelUsage)  # counted as the report counts a run
    mode: str = "scripted"
    model: str = ""

    def _rate(self, pick: str, what: str) -> float:
        rows = self.rows
        if not rows:
            return 0.0
        if what == "needs_human":
            return sum(1 for r in rows if getattr(r, pick) is None) / len(rows)
        return sum(1 for r in rows if getattr(r, pick) == r.item.expected) / len(rows)

    def summary(self) -> dict[str, Any]:
        usage = self.usage
        return {
            "mode": self.mode,
            "model": self.model,
            "items": len(self.rows),
            "rules": {
                "needs_human_rate": round(self._rate("rules", "needs_human"), 3),
                "accuracy": round(self._rate("rules", "accuracy"), 3),
            },
            "rules_and_model": {
                "needs_human_rate": round(self._rate("assisted", "needs_human"), 3),
                "accuracy": round(self._rate("assisted", "accuracy"), 3),
            },
            "model_calls": usage.calls,
            "model_placed": usage.placed,
            "fallbacks": usage.fallbacks,
            "fallbacks_by_reason": usage.fallbacks_by_reason,
            "agreement": {"compared": usage.compared, "agreed": usage.agreed},
        }

    def human(self) -> str:
        def shown(value: str | None) -> str:
            return value or "(person)"

        lines = [f"{'#':>3}  {'expected':<20} {'rules':<20} {'rules+model':<20} model", "-" * 96]
        for row in self.rows:
            marks = "".join("+" if pick == row.item.expected else "-" for pick in (row.rules, row.assisted))
            lines.append(
                f"{row.item.number:>3}  {shown(row.item.expected):<20} {shown(row.rules):<20} "
                f"{shown(row.assisted):<20} {marks} {row.note}"
            )
        s = self.summary()
        agreement = s["agreement"]
        lines += [
            "",
            f"{s['items']} items, model {s['model']} ({s['mode']})",
            f"rules alone:   needs-human {s['rules']['needs_human_rate']:.1%}, "
            f"accuracy {s['rules']['accuracy']:.1%}",
            f"rules + model: needs-human {s['rules_and_model']['needs_human_rate']:.1%}, "
            f"accuracy {s['rules_and_model']['accuracy']:.1%}",
            f"model calls {s['model_calls']}, placed {s['model_placed']}, fallbacks {s['fallbacks']}, "
            f"agreed with the rules on {agreement['agreed']} of {agreement['compared']}",
        ]
        return "\n".join(lines)


def load_items(path: Path, workflows: Sequence[WorkflowSchema]) -> list[EvalItem]:
    """The labelled set; a bad entry is named by its position and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the labelled set ({exc})") from None
    entries = data.get("items") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: expected `items:`, a list of {{title, body, labels, expected}}")
    names = {w.name for w in workflows}
    items = []
    for index, entry in enumerate(entries, start=1):
        where = f"{path}: items[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str):
            raise UserError(f"{where}: needs a `title` (text)")
        unknown = sorted(set(entry) - _ITEM_KEYS)
        if unknown:
            raise UserError(f"{where}: unknown keys {unknown}; allowed: {sorted(_ITEM_KEYS)}")
        expected = entry.get("expected")
        if expected != NONE_CHOICE and expected not in names:
            raise UserError(f"{where}: `expected` must be one of {sorted(names)} or `none`, not {expected!r}")
        labels = entry.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise UserError(f"{where}: `labels` must be a list of label names")
        scripted = entry.get("model") or []
        scripted = [scripted] if isinstance(scripted, dict) else scripted
        if not isinstance(scripted, list) or not all(isinstance(x, dict) for x in scripted):
            raise UserError(f"{where}: `model` must be a scripted answer or a list of them")
        items.append(
            EvalItem(
                number=index,
                title=entry["title"],
                body=str(entry.get("body") or ""),
                labels=("state::triage", *labels),
                expected=None if expected == NONE_CHOICE else str(expected),
                scripted=tuple(scripted),
            )
        )
    return items


def _work_item(item: EvalItem) -> WorkItem:
    return WorkItem(
        number=item.number,
        title=item.title,
        body=item.body,
        labels=item.labels,
        author=Actor("someone"),
        state="open",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _note(rules: str | None, assisted: str | None, outcome: ModelOutcome | None, events: Any) -> str:
    if outcome is None:
        return "not asked"
    for event in events:
        if event.get("event") == "model.fallback":
            reason = str(event.get("reason", ""))
            return "overruled" if reason.startswith("overruled") else f"fallback: {reason}"
    if rules is not None:
        return "agreed"
    return "placed" if assisted is not None else "declined"


def evaluate(
    items: Sequence[EvalItem],
    workflows: Sequence[WorkflowSchema],
    config: Config,
    asker: ModelAsker,
    *,
    mode: str,
) -> EvalResult:
    """Both ways over every item, with the assign stage's own decision code."""
    rules = RuleMatcher()
    known = [w.name for w in workflows]
    contexts = [ItemContext(_work_item(item)) for item in items]
    answers: dict[int, ModelOutcome] = {}
    for ctx in contexts:
        if wants_model(ctx, workflows, config, rules):
            answers[ctx.item.number] = asker.ask(ctx.item, workflows)
    settings = asker.settings
    assisted_matcher = ModelMatcher(answers, settings, known)
    result = EvalResult(mode=mode, model=settings.model)
    for item, ctx in zip(items, contexts, strict=True):
        results = [rules.score(ctx, w) for w in workflows]
        by_rules = rules.decide(ctx, results).workflow
        decision = assisted_matcher.decide(ctx, results)
        outcome = answers.get(item.number)
        note = _note(by_rules, decision.workflow, outcome, decision.events)
        result.rows.append(EvalRow(item, by_rules, decision.workflow, note))
        for event in decision.events:
            asker.counts.add(event)
        if decision.workflow is not None:  # what the stage's item.assigned event would say
            how = "model" if decision.by_model else "score"
            asker.counts.add({"event": "item.assigned", "how": how, **decision.assigned_fields})
    result.usage = asker.counts.usage()
    return result


def eval_settings(config: Config, ask: str | None, items: int) -> tuple[Config, ModelAssignConfig]:
    """The configured model settings (the defaults when `assign.model` is absent), switched on,
    with a call budget that covers every item and one retry each."""
    base = config.assign.model or ModelAssignConfig()
    calls = max(base.max_calls_per_run, items * (1 + MODEL_MAX_RETRIES))
    changes: dict[str, Any] = {"enabled": True, "max_calls_per_run": calls}
    if ask is not None:
        changes["ask"] = ask
    settings = base.model_copy(update=changes)
    assign = config.assign.model_copy(update={"model": settings})
    return config.model_copy(update={"assign": assign}), settings


def run_eval(
    items_path: Path,
    config: Config,
    workflows: Sequence[WorkflowSchema],
    *,
    live: bool,
    token: str | None,
    token_env: str,
    ask: str | None = "all",
) -> EvalResult:
    """Scripted (the stand-in, virtual time) or live (the real endpoint, the user's token)."""
    items = load_items(items_path, workflows)
    config, settings = eval_settings(config, ask, len(items))
    if live:
        if not token:
            raise UserError(f"--live needs a token: set ${token_env} to a token with `models: read`")
        api = ModelsApi(settings, token, api=config.api, clock=SystemClock())
        try:
            return evaluate(items, workflows, config, ModelAsker(api, settings), mode="live")
        finally:
            api.close()
    return _scripted(items, workflows, config, settings)


def _scripted(
    items: Sequence[EvalItem],
    workflows: Sequence[WorkflowSchema],
    config: Config,
    settings: ModelAssignConfig,
) -> EvalResult:
    from issueops.sandbox import Sandbox
    from issueops.sandbox.inprocess import activate

    sandbox = Sandbox(base_url=SCRIPTED_BASE)
    sandbox.add_user("evaluator", token=SCRIPTED_TOKEN)
    for item in items:
        for answer in item.scripted:
            try:
                sandbox.inference.add({"match": item.title, **answer})
            except (TypeError, ValueError) as exc:
                raise UserError(f"item {item.number} ({item.title!r}): scripted answer: {exc}") from None
    settings = settings.model_copy(update={"endpoint": f"{SCRIPTED_BASE}/inference/chat/completions"})
    clock: Clock = LinkedClock(read=sandbox.clock.now, advance=sandbox.clock.advance)
    api = ModelsApi(settings, SCRIPTED_TOKEN, api=config.api, clock=clock)
    try:
        with activate(sandbox):
            return evaluate(items, workflows, config, ModelAsker(api, settings), mode="scripted")
    finally:
        api.close()
