"""Route handlers, one module per resource group; importing them fills the route table."""

from __future__ import annotations

import importlib

from issueops.sandbox.routing import ROUTES, Route

# Order matters only between overlapping templates; each module lists literal paths first.
_MODULES = (
    "meta",
    "issues",
    "comments",
    "labels",
    "reactions",
    "events",
    "search",
    "git",
    "contents",
    "pulls",
)


def all_routes() -> list[Route]:
    """Every registered route, literal paths before parameterised ones in each module's order."""
    for name in _MODULES:
        importlib.import_module(f"issueops.sandbox.routes.{name}")
    return list(ROUTES)
