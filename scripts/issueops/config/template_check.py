"""Static checks of Jinja2 templates against the template contract, without rendering them.

A template that renders in a test can still fail on a real item (a misspelt attribute is only
reached on some branch), so validate walks the template's syntax tree instead: every top-level
name must be one of TEMPLATE_VARIABLES, and every attribute of `item`/`workflow` one of theirs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, meta, nodes

from issueops.config.templates import TEMPLATE_VARIABLES, make_environment

# Names whose value is a plain string in TemplateContext.as_dict(): only str attributes exist.
_TEXT_VARIABLES = frozenset({"owner", "repo", "now", "branch"})
# Names whose attributes are checked against their TEMPLATE_VARIABLES set.
_RECORD_VARIABLES = frozenset({"item", "workflow"})


@dataclass(frozen=True)
class TemplateIssue:
    """One finding, at a 1-based line inside the template text."""

    line: int
    message: str


def _did_you_mean(word: str, options: frozenset[str] | list[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _attribute_issue(variable: str, attr: str, line: int) -> TemplateIssue | None:
    if variable in _RECORD_VARIABLES:
        allowed = TEMPLATE_VARIABLES[variable]
        if attr in allowed:
            return None
        return TemplateIssue(
            line,
            f"'{variable}' has no attribute '{attr}'; {_did_you_mean(attr, allowed)}"
            f"available: {', '.join(sorted(allowed))}",
        )
    if variable in _TEXT_VARIABLES and not hasattr(str, attr):
        return TemplateIssue(
            line, f"'{variable}' is text and has no attribute '{attr}'; use `{{{{ {variable} }}}}`"
        )
    return None


def check_template(source: str) -> list[TemplateIssue]:
    """Syntax errors, unsupported tags, unknown variables and unknown attributes of `source`."""
    env = make_environment()
    try:
        tree = env.parse(source)
        env.compile(tree)  # unknown filters and tests are only found when compiling
    except TemplateSyntaxError as exc:
        text = (exc.message or "invalid template").rstrip(". ")
        return [TemplateIssue(exc.lineno or 1, f"template syntax error: {text}; fix it on this line")]

    issues: list[TemplateIssue] = []
    for node in tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        tag = type(node).__name__.lower().replace("fromimport", "from ... import")
        issues.append(
            TemplateIssue(
                node.lineno,
                f"`{{% {tag} %}}` is not supported: each template is rendered on its own; "
                "put the text in this template",
            )
        )

    # Inside `{% if %}` conditions Jinja2 defers unknown filters and tests to render time.
    for filter_node in tree.find_all(nodes.Filter):
        if filter_node.name not in env.filters:
            known = _did_you_mean(filter_node.name, list(env.filters))
            issues.append(
                TemplateIssue(
                    filter_node.lineno, f"no filter named '{filter_node.name}'; {known}".rstrip("; ")
                )
            )
    for test_node in tree.find_all(nodes.Test):
        if test_node.name not in env.tests:
            known = _did_you_mean(test_node.name, list(env.tests))
            issues.append(
                TemplateIssue(test_node.lineno, f"no test named '{test_node.name}'; {known}".rstrip("; "))
            )

    undeclared = meta.find_undeclared_variables(tree) - set(env.globals)
    for name_node in tree.find_all(nodes.Name):
        name = name_node.name
        if name_node.ctx == "load" and name in undeclared and name not in TEMPLATE_VARIABLES:
            issues.append(
                TemplateIssue(
                    name_node.lineno,
                    f"unknown variable '{name}'; {_did_you_mean(name, list(TEMPLATE_VARIABLES))}"
                    f"available: {', '.join(sorted(TEMPLATE_VARIABLES))}",
                )
            )

    accesses: list[tuple[nodes.Expr, str, int]] = [
        (a.node, a.attr, a.lineno) for a in tree.find_all(nodes.Getattr)
    ]
    accesses += [
        (a.node, a.arg.value, a.lineno)
        for a in tree.find_all(nodes.Getitem)
        if isinstance(a.arg, nodes.Const) and isinstance(a.arg.value, str)
    ]
    for target, attr, line in accesses:
        if isinstance(target, nodes.Name) and target.name in undeclared:
            issue = _attribute_issue(target.name, attr, line)
            if issue is not None:
                issues.append(issue)

    return sorted(set(issues), key=lambda i: (i.line, i.message))


__all__ = ["TemplateIssue", "check_template"]
