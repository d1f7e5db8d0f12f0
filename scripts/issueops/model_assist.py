"""Model-assisted assignment, the I/O half: ask GitHub Models about the items that need it.

Runs in the assign stage's read phase, before any plan is made: for each triage item that
`wants_model` picks, one chat completion through the model's own governor; the outcomes (an
answer, or why there is none) go to the pure planner inside a `ModelMatcher`. Each request that
left the process is one `model.call` event; what became of each answer (a fallback, an
agreement) is recorded by the planner's own events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from issueops.config.settings import Config, ModelAssignConfig
from issueops.config.workflows import WorkflowSchema
from issueops.core.model import ItemContext, Plan, WorkItem
from issueops.github.models_api import ModelsApi, ModelsUnavailable
from issueops.runner import Telemetry
from issueops.stages.assign import Matcher, RuleMatcher
from issueops.stages.assign_model import (
    ModelAnswer,
    ModelFailure,
    ModelMatcher,
    ModelOutcome,
    build_request,
    parse_reply,
    wants_model,
)
from issueops.telemetry.model_counts import ModelCounts


class ModelAsker:
    """One question per item; the answer checked against the workflows that exist."""

    def __init__(self, api: ModelsApi, settings: ModelAssignConfig, telemetry: Telemetry | None = None):
        self.api = api
        self.settings = settings
        self.telemetry = telemetry
        self.counts = ModelCounts()  # this run's calls, fallbacks and agreement

    def count(self, plans: Sequence[Plan]) -> None:
        """Fallbacks and agreement, from the planner's own events."""
        for plan in plans:
            for event in plan.events:
                self.counts.add(event)

    def summary(self) -> dict[str, object]:
        """For the run summary and `run.completed`."""
        return asdict(self.counts.usage())

    @property
    def calls(self) -> int:
        return self.api.calls

    def ask(self, item: WorkItem, workflows: Sequence[WorkflowSchema]) -> ModelOutcome:
        before = self.api.calls
        outcome: ModelOutcome
        try:
            body = self.api.complete(build_request(item, workflows, self.settings))
        except ModelsUnavailable as exc:
            outcome = ModelFailure(exc.reason)
        else:
            outcome = parse_reply(body, [w.name for w in workflows])
        sent = self.api.calls - before
        if sent:
            fields: dict[str, object] = {"model": self.settings.model, "requests": sent}
            if isinstance(outcome, ModelAnswer):
                fields.update(ok=True, workflow=outcome.workflow, confidence=outcome.confidence)
            else:
                fields.update(ok=False, reason=outcome.reason)
            self.counts.add({"event": "model.call", **fields})
            if self.telemetry is not None:
                self.telemetry.emit("model.call", item=item.number, **fields)
        return outcome


def matcher_for(
    contexts: Sequence[ItemContext],
    *,
    workflows: Sequence[WorkflowSchema],
    config: Config,
    asker: ModelAsker | None,
    only_item: int | None = None,
) -> Matcher:
    """The rules alone, or the rules with the model's answers for the items that want one."""
    settings = config.assign.model_on
    rules = RuleMatcher()
    if settings is None or asker is None:
        return rules
    answers: dict[int, ModelOutcome] = {}
    for ctx in sorted(contexts, key=lambda c: c.item.number):
        if only_item is not None and ctx.item.number != only_item:
            continue
        if wants_model(ctx, workflows, config, rules):
            answers[ctx.item.number] = asker.ask(ctx.item, workflows)
    return ModelMatcher(answers, settings, [w.name for w in workflows])
