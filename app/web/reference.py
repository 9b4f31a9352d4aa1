"""The API reference page at ``/docs``, rendered on the server from the app's own OpenAPI document.

FastAPI's built-in Swagger UI loads its script and styles from a CDN and runs an inline script:
both are refused by our Content-Security-Policy (and remote resources are against our rules),
so that page would be blank. This one is plain HTML from the same schema: every operation, its
parameters or body fields with type, allowed range and default, its responses, and an example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class FieldDoc:
    """One query parameter or body field, in words."""

    name: str
    kind: str
    allowed: str
    default: str
    required: bool
    description: str


@dataclass(frozen=True)
class OperationDoc:
    method: str
    path: str
    summary: str
    description: str
    fields: tuple[FieldDoc, ...]
    body: bool
    responses: tuple[tuple[str, str], ...]


def operations(openapi: Schema) -> list[OperationDoc]:
    """Every operation of ``openapi`` (paths in document order), described for people."""
    schemas = openapi.get("components", {}).get("schemas", {})
    found = []
    for path, methods in openapi["paths"].items():
        for method, spec in methods.items():
            fields = [_field(p["name"], p.get("schema", {}), p.get("required", False), p.get("description", ""))
                      for p in spec.get("parameters", [])]
            body_ref = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body = _resolve(body_ref, schemas)
            for name, schema in body.get("properties", {}).items():
                fields.append(_field(name, schema, name in body.get("required", []), schema.get("description", "")))
            responses = tuple((code, r.get("description", "")) for code, r in spec.get("responses", {}).items())
            found.append(OperationDoc(method.upper(), path, spec.get("summary", ""), spec.get("description", ""),
                                      tuple(fields), bool(body), responses))
    return found


def _resolve(schema: Schema, schemas: dict[str, Schema]) -> Schema:
    ref = schema.get("$ref", "")
    return schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else schema


def _field(name: str, schema: Schema, required: bool, description: str) -> FieldDoc:
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    main = options[0] if options else schema
    nullable = len(options) < len(schema.get("anyOf", [schema]))
    default = schema.get("default")
    shown_default = "" if required else ("none" if default is None else _value(default))
    kind = " or ".join(_kind(s) for s in options) + (" (optional)" if nullable else "")
    return FieldDoc(name, kind, _allowed(main), shown_default, required, description or schema.get("description", ""))


def _kind(schema: Schema) -> str:
    if schema.get("type") == "array":
        return f"list of {_kind(schema.get('items', {}))}"
    if "enum" in schema:
        return "string"
    return str(schema.get("type", "value"))


def _allowed(schema: Schema) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(_value(v) for v in schema["enum"]))
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{_value(schema.get('minimum', '−∞'))} to {_value(schema.get('maximum', '∞'))}")
    if "minItems" in schema or "maxItems" in schema:
        parts.append(f"{schema.get('minItems', 0)} to {schema.get('maxItems', '∞')} items")
    if "maxLength" in schema:
        parts.append(f"at most {schema['maxLength']} characters")
    if schema.get("type") == "array" and schema.get("items"):
        inner = _allowed(schema["items"])
        if inner:
            parts.append(f"each: {inner}")
    return "; ".join(parts)


def _value(value: object) -> str:
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
