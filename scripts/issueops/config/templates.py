"""Deliverable and guidance templates: sandboxed Jinja2 with StrictUndefined.

Templates come from the repository (trusted to be templates); issue fields are passed in as data
and are never parsed as template code, so `{{ 7*7 }}` in a title renders literally.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The names a template may use, and the attributes each offers (validate checks both).
TEMPLATE_VARIABLES: Mapping[str, frozenset[str]] = {
    "item": frozenset(
        {"number", "title", "body", "author", "labels", "url", "created_at", "source", "assignees"}
    ),
    "workflow": frozenset({"name", "description", "risk"}),
    "form": frozenset(),  # issue-form fields: any key
    "owner": frozenset(),
    "repo": frozenset(),
    "now": frozenset(),
    "branch": frozenset(),
}


def slugify(text: str, max_length: int = 40) -> str:
    """ASCII, lowercase, dash-separated: safe in a branch name or a file path."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "item"


def make_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["slug"] = slugify
    return env


_ENV = make_environment()


@dataclass(frozen=True)
class TemplateContext:
    """What every template sees. Built by the process stage from a WorkItem."""

    item: Mapping[str, Any]
    workflow: Mapping[str, Any]
    repo: str
    now: str
    owner: str | None = None
    form: Mapping[str, str] | None = None
    branch: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": dict(self.item),
            "workflow": dict(self.workflow),
            "repo": self.repo,
            "now": self.now,
            "owner": self.owner or "",
            "form": dict(self.form or {}),
            "branch": self.branch,
        }


@lru_cache(maxsize=256)
def compiled(source: str) -> Template:
    """The template compiled once per source text: a run renders the same few for every item.

    Compiling costs far more than rendering; a compile error is not cached and raises every time.
    """
    return _ENV.from_string(source)


def render(source: str, context: TemplateContext) -> str:
    """Render template text; raises jinja2 errors (undefined names, sandbox violations)."""
    return compiled(source).render(context.as_dict())
