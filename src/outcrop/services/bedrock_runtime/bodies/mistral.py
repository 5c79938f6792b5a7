"""Mistral AI bodies: the text-completion body every Mistral id takes ([INST] prompt in, outputs[] out), and
the OpenAI-style chat body of Mistral Large (messages and tools in, choices[] out)."""

from __future__ import annotations

from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import (
    OPENAI_FINISH,
    STOP_OR_LENGTH,
    DeltaCounter,
    Fields,
    NativeRequest,
    echo,
    max_tokens,
    stop_name,
)
from outcrop.services.bedrock_runtime.bodies.messages import (
    openai_messages,
    openai_reply,
    prompt_messages,
    structured_options,
)

_TEXT_KEYS = ("prompt", "max_tokens", "stop", "temperature", "top_p", "top_k")


class MistralFormat:
    name = "mistral"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        if "messages" in fields:
            return self._parse_chat(fields, model)
        fields.only(_TEXT_KEYS)
        return NativeRequest(
            messages=prompt_messages(fields.string("prompt", required=True) or ""),
            max_tokens=max_tokens(fields, "max_tokens", default=512, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
            top_k=fields.integer("top_k"),
            stop=tuple(fields.strings("stop") or ()),
            native={"api": "text"},
        )

    @staticmethod
    def _parse_chat(fields: Fields, model: BedrockModel) -> GenerationRequest:
        return NativeRequest(
            max_tokens=max_tokens(fields, "max_tokens", default=8192, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
            native={"api": "chat"},
            **structured_options(
                fields, openai_messages(fields.array("messages", required=True) or [], "#/messages")
            ),
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        if echo(request, "api") == "chat":
            return {"choices": [_choice(openai_reply(result), result)]}
        return {"outputs": [{"text": result.text, "stop_reason": stop_name(result, STOP_OR_LENGTH)}]}

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _ChatStream(input_tokens) if echo(request, "api") == "chat" else _TextStream(input_tokens)


def _choice(message: dict[str, Any], result: GenerationResult | None) -> dict[str, Any]:
    reason = None if result is None else stop_name(result, OPENAI_FINISH)
    return {"index": 0, "message": message, "stop_reason": reason}


class _TextStream(DeltaCounter):
    def chunk(self, text: str) -> dict[str, Any]:
        return {"outputs": [{"text": text, "stop_reason": None}]}

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        return [{"outputs": [{"text": "", "stop_reason": stop_name(result, STOP_OR_LENGTH)}]}]


class _ChatStream(DeltaCounter):
    """Each chunk is a choice whose message holds the new text; tool calls come with the stop reason."""

    def chunk(self, text: str) -> dict[str, Any]:
        return {"choices": [_choice({"role": "assistant", "content": text}, None)]}

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        closing = openai_reply(result) | {"content": ""}
        return [{"choices": [_choice(closing, result)]}]
