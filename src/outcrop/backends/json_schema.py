"""Checking a value against a JSON schema: the subset tool and response schemas use.

A tool call reaches the client only when its arguments satisfy the tool's schema, whatever produced them
(a grammar-constrained local model, a remote server, a model writing freely). `jsonschema` is not a
dependency of Outcrop, so this covers what tool schemas say in practice: type (and lists of types), enum,
const, properties, required, additionalProperties, items, prefixItems, min/max (length, items, value, and
exclusive bounds), anyOf/oneOf/allOf/not and local `$ref`s into `$defs`/`definitions`. Keywords it does
not know pass.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("number", "integer") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref")
    if not isinstance(reference, str) or not reference.startswith("#"):
        return schema
    target: Any = root
    for part in reference.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        target = target.get(key, {}) if isinstance(target, dict) else {}
    return target if isinstance(target, dict) else {}


def schema_errors(value: Any, schema: Any, root: Any = None, path: str = "$") -> list[str]:
    """What is wrong with `value` under `schema`, one line per problem; empty when it is valid."""
    if schema is True or not isinstance(schema, dict):
        return []
    root = schema if root is None else root
    schema = _resolve(schema, root)
    errors: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, str(kind)) for kind in allowed):
            return [f"{path}: expected {' or '.join(map(str, allowed))}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, path)
    elif isinstance(value, list):
        errors += _array_errors(value, schema, root, path)
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: length {len(value)} is out of bounds")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: {value} is not above {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{path}: {value} is not below {schema['exclusiveMaximum']}")
    errors += _combinator_errors(value, schema, root, path)
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], root: Any, path: str) -> list[str]:
    required = schema.get("required", [])
    errors = [f"{path}: missing required {name!r}" for name in required if name not in value]
    properties: dict[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(item, properties[name], root, f"{path}.{name}")
        elif extra is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, root, f"{path}.{name}")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], root: Any, path: str) -> list[str]:
    errors: list[str] = []
    if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
        errors.append(f"{path}: {len(value)} items is out of bounds")
    prefix = schema.get("prefixItems") or []
    for index, item in enumerate(value):
        item_schema = prefix[index] if index < len(prefix) else schema.get("items", True)
        errors += schema_errors(item, item_schema, root, f"{path}[{index}]")
    return errors


def _combinator_errors(value: Any, schema: dict[str, Any], root: Any, path: str) -> list[str]:
    errors: list[str] = []
    for part in schema.get("allOf", []):
        errors += schema_errors(value, part, root, path)
    if "anyOf" in schema and all(schema_errors(value, part, root, path) for part in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        matches = sum(1 for part in schema["oneOf"] if not schema_errors(value, part, root, path))
        if matches != 1:
            errors.append(f"{path}: matches {matches} of oneOf, not exactly one")
    if "not" in schema and not schema_errors(value, schema["not"], root, path):
        errors.append(f"{path}: must not match the 'not' schema")
    return errors
