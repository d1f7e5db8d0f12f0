"""docs/pipeline.md stays true to the code: its state diagram is the transition table."""

from __future__ import annotations

import re
from pathlib import Path

from issueops.core.states import TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"


def test_state_diagram_is_the_transition_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    drawn = set()
    for source, target, causes in re.findall(r"^\s*(\w+) --> (\w+): (.+)$", block, re.MULTILINE):
        if "[*]" in (source, target):
            continue
        drawn.add((source.replace("_", "-"), target.replace("_", "-"), frozenset(causes.split(", "))))
    table = {(e.source.value, e.target.value, e.causes) for e in TRANSITIONS}
    assert drawn == table
