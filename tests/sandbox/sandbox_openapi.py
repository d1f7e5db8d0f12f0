"""GitHub's published REST description (npm `@octokit/openapi`) as JSON Schema validators.

OpenAPI 3.0 marks optional nulls with `nullable: true`; that is turned into a JSON Schema type
union so that `jsonschema` can check the sandbox's bodies exactly as the description says.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft7Validator

if TYPE_CHECKING:
    from sandbox_world import Exchange

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "tests/fidelity/node_modules/@octokit/openapi/generated/api.github.com.json"


def spec_available() -> bool:
    return SPEC_PATH.is_file()


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _convert(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (draft 7): `nullable` becomes a union with null.

    `oneOf` is read as `anyOf`: the description's alternatives overlap (a plain error body is valid
    under both `basic-error` and `repository-rule-violation-error`), so "exactly one" can never hold.
    """
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    skipped = ("nullable", "example", "examples", "discriminator")
    out = {("anyOf" if k == "oneOf" else k): _convert(v) for k, v in node.items() if k not in skipped}
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components() -> dict[str, Any]:
    return {"schemas": _convert(spec()["components"]["schemas"])}


def operation(method: str, template: str) -> dict[str, Any] | None:
    return spec()["paths"].get(template, {}).get(method.lower())  # type: ignore[no-any-return]


def response_schema(method: str, template: str, status: int) -> tuple[bool, dict[str, Any] | None]:
    """(status documented for this operation?, its JSON body schema or None when it has no body)."""
    op = operation(method, template)
    if op is None:
        return False, None
    response = op["responses"].get(str(status))
    if response is None:
        return False, None
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return True, schema


@cache
def _validator_for(key: str) -> Draft7Validator:
    schema = json.loads(key)
    root = {
        "definitions": {"target": _convert(schema)},
        "components": _components(),
        "$ref": "#/definitions/target",
    }
    return Draft7Validator(root)


def errors_for(schema: dict[str, Any], body: Any) -> list[str]:
    """Validation messages (empty when the body matches)."""
    validator = _validator_for(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(body)
    ]


def named_schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


ERROR_SCHEMAS = {422: "validation-error"}


def check_exchanges(exchanges: list[Exchange]) -> tuple[Counter[str], list[str], list[str]]:
    """(counts, violations, undocumented statuses) for recorded exchanges."""
    counts: Counter[str] = Counter()
    violations: list[str] = []
    undocumented: list[str] = []
    for ex in exchanges:
        if ex.template is None:
            counts["unrouted"] += 1
            continue
        if ex.schema_of:
            _check_legacy(ex, counts, violations)
            continue
        documented, schema = response_schema(ex.method, ex.template, ex.status)
        if not documented:
            undocumented.append(f"{ex.method} {ex.template} -> {ex.status}")
        if schema is None and ex.status >= 400:
            # GitHub answers errors with its error body even where the description names no schema.
            schema = named_schema(ERROR_SCHEMAS.get(ex.status, "basic-error"))
        if ex.body is None:
            counts["empty"] += 1
            continue
        if schema is None:
            violations.append(f"{ex.method} {ex.path} -> {ex.status}: a body where GitHub documents none")
            continue
        counts["validated"] += 1
        for message in errors_for(schema, ex.body)[:5]:
            violations.append(f"{ex.method} {ex.path} -> {ex.status}: {message}")
    return counts, violations, undocumented


def _check_legacy(ex: Exchange, counts: Counter[str], violations: list[str]) -> None:
    """A route GitHub serves without describing it: its body must match one of the described
    operations it stands for (`/git/refs/heads/x` is `/git/ref/...` or `/git/matching-refs/...`)."""
    if ex.body is None:
        counts["empty"] += 1
        return
    schemas = [response_schema(ex.method, t, ex.status)[1] for t in ex.schema_of]
    if ex.status >= 400:
        schemas = [named_schema(ERROR_SCHEMAS.get(ex.status, "basic-error"))]
    found = [errors_for(schema, ex.body) for schema in schemas if schema is not None]
    counts["validated"] += 1
    if not found or all(found):
        first = found[0][:5] if found else ["no schema for this status"]
        violations.extend(f"{ex.method} {ex.path} -> {ex.status}: {m}" for m in first)
