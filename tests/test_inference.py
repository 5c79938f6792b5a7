"""The one inference path: admission, metering per caller, error mapping, first-event semantics, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
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
from outcrop.guardrails.enforce import NOT_FOUND, Guard, Mode, resolve
from outcrop.guardrails.types import Evaluation, GuardrailNotFound, GuardrailVersion, GuardText, Source
from outcrop.inference import Admission, Caller, Inference, ModelStreamErrorException
from outcrop.protocol.errors import (
    ModelErrorException,
    ResourceNotFoundException,
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


def test_admission_throttles_a_call_that_would_wait_longer_than_max_wait() -> None:
    """Queued calls ahead times the model's recent call time, over its slots: past max_wait, a throttle
    (a client would time out waiting), not a place in the queue."""
    admission = Admission(limit=50, parallel=4, max_wait=1.0)
    with admission.admit("m"):
        time.sleep(0.4)  # the model's calls take about 0.4 s (a little more on a busy machine)
    with contextlib.ExitStack() as held:
        admitted = 0
        with pytest.raises(ThrottlingException, match="waiting about"):
            while admitted < 50:
                held.enter_context(admission.admit("m"))
                admitted += 1
        waited = admission.expected_wait("m")  # what the refused call would have waited
        assert waited > 1.0 and 10 <= admitted <= 14  # 4 running, then a step of a quarter call per call
        assert admission.expected_wait("other") == 0.0  # another model's queue is its own
    never = Admission(limit=20, parallel=1, max_wait=0.0)  # 0: only the bound on calls in flight
    with contextlib.ExitStack() as held:
        for _ in range(20):
            held.enter_context(never.admit("m"))


# -- the guard hook: guardrails in -> run -> guardrails out -------------------------------------------------

GUARDRAIL = GuardrailVersion(
    "gr1abc",
    "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1abc",
    "DRAFT",
    "g",
    "Input blocked.",
    "Output blocked.",
)


class WordEngine:
    """A stand-in guardrail engine: blocks 'forbidden', masks 'alice@example.com'; records what it read."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    def version(self, identifier: str, version: str | None = None) -> GuardrailVersion:
        if identifier != GUARDRAIL.guardrail_id:
            raise GuardrailNotFound(NOT_FOUND)
        return GUARDRAIL

    def evaluate(
        self,
        guardrail: GuardrailVersion,
        source: Source,
        content: Sequence[GuardText],
        *,
        output_scope: str = "INTERVENTIONS",
        caller: Caller | None = None,
    ) -> Evaluation:
        texts = [c.text for c in content]
        self.seen.append((source, texts))
        if any("forbidden" in t for t in texts):
            message = (
                guardrail.blocked_input_messaging
                if source == "INPUT"
                else guardrail.blocked_outputs_messaging
            )
            words = {
                "wordPolicy": {"customWords": [{"match": "forbidden", "action": "BLOCKED", "detected": True}]}
            }
            return Evaluation("GUARDRAIL_INTERVENED", "Guardrail blocked.", [message], [words], {}, {}, True)
        if any("alice@example.com" in t for t in texts):
            masked = [t.replace("alice@example.com", "{EMAIL}") for t in texts]
            return Evaluation("GUARDRAIL_INTERVENED", "Guardrail masked.", masked, [{}], {}, {})
        return Evaluation("NONE", "No action.", [], [{}], {}, {})


def ask_long(text: str) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage("user", text)], max_tokens=500)


def guard(engine: WordEngine, text: str, mode: Mode = "whole") -> Guard:
    return Guard(engine, GUARDRAIL, [GuardText(text)], mode=mode, trace="enabled")


def test_a_blocked_input_never_reaches_the_model_and_is_not_metered(tmp_path: Path) -> None:
    path, engine = inference(tmp_path), WordEngine()
    checked = guard(engine, "say forbidden")
    result = path.generate_blocking(Caller("a"), CHAT, ask("say forbidden"), checked)
    assert (result.text, result.input_tokens, result.output_tokens) == ("Input blocked.", 0, 0)
    assert checked.input_blocked and checked.action == "INTERVENED"
    assert engine.seen == [("INPUT", ["say forbidden"])]
    assert path.usage.snapshot() == {}
    streamed = asyncio.run(path.generate(Caller("a"), CHAT, ask("say forbidden"), guard(engine, "forbidden")))
    assert streamed.text == "Input blocked."
    trace = checked.converse_trace()
    assert trace is not None
    assessment = trace["guardrail"]["inputAssessment"]["gr1abc"]
    assert assessment["wordPolicy"]["customWords"][0]["match"] == "forbidden"
    assert assessment["appliedGuardrailDetails"]["guardrailVersion"] == "DRAFT"


def test_an_anonymized_input_reaches_the_model_masked(tmp_path: Path) -> None:
    path, engine = inference(tmp_path), WordEngine()
    checked = guard(engine, "mail alice@example.com")
    result = path.generate_blocking(Caller(), CHAT, ask("please mail alice@example.com today"), checked)
    # the echo model saw the masked prompt; its echo is then masked nowhere else (the output has no email)
    assert result.text == "You said: please mail {EMAIL} today"
    assert checked.intervened and not checked.input_blocked
    assert path.usage.snapshot()[CHAT.model_id]["calls"] == 1


def test_output_is_screened_whole_sync_and_async(tmp_path: Path) -> None:
    path, engine = inference(tmp_path), WordEngine()
    # the guarded input is only the harmless part, so the model runs and echoes the forbidden word
    whole = guard(engine, "harmless")
    result = path.generate_blocking(Caller(), CHAT, ask("repeat forbidden"), whole)
    assert result.text == "Output blocked." and whole.output_blocked
    assert "".join(whole.raw_output) == "You said: repeat forbidden"
    trace = whole.converse_trace()
    assert trace is not None and trace["guardrail"]["modelOutput"] == ["You said: repeat forbidden"]
    assert len(trace["guardrail"]["outputAssessments"]["gr1abc"]) == 1
    assert path.usage.snapshot()[CHAT.model_id]["outputTokens"] == 4  # metered as usual

    long = " ".join(["This sentence is fine and long enough to fill a batch on its own."] * 4)
    prompt = long + " Then forbidden words follow here."
    sync = guard(engine, "harmless", "sync")
    texts = [e.text for e in path.stream_blocking(Caller(), CHAT, ask_long(prompt), sync) if e.text]
    assert texts[-1] == "Output blocked." and "forbidden" not in "".join(texts)
    assert len(sync.output_screenings) >= 2  # screened in batches, each before it was sent

    quick = guard(engine, "harmless", "async")
    events = list(path.stream_blocking(Caller(), CHAT, ask_long(prompt), quick))
    texts = [e.text for e in events if e.text]
    assert texts[-1] == "Output blocked." and quick.output_blocked
    assert "forbidden" in "".join(texts[:-1])  # async mode sent the words before the screen caught them
    done = events[-1].done
    assert done is not None and done.text.endswith("Output blocked.") and done.output_tokens > 0


def test_a_block_mid_stream_stops_the_model(tmp_path: Path) -> None:
    path, engine = inference(tmp_path), WordEngine()

    class Forbidden(Scripted):
        def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
            yield GenerationEvent(text="x" * 300 + " forbidden. ")
            yield from super().stream(request, cancel)  # endless until cancelled

    scripted(path, Forbidden(None))
    checked = guard(engine, "ok", "sync")
    caller = Caller()
    texts = [e.text for e in path.stream_blocking(caller, CHAT, ask("go"), checked) if e.text]
    assert texts == ["Output blocked."]
    assert not caller.cancel.is_set()  # the guard stopped the model and left the caller's flag as it was


def test_unknown_guardrails_and_bad_versions_are_refused() -> None:
    engine = WordEngine()
    assert resolve(engine, "gr1abc", "DRAFT") is GUARDRAIL
    with pytest.raises(ResourceNotFoundException, match="does not exist"):
        resolve(engine, "nosuch", "1")
    with pytest.raises(ValidationException, match="not valid"):
        resolve(engine, "gr1abc", "v2")
    with pytest.raises(ValidationException, match="version is required"):
        resolve(engine, "gr1abc", None)
