"""The contract every model runtime fulfils. Nothing here knows about AWS.

Services translate AWS request bodies (Anthropic messages, Titan, Llama, Converse...) into these generic
requests, and the generic results back into AWS shapes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


class BackendError(Exception):
    """A model runtime failed in a way the caller did not cause (load failure, crash)."""


class BackendBusy(BackendError):
    """The model's queue is full: the caller should back off (AWS ThrottlingException)."""


class BackendUnavailable(BackendError):
    """The model cannot be loaded here (missing package, missing file); the message says how to fix it."""


class ContextLengthExceeded(ValueError):
    """The prompt does not fit the model's context window: the caller's fault (AWS ValidationException)."""


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for; `id` ties the later tool result back to it."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments


@dataclass(frozen=True)
class Image:
    """An image attached to a user turn, as its bytes and MIME type (image/png, image/jpeg...)."""

    media_type: str
    data: bytes


@dataclass(frozen=True)
class ChatMessage:
    """One turn. `tool_calls` only on assistant turns; `tool_call_id` only on tool turns; `images` only on
    user turns, and only for generators that set `sees_images = True` (inference refuses them for others)."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    messages: Sequence[ChatMessage]
    max_tokens: int = 512
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: Sequence[str] = ()
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | None = None  # None/"auto", "any" (must call some tool), or a tool name
    json_mode: bool = False
    json_schema: dict[str, Any] | None = None  # the reply must be JSON that follows it (OpenAI json_schema)
    seed: int | None = None


@dataclass
class GenerationEvent:
    """One streamed step: a text delta, or (last) the finished result in `done`."""

    text: str = ""
    done: GenerationResult | None = None


@dataclass
class GenerationResult:
    text: str
    stop_reason: StopReason
    input_tokens: int
    output_tokens: int
    stop_sequence: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@runtime_checkable
class TextGenerator(Protocol):
    """A chat model. `stream` yields text deltas then one event whose `done` is set.

    It runs in a worker thread; it must stop early (and still end with a `done` event) once `cancel` is set.
    When tools are given and the model calls them, the text deltas never contain the raw tool-call markup:
    the calls arrive parsed in `done.tool_calls` with `stop_reason == "tool_use"`.
    """

    model_id: str

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]: ...

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int: ...


@runtime_checkable
class Embedder(Protocol):
    """A text embedding model: one vector per input, each of `dimensions` floats."""

    model_id: str
    dimensions: int

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class Reranker(Protocol):
    """Scores passages against a query: one relevance in [0, 1] per passage, in the passages' order."""

    model_id: str

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]: ...


def embed_counted(
    embedder: Embedder, texts: Sequence[str], *, normalize: bool = True
) -> tuple[list[list[float]], list[int]]:
    """Vectors and per-text token counts, in one pass where the embedder offers `embed_counted`."""
    counted = getattr(embedder, "embed_counted", None)
    if callable(counted):
        result: tuple[list[list[float]], list[int]] = counted(texts, normalize=normalize)
        return result
    return embedder.embed(texts, normalize=normalize), [embedder.count_tokens(text) for text in texts]


def generate(
    model: TextGenerator, request: GenerationRequest, cancel: threading.Event | None = None
) -> GenerationResult:
    """Run a stream to completion and return its final result."""
    result: GenerationResult | None = None
    for event in model.stream(request, cancel or threading.Event()):
        if event.done is not None:
            result = event.done
    if result is None:
        raise BackendError(f"model {model.model_id} ended its stream without a result")
    return result
