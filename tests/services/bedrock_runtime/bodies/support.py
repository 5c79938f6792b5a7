"""Builders shared by the body-format tests: catalog entries, finished generations, whole streams."""

from __future__ import annotations

import json
from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult, StopReason, ToolCall
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime.bodies import ChatFormat


def model(body_format: str, model_id: str = "vendor.model-v1:0", **fields: Any) -> BedrockModel:
    kind = "embedding" if "embed" in body_format else "chat"
    return BedrockModel(
        model_id=model_id,
        name=model_id,
        provider="Test",
        format=body_format,
        local="fake",
        kind=kind,
        **fields,
    )


def result(
    text: str = "Hello there.",
    stop_reason: StopReason = "end_turn",
    *,
    input_tokens: int = 11,
    output_tokens: int = 3,
    stop_sequence: str | None = None,
    tool_calls: list[ToolCall] | None = None,
) -> GenerationResult:
    return GenerationResult(text, stop_reason, input_tokens, output_tokens, stop_sequence, tool_calls or [])


def wire(body: dict[str, Any]) -> Any:
    """What a boto3 user gets back: the body as JSON bytes, decoded again."""
    return json.loads(json.dumps(body).encode())


def stream(
    chat_format: ChatFormat,
    request: GenerationRequest,
    bedrock_model: BedrockModel,
    deltas: list[str],
    done: GenerationResult,
) -> list[Any]:
    """Every chunk of one InvokeModelWithResponseStream call, as the client decodes them."""
    encoder = chat_format.streamer(request, bedrock_model, done.input_tokens)
    chunks = encoder.start()
    for text in deltas:
        chunks += encoder.delta(text)
    chunks += encoder.finish(done)
    return [wire(chunk) for chunk in chunks]
