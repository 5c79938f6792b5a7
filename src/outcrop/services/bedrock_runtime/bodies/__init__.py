"""Each Bedrock model family's native InvokeModel body, translated to and from the generic backend types.

A chat format turns a provider's request body (Anthropic messages, Titan, Llama, ...) into a
`GenerationRequest`, a `GenerationResult` into that provider's response body, and a stream of text deltas
into that provider's streaming chunks. An embedding format does the same for embedding bodies.
Nothing here knows HTTP; bad bodies raise `ValidationException` worded as Bedrock words it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from outcrop.backends.base import GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel


class ChatStreamEncoder(Protocol):
    """Builds the provider's stream chunks for one InvokeModelWithResponseStream call (stateful)."""

    def start(self) -> list[dict[str, Any]]:
        """Chunks sent before the first token (e.g. Anthropic's message_start)."""
        ...

    def delta(self, text: str) -> list[dict[str, Any]]:
        """Chunks for one text delta."""
        ...

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        """The closing chunks (tool calls, stop reason, usage); the service adds invocation metrics."""
        ...


class ChatFormat(Protocol):
    name: str

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        """The generic request of a native body; raises ValidationException for bodies Bedrock rejects."""
        ...

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        """The native response body of a finished generation."""
        ...

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder: ...


@dataclass(frozen=True)
class EmbeddingRequest:
    texts: Sequence[str]
    dimensions: int  # the size the response must have
    normalize: bool = True
    options: dict[str, Any] | None = None  # format-specific (embeddingTypes, input_type, truncate...)


class EmbeddingFormat(Protocol):
    name: str

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest: ...

    def response(
        self, vectors: Sequence[Sequence[float]], token_counts: Sequence[int], request: EmbeddingRequest
    ) -> dict[str, Any]: ...
