"""YAML read with the position of every key and value, so errors can name `file:line:col`.

YAML is composed into nodes (which carry their position) and turned into plain data while every
key and value position is recorded by data path. Syntax errors, duplicate keys, recursive aliases
and alias bombs become problems, never exceptions. The config loader and the sandbox's scenario
files both read YAML this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from issueops.core.errors import Problem

DataPath = tuple[Any, ...]

# A YAML file that expands into more nodes than this (alias bombs) is refused.
MAX_NODES = 200_000


@dataclass(frozen=True)
class Span:
    """A 1-based position in a file."""

    line: int
    col: int


@dataclass
class SourceMap:
    """Where each key and each value of a YAML document sits, by data path."""

    keys: dict[DataPath, Span] = field(default_factory=dict)
    values: dict[DataPath, Span] = field(default_factory=dict)

    def value(self, path: DataPath) -> Span:
        """The value's position, or that of the nearest enclosing value that exists."""
        for end in range(len(path), -1, -1):
            span = self.values.get(tuple(path[:end]))
            if span is not None:
                return span
        return Span(1, 1)

    def key(self, path: DataPath) -> Span:
        """The key's position (`name:`), falling back to the value for list items and the root."""
        span = self.keys.get(tuple(path))
        return span if span is not None else self.value(path)


@dataclass
class Document:
    """One YAML file: its data (None if empty or unreadable), positions and YAML-level problems."""

    path: str
    data: Any
    source: SourceMap
    problems: list[Problem]
    empty: bool = False


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader used only to compose nodes and to construct scalars (which keep no position)."""


class _TextTimeLoader(_LineLoader):
    """Like _LineLoader, but timestamps stay text (for readers that parse times themselves)."""


_TextTimeLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _span(node: yaml.Node) -> Span:
    return Span(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns composed nodes into plain data, recording positions and structural problems."""

    def __init__(self, path: str, loader: _LineLoader):
        self.path = path
        self.loader = loader
        self.source = SourceMap()
        self.problems: list[Problem] = []
        self.count = 0
        self.too_big = False
        self._stack: set[int] = set()

    def problem(self, span: Span, message: str) -> None:
        self.problems.append(Problem(self.path, span.line, span.col, message))

    def build(self, node: yaml.Node, path: DataPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if not self.too_big:
                self.too_big = True
                self.problem(
                    _span(node), f"the file expands to more than {MAX_NODES} values (aliases?); simplify it"
                )
            return None
        self.source.values.setdefault(path, _span(node))
        if id(node) in self._stack:
            self.problem(_span(node), "an alias refers to itself; YAML anchors here must not be recursive")
            return None
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            return self.loader.construct_object(node, deep=True)
        finally:
            self._stack.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        first_seen: dict[Any, Span] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, path, merged)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(_span(key_node), "a key must be plain text, not a list or a mapping")
                continue
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                # `on:`/`yes:`/`1:` are booleans or numbers in YAML; the models want text keys.
                key = str(key_node.value)
            if key in first_seen:
                first = first_seen[key]
                self.problem(
                    _span(key_node),
                    f"duplicate key '{key}' (first at line {first.line}); YAML would keep only the last "
                    "one, so remove one of them",
                )
                continue
            first_seen[key] = _span(key_node)
            child = (*path, key)
            self.source.keys[child] = _span(key_node)
            result[key] = self.build(value_node, child)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge(self, node: yaml.Node, path: DataPath, into: dict[Any, Any]) -> None:
        """`<<: *anchor` (or a list of anchors): keys written explicitly win over merged ones."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.problem(_span(source), "`<<` must merge a mapping (an anchor like `<<: *defaults`)")
                continue
            value = self._mapping(source, path)
            for key, item in value.items():
                into.setdefault(key, item)


def _yaml_problem(path: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{problem} ({context})" if context else str(problem)
    hint = "check the indentation, the colons after keys and the quoting of values near here"
    if "\\t" in text or "'\\t'" in text or "tab" in text.lower():
        hint = "YAML does not allow tabs for indentation; use spaces"
    elif "expected a single document" in text:
        hint = "keep one document per file (remove the extra `---`)"
    elif "found undefined alias" in text:
        hint = "define the anchor (`&name`) before using it (`*name`)"
    return Problem(path, line, col, f"YAML syntax error: {text}; {hint}")


def read_yaml(path: Path, display: str | None = None, *, timestamps: bool = True) -> Document:
    """Read one YAML file into a Document; syntax errors become problems, never exceptions.
    With `timestamps=False`, values that look like times stay strings."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(shown, 1, 1, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8")
        return Document(shown, None, SourceMap(), [problem])
    loader = _LineLoader(text) if timestamps else _TextTimeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            return Document(shown, None, SourceMap(), [_yaml_problem(shown, exc)])
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
            return Document(shown, None, SourceMap(), [], empty=True)  # nothing, `---` or `~`
        builder = _Builder(shown, loader)
        try:
            data = builder.build(root, ())
        except yaml.YAMLError as exc:  # a scalar that cannot be constructed, e.g. a bad timestamp
            return Document(shown, None, builder.source, [_yaml_problem(shown, exc)])
        return Document(shown, data, builder.source, builder.problems)
    finally:
        loader.dispose()
