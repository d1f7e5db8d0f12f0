"""Which gates wait for a person: policy profile x risk.

`risk::high` is never less strict than `assisted`, whatever the profile says.
"""

from __future__ import annotations

from dataclasses import dataclass

from issueops.config.settings import Profile, Risk


@dataclass(frozen=True)
class Gates:
    before_processing: bool  # an approval is needed before deliverables are produced
    before_publishing: bool  # an approval is needed before the PR is merged and the item closed


_MATRIX: dict[Profile, dict[Risk, Gates]] = {
    "manual": {
        "low": Gates(True, True),
        "medium": Gates(True, True),
        "high": Gates(True, True),
    },
    "assisted": {
        "low": Gates(False, True),
        "medium": Gates(False, True),
        "high": Gates(True, True),
    },
    "autonomous": {
        "low": Gates(False, False),
        "medium": Gates(False, True),
        "high": Gates(True, True),
    },
}


def gates_for(profile: Profile, risk: Risk) -> Gates:
    gates = _MATRIX[profile][risk]
    if risk == "high":
        floor = _MATRIX["assisted"]["high"]
        gates = Gates(
            gates.before_processing or floor.before_processing,
            gates.before_publishing or floor.before_publishing,
        )
    return gates
