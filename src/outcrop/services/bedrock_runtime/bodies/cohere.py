"""Cohere bodies: Command (v14, a raw prompt and generations[] out) and Command R/R+ (a chat message with
chat_history, preamble, documents and Cohere-style tools, Cohere's chat response and stream events out)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from outcrop.backends.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Role,
    StopReason,
    ToolCall,
    ToolSpec,
)
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import (
    DeltaCounter,
    Fields,
    NativeRequest,
    echo,
    max_tokens,
    single_generation,
    stop_name,
)
from outcrop.services.bedrock_runtime.bodies.messages import grounding, prompt_messages

_COMMAND_KEYS = (
    "prompt",
    "temperature",
    "p",
    "k",
    "max_tokens",
    "stop_sequences",
    "return_likelihoods",
    "stream",
    "num_generations",
    "logit_bias",
    "truncate",
)
_FINISH: Mapping[StopReason, str] = {
    "end_turn": "COMPLETE",
    "stop_sequence": "COMPLETE",
    "tool_use": "COMPLETE",
    "max_tokens": "MAX_TOKENS",
}
_HISTORY_ROLES: dict[str, Role] = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system"}
# Cohere's parameter types are Python-ish names; JSON schema wants its own.
_SCHEMA_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


def _top_k(fields: Fields) -> int | None:
    value = fields.number("k")
    return None if value is None else int(value)


class CohereCommandFormat:
    name = "cohere-command"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        fields.only(_COMMAND_KEYS)
        prompt = fields.string("prompt", required=True) or ""
        fields.one_of("return_likelihoods", ("GENERATION", "ALL", "NONE"))
        fields.one_of("truncate", ("NONE", "START", "END"))
        fields.boolean("stream")
        single_generation(fields, "num_generations")
        return NativeRequest(
            messages=prompt_messages(prompt),
            max_tokens=max_tokens(fields, "max_tokens", default=20, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("p"),
            top_k=_top_k(fields),
            stop=tuple(fields.strings("stop_sequences") or ()),
            native={"prompt": prompt},
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        generation = {
            "finish_reason": stop_name(result, _FINISH),
            "id": str(uuid.uuid4()),
            "text": result.text,
        }
        return {"generations": [generation], "id": str(uuid.uuid4()), "prompt": echo(request, "prompt", "")}

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _CommandStream(self, request, model, input_tokens)


class _CommandStream(DeltaCounter):
    """Each chunk carries its text both as `generations[0].text` (what Bedrock sends and AWS's examples
    read) and as Cohere's own top-level `text`/`is_finished` (what LangChain reads); the closing chunk has
    the finish reason, an empty generation and the whole response."""

    def __init__(
        self, owner: CohereCommandFormat, request: GenerationRequest, model: BedrockModel, tokens: int
    ) -> None:
        super().__init__(tokens)
        self.owner, self.request, self.model = owner, request, model
        self.generation_id = str(uuid.uuid4())

    def _generation(self, text: str, finish_reason: str | None) -> dict[str, Any]:
        return {"finish_reason": finish_reason, "id": self.generation_id, "index": 0, "text": text}

    def chunk(self, text: str) -> dict[str, Any]:
        return {"generations": [self._generation(text, None)], "text": text, "is_finished": False, "index": 0}

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        reason = stop_name(result, _FINISH)
        response = self.owner.response(result, self.request, self.model)
        response["generations"][0]["id"] = self.generation_id
        closing = {"generations": [self._generation("", reason)], "text": "", "is_finished": True, "index": 0}
        return [closing | {"finish_reason": reason, "response": response}]


# -- Command R / R+ ------------------------------------------------------------------------------------------


def _tool_spec(item: Any, index: int) -> ToolSpec:
    tool = Fields(item, f"#/tools/{index}")
    properties: dict[str, Any] = {}
    required = []
    definitions = tool.object("parameter_definitions")
    for name, definition in (definitions.body if definitions else {}).items():
        parameter = Fields(definition, f"#/tools/{index}/parameter_definitions/{name}")
        kind = (parameter.string("type", required=True) or "str").split("[")[0].lower()
        properties[name] = {
            "type": _SCHEMA_TYPES.get(kind, "string"),
            "description": parameter.string("description") or "",
        }
        if parameter.boolean("required"):
            required.append(name)
    schema = {"type": "object", "properties": properties, "required": required}
    return ToolSpec(tool.string("name", required=True) or "", tool.string("description") or "", schema)


def _preamble(fields: Fields) -> str:
    """The preamble, with any grounding documents listed after it."""
    parts = [fields.string("preamble") or ""]
    documents = fields.array("documents") or []
    if documents:
        parts.append(grounding(documents))
    return "\n\n".join(part for part in parts if part)


def _tool_turns(results: list[Any]) -> list[ChatMessage]:
    """Cohere's tool_results (a call and its outputs, no ids) as an assistant call turn and tool turns."""
    calls, turns = [], []
    for index, item in enumerate(results):
        result = Fields(item, f"#/tool_results/{index}")
        call = result.child("call")
        call_id = f"cohere_call_{index}"
        parameters = call.object("parameters")
        calls.append(
            ToolCall(call_id, call.string("name", required=True) or "", parameters.body if parameters else {})
        )
        turns.append(ChatMessage("tool", json.dumps(result.array("outputs") or []), tool_call_id=call_id))
    return [ChatMessage("assistant", "", tuple(calls)), *turns] if calls else []


class CohereCommandRFormat:
    name = "cohere-command-r"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        message = fields.string("message", required=True) or ""
        history = fields.array("chat_history") or []
        preamble = _preamble(fields)
        turns = [ChatMessage("system", preamble)] if preamble else []
        for index, item in enumerate(history):
            entry = Fields(item, f"#/chat_history/{index}")
            role = entry.one_of("role", (*_HISTORY_ROLES, "TOOL"), required=True)
            if role != "TOOL":
                turns.append(ChatMessage(_HISTORY_ROLES[role], entry.string("message") or ""))
        if message:
            turns.append(ChatMessage("user", message))
        turns += _tool_turns(fields.array("tool_results") or [])
        single_generation(fields, "num_generations")
        return NativeRequest(
            messages=turns,
            max_tokens=max_tokens(fields, "max_tokens", default=model.max_tokens, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("p"),
            top_k=_top_k(fields),
            stop=tuple(fields.strings("stop_sequences") or ()),
            tools=[_tool_spec(item, index) for index, item in enumerate(fields.array("tools") or [])],
            seed=fields.integer("seed"),
            native={"message": message, "chat_history": history},
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        history = [
            *echo(request, "chat_history", []),
            {"role": "USER", "message": echo(request, "message", "")},
            {"role": "CHATBOT", "message": result.text},
        ]
        response: dict[str, Any] = {
            "response_id": str(uuid.uuid4()),
            "text": result.text,
            "generation_id": str(uuid.uuid4()),
            "chat_history": history,
            "finish_reason": stop_name(result, _FINISH),
            "meta": {
                "api_version": {"version": "1"},
                "billed_units": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
            },
        }
        if result.tool_calls:
            response["tool_calls"] = _cohere_calls(result)
        return response

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _ChatStream(self, request, model)


def _cohere_calls(result: GenerationResult) -> list[dict[str, Any]]:
    return [{"name": call.name, "parameters": call.arguments} for call in result.tool_calls]


class _ChatStream:
    """stream-start, text-generation per delta, tool-calls-generation if any, stream-end with the response.
    Only text-generation events carry `generations`, so a reader of `generations[0].text` reads the text
    once."""

    def __init__(self, owner: CohereCommandRFormat, request: GenerationRequest, model: BedrockModel) -> None:
        self.owner, self.request, self.model = owner, request, model
        self.generation_id = str(uuid.uuid4())

    def start(self) -> list[dict[str, Any]]:
        return [{"is_finished": False, "event_type": "stream-start", "generation_id": self.generation_id}]

    def delta(self, text: str) -> list[dict[str, Any]]:
        """Cohere's text-generation event; its text also as `generations[0].text`, where AWS's Command R
        streaming example reads it."""
        if not text:
            return []
        generation = {"finish_reason": None, "id": self.generation_id, "index": 0, "text": text}
        return [
            {"is_finished": False, "event_type": "text-generation", "text": text, "generations": [generation]}
        ]

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        events = []
        if result.tool_calls:
            events.append(
                {
                    "is_finished": False,
                    "event_type": "tool-calls-generation",
                    "text": result.text,
                    "tool_calls": _cohere_calls(result),
                }
            )
        response = self.owner.response(result, self.request, self.model) | {
            "generation_id": self.generation_id
        }
        events.append(
            {
                "is_finished": True,
                "event_type": "stream-end",
                "finish_reason": response["finish_reason"],
                "response": response,
            }
        )
        return events
