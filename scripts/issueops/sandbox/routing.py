"""The route table: GitHub's own (method, path template) pairs mapped to handlers.

Templates are written exactly as in GitHub's REST description so that a test can check each one
exists there. A route declares what it needs (permission level, rate-limit resource, whether it
creates content) and the sandbox enforces that before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from issueops.sandbox.http import Ctx, Reply

Handler = Callable[[Ctx], Reply]
Need = Literal["read", "triage", "write", "maintain", "admin"]

_GREEDY = {"ref", "path", "branch"}  # may contain slashes
_NUMERIC = {"issue_number", "pull_number", "comment_id", "reaction_id"}


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler
    need: Need | None  # minimum repo permission; None: the handler decides
    resource: str | None  # rate-limit bucket ("core", "search"); None is free (GET /rate_limit)
    creates: bool  # content-creating (the secondary per-minute limit applies)
    repo_scoped: bool
    regex: re.Pattern[str]
    # GitHub serves it but its REST description does not (legacy routes): the description
    # operations whose response schemas its bodies follow, for the fidelity check.
    schema_of: tuple[str, ...] = ()

    @property
    def write(self) -> bool:
        return self.method != "GET"


def _compile(template: str, *, optional_tail: bool = False) -> re.Pattern[str]:
    """`optional_tail`: the last (greedy) parameter may be absent, with or without its slash
    (`/contents`, `/contents/` list the root directory, as on GitHub)."""
    out = ""
    parts = re.split(r"(\{[a-z_]+\})", template)
    for index, part in enumerate(parts):
        if part.startswith("{"):
            name = part[1:-1]
            if optional_tail and index == len(parts) - 2 and out.endswith("/"):
                out = out[:-1] + f"(?:/(?P<{name}>.*))?"
            elif name in _GREEDY:
                out += f"(?P<{name}>.+)"
            elif name in _NUMERIC:
                out += f"(?P<{name}>[0-9]+)"
            else:
                out += f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out + r"/?\Z")


ROUTES: list[Route] = []


def route(
    method: str,
    template: str,
    *,
    need: Need | None = "read",
    resource: str | None = "core",
    creates: bool = False,
    optional_tail: bool = False,
    schema_of: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register a handler for one of GitHub's operations (`schema_of`: see `Route.schema_of`)."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(
            Route(
                method=method,
                template=template,
                handler=handler,
                need=need,
                resource=resource,
                creates=creates,
                repo_scoped=template.startswith("/repos/{owner}/{repo}"),
                regex=_compile(template, optional_tail=optional_tail),
                schema_of=schema_of,
            )
        )
        return handler

    return register


class Router:
    """Finds the route for a request; literal segments win over parameters (declaration order)."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._by_method: dict[str, list[Route]] = {}
        for r in routes:
            self._by_method.setdefault(r.method, []).append(r)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for candidate in self._by_method.get(method, ()):
            found = candidate.regex.match(path)
            if found:
                return candidate, found.groupdict(default="")
        return None

    def templates(self) -> list[tuple[str, str]]:
        """The documented operations served (legacy routes with `schema_of` are left out)."""
        return [(r.method, r.template) for r in self.routes if not r.schema_of]

    def legacy(self) -> list[tuple[str, str]]:
        """Routes GitHub answers but does not describe."""
        return [(r.method, r.template) for r in self.routes if r.schema_of]
