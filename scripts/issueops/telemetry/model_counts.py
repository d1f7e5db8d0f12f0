"""Counting what GitHub Models did, from the event records (the same for every reader)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from issueops.telemetry.report_model import ModelUsage


def fallback_kind(reason: str) -> str:
    """ "HTTP 403 ...", "quota: ...", "confidence 0.55 below 0.70" -> "HTTP 403", "quota",
    "confidence N below N": reasons grouped by kind, not by their figures."""
    if reason.startswith("HTTP "):
        return " ".join(reason.split()[:2])
    if ":" in reason:
        return reason.split(":", 1)[0]
    return re.sub(r"\d+(\.\d+)?", "N", reason)


class ModelCounts:
    """GitHub Models figures from `model.call`, `model.fallback`, `model.wait`,
    `model.budget_stop` and `item.assigned` records: one counter for the report over many runs,
    the run summary of one run, and `issueops assign-eval`."""

    def __init__(self) -> None:
        self.calls = self.questions = self.failed = self.placed = 0
        self.compared = self.agreed = self.waits = self.stops = 0
        self.fallbacks: Counter[str] = Counter()

    def add(self, record: dict[str, Any]) -> None:
        event = record.get("event")
        if event == "model.call":
            self.questions += 1
            requests = record.get("requests")
            self.calls += requests if isinstance(requests, int) and not isinstance(requests, bool) else 1
            self.failed += record.get("ok") is False
        elif event == "model.fallback":
            # "confidence 0.55 below 0.70" and "quota: ..." group by their kind, not their figures.
            self.fallbacks[fallback_kind(str(record.get("reason", "unknown")))] += 1
        elif event == "model.wait":
            self.waits += 1
        elif event == "model.budget_stop":
            self.stops += 1
        elif event == "item.assigned":
            if record.get("how") == "model":
                self.placed += 1
            elif isinstance(record.get("model_agrees"), bool):
                self.compared += 1
                self.agreed += bool(record["model_agrees"])

    def usage(self) -> ModelUsage:
        return ModelUsage(
            calls=self.calls,
            questions=self.questions,
            failed=self.failed,
            placed=self.placed,
            fallbacks=sum(self.fallbacks.values()),
            fallbacks_by_reason=dict(self.fallbacks.most_common()),
            compared=self.compared,
            agreed=self.agreed,
            agreement=round(self.agreed / self.compared, 3) if self.compared else None,
            waits=self.waits,
            budget_stops=self.stops,
        )
