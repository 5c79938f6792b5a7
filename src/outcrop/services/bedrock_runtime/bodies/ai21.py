"""AI21 Labs bodies: Jurassic-2 (a raw prompt, completions[] out, no streaming) and Jamba (OpenAI-style)."""

from __future__ import annotations

import secrets
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import (
    OPENAI_FINISH,
    Fields,
    NativeRequest,
    echo,
    max_tokens,
    random_id,
    single_generation,
    stop_name,
)
from outcrop.services.bedrock_runtime.bodies.messages import (
    grounding,
    openai_messages,
    openai_reply,
    openai_tool_calls,
    prompt_messages,
    structured_options,
)


class Jurassic2Format:
    """Penalties (countPenalty, presencePenalty, frequencyPenalty) are accepted and not applied."""

    name = "ai21-j2"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        prompt = fields.string("prompt", required=True) or ""
        single_generation(fields, "numResults")
        return NativeRequest(
            messages=prompt_messages(prompt),
            max_tokens=max_tokens(fields, "maxTokens", default=200, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("topP"),
            stop=tuple(fields.strings("stopSequences") or ()),
            native={"prompt": prompt},
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        if result.stop_reason == "max_tokens":
            reason: dict[str, Any] = {"reason": "length", "length": request.max_tokens}
        elif result.stop_reason == "stop_sequence":
            reason = {"reason": "stop", "sequence": result.stop_sequence}
        else:
            reason = {"reason": "endoftext"}
        return {
            "id": secrets.randbelow(10_000),
            "prompt": {"text": echo(request, "prompt", ""), "tokens": []},
            "completions": [{"data": {"text": result.text, "tokens": []}, "finishReason": reason}],
        }

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        raise ValidationException("The model is unsupported for streaming.")


class JambaFormat:
    """OpenAI-style chat; grounding documents are listed in a system turn."""

    name = "ai21-jamba"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        turns = openai_messages(fields.array("messages", required=True) or [], "#/messages")
        documents = fields.array("documents") or []
        if documents and turns and turns[0].role == "system":
            turns[0] = ChatMessage("system", f"{turns[0].content}\n\n{grounding(documents)}")
        elif documents:
            turns.insert(0, ChatMessage("system", grounding(documents)))
        single_generation(fields, "n")
        return GenerationRequest(
            max_tokens=max_tokens(fields, "max_tokens", default=4096, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
            seed=fields.integer("seed"),
            **structured_options(fields, turns),
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        message = openai_reply(result)
        message.setdefault("tool_calls", None)
        return {
            "id": "chatcmpl-" + random_id(32),
            "choices": [{"index": 0, "message": message, "finish_reason": stop_name(result, OPENAI_FINISH)}],
            "usage": _usage(result),
        }

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _JambaStream()


def _usage(result: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.input_tokens,
        "completion_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


class _JambaStream:
    """OpenAI-style chunks: a role delta, content deltas, then tool calls, the finish reason and usage."""

    def __init__(self) -> None:
        self.id = "chatcmpl-" + random_id(32)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    def start(self) -> list[dict[str, Any]]:
        return [self._chunk({"role": "assistant", "content": ""})]

    def delta(self, text: str) -> list[dict[str, Any]]:
        return [self._chunk({"content": text})] if text else []

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        delta = {"tool_calls": openai_tool_calls(result.tool_calls)} if result.tool_calls else {}
        return [self._chunk(delta, stop_name(result, OPENAI_FINISH)) | {"usage": _usage(result)}]
