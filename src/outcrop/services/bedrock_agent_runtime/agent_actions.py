"""What an agent can do in one run: its tools (action groups, knowledge bases, asking the user), the
Lambda event AWS documents for an action group call, and the reading of a Lambda's documented response.

Event and response shapes follow AWS's "Configure Lambda functions to send information that an Amazon Bedrock
agent elicits from the user" (messageVersion 1.0): `function` + `parameters` for function schemas, `apiPath` +
`httpMethod` + `parameters` + `requestBody` for OpenAPI schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from outcrop.backends.base import ToolCall, ToolSpec
from outcrop.backends.json_schema import schema_errors
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_agent.agents_schema import (
    Action,
    Param,
    SchemaError,
    api_actions,
    event_parameters,
    function_actions,
    parse_openapi,
)

ASK_USER_TOOL = "AskUser"
MAX_TOKENS = 2048


class MalformedResponse(ValueError):
    """A Lambda's result that is not the documented response shape."""


@dataclass
class AgentSetup:
    """One agent version as a run needs it: identity, model, prompt and actions."""

    agent_id: str
    alias_id: str
    version: str
    name: str
    instruction: str
    model: BedrockModel
    model_id: str
    actions: dict[str, Action]
    idle_ttl: int
    template: str | None = None
    inference: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] | None = None
    guardrail: dict[str, Any] | None = None
    pre: dict[str, Any] | None = None  # the PRE_PROCESSING configuration when that step is ENABLED
    post: dict[str, Any] | None = None  # the POST_PROCESSING one

    @property
    def tools(self) -> list[ToolSpec]:
        return [action.tool for action in self.actions.values()]


def build_actions(
    groups: list[dict[str, Any]], kbs: list[dict[str, Any]], schema_text: Any
) -> dict[str, Action]:
    """The ENABLED action groups' and knowledge bases' tools by name. `schema_text(apiSchema)` reads an
    OpenAPI document (inline or from S3)."""
    taken: set[str] = set()
    actions: list[Action] = []
    for group in groups:
        if group.get("actionGroupState", "ENABLED") != "ENABLED":
            continue
        if group.get("parentActionSignature") == "AMAZON.UserInput":
            question = {"type": "string", "description": "The question to ask the user."}
            tool = ToolSpec(
                ASK_USER_TOOL,
                "Ask the user for information that is needed and was not given. Use it instead of "
                "guessing a required value.",
                {"type": "object", "properties": {"question": question}, "required": ["question"]},
            )
            taken.add(ASK_USER_TOOL)
            actions.append(
                Action(tool, group, [Param("question", "string", True, "function")], kind="ask_user")
            )
        elif "functionSchema" in group:
            actions.extend(function_actions(group, taken))
        elif "apiSchema" in group:
            try:
                document = parse_openapi(schema_text(group["apiSchema"]))
            except SchemaError:
                continue  # checked when the group was saved; an S3 schema since broken offers nothing
            actions.extend(api_actions(group, document, taken))
    enabled = [kb for kb in kbs if kb.get("knowledgeBaseState", "ENABLED") == "ENABLED"]
    for kb in enabled:
        name = (
            "search_knowledge_base" if len(enabled) == 1 else f"search_knowledge_base_{kb['knowledgeBaseId']}"
        )
        query = {"type": "string", "description": "What to search for."}
        tool = ToolSpec(
            name,
            f"Search a knowledge base. {kb['description']}",
            {"type": "object", "properties": {"searchQuery": query}, "required": ["searchQuery"]},
        )
        actions.append(
            Action(
                tool,
                {"actionGroupName": "knowledge_base"},
                [Param("searchQuery", "string", True, "function")],
                kind="knowledge_base",
                knowledge_base_id=kb["knowledgeBaseId"],
            )
        )
    return {action.tool.name: action for action in actions}


def invocation_input(action: Action, arguments: dict[str, Any]) -> dict[str, Any]:
    """The call as AWS describes it in traces and return-control payloads (without ids)."""
    parameters, properties = event_parameters(action, arguments)
    described: dict[str, Any] = {"actionGroup": action.group["actionGroupName"], "parameters": parameters}
    if action.function is not None:
        described["function"] = action.function
    else:
        described["apiPath"] = action.api_path
        described["httpMethod"] = action.http_method
        if properties:
            described["requestBody"] = {"content": {"application/json": {"properties": properties}}}
    return described


def trace_input(action: Action, arguments: dict[str, Any]) -> dict[str, Any]:
    """The call as an orchestration trace's invocationInput describes it."""
    if action.kind == "knowledge_base":
        return {
            "invocationType": "KNOWLEDGE_BASE",
            "knowledgeBaseLookupInput": {
                "knowledgeBaseId": action.knowledge_base_id,
                "text": str(arguments.get("searchQuery", "")),
            },
        }
    executor = action.group.get("actionGroupExecutor", {})
    described = {
        **invocation_input(action, arguments),
        "executionType": "RETURN_CONTROL" if "customControl" in executor else "LAMBDA",
    }
    described["actionGroupName"] = described.pop("actionGroup")
    if "httpMethod" in described:
        described["verb"] = described.pop("httpMethod")
    if "requestBody" in described:  # traces list the properties directly under the content type
        content = described["requestBody"]["content"]
        described["requestBody"] = {"content": {k: v["properties"] for k, v in content.items()}}
    return {"invocationType": "ACTION_GROUP", "actionGroupInvocationInput": described}


def lambda_event(
    setup: AgentSetup,
    action: Action,
    arguments: dict[str, Any],
    *,
    input_text: str,
    session_id: str,
    session_attributes: dict[str, str],
    prompt_attributes: dict[str, str],
) -> dict[str, Any]:
    event = {
        "messageVersion": "1.0",
        "agent": {
            "name": setup.name,
            "id": setup.agent_id,
            "alias": setup.alias_id,
            "version": setup.version,
        },
        "inputText": input_text,
        "sessionId": session_id,
        **invocation_input(action, arguments),
        "sessionAttributes": session_attributes,
        "promptSessionAttributes": prompt_attributes,
    }
    return event


@dataclass
class ActionResult:
    """What the agent observes from a Lambda or a caller's returned result."""

    text: str
    state: str | None = None  # FAILURE or REPROMPT
    session_attributes: dict[str, str] | None = None
    prompt_attributes: dict[str, str] | None = None
    confirmation: str | None = None  # a caller's confirmationState: CONFIRM or DENY


def _body_text(body: Any) -> str:
    """responseBody as AWS documents it: {"TEXT": {"body": ...}} or {"application/json": {"body": ...}}."""
    if not isinstance(body, dict) or not body:
        raise MalformedResponse("responseBody must map a content type to {'body': ...}")
    for content in body.values():
        if isinstance(content, dict) and "body" in content:
            value = content["body"]
            return value if isinstance(value, str) else json.dumps(value)
    raise MalformedResponse("responseBody has no content type with a 'body'")


def read_lambda_response(payload: str | None, action: Action) -> ActionResult:
    """The documented Lambda response for an action group, or MalformedResponse."""
    try:
        document = json.loads(payload or "null")
    except ValueError as error:
        raise MalformedResponse(f"the Lambda response is not JSON: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("response"), dict):
        raise MalformedResponse("the Lambda response has no 'response' object")
    response = document["response"]
    if action.function is not None:
        inner = response.get("functionResponse")
        if not isinstance(inner, dict):
            raise MalformedResponse("the response has no 'functionResponse'")
        state = inner.get("responseState")
        body = inner.get("responseBody")
        text = _body_text(body) if body is not None or state is None else ""
    else:
        state = response.get("responseState")
        text = _body_text(response.get("responseBody"))
    if state not in (None, "FAILURE", "REPROMPT"):
        raise MalformedResponse(f"responseState {state!r} is not FAILURE or REPROMPT")
    attributes = document.get("sessionAttributes")
    prompt = document.get("promptSessionAttributes")
    return ActionResult(
        text,
        state,
        {str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, dict) else None,
        {str(k): str(v) for k, v in prompt.items()} if isinstance(prompt, dict) else None,
    )


def returned_result(result: dict[str, Any]) -> ActionResult:
    """A caller's `returnControlInvocationResults` entry (functionResult or apiResult)."""
    entry = result.get("functionResult") or result.get("apiResult") or {}
    body = entry.get("responseBody") or {}
    try:
        text = _body_text(body) if body else ""
    except MalformedResponse:
        text = json.dumps(body)
    return ActionResult(text, entry.get("responseState"), confirmation=entry.get("confirmationState"))


def call_problem(action: Action | None, call: ToolCall) -> str | None:
    """Why a call cannot run as made: an unknown tool or arguments outside its schema."""
    if action is None:
        return f"There is no tool named {call.name}."
    errors = schema_errors(call.arguments, action.tool.parameters | {"required": []})
    return "; ".join(errors) if errors else None


def matching_result(returned: list[dict[str, Any]], action: Action) -> ActionResult:
    """The caller's result for this call: by function (or path and method) and action group."""
    for entry in returned:
        inner = entry.get("functionResult") or entry.get("apiResult") or {}
        same_group = inner.get("actionGroup") == action.group["actionGroupName"]
        if action.function is not None and same_group and inner.get("function") == action.function:
            return returned_result(entry)
        if action.api_path is not None and same_group and inner.get("apiPath") == action.api_path:
            return returned_result(entry)
    return returned_result(returned[0]) if len(returned) == 1 else ActionResult("No result was returned.")
