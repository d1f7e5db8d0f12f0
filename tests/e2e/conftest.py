"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_ops_world import World

import issueops.app


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[World], None]:
    """CLI runs in the world's folder (its cache and refusal log), pacing writes on the sandbox's
    virtual clock; they tell the time by the sandbox's Date header."""

    def use(w: World) -> None:
        monkeypatch.chdir(w.tmp)
        monkeypatch.setattr(issueops.app, "SystemClock", lambda: w.clock)

    return use
