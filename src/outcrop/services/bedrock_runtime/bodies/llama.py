"""Meta Llama bodies: one raw prompt, usually in Llama 2 [INST] or Llama 3 header markup, read into turns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import (
    STOP_OR_LENGTH,
    DeltaCounter,
    Fields,
    base64_image,
    max_tokens,
    stop_name,
)
from outcrop.services.bedrock_runtime.bodies.messages import prompt_messages

_KEYS = ("prompt", "temperature", "top_p", "max_gen_len", "images")


class LlamaFormat:
    name = "llama"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        fields.only(_KEYS)
        turns = prompt_messages(fields.string("prompt", required=True) or "")
        given = fields.array("images") or []
        images = tuple(base64_image(image, f"{fields.at('images')}/{n}") for n, image in enumerate(given))
        if images:  # Llama 3.2 vision: the images go with the first user turn
            first = next(index for index, turn in enumerate(turns) if turn.role == "user")
            turns[first] = replace(turns[first], images=images)
        return GenerationRequest(
            messages=turns,
            max_tokens=max_tokens(fields, "max_gen_len", default=512, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        return {
            "generation": result.text,
            "prompt_token_count": result.input_tokens,
            "generation_token_count": result.output_tokens,
            "stop_reason": stop_name(result, STOP_OR_LENGTH),
        }

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _LlamaStream(input_tokens)


class _LlamaStream(DeltaCounter):
    """The prompt's token count rides on the first chunk only, as Bedrock sends it."""

    def chunk(self, text: str) -> dict[str, Any]:
        return {
            "generation": text,
            "prompt_token_count": self.input_tokens if self.deltas == 1 else None,
            "generation_token_count": self.deltas,
            "stop_reason": None,
        }

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        return [
            {
                "generation": "",
                "prompt_token_count": result.input_tokens if self.deltas == 0 else None,
                "generation_token_count": result.output_tokens,
                "stop_reason": stop_name(result, STOP_OR_LENGTH),
            }
        ]
