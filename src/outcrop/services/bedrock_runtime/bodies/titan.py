"""Amazon Titan Text bodies: one raw prompt (often "User: ...\\nBot:") and a textGenerationConfig."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult, StopReason
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import DeltaCounter, Fields, malformed, max_tokens
from outcrop.services.bedrock_runtime.bodies.messages import prompt_messages

_CONFIG_KEYS = ("maxTokenCount", "temperature", "topP", "stopSequences")
_COMPLETION_REASONS: Mapping[StopReason, str] = {
    "end_turn": "FINISH",
    "tool_use": "FINISH",
    "max_tokens": "LENGTH",
    "stop_sequence": "STOP_CRITERIA_MET",
}


class TitanTextFormat:
    name = "titan-text"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        fields.only(("inputText", "textGenerationConfig"))
        prompt = fields.string("inputText", required=True) or ""
        if not prompt:
            raise malformed("#/inputText: expected minLength: 1, actual: 0")
        config = fields.object("textGenerationConfig") or Fields({}, "#/textGenerationConfig")
        config.only(_CONFIG_KEYS)
        return GenerationRequest(
            messages=prompt_messages(prompt),
            max_tokens=max_tokens(config, "maxTokenCount", default=512, model=model),
            temperature=config.number("temperature"),
            top_p=config.number("topP"),
            stop=tuple(config.strings("stopSequences") or ()),
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        return {
            "inputTextTokenCount": result.input_tokens,
            "results": [
                {
                    "tokenCount": result.output_tokens,
                    "outputText": result.text,
                    "completionReason": _COMPLETION_REASONS[result.stop_reason],
                }
            ],
        }

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _TitanStream(input_tokens)


class _TitanStream(DeltaCounter):
    def _chunk(self, text: str, tokens: int, reason: str | None) -> dict[str, Any]:
        return {
            "outputText": text,
            "index": 0,
            "totalOutputTextTokenCount": tokens,
            "completionReason": reason,
            "inputTextTokenCount": self.input_tokens,
        }

    def chunk(self, text: str) -> dict[str, Any]:
        return self._chunk(text, self.deltas, None)

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        return [self._chunk("", result.output_tokens, _COMPLETION_REASONS[result.stop_reason])]
