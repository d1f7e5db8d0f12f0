"""Load `.github/issueops.yml` and `workflow_schemas/*.yml` strictly, with `file:line:col` errors.

YAML is read with every key and value position recorded (`issueops.core.yamlpos`), then validated
by the pydantic models. Each pydantic
error's `loc` is mapped back to the YAML position, and its message is rewritten to say what is
wrong and how to fix it. All problems of a file are collected; nothing stops at the first one.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from issueops.config.settings import Config
from issueops.config.workflows import WorkflowSchema
from issueops.core.errors import ConfigError, Problem
from issueops.core.yamlpos import DataPath, Document, SourceMap, Span, read_yaml

M = TypeVar("M", bound=BaseModel)

WORKFLOW_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated model together with the positions of its file, for cross-file checks."""

    path: str
    model: M
    source: SourceMap


# --- pydantic errors -> positioned, helpful problems ---------------------------------------------


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> list[Any]:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _model_class(tp: Any) -> type[BaseModel] | None:
    models = [m for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else None


def _tagged_member(tp: Any, tag: Any) -> Any | None:
    """For a discriminated union, the member whose `type` literal equals `tag`."""
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            type_field = member.model_fields.get("type")
            if type_field is not None and tag in typing.get_args(_unwrap(type_field.annotation)):
                return member
    return None


def _child(tp: Any, el: Any) -> Any | None:
    """The annotation one step below `tp` along a loc element."""
    if tp is None:
        return None
    model = _model_class(tp)
    if model is not None and isinstance(el, str):
        info = model.model_fields.get(el)
        return info.annotation if info is not None else None
    for member in _members(tp):
        origin = typing.get_origin(member)
        args = typing.get_args(member)
        if origin is list and isinstance(el, int):
            return args[0] if args else None
        if origin is dict:
            return args[1] if len(args) == 2 else None
    return None


@dataclass
class _Located:
    data_path: DataPath  # the part of the loc that exists in the data
    leftover: list[Any]  # loc elements after that (e.g. the missing field's name)
    annotation: Any  # the model type at data_path, when known
    key_error: bool  # the error is about a mapping key itself


def _locate(loc: Sequence[Any], data: Any, root: type[BaseModel]) -> _Located:
    node = data
    tp: Any = root
    path: list[Any] = []
    i = 0
    while i < len(loc):
        el = loc[i]
        if el == "[key]":
            return _Located(tuple(path), [], tp, True)
        in_dict = isinstance(node, dict) and el in node
        in_list = isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node)
        if in_dict or in_list:
            node, tp = node[el], _child(tp, el)
            path.append(el)
        elif (member := _tagged_member(tp, el)) is not None:
            tp = member  # a discriminated-union tag in the loc, not a key of the data
        else:
            break
        i += 1
    return _Located(tuple(path), list(loc[i:]), tp, False)


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def field_name(path: Sequence[Any]) -> str:
    """`sources[0].url`, `match.form_fields["Which team?"]`; the empty path is `(top level)`."""
    out = ""
    for el in path:
        if isinstance(el, int):
            out += f"[{el}]"
        elif isinstance(el, str) and _IDENT.match(el):
            out += f".{el}" if out else el
        else:
            out += f"[{str(el)!r}]"
    return out or "(top level)"


def _got(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


_EXPECTED = {
    "string_type": ("text", "quote it, e.g. 'value'"),
    "int_type": ("a whole number", "write digits only, e.g. 3"),
    "int_parsing": ("a whole number", "write digits only, e.g. 3"),
    "int_from_float": ("a whole number", "drop the fractional part"),
    "float_type": ("a number", "write a number, e.g. 24 or 1.5"),
    "float_parsing": ("a number", "write a number, e.g. 24 or 1.5"),
    "bool_type": ("true or false", "write true or false"),
    "bool_parsing": ("true or false", "write true or false"),
    "list_type": ("a list", "write `- item` lines under the key, or `[a, b]`"),
    "dict_type": ("a mapping", "write `key: value` lines indented under the key"),
    "model_type": ("a mapping", "write `key: value` lines indented under the key"),
    "model_attributes_type": ("a mapping", "write `key: value` lines indented under the key"),
}

_BOUNDS = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
}


def _choices(ctx: dict[str, Any], key: str) -> list[str]:
    return re.findall(r"'([^']*)'", str(ctx.get(key, "")))


def _suggest(word: Any, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _describe(
    error: ErrorDetails, located: _Located, doc: Document, root: type[BaseModel]
) -> tuple[Span, str]:
    """The position and the message (what is wrong, and the fix) of one pydantic error."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    path = located.data_path
    name = field_name(path)
    source = doc.source

    if kind == "extra_forbidden" or (kind == "invalid_key" and not located.leftover):
        key = path[-1] if path else value
        model = _parent_model(doc.data, root, path)
        allowed = sorted(model.model_fields) if model is not None else []
        where = "at the top level" if not path[:-1] else f"in {field_name(path[:-1])}"
        hint = _suggest(key, allowed)
        listing = f"allowed keys {where}: {', '.join(allowed)}" if allowed else "remove it"
        return source.key(path), f"{name}: unknown key; {hint}{listing}"

    if kind == "missing":
        missing = located.leftover[-1] if located.leftover else "?"
        model = _model_class(located.annotation)
        info = model.model_fields.get(str(missing)) if model is not None else None
        about = f" ({info.description.rstrip('.')})" if info is not None and info.description else ""
        where = "at the top level" if not path else f"under {name}"
        return source.key(path), (
            f"{field_name((*path, missing))}: required key is missing; add `{missing}: ...` {where}{about}"
        )

    target = (*path, *located.leftover)
    name = field_name(target)
    span = source.key(path) if located.key_error else source.value(path)

    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = _choices(ctx, "expected_tags") or _tag_names(located.annotation)
        tag_path = (*path, "type")
        if kind == "union_tag_not_found":
            return source.key(path), (
                f"{name}: missing key 'type'; add `type:` with one of: {', '.join(tags)}"
            )
        tag = ctx.get("tag", "")
        hint = _suggest(tag, tags)
        return source.value(tag_path), (
            f"{field_name(tag_path)}: unknown type '{tag}'; {hint}use one of: {', '.join(tags)}"
        )

    if kind in ("literal_error", "enum"):
        options = _choices(ctx, "expected")
        subject = f"key '{value}'" if located.key_error else f"'{value}'"
        return span, (
            f"{name}: {subject} is not allowed; {_suggest(value, options)}use one of: {', '.join(options)}"
        )

    if kind in _EXPECTED:
        expected, fix = _EXPECTED[kind]
        if not path and expected == "a mapping":
            return span, f"{name}: the file must be a mapping of `key: value` lines, not {_got(value)}"
        if value is None and expected == "a mapping":
            return source.key(path), (
                f"{name}: is empty; give it `key: value` lines or remove the key to use the defaults"
            )
        if value is None:
            fix = "give it a value or remove the key to use the default"
        model = _model_class(located.annotation)
        if expected == "a mapping" and isinstance(value, list) and model is not None:
            lists = [
                n
                for n, info in model.model_fields.items()
                if info.is_required() and typing.get_origin(info.annotation) is list
            ]
            if len(lists) == 1:
                fix = f"put the list under a `{lists[0]}:` key inside {name}"
        return span, f"{name}: expected {expected}, got {_got(value)}; {fix}"

    if kind in _BOUNDS:
        bound = _BOUNDS[kind].format(**{k: ctx.get(k) for k in ("gt", "ge", "lt", "le")})
        return span, f"{name}: must be {bound}, got {_got(value)}; change the value"

    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        hint = "use lowercase letters, digits and dashes" if "a-z0-9" in str(pattern) else "fix the value"
        return span, f"{name}: {_got(value)} does not match {pattern}; {hint}"

    if kind == "too_short":
        return span, f"{name}: needs at least {ctx.get('min_length', 1)} entry; add one"

    if kind == "too_long":
        return span, f"{name}: has more than {ctx.get('max_length')} entries; remove some"

    if kind == "invalid_key":
        return source.key(path), f"{name}: keys must be text; quote the key"

    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return span, f"{name}: {message}"


def _tag_names(tp: Any) -> list[str]:
    names: list[str] = []
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel) and "type" in member.model_fields:
            names.extend(str(a) for a in typing.get_args(_unwrap(member.model_fields["type"].annotation)))
    return names


def _parent_model(data: Any, root: type[BaseModel], path: DataPath) -> type[BaseModel] | None:
    """The model whose mapping holds the key at `path` (to list its allowed keys)."""
    located = _locate(path[:-1], data, root)
    node: Any = data
    for el in located.data_path:
        node = node[el]
    model = _model_class(located.annotation)
    if model is None and isinstance(node, dict) and "type" in node:
        member = _tagged_member(located.annotation, node["type"])
        model = member if isinstance(member, type) else None
    return model


def validate_document(doc: Document, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate parsed data against `model`; pydantic errors become positioned problems."""
    if doc.data is None and not doc.empty:
        return None, []
    try:
        return model.model_validate({} if doc.empty else doc.data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            located = _locate(error["loc"], doc.data, model)
            span, message = _describe(error, located, doc, model)
            problems.append(Problem(doc.path, span.line, span.col, message))
        return None, problems


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.path, p.line, p.col))


# --- the public loaders ------------------------------------------------------------------------


def read_config(path: Path) -> tuple[Loaded[Config] | None, list[Problem]]:
    """The config with its positions, or None and every problem found. A missing file is the default."""
    if not path.exists():
        return Loaded(str(path), Config(), SourceMap()), []
    if path.is_dir():
        return None, [Problem(str(path), 1, 1, "is a directory; --config must name a YAML file")]
    doc = read_yaml(path)
    model, problems = validate_document(doc, Config)
    problems = _sorted(doc.problems + problems)
    if model is None or problems:
        return None, problems
    return Loaded(doc.path, model, doc.source), []


def workflow_files(directory: Path) -> list[Path]:
    """Every `*.yml`/`*.yaml` directly in `directory` (not hidden files, not the JSON schemas)."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix in WORKFLOW_SUFFIXES and not p.name.startswith(".")
    )


def read_workflow(path: Path) -> tuple[Loaded[WorkflowSchema] | None, list[Problem]]:
    """One workflow file with its positions, or None and every problem found."""
    doc = read_yaml(path)
    if doc.empty:
        return None, [
            Problem(
                doc.path,
                1,
                1,
                "the workflow file is empty; give it name, description, risk, match and owners "
                "(or delete the file)",
            )
        ]
    model, problems = validate_document(doc, WorkflowSchema)
    problems = _sorted(doc.problems + problems)
    if model is None or problems:
        return None, problems
    return Loaded(doc.path, model, doc.source), []


def read_workflows(directory: Path) -> tuple[list[Loaded[WorkflowSchema]], list[Problem]]:
    """Every workflow in `directory` that is valid, and the problems of all the others."""
    if not directory.is_dir():
        return [], [
            Problem(str(directory), 1, 1, "workflow directory not found; create it or pass --schemas DIR")
        ]
    loaded: list[Loaded[WorkflowSchema]] = []
    problems: list[Problem] = []
    for path in workflow_files(directory):
        workflow, found = read_workflow(path)
        problems.extend(found)
        if workflow is not None:
            loaded.append(workflow)
    return loaded, problems


def load_config(path: Path) -> Config:
    """`.github/issueops.yml` as a Config; a missing or empty file is the default Config.

    Raises ConfigError listing every problem (each `path:line:col: what and how to fix`)."""
    loaded, problems = read_config(path)
    if problems or loaded is None:
        raise ConfigError(problems)
    return loaded.model


def load_workflows(directory: Path) -> list[WorkflowSchema]:
    """Every workflow definition directly in `directory`, sorted by file name.

    Raises ConfigError listing every problem of every file."""
    loaded, problems = read_workflows(directory)
    if problems:
        raise ConfigError(problems)
    return [w.model for w in loaded]


__all__ = [
    "Document",
    "Loaded",
    "SourceMap",
    "Span",
    "field_name",
    "load_config",
    "load_workflows",
    "read_config",
    "read_workflow",
    "read_workflows",
    "read_yaml",
    "validate_document",
    "workflow_files",
]
