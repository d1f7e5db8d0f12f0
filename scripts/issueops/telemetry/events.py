"""The telemetry event catalogue, as data.

Writers check their events against it (a missing field is a bug caught by the tests); readers use
it to warn, never to refuse: an event name not listed here is accepted and kept, so a newer
writer's lines stay readable by an older reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

# Every line carries these; the sink fills them in. `seq` and `prev` form the hash chain.
ENVELOPE: tuple[str, ...] = ("v", "ts", "run_id", "seq", "prev", "event", "repo")
GENESIS = "0" * 64  # `prev` of the first line of every file

NONE = type(None)
INT: tuple[type, ...] = (int,)
NUM: tuple[type, ...] = (int, float)
STR: tuple[type, ...] = (str,)
OPT_STR: tuple[type, ...] = (str, NONE)
BOOL: tuple[type, ...] = (bool,)
LIST: tuple[type, ...] = (list, tuple)
DICT: tuple[type, ...] = (dict,)

# Comment commands that are part of the normal approval flow, not a person stepping in.
APPROVAL_COMMANDS: frozenset[str] = frozenset({"approve", "cancel"})


@dataclass(frozen=True)
class EventSpec:
    """One event: whether it is about an item, and its required fields with their types."""

    name: str
    item: bool
    fields: Mapping[str, tuple[type, ...]] = field(default_factory=dict)
    doc: str = ""


def _spec(name: str, doc: str, *, item: bool = True, **fields: tuple[type, ...]) -> EventSpec:
    return EventSpec(name=name, item=item, fields=dict(fields), doc=doc)


_SPECS: tuple[EventSpec, ...] = (
    _spec("run.started", "a command run begins", item=False, command=STR, dry_run=BOOL),
    _spec(
        "run.completed",
        "a command run ends, with its counts",
        item=False,
        command=STR,
        items_seen=INT,
        items_changed=INT,
        items_failed=INT,
        items_deferred=INT,
        deferred=LIST,
        requests_made=INT,
        requests_counted=INT,
        duration_ms=INT,
        exit_code=INT,
    ),
    _spec(
        "run.states",
        "the open items by their current state label, read by the run (`needs_human`: flagged items)",
        item=False,
        states=DICT,
        needs_human=INT,
        open_items=INT,
    ),
    _spec("item.created", "the monitor opened a work item", source=STR, source_key=STR),
    EventSpec(
        name="item.transition",
        item=True,
        fields={"from": OPT_STR, "to": STR, "cause": STR, "workflow": OPT_STR},
        doc="the item's state label changed (`from` is null when it had none)",
    ),
    _spec(
        "item.assigned",
        "workflow, risk and owner chosen",
        workflow=STR,
        risk=STR,
        owner=OPT_STR,
        score=(int, float, NONE),
    ),
    _spec("approval.granted", "an authorized approval counted", login=STR, risk=STR, gate=STR),
    _spec("approval.denied", "an approval attempt did not count (reason code)", login=STR, reason=STR),
    _spec("approval.lapsed", "an earlier approval no longer counts", login=STR, reason=STR),
    _spec("command.applied", "a comment command took effect", command=STR, login=STR),
    _spec(
        "label.reverted",
        "a pipeline label applied without the right to it was put back (reason code)",
        login=STR,
        label=STR,
        reason=STR,
        to=OPT_STR,
    ),
    _spec(
        "risk.lowered",
        "a configured approver lowered the risk below the workflow's",
        login=STR,
        risk=STR,
        floor=STR,
    ),
    _spec("api.wait", "the governor waited before a request", item=False, seconds=NUM, reason=STR),
    _spec(
        "api.budget_stop",
        "the run stopped early to respect the API budget",
        item=False,
        reason=STR,
        remaining=(int, NONE),
    ),
    _spec(
        "model.call",
        "the assign stage asked GitHub Models about an item (requests: with retries)",
        model=STR,
        ok=BOOL,
        requests=INT,
    ),
    _spec(
        "model.fallback",
        "the model's answer did not decide the item; the rule result stood (reason)",
        model=STR,
        reason=STR,
    ),
    _spec(
        "model.wait", "the model's governor waited (a 429's retry-after)", item=False, seconds=NUM, reason=STR
    ),
    _spec(
        "model.budget_stop",
        "no more model requests this run (call budget or quota); the rules decide the rest",
        item=False,
        reason=STR,
    ),
    _spec(
        "item.failed",
        "processing the item failed; the others went on",
        failure_class=STR,
        failure_code=STR,
        hint=STR,
    ),
    _spec("sla.reminder", "a reminder was posted for an item waiting too long", state=STR, age_hours=NUM),
    _spec("sla.escalation", "an item waiting too long was escalated", state=STR, age_hours=NUM),
    _spec("drift.repaired", "the sweep repaired label drift", found=LIST, repair=STR),
    _spec("drift.flagged", "the sweep asked a person to sort out drift it could not decide", code=STR),
    _spec(
        "telemetry.export_failed",
        "pushing the run's metrics or events to a monitoring endpoint failed; the run went on",
        item=False,
        target=STR,
        error=STR,
    ),
    _spec(
        "orphan.repaired",
        "the sweep closed an orphaned PR, deleted an orphaned branch or failed an item whose PR closed",
        kind=STR,
        pr=(int, NONE),
        branch=STR,
    ),
)

CATALOGUE: Mapping[str, EventSpec] = {spec.name: spec for spec in _SPECS}


def _type_ok(value: Any, allowed: tuple[type, ...]) -> bool:
    # bool is an int in Python; a count must not be True.
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, allowed)


def _type_names(allowed: tuple[type, ...]) -> str:
    return "|".join("null" if t is NONE else t.__name__ for t in allowed)


def check_event(record: Mapping[str, Any]) -> list[str]:
    """Problems with one line against the catalogue; empty when fine.

    Envelope fields are always required; an unknown event name is not a problem (extensibility).
    """
    problems = [f"missing envelope field `{name}`" for name in ENVELOPE if name not in record]
    spec = CATALOGUE.get(str(record.get("event", "")))
    if spec is None:
        return problems
    if spec.item and not _type_ok(record.get("item"), INT):
        problems.append(f"`{spec.name}` needs `item` (the issue number)")
    for name, allowed in spec.fields.items():
        if name not in record:
            problems.append(f"`{spec.name}` needs `{name}` ({_type_names(allowed)})")
        elif not _type_ok(record[name], allowed):
            got = type(record[name]).__name__
            problems.append(f"`{spec.name}`.`{name}` must be {_type_names(allowed)}, not {got}")
    return problems


def is_manual_intervention(record: Mapping[str, Any]) -> bool:
    """A person stepped in: any applied comment command other than an approval or its withdrawal."""
    if record.get("event") != "command.applied":
        return False
    return str(record.get("command", "")).lstrip("/").lower() not in APPROVAL_COMMANDS
