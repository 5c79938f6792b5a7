"""The one inference path: admission, metering per caller, error mapping, first-event semantics, cancel."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from outcrop.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    ChatMessage,
    ContextLengthExceeded,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    ToolSpec,
)
from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BedrockModel, Catalog
from outcrop.inference import Caller, Inference, ModelStreamErrorException
from outcrop.protocol.errors import (
    ModelErrorException,
    ServiceUnavailableException,
    ThrottlingException,
    ValidationException,
)

LOCAL = {
    "chat": {"runtime": "fake", "kind": "chat"},
    "embed": {"runtime": "fake", "kind": "embedding", "dimensions": 16},
    "rerank": {"runtime": "fake", "kind": "rerank"},
}
CHAT = BedrockModel("vendor.chat-v1:0", "Chat", "Vendor", "anthropic", "chat", "chat")
EMBED = BedrockModel("vendor.embed-v1:0", "Embed", "Vendor", "titan-embed-v2", "embed", "embedding")


def inference(tmp_path: Path, *, max_in_flight: int = 4) -> Inference:
    catalog = Catalog(local=LOCAL, bedrock={CHAT.model_id: CHAT, EMBED.model_id: EMBED})
    return Inference(catalog, ModelRegistry(LOCAL, tmp_path), max_in_flight=max_in_flight)


def ask(text: str) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage("user", text)], max_tokens=50)


class Scripted:
    """A chat backend that raises `error` after `after` text events (or blocks on `gate` first)."""

    def __init__(self, error: Exception | None, after: int = 0, gate: threading.Event | None = None) -> None:
        self.model_id = "scripted"
        self.error, self.after, self.gate = error, after, gate

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        if self.gate is not None:
            self.gate.wait(5)
        for index in range(self.after):
            yield GenerationEvent(text=f"w{index} ")
        if self.error is not None:
            raise self.error
        while not cancel.wait(0.01):
            yield GenerationEvent(text="more ")
        yield GenerationEvent(done=GenerationResult("", "end_turn", 1, 1))

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        return 1


def scripted(path: Inference, backend: Scripted) -> None:
    path.models.get("chat", "chat")  # load the fake, then swap the scripted one in
    path.models._entries["chat"].instance = backend


def test_ids_resolve_and_unknown_or_wrong_kinds_are_validation_errors(tmp_path: Path) -> None:
    path = inference(tmp_path)
    assert path.resolve("us.vendor.chat-v1:0") is CHAT
    assert path.resolve(f"arn:aws:bedrock:us-east-1::foundation-model/{CHAT.model_id}") is CHAT
    with pytest.raises(ValidationException, match="model identifier is invalid"):
        path.resolve("vendor.nothing-v9:0")
    with pytest.raises(ValidationException, match="embedding model and does not support Converse"):
        path.chat_model(EMBED.model_id, "Converse")


def test_usage_is_metered_per_model_and_per_caller(tmp_path: Path) -> None:
    path = inference(tmp_path)
    result = asyncio.run(path.generate(Caller("AKIDALICE"), CHAT, ask("hello there")))
    assert result.text == "You said: hello there"
    path.generate_blocking(Caller("AKIDBOB"), CHAT, ask("hi"))
    vectors, counts = path.embed_blocking(Caller("AKIDBOB"), EMBED, ["one text", "two texts here"])
    assert len(vectors) == 2 and len(vectors[0]) == 16 and counts == [2, 3]
    by_model = path.usage.snapshot()
    assert by_model[CHAT.model_id] == {
        "calls": 2,
        "inputTokens": result.input_tokens + 1,
        "outputTokens": result.output_tokens + 3,
    }
    assert by_model[EMBED.model_id] == {"calls": 1, "inputTokens": 5, "outputTokens": 0}
    callers = path.usage.callers()
    assert callers["AKIDALICE"][CHAT.model_id]["calls"] == 1
    assert set(callers["AKIDBOB"]) == {CHAT.model_id, EMBED.model_id}


def test_routed_models_take_the_same_path(tmp_path: Path) -> None:
    path = inference(tmp_path)
    chat = path.chat(Caller("AKIDRAG"), CHAT)
    events = list(chat.stream(ask("routed"), threading.Event()))
    assert events[-1].done is not None and events[-1].done.text == "You said: routed"
    embedder = path.embedder(Caller("AKIDRAG"), EMBED)
    assert embedder.dimensions == 16 and len(embedder.embed(["a b"])[0]) == 16
    scores = path.reranker(Caller("AKIDRAG"), "rerank").rerank("bread flour", ["bread and flour", "stocks"])
    assert scores[0] > scores[1]
    assert set(path.usage.callers()["AKIDRAG"]) == {CHAT.model_id, EMBED.model_id, "rerank"}
    assert path.models.states()["chat"]["uses"] >= 1


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (ContextLengthExceeded("8000 > 4096"), ValidationException, "Input is too long"),
        (BackendBusy("queue full"), ThrottlingException, "Too many requests"),
        (BackendUnavailable("no package"), ServiceUnavailableException, "not available on this server"),
        (BackendError("crashed"), ModelErrorException, "The model failed: crashed"),
    ],
)
def test_backend_failures_map_to_service_errors(
    tmp_path: Path, error: Exception, expected: type[Exception], message: str
) -> None:
    path = inference(tmp_path)
    scripted(path, Scripted(error))
    with pytest.raises(expected, match=message):
        asyncio.run(path.generate(Caller(), CHAT, ask("x")))
    with pytest.raises(expected, match=message):
        path.generate_blocking(Caller(), CHAT, ask("x"))


def test_a_failure_after_the_first_event_is_a_stream_error(tmp_path: Path) -> None:
    path = inference(tmp_path)
    scripted(path, Scripted(BackendError("died mid-way"), after=2))

    async def run() -> list[str]:
        stream = await path.stream(Caller(), CHAT, ask("x"))  # the first event arrived: no error yet
        seen: list[str] = []
        with pytest.raises(ModelStreamErrorException, match="died mid-way"):
            async for event in stream:
                seen.append(event.text)
        return seen

    assert asyncio.run(run()) == ["w0 ", "w1 "]


def test_admission_throttles_past_the_bound_and_frees_slots(tmp_path: Path) -> None:
    path = inference(tmp_path, max_in_flight=1)
    gate = threading.Event()
    backend = Scripted(None, after=1, gate=gate)
    scripted(path, backend)

    async def run() -> None:
        cancel = threading.Event()
        first = asyncio.create_task(path.stream(Caller("a", cancel), CHAT, ask("x")))
        await asyncio.sleep(0.1)  # the first call holds the one slot while it waits for its first event
        with pytest.raises(ThrottlingException):
            await path.stream(Caller("b"), CHAT, ask("y"))
        gate.set()
        stream = await first
        await anext(stream)
        await stream.aclose()  # the client left: the backend is told to stop and the slot is freed
        await asyncio.sleep(0.1)
        assert cancel.is_set()

    asyncio.run(run())
    stopped = threading.Event()
    stopped.set()  # the scripted backend streams until its caller's cancel flag is set
    assert path.generate_blocking(Caller("c", stopped), CHAT, ask("z")).stop_reason == "end_turn"
