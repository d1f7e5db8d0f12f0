"""The package stays as drawn in docs/architecture.md: imports run down the layers, never up, and
never in a circle. Imports are read with `ast`, so nothing is imported to check them."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "issueops"

# What each part of the package may import from issueops (itself always included). The top level
# (cli, app, demo, pipeline, runner, snapshot, apply, output, actions_env) may import anything.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "config": {"core"},
    "github": {"core", "config"},
    "telemetry": {"core", "config"},
    "sources": {"core", "config"},
    "approvals": {"core", "config"},
    "stages": {"core", "config", "sources", "approvals"},
    "sandbox": {"core"},
}
# Third-party packages only one place may import.
ONLY_IN: dict[str, str] = {"github": "github", "click": "cli"}
TOP = "(top level)"


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (issueops.* or a third-party top name)
    line: int
    type_only: bool  # under `if TYPE_CHECKING:` (annotations only, never executed)


def module_name(path: Path) -> str:
    parts = ["issueops", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The subpackage a module belongs to, or TOP for the modules at the package's top level."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return TOP


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[Import]:
    source = module_name(path)
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, True)
                for stmt in child.orelse:
                    visit_stmt(stmt, type_only)
                continue
            visit_stmt(child, type_only)

    def visit_stmt(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(source, a.name, node.lineno, type_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports (`from issueops...`)"
            base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                # `from issueops.x import y` names module issueops.x.y when y is a module.
                found.append(Import(source, full if _is_module(full) else base, node.lineno, type_only))
        else:
            visit(node, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _is_module(dotted: str) -> bool:
    if not dotted.startswith("issueops."):
        return False
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def violations(imports: list[Import]) -> list[str]:
    """Each import that runs back up the layers or crosses into a part it may not use."""
    out: list[str] = []
    for imp in imports:
        where = f"{imp.source} line {imp.line}"
        top_name = imp.target.split(".")[0]
        if top_name in ONLY_IN and top_name != "issueops":
            owner = ONLY_IN[top_name]
            if part_of(imp.source) != owner and imp.source != f"issueops.{owner}":
                out.append(f"{where}: imports {top_name}; only issueops.{owner} may")
            continue
        if top_name != "issueops" or imp.target == "issueops":
            continue
        mine, theirs = part_of(imp.source), part_of(imp.target)
        if mine == TOP or theirs == mine:
            continue
        if theirs == TOP or theirs not in ALLOWED[mine]:
            out.append(f"{where}: {mine} may not import {imp.target} (allowed: {sorted(ALLOWED[mine])})")
    return out


def circles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected groups of modules that import each other at run time."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.type_only or not imp.target.startswith("issueops.") or imp.target == imp.source:
            continue
        graph.setdefault(imp.source, set()).add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return found


def test_every_subpackage_has_a_rule() -> None:
    parts = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert parts == set(ALLOWED), "give each subpackage its row in ALLOWED (and docs/architecture.md)"


def test_imports_run_down_the_layers() -> None:
    assert violations(all_imports()) == []


def test_no_import_circles() -> None:
    assert circles(all_imports()) == []


@pytest.mark.parametrize(
    ("name", "imports", "expected"),
    [
        ("core importing a stage", [Import("issueops.core.model", "issueops.stages.common", 3, False)], 1),
        (
            "a stage importing config",
            [Import("issueops.stages.assign", "issueops.config.settings", 3, False)],
            0,
        ),
        (
            "approvals importing a stage",
            [Import("issueops.approvals.activity", "issueops.stages", 9, False)],
            1,
        ),
        (
            "sandbox importing config",
            [Import("issueops.sandbox.scenario", "issueops.config.loader", 1, False)],
            1,
        ),
        ("a stage importing the runner", [Import("issueops.stages.sweep", "issueops.runner", 5, False)], 1),
        ("type-only imports count too", [Import("issueops.github.port", "issueops.app", 5, True)], 1),
        ("click outside the CLI", [Import("issueops.app", "click", 2, False)], 1),
        ("click in the CLI", [Import("issueops.cli", "click", 2, False)], 0),
        ("PyGithub outside github/", [Import("issueops.runner", "github", 2, False)], 1),
        ("PyGithub in the adapter", [Import("issueops.github.adapter", "github", 2, False)], 0),
        (
            "the top level importing anything",
            [Import("issueops.demo", "issueops.sandbox.server", 2, False)],
            0,
        ),
    ],
)
def test_the_rules_catch_what_they_should(name: str, imports: list[Import], expected: int) -> None:
    assert len(violations(imports)) == expected, name


@pytest.mark.parametrize(
    ("name", "edges", "expected"),
    [
        ("two modules in a circle", [("a", "b"), ("b", "a")], [["issueops.a", "issueops.b"]]),
        (
            "three in a circle",
            [("a", "b"), ("b", "c"), ("c", "a")],
            [["issueops.a", "issueops.b", "issueops.c"]],
        ),
        ("a chain", [("a", "b"), ("b", "c")], []),
    ],
)
def test_circles_are_found(name: str, edges: list[tuple[str, str]], expected: list[list[str]]) -> None:
    imports = [Import(f"issueops.{a}", f"issueops.{b}", 1, False) for a, b in edges]
    assert circles(imports) == expected, name


def test_a_type_only_import_is_no_circle() -> None:
    imports = [
        Import("issueops.sandbox.http", "issueops.sandbox.store", 1, True),
        Import("issueops.sandbox.store", "issueops.sandbox.http", 1, False),
    ]
    assert circles(imports) == []
