"""Model-assisted assignment, the I/O half: ask GitHub Models about the items that need it.

Runs in the assign stage's read phase, before any plan is made: for each triage item that
`wants_model` picks, one chat completion through the model's own governor; the outcomes (an
answer, or why there is none) go to the pure planner inside a `ModelMatcher`. Each request that
left the process is one `model.call` event; what became of each answer (a fallback, an
agreement) is recorded by the planner's own events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass
class ModelTally:
    """What the model did in one run, for the run summary: "model calls, fallbacks, agreement"."""

    calls: int = 0  # requests that left the process (retries included)
    answers: int = 0  # items that got a well-formed answer
    decided: int = 0  # items placed by the model (no rule had)
    fallbacks: int = 0  # items where the rule result stood (error, low confidence, overruled...)
    compared: int = 0  # items placed by a rule that the model also answered
    agreed: int = 0  # ... and named the same workflow

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ModelAsker:
    """One question per item; the answer checked against the workflows that exist."""

    def __init__(self, api: ModelsApi, settings: ModelAssignConfig, telemetry: Telemetry | None = None):
        self.api = api
        self.settings = settings
        self.telemetry = telemetry
        self.tally = ModelTally()

    def count(self, plans: Sequence[Plan]) -> None:
        """Fallbacks and agreement, from the planner's own events."""
        self.tally.calls = self.api.calls
        for plan in plans:
            for event in plan.events:
                if event.get("event") == "model.fallback":
                    self.tally.fallbacks += 1
                elif event.get("event") == "item.assigned":
                    if event.get("how") == "model":
                        self.tally.decided += 1
                    elif isinstance(event.get("model_agrees"), bool):
                        self.tally.compared += 1
                        self.tally.agreed += bool(event["model_agrees"])

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
        if isinstance(outcome, ModelAnswer):
            self.tally.answers += 1
        sent = self.api.calls - before
        if sent and self.telemetry is not None:
            fields: dict[str, object] = {"model": self.settings.model, "requests": sent}
            if isinstance(outcome, ModelAnswer):
                fields.update(ok=True, workflow=outcome.workflow, confidence=outcome.confidence)
            else:
                fields.update(ok=False, reason=outcome.reason)
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
