"""Structured outputs: the JSON schema a reply must follow, checked as Bedrock checks it, then enforced.

Bedrock takes a schema in three places: Converse's `outputConfig.textFormat` (a JSON string), the Anthropic
Messages body's `output_config.format` (and its deprecated `output_format`), and OpenAI-style bodies'
`response_format`. It validates the schema against the subset of JSON Schema (draft 2020-12) its
constrained decoder compiles and answers 400 at once for anything else; the subset is the one Anthropic
documents for Claude's structured outputs: types, properties/required, `additionalProperties: false` on
every object, items, enum of plain values, const, anyOf/allOf, local `$ref`s into `$defs`/`definitions`
that do not recurse, a few string formats, minItems 0 or 1, and annotations. Numeric and length bounds,
oneOf, not, conditionals and the like are refused by name. An accepted schema becomes the request's
`json_schema`, which the local runtime enforces with a grammar (the same path as the OpenAI API's
`response_format`), and is shown to the model so it fills the shape with sense.

Effort (`outputConfig.effort`, `output_config.effort`) sets how long Claude reasons before answering; the
local models answer without a reasoning phase, so a request naming it is refused rather than ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationResult
from outcrop.backends.json_schema import schema_errors
from outcrop.protocol.errors import ModelErrorException, ValidationException

EFFORTS = ("low", "medium", "high", "xhigh", "max")
_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_ANNOTATIONS = {"title", "description", "default", "examples", "$comment", "$schema", "$id"}
_STRUCTURAL = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "enum",
    "const",
    "anyOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "format",
    "minItems",
}


def _refuse(where: str, path: str, problem: str) -> ValidationException:
    return ValidationException(
        f"{where}: {problem} (at {path}). Structured outputs support a subset of JSON Schema: types, "
        "properties, required, additionalProperties false, items, enum, const, anyOf, allOf, local $ref "
        "and some string formats."
    )


def _target(reference: str, root: dict[str, Any]) -> Any:
    node: Any = root
    for part in reference[1:].strip("/").split("/"):
        if part:
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, dict) else None
    return node


class _Checker:
    """One walk over a schema; `stack` holds the $refs being followed, to find recursion."""

    def __init__(self, root: dict[str, Any], where: str) -> None:
        self.root = root
        self.where = where
        self.stack: list[str] = []

    def check(self, node: Any, path: str) -> None:
        if node is True:
            return
        if not isinstance(node, dict):
            raise _refuse(self.where, path, f"a schema must be an object, got {json.dumps(node)[:40]}")
        for keyword in node:
            if keyword not in _STRUCTURAL and keyword not in _ANNOTATIONS:
                raise _refuse(self.where, path, f"the keyword '{keyword}' is not supported")
        self._keywords(node, path)
        for key in ("properties", "$defs", "definitions"):
            children = node.get(key, {})
            if not isinstance(children, dict):
                raise _refuse(self.where, f"{path}/{key}", f"'{key}' must be an object")
            for name, child in children.items():
                if key == "properties":
                    self.check(child, f"{path}/properties/{name}")
                else:  # definitions are checked where they stand, so an unused recursive one is found too
                    self._follow(f"{path}/{key}/{name}", path)
        for key in ("anyOf", "allOf", "prefixItems"):
            if key not in node:
                continue
            options = node[key]
            if not isinstance(options, list) or (key != "prefixItems" and not options):
                raise _refuse(self.where, f"{path}/{key}", f"'{key}' must be a non-empty array of schemas")
            for index, child in enumerate(options):
                self.check(child, f"{path}/{key}/{index}")
        if "items" in node:
            self.check(node["items"], f"{path}/items")
        reference = node.get("$ref")
        if reference is not None:
            self._follow(reference, path)

    def _keywords(self, node: dict[str, Any], path: str) -> None:
        kinds = node.get("type")
        for kind in kinds if isinstance(kinds, list) else [kinds] if kinds is not None else []:
            if kind not in _TYPES:
                raise _refuse(self.where, path, f"'{kind}' is not a JSON Schema type")
        is_object = (
            kinds == "object" or (isinstance(kinds, list) and "object" in kinds) or "properties" in node
        )
        if is_object and node.get("additionalProperties") is not False:
            raise _refuse(self.where, path, "every object must set additionalProperties to false")
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
            raise _refuse(self.where, f"{path}/required", "'required' must be an array of property names")
        missing = [name for name in required if name not in node.get("properties", {})]
        if missing:
            raise _refuse(self.where, f"{path}/required", f"required property '{missing[0]}' is not defined")
        if "enum" in node:
            values = node["enum"]
            if not isinstance(values, list) or not values:
                raise _refuse(self.where, f"{path}/enum", "'enum' must be a non-empty array")
            if any(isinstance(value, dict | list) for value in values):
                raise _refuse(
                    self.where, f"{path}/enum", "enum values must be strings, numbers, booleans or null"
                )
        if "format" in node and node["format"] not in _FORMATS:
            raise _refuse(self.where, path, f"the string format '{node['format']}' is not supported")
        if "minItems" in node and node["minItems"] not in (0, 1):
            raise _refuse(self.where, path, "minItems may only be 0 or 1")

    def _follow(self, reference: Any, path: str) -> None:
        if not isinstance(reference, str) or not reference.startswith("#"):
            raise _refuse(
                self.where, path, f"only local $ref values (#/$defs/...) are supported, got {reference!r}"
            )
        if reference in self.stack:
            raise _refuse(
                self.where, path, f"recursive schemas are not supported ({reference} refers to itself)"
            )
        target = _target(reference, self.root)
        if target is None:
            raise _refuse(self.where, path, f"$ref {reference} points to nothing in the schema")
        self.stack.append(reference)
        self.check(target, reference)
        self.stack.pop()


def checked_schema(schema: Any, where: str) -> dict[str, Any]:
    """`schema` (a JSON object) if Bedrock's structured outputs take it; else the ValidationException."""
    if not isinstance(schema, dict):
        raise ValidationException(f"{where}: the JSON schema must be a JSON object.")
    _Checker(schema, where).check(schema, "#")
    return schema


def schema_from_text(text: str, where: str) -> dict[str, Any]:
    """A schema given as a JSON string (Converse's jsonSchema.schema), parsed and checked."""
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValidationException(f"{where} is not valid JSON: {exc}.") from exc
    return checked_schema(schema, where)


def instruction(schema: dict[str, Any], name: str | None = None, description: str | None = None) -> str:
    """What the model is told besides the grammar, so the values it writes answer the request."""
    label = f" ({name}: {description})" if name and description else ""
    label = label or (f" ({name or description})" if name or description else "")
    return f"Reply with only JSON{label} that follows this JSON schema:\n{json.dumps(schema)}"


def with_instruction(turns: Sequence[ChatMessage], text: str) -> list[ChatMessage]:
    """The turns with `text` added to the system turn (one is made when there is none)."""
    turns = list(turns)
    if turns and turns[0].role == "system":
        return [ChatMessage("system", f"{turns[0].content}\n\n{text}"), *turns[1:]]
    return [ChatMessage("system", text), *turns]


def refuse_effort(effort: Any, where: str) -> None:
    """Effort names a reasoning budget the local models do not have: refused, never ignored."""
    if effort is None:
        return
    if effort not in EFFORTS:
        raise ValidationException(f"{where} must be one of {', '.join(EFFORTS)}; got {effort!r}.")
    raise ValidationException(
        f"{where} is not supported on this server: its local models answer without a reasoning phase whose "
        "length an effort level could set. Remove it and try again."
    )


def refuse_with_tools(has_tools: bool, where: str) -> None:
    """A reply constrained to a schema and one that may be a tool call cannot share one grammar here."""
    if has_tools:
        raise ValidationException(
            f"{where} cannot be combined with tools on this server: its local models constrain a reply to "
            "either a tool call or a JSON schema, not both. Send the tools and the structured output in "
            "separate requests."
        )


def check_reply(result: GenerationResult, schema: dict[str, Any]) -> None:
    """A finished reply (not cut short by max tokens) must be JSON valid under `schema`. The runtime's
    grammar makes it so; a runtime that cannot constrain (constrained decoding switched off) fails here
    instead of handing the client JSON the schema does not allow."""
    if result.stop_reason != "end_turn" or result.tool_calls:
        return
    try:
        value = json.loads(result.text)
    except ValueError:
        problems = ["the reply is not JSON"]
    else:
        problems = schema_errors(value, schema)
    if problems:
        raise ModelErrorException(
            f"The model's reply does not follow the requested JSON schema ({problems[0]}). Turn on "
            "constrained_decoding for this model in the catalog, or try again."
        )
