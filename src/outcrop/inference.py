"""The one path every model call takes: resolve the catalog id, admit or throttle, run off the event loop,
stop when the caller leaves, meter usage per caller and model, and map backend failures to service errors.

Bedrock Runtime, RetrieveAndGenerate, knowledge-base ingestion and retrieval, Rerank, the OpenAI-compatible
API and LLM-backed Translate all call models through here, so what must apply to every model call
(guardrails, access control, usage) is written once. A call with a guardrail carries a `Guard`
(`outcrop.guardrails.enforce` builds it): its input is screened before the model runs and its output after,
here, so no guarded call can skip either. Code that takes a model object (the RAG pipeline, the
translation engines) gets a metered stand-in from `chat`, `embedder` or `reranker`, never the backend.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from outcrop.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    ChatMessage,
    ContextLengthExceeded,
    Embedder,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    Reranker,
    TextGenerator,
    ToolSpec,
    embed_counted,
)
from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BedrockModel, Catalog
from outcrop.concurrency import iterate_in_thread, run_blocking
from outcrop.protocol.errors import (
    ModelErrorException,
    ServiceError,
    ServiceUnavailableException,
    ThrottlingException,
    ValidationException,
)


class ModelStreamErrorException(ServiceError):
    code, status, sender_fault = "ModelStreamErrorException", 424, True


@contextlib.contextmanager
def backend_errors(*, streaming: bool = False) -> Iterator[None]:
    """Backend failures as the AWS errors a Bedrock client expects."""
    try:
        yield
    except ServiceError:
        raise
    except ContextLengthExceeded as exc:
        raise ValidationException(f"Input is too long for requested model. {exc}") from exc
    except BackendBusy as exc:
        raise ThrottlingException("Too many requests, please wait before trying again. " + str(exc)) from exc
    except BackendUnavailable as exc:
        raise ServiceUnavailableException(f"The model is not available on this server: {exc}") from exc
    except BackendError as exc:
        if streaming:
            raise ModelStreamErrorException(f"The model failed while streaming: {exc}") from exc
        raise ModelErrorException(f"The model failed: {exc}") from exc


class Guard(Protocol):
    """Guardrails around one chat call: "guardrails in -> run -> guardrails out" (blocking methods)."""

    def screen_input(self, request: GenerationRequest) -> GenerationRequest | GenerationResult:
        """The request the model may see (masked where anonymized), or the answer to give instead of
        running the model (a blocked input)."""
        ...

    def screen_output(
        self, events: Iterator[GenerationEvent], cancel: threading.Event
    ) -> Iterator[GenerationEvent]:
        """The model's events with their text screened; setting `cancel` stops the model."""
        ...


def _answered(result: GenerationResult) -> Iterator[GenerationEvent]:
    """A blocked input's answer as a stream (no model ran, so nothing is metered)."""
    if result.text:
        yield GenerationEvent(text=result.text)
    yield GenerationEvent(done=result)


class ProfileResolver(Protocol):
    """Application inference profiles, for `Inference.resolve` (the Bedrock control plane keeps them)."""

    def model_of(self, identifier: str) -> str | None:
        """The catalog model id an application profile (by id or ARN) serves; None if it is not one."""
        ...


@dataclass(frozen=True)
class Caller:
    """Who asks for a model call (for metering and access control) and the flag set when they hang up."""

    principal: str = "anonymous"
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


class UsageMeter:
    """Calls and tokens in and out per model id, and per caller and model id, since start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_model: dict[str, dict[str, int]] = {}
        self.by_caller: dict[str, dict[str, dict[str, int]]] = {}

    def record(
        self, model_id: str, input_tokens: int, output_tokens: int, principal: str = "anonymous"
    ) -> None:
        with self._lock:
            for table in (self.by_model, self.by_caller.setdefault(principal, {})):
                entry = table.setdefault(model_id, {"calls": 0, "inputTokens": 0, "outputTokens": 0})
                entry["calls"] += 1
                entry["inputTokens"] += input_tokens
                entry["outputTokens"] += output_tokens

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self.by_model.items()}

    def callers(self) -> dict[str, dict[str, dict[str, int]]]:
        with self._lock:
            return {who: {k: dict(v) for k, v in table.items()} for who, table in self.by_caller.items()}


class Admission:
    """A bounded number of calls in flight per local model, and no call admitted to wait longer than
    `max_wait` seconds (queued calls ahead of it times the model's recent call time, over its `parallel`
    slots); past either, ThrottlingException, as Bedrock's per-model quotas answer, rather than a queue
    that outlasts the client's read timeout."""

    def __init__(self, limit: int, parallel: int = 1, max_wait: float = 0.0) -> None:
        self._limit = max(1, limit)
        self._parallel = max(1, parallel)
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._seconds: dict[str, float] = {}  # a moving average of each model's call time

    def expected_wait(self, local: str) -> float:
        """Seconds a call admitted now would wait for a slot, from the calls ahead of it."""
        ahead = self._in_flight.get(local, 0) - self._parallel + 1
        return max(0, ahead) * self._seconds.get(local, 0.0) / self._parallel

    @contextlib.contextmanager
    def admit(self, local: str) -> Iterator[None]:
        with self._lock:
            if self._in_flight.get(local, 0) >= self._limit:
                raise ThrottlingException("Too many requests, please wait before trying again.")
            wait = self.expected_wait(local)
            if self._max_wait and wait > self._max_wait:
                raise ThrottlingException(
                    f"Too many requests, please wait before trying again. The model's queue would keep "
                    f"this request waiting about {wait:.0f} s."
                )
            self._in_flight[local] = self._in_flight.get(local, 0) + 1
        started = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - started
            with self._lock:
                self._in_flight[local] -= 1
                before = self._seconds.get(local)
                self._seconds[local] = took if before is None else 0.7 * before + 0.3 * took


class Inference:
    """The single door to the models. Methods named `*_blocking` are for code already in a worker thread."""

    def __init__(
        self,
        catalog: Catalog,
        models: ModelRegistry,
        *,
        max_in_flight: int,
        parallel: int = 1,
        max_wait: float = 0.0,
        profiles: ProfileResolver | None = None,
    ) -> None:
        self.catalog = catalog
        self.models = models
        self.profiles = profiles
        self.usage = UsageMeter()
        self._admission = Admission(max_in_flight, parallel, max_wait)

    # -- resolving ids ---------------------------------------------------------------------------------------

    def resolve(self, model_id: str) -> BedrockModel:
        """A Bedrock model id or ARN, a system-defined (cross-region) profile's id or ARN, or an application
        inference profile's id or ARN, to its catalog entry. An image or video generation id the catalog
        lists but nothing here runs is refused as such, not as an unknown id."""
        model = self.find(model_id)
        if model is None:
            if self.profiles is not None:
                model_id = self.profiles.model_of(model_id) or model_id
            unserved = self.catalog.find_unserved(model_id)
            if unserved is not None:
                raise ValidationException(
                    f"The model {unserved.model_id} generates {unserved.kind}s; {unserved.kind} generation "
                    "is not served locally by this server. Use a text or embedding model id."
                )
            raise ValidationException("The provided model identifier is invalid.")
        return model

    def find(self, model_id: str) -> BedrockModel | None:
        """The catalog entry a model id, ARN or inference profile (system or application) names, if any."""
        model = self.catalog.find(model_id)
        if model is None and self.profiles is not None:
            target = self.profiles.model_of(model_id)
            model = self.catalog.find(target) if target else None
        return model

    def chat_model(self, model_id: str, api: str) -> BedrockModel:
        model = self.resolve(model_id)
        if model.kind != "chat":
            raise ValidationException(
                f"The model {model.model_id} is an embedding model and does not support {api}."
            )
        return model

    def local_chat(self, local: str) -> BedrockModel:
        """A catalog entry for a local chat model called by name (LLM-backed services, not Bedrock ids)."""
        return BedrockModel(
            model_id=local, name=local, provider="Outcrop", format="", local=local, kind="chat"
        )

    # -- chat ------------------------------------------------------------------------------------------------

    def _generator(self, model: BedrockModel) -> TextGenerator:
        with backend_errors():
            return self.models.generator(model.local)

    @staticmethod
    def _check_images(model: BedrockModel, generator: TextGenerator, request: GenerationRequest) -> None:
        """Refuse images unless the catalog says the model takes them and its runtime can pass them on:
        a text-only model must say so, not answer as if it had seen them."""
        if not any(message.images for message in request.messages):
            return
        if "IMAGE" not in model.input_modalities:
            raise ValidationException(
                f"The model {model.model_id} doesn't support image input. Remove the image content "
                "blocks and try again."
            )
        if not getattr(generator, "sees_images", False):
            raise ValidationException(
                f"The model {model.model_id} is served on this server by the local model {model.local}, "
                "which reads text only and does not accept image input. Remove the image content blocks, "
                "or map this model id to a vision model on an OpenAI-compatible server (runtime "
                '"openai") in the model catalog.'
            )

    @staticmethod
    def _run(
        generator: TextGenerator, request: GenerationRequest, cancel: threading.Event, guard: Guard | None
    ) -> Iterator[GenerationEvent]:
        events = generator.stream(request, cancel)
        return events if guard is None else guard.screen_output(events, cancel)

    async def stream(
        self, caller: Caller, model: BedrockModel, request: GenerationRequest, guard: Guard | None = None
    ) -> AsyncGenerator[GenerationEvent, None]:
        """Start generating and wait for the first event, so that a full queue or a failed load is an
        HTTP error before any stream starts; the rest follows as a stream whose failures are stream errors.
        Usage is metered when the final event arrives; the caller hanging up stops the generation. With a
        guard, the input is screened first (a blocked input is answered without the model) and the output
        as the guard's mode says."""

        async def admitted() -> AsyncGenerator[GenerationEvent, None]:
            screened: GenerationRequest | GenerationResult = request
            if guard is not None:
                screened = await run_blocking(lambda: guard.screen_input(request))
            if isinstance(screened, GenerationResult):
                for answer in _answered(screened):
                    yield answer
                return
            with self._admission.admit(model.local):
                generator = await run_blocking(lambda: self._generator(model))
                self._check_images(model, generator, screened)
                produced = iterate_in_thread(
                    lambda: self._run(generator, screened, caller.cancel, guard), caller.cancel
                )
                async with contextlib.aclosing(produced):
                    async for event in produced:
                        if event.done is not None:
                            done = event.done
                            self.usage.record(
                                model.model_id, done.input_tokens, done.output_tokens, caller.principal
                            )
                        yield event

        events = admitted()
        with backend_errors():
            first = await anext(events, None)

        async def rest() -> AsyncGenerator[GenerationEvent, None]:
            try:
                pending = first
                while pending is not None:
                    yield pending
                    with backend_errors(streaming=True):
                        pending = await anext(events, None)
            finally:
                await events.aclose()

        return rest()

    async def generate(
        self, caller: Caller, model: BedrockModel, request: GenerationRequest, guard: Guard | None = None
    ) -> GenerationResult:
        result: GenerationResult | None = None
        async for event in await self.stream(caller, model, request, guard):
            if event.done is not None:
                result = event.done
        if result is None:
            raise ModelErrorException("The model ended without a result.")
        return result

    def stream_blocking(
        self, caller: Caller, model: BedrockModel, request: GenerationRequest, guard: Guard | None = None
    ) -> Iterator[GenerationEvent]:
        """The same call for code running in a worker thread: screened, admitted, metered, errors mapped."""
        screened = request if guard is None else guard.screen_input(request)
        if isinstance(screened, GenerationResult):
            yield from _answered(screened)
            return
        with self._admission.admit(model.local):
            generator = self._generator(model)
            self._check_images(model, generator, screened)
            with backend_errors():
                for event in self._run(generator, screened, caller.cancel, guard):
                    if event.done is not None:
                        done = event.done
                        self.usage.record(
                            model.model_id, done.input_tokens, done.output_tokens, caller.principal
                        )
                    yield event

    def generate_blocking(
        self, caller: Caller, model: BedrockModel, request: GenerationRequest, guard: Guard | None = None
    ) -> GenerationResult:
        result: GenerationResult | None = None
        for event in self.stream_blocking(caller, model, request, guard):
            if event.done is not None:
                result = event.done
        if result is None:
            raise ModelErrorException("The model ended without a result.")
        return result

    async def count_tokens(self, model: BedrockModel, request: GenerationRequest) -> int:
        def count() -> int:
            generator = self._generator(model)
            with backend_errors():
                return generator.count_tokens(request.messages, request.tools)

        return await run_blocking(count)

    def chat(self, caller: Caller, model: BedrockModel) -> TextGenerator:
        """A TextGenerator whose calls take this path, for code written against the backend contract."""
        return _RoutedChat(self, caller, model)

    # -- embeddings and reranking ----------------------------------------------------------------------------

    def embed_blocking(
        self, caller: Caller, model: BedrockModel, texts: Sequence[str], *, normalize: bool = True
    ) -> tuple[list[list[float]], list[int]]:
        """Vectors and per-text token counts."""
        with self._admission.admit(model.local), backend_errors():
            embedder = self.models.embedder(model.local)
            vectors, counts = embed_counted(embedder, list(texts), normalize=normalize)
        self.usage.record(model.model_id, sum(counts), 0, caller.principal)
        return vectors, counts

    async def embed(
        self, caller: Caller, model: BedrockModel, texts: Sequence[str], *, normalize: bool = True
    ) -> tuple[list[list[float]], list[int]]:
        return await run_blocking(lambda: self.embed_blocking(caller, model, texts, normalize=normalize))

    def embedder(self, caller: Caller, model: BedrockModel) -> Embedder:
        """An Embedder whose calls take this path (knowledge-base ingestion and retrieval use it)."""
        with backend_errors():
            dimensions = self.models.embedder(model.local).dimensions
        return _RoutedEmbedder(self, caller, model, dimensions)

    def rerank_blocking(self, caller: Caller, local: str, query: str, passages: Sequence[str]) -> list[float]:
        with self._admission.admit(local), backend_errors():
            scores = self.models.reranker(local).rerank(query, passages)
        self.usage.record(local, len(passages), 0, caller.principal)
        return scores

    def reranker(self, caller: Caller, local: str) -> Reranker:
        return _RoutedReranker(self, caller, local)


class _RoutedChat:
    def __init__(self, inference: Inference, caller: Caller, model: BedrockModel) -> None:
        self._inference, self._caller, self._model = inference, caller, model
        self.model_id = model.local

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        caller = Caller(self._caller.principal, cancel)
        return self._inference.stream_blocking(caller, self._model, request)

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        generator = self._inference._generator(self._model)
        with backend_errors():
            return generator.count_tokens(messages, tools)


class _RoutedEmbedder:
    def __init__(self, inference: Inference, caller: Caller, model: BedrockModel, dimensions: int) -> None:
        self._inference, self._caller, self._model = inference, caller, model
        self.model_id = model.local
        self.dimensions = dimensions

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        return self._inference.embed_blocking(self._caller, self._model, texts, normalize=normalize)[0]

    def embed_counted(
        self, texts: Sequence[str], *, normalize: bool = True
    ) -> tuple[list[list[float]], list[int]]:
        return self._inference.embed_blocking(self._caller, self._model, texts, normalize=normalize)

    def count_tokens(self, text: str) -> int:
        with backend_errors():
            return self._inference.models.embedder(self._model.local).count_tokens(text)


class _RoutedReranker:
    def __init__(self, inference: Inference, caller: Caller, local: str) -> None:
        self._inference, self._caller = inference, caller
        self.model_id = local

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        return self._inference.rerank_blocking(self._caller, self.model_id, query, passages)
