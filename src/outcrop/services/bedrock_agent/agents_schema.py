"""An action group's schema as the tools an agent's model is offered, and the calls it makes back as AWS's
Lambda event parameters.

A function schema (`functionSchema.functions`) gives one tool per function; an OpenAPI 3 schema (JSON or
YAML) one tool per operation, its path, query and header parameters and its JSON body's top-level properties
flattened into one argument object. Required values are offered as nullable, so a model that does not know one
can say so (null or absent) and the agent asks the user instead of inventing it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]

from outcrop.backends.base import ToolSpec

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]+")


class SchemaError(ValueError):
    """An action group's schema that does not parse or describes no usable action (message is AWS-worded)."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    location: str  # "function", "path", "query", "header" or "body"
    description: str = ""


@dataclass
class Action:
    """One tool offered to the model and what calling it means."""

    tool: ToolSpec
    group: dict[str, Any]  # the action group's stored body
    params: list[Param] = field(default_factory=list)
    function: str | None = None
    api_path: str | None = None
    http_method: str | None = None
    kind: str = "action"  # "action", "knowledge_base" or "ask_user"
    knowledge_base_id: str | None = None
    confirm: bool = False  # requireConfirmation ENABLED: the user confirms each call before it runs


def parse_openapi(text: str) -> dict[str, Any]:
    """An OpenAPI 3 document from JSON or YAML, checked for what an agent needs: paths with operations."""
    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SchemaError(f"Failed to parse the API schema as JSON or YAML: {error}") from error
    if not isinstance(document, dict):
        raise SchemaError("The API schema must be an OpenAPI 3 document (a JSON or YAML object).")
    if not str(document.get("openapi", "")).startswith("3."):
        raise SchemaError("The API schema must be an OpenAPI 3.x document with an 'openapi' version field.")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise SchemaError("The API schema has no paths: describe at least one API operation.")
    for path, item in paths.items():
        if not isinstance(item, dict) or not any(method in item for method in HTTP_METHODS):
            raise SchemaError(f"The path {path} in the API schema has no operation.")
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is not None and not (operation.get("description") or operation.get("summary")):
                raise SchemaError(
                    f"The operation {method.upper()} {path} in the API schema needs a description."
                )
            if operation is not None and operation.get("x-requireConfirmation", "DISABLED") not in (
                "ENABLED",
                "DISABLED",
            ):
                raise SchemaError(
                    f"x-requireConfirmation of {method.upper()} {path} in the API schema must be ENABLED or "
                    "DISABLED."
                )
    return document


def check_functions(functions: list[dict[str, Any]]) -> None:
    if not functions:
        raise SchemaError("The function schema must define at least one function.")
    names = [function["name"] for function in functions]
    if len(set(names)) != len(names):
        raise SchemaError("Function names in a function schema must be unique.")


def _resolve(schema: Any, document: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = document
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = target
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type", "string")
    return {**schema, "type": [kind, "null"]} if isinstance(kind, str) else schema


def _tool_schema(params: list[Param], schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {param.name: _nullable(schemas[param.name]) for param in params},
        "required": [param.name for param in params if param.required],
    }


def function_actions(group: dict[str, Any], taken: set[str]) -> list[Action]:
    actions = []
    for function in group["functionSchema"]["functions"]:
        params, schemas = [], {}
        for name, detail in (function.get("parameters") or {}).items():
            kind = detail.get("type", "string")
            params.append(
                Param(name, kind, bool(detail.get("required")), "function", detail.get("description", ""))
            )
            schemas[name] = {
                "type": kind,
                **({"description": detail["description"]} if detail.get("description") else {}),
            }
        tool = ToolSpec(
            name=_unique(function["name"], group["actionGroupName"], taken),
            description=function.get("description") or group.get("description") or function["name"],
            parameters=_tool_schema(params, schemas),
        )
        confirm = function.get("requireConfirmation") == "ENABLED"
        actions.append(Action(tool, group, params, function=function["name"], confirm=confirm))
    return actions


def api_actions(group: dict[str, Any], document: dict[str, Any], taken: set[str]) -> list[Action]:
    actions = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            params, schemas = [], {}
            for raw in [*item.get("parameters", []), *operation.get("parameters", [])]:
                parameter = _resolve(raw, document)
                schema = _resolve(parameter.get("schema") or {"type": "string"}, document)
                kind = schema.get("type", "string") if schema.get("type") in _JSON_TYPES else "string"
                params.append(
                    Param(
                        parameter["name"],
                        kind,
                        bool(parameter.get("required")) or parameter.get("in") == "path",
                        parameter.get("in", "query"),
                        parameter.get("description", ""),
                    )
                )
                schemas[parameter["name"]] = {"type": kind, "description": parameter.get("description", "")}
            body = _resolve(operation.get("requestBody") or {}, document)
            body_schema = _resolve(
                ((body.get("content") or {}).get("application/json") or {}).get("schema") or {}, document
            )
            required = set(body_schema.get("required") or [])
            for name, prop in (body_schema.get("properties") or {}).items():
                prop = _resolve(prop, document)
                kind = prop.get("type", "string") if prop.get("type") in _JSON_TYPES else "string"
                params.append(Param(name, kind, name in required, "body", prop.get("description", "")))
                schemas[name] = {"type": kind, "description": prop.get("description", "")}
            base = operation.get("operationId") or f"{method}_{path}"
            tool = ToolSpec(
                name=_unique(_TOOL_NAME.sub("_", base).strip("_"), group["actionGroupName"], taken),
                description=operation.get("description") or operation.get("summary") or base,
                parameters=_tool_schema(params, schemas),
            )
            confirm = operation.get("x-requireConfirmation") == "ENABLED"
            actions.append(
                Action(tool, group, params, api_path=path, http_method=method.upper(), confirm=confirm)
            )
    return actions


def _unique(name: str, group_name: str, taken: set[str]) -> str:
    """The function's own name, or prefixed with its group's when two groups offer the same name."""
    chosen = name if name not in taken else f"{group_name}__{name}"
    taken.add(chosen)
    return chosen


def wire_value(value: Any) -> str:
    """A tool argument as the string AWS puts in a Lambda event's or return-control's `value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def event_parameters(
    action: Action, arguments: dict[str, Any]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The call's arguments split as AWS sends them: `parameters` and the JSON request body's `properties`."""
    parameters: list[dict[str, str]] = []
    properties: list[dict[str, str]] = []
    for param in action.params:
        if arguments.get(param.name) is None:
            continue
        entry = {"name": param.name, "type": param.type, "value": wire_value(arguments[param.name])}
        (properties if param.location == "body" else parameters).append(entry)
    return parameters, properties
