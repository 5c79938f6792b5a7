"""OpenAI Chat Completions bodies: the native InvokeModel body of the open-weight families Bedrock serves with
OpenAI's request and response shapes (gpt-oss, Qwen3, Gemma 3, Nemotron, MiniMax, Kimi, GLM, and DeepSeek
and Writer when sent `messages`): messages and tools in, a `chat.completion` out, `chat.completion.chunk`
events when streaming."""

from __future__ import annotations

import time
from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import (
    OPENAI_FINISH,
    Fields,
    malformed,
    max_tokens,
    random_id,
    single_generation,
    stop_name,
)
from outcrop.services.bedrock_runtime.bodies.messages import (
    openai_messages,
    openai_reply,
    openai_tool_calls,
    structured_options,
)

_DEFAULT_MAX_TOKENS = 4096


def chat_request(fields: Fields, model: BedrockModel) -> GenerationRequest:
    """The generic request of an OpenAI-style chat body. `max_completion_tokens` (OpenAI's current name)
    and `max_tokens` (the older one, which gpt-oss also takes) are the same limit."""
    limit_key = "max_completion_tokens" if "max_completion_tokens" in fields else "max_tokens"
    messages = fields.array("messages", required=True) or []
    if not messages:
        raise malformed("#/messages: expected minimum item count: 1, found: 0")
    single_generation(fields, "n")
    fields.one_of("reasoning_effort", ("low", "medium", "high", "minimal", "none"))
    if fields.boolean("logprobs") or fields.integer("top_logprobs"):
        raise ValidationException("logprobs are not returned by this server's local models; remove logprobs.")
    return GenerationRequest(
        max_tokens=max_tokens(fields, limit_key, default=_DEFAULT_MAX_TOKENS, model=model),
        temperature=fields.number("temperature"),
        top_p=fields.number("top_p"),
        seed=fields.integer("seed"),
        **structured_options(fields, openai_messages(messages, "#/messages")),
    )


def _usage(result: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.input_tokens,
        "completion_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


def chat_completion(result: GenerationResult, model: BedrockModel) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + random_id(29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.model_id,
        "choices": [
            {"index": 0, "message": openai_reply(result), "finish_reason": stop_name(result, OPENAI_FINISH)}
        ],
        "usage": _usage(result),
    }


class OpenAIChatFormat:
    name = "openai-chat"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        return chat_request(Fields(body), model)

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        return chat_completion(result, model)

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return ChatCompletionStream(model)


class ChatCompletionStream:
    """A role chunk, one content chunk per delta, then the closing chunk: tool calls (with their indexes),
    the finish reason and usage, so that the chunk carrying the finish reason is the last one (LangChain
    stops reading there)."""

    def __init__(self, model: BedrockModel) -> None:
        self.id = "chatcmpl-" + random_id(29)
        self.model_id = model.model_id
        self.created = int(time.time())

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def start(self) -> list[dict[str, Any]]:
        return [self._chunk({"role": "assistant", "content": ""})]

    def delta(self, text: str) -> list[dict[str, Any]]:
        return [self._chunk({"content": text})] if text else []

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        delta: dict[str, Any] = {}
        if result.tool_calls:
            calls = openai_tool_calls(result.tool_calls)
            delta["tool_calls"] = [{"index": index, **call} for index, call in enumerate(calls)]
        closing = self._chunk(delta, stop_name(result, OPENAI_FINISH))
        return [closing | {"usage": _usage(result)}]
