"""`/v1/chat/completions` bodies: OpenAI's request read into the generic request, results into its responses.

Messages, tools and tool choice are read by the same code that reads Mistral Large and Jamba bodies on
InvokeModel (`bedrock_bodies.messages`), so both paths agree on what an OpenAI-style turn means.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationEvent, GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.guardrails.enforce import Guard
from outcrop.services.bedrock_runtime.bodies.common import OPENAI_FINISH, Fields, random_id
from outcrop.services.bedrock_runtime.bodies.messages import (
    openai_messages,
    openai_options,
    openai_tool_calls,
)
from outcrop.web.openai_errors import OpenAIError


@dataclass(frozen=True)
class ChatCall:
    """One parsed chat completion request: what to generate and how to answer."""

    model_name: str  # echoed in responses as the client sent it
    request: GenerationRequest
    stream: bool
    include_usage: bool


def _number(fields: Fields, key: str, low: float, high: float) -> float | None:
    value = fields.number(key)
    if value is not None and not low <= value <= high:
        raise OpenAIError(f"{key} must be between {low} and {high}, got {value}.", param=key)
    return value


def _max_tokens(fields: Fields, model: BedrockModel) -> int:
    key = "max_completion_tokens" if fields.body.get("max_completion_tokens") is not None else "max_tokens"
    value = fields.integer(key)
    if value is None:
        return model.max_tokens
    if value < 1:
        raise OpenAIError(f"{key} must be at least 1, got {value}.", param=key)
    if value > model.max_tokens:
        raise OpenAIError(
            f"{key} is too large: {value}. This model supports at most {model.max_tokens} completion tokens.",
            param=key,
        )
    return value


def _response_schema(response_format: Fields) -> dict[str, Any]:
    """json_schema's schema: the runtime constrains the reply to it (a grammar on llama.cpp)."""
    schema = response_format.child("json_schema").object("schema")
    return schema.body if schema else {"type": "object"}


def _check_turn(item: Any, index: int, calls: set[str]) -> None:
    """Refuse what the text-only chat path would drop silently: non-text parts, tool turns answering no call.

    `calls` gathers the ids of the tool calls made by the assistant turns read so far.
    """
    if not isinstance(item, dict):
        return  # the shared reader names the malformed turn
    content = item.get("content")
    for number, part in enumerate(content if isinstance(content, list) else []):
        kind = part.get("type") if isinstance(part, dict) else None
        where = f"messages[{index}].content[{number}]"
        if kind == "text" and isinstance(part.get("text"), str):
            continue
        if kind == "refusal" and item.get("role") == "assistant":
            continue
        if kind in ("image_url", "input_audio", "file"):
            raise OpenAIError(
                f"{where}: the chat models on this server read text only; '{kind}' parts are not supported.",
                param=f"{where}.type",
            )
        raise OpenAIError(
            f"{where}: a content part must be an object with type 'text' and a string 'text', "
            f"got {part!r:.80}.",
            param=where,
        )
    if item.get("role") == "assistant" and isinstance(item.get("tool_calls"), list):
        calls.update(
            str(call["id"]) for call in item["tool_calls"] if isinstance(call, dict) and "id" in call
        )
    if item.get("role") != "tool":
        return
    answered = item.get("tool_call_id")
    if not isinstance(answered, str):
        raise OpenAIError(
            f"messages[{index}]: a message with role 'tool' must carry the 'tool_call_id' it answers.",
            param=f"messages[{index}].tool_call_id",
        )
    if answered not in calls:
        raise OpenAIError(
            f"messages[{index}]: tool_call_id {answered!r} answers no tool call of an earlier assistant "
            "message.",
            param=f"messages[{index}].tool_call_id",
        )


def _turns(fields: Fields) -> list[ChatMessage]:
    items = fields.array("messages", required=True) or []
    if not items:
        raise OpenAIError("messages must contain at least one message.", param="messages")
    calls: set[str] = set()
    for index, item in enumerate(items):
        _check_turn(item, index, calls)
    # "developer" is the newer name of the system role.
    renamed = [
        {**item, "role": "system"} if isinstance(item, dict) and item.get("role") == "developer" else item
        for item in items
    ]
    return openai_messages(renamed, "messages")


def parse_chat(body: dict[str, Any], model: BedrockModel, model_name: str) -> ChatCall:
    fields = Fields(body, "body")
    count = fields.integer("n")
    if count is not None and count != 1:
        raise OpenAIError("n must be 1 here: this server returns one choice per request.", param="n")
    turns = _turns(fields)
    options = openai_options(fields)
    response_format = fields.object("response_format")
    kind = response_format.one_of("type", ("text", "json_object", "json_schema")) if response_format else None
    if kind == "json_schema" and response_format is not None:
        schema = _response_schema(response_format)
        options.update(json_mode=True, json_schema=schema)
        # Shown as well as enforced: a model that knows the schema fills it with sense, not just shape.
        instruction = "Reply with only JSON that follows this JSON schema:\n" + json.dumps(schema)
        turns.insert(0, ChatMessage("system", instruction))
    stream_options = fields.object("stream_options")
    request = GenerationRequest(
        messages=turns,
        max_tokens=_max_tokens(fields, model),
        temperature=_number(fields, "temperature", 0.0, 2.0),
        top_p=_number(fields, "top_p", 0.0, 1.0),
        seed=fields.integer("seed"),
        **options,
    )
    return ChatCall(
        model_name=model_name,
        request=request,
        stream=bool(fields.boolean("stream")),
        include_usage=bool(stream_options and stream_options.boolean("include_usage")),
    )


def _usage(result: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.input_tokens,
        "completion_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


def _finish(result: GenerationResult, guard: Guard | None) -> str:
    """OpenAI's finish_reason; a reply a guardrail blocked (input or output) is content_filter."""
    if guard is not None and (guard.input_blocked or guard.output_blocked):
        return "content_filter"
    return OPENAI_FINISH[result.stop_reason]


def completion(call: ChatCall, result: GenerationResult, guard: Guard | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or None, "refusal": None}
    if result.tool_calls:
        message["tool_calls"] = openai_tool_calls(result.tool_calls)
    elif message["content"] is None:
        message["content"] = ""
    return {
        "id": "chatcmpl-" + random_id(29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model_name,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish(result, guard),
            }
        ],
        "usage": _usage(result),
        "system_fingerprint": None,
    }


async def sse_chunks(
    call: ChatCall, events: AsyncIterator[GenerationEvent], guard: Guard | None = None
) -> AsyncIterator[bytes]:
    """The `chat.completion.chunk` stream as server-sent events, ending with `data: [DONE]`."""
    identity = {
        "id": "chatcmpl-" + random_id(29),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": call.model_name,
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _event({**identity, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in events:
            if event.text:
                yield chunk({"content": event.text})
            if event.done is None:
                continue
            if event.done.tool_calls:
                calls = [
                    {"index": index, **call_dict}
                    for index, call_dict in enumerate(openai_tool_calls(event.done.tool_calls))
                ]
                yield chunk({"tool_calls": calls})
            yield chunk({}, _finish(event.done, guard))
            if call.include_usage:
                yield _event({**identity, "choices": [], "usage": _usage(event.done)})
    except OpenAIError as error:
        yield _event(error.body())
    finally:
        # A client that hangs up closes this generator; closing the events stops the generation too.
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    yield b"data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
