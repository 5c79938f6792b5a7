"""Amazon Bedrock Runtime: InvokeModel (native bodies), Converse, their streaming forms, and CountTokens."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import orjson

from outcrop.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    ContextLengthExceeded,
    Embedder,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    TextGenerator,
    embed_counted,
)
from outcrop.backends.projection import resize
from outcrop.catalog import BedrockModel
from outcrop.concurrency import iterate_in_thread, run_blocking
from outcrop.protocol.errors import (
    ModelErrorException,
    ServiceError,
    ServiceUnavailableException,
    ThrottlingException,
    ValidationException,
)
from outcrop.protocol.serialize import EXTRA_HEADERS
from outcrop.services import converse
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock_bodies import ChatFormat, EmbeddingFormat
from outcrop.services.bedrock_bodies.registry import CHAT_FORMATS, EMBEDDING_FORMATS

Event = tuple[str, dict[str, Any]]


def _chat_format(model: BedrockModel) -> ChatFormat:
    return CHAT_FORMATS[model.format]


def _embedding_format(model: BedrockModel) -> EmbeddingFormat:
    return EMBEDDING_FORMATS[model.format]


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


class BedrockRuntime(Service):
    service_name = "bedrock-runtime"

    # -- model lookup ----------------------------------------------------------------------------------------

    def _model(self, model_id: str) -> BedrockModel:
        model = self.app.catalog.find(model_id)
        if model is None:
            raise ValidationException("The provided model identifier is invalid.")
        return model

    def _chat_model(self, model_id: str, api: str) -> BedrockModel:
        model = self._model(model_id)
        if model.kind != "chat":
            raise ValidationException(
                f"The model {model.model_id} is an embedding model and does not support {api}."
            )
        return model

    async def _generator(self, model: BedrockModel) -> TextGenerator:
        with backend_errors():
            return await run_blocking(lambda: self.app.models.generator(model.local))

    async def _embedder(self, model: BedrockModel) -> Embedder:
        with backend_errors():
            return await run_blocking(lambda: self.app.models.embedder(model.local))

    # -- generation, shared by every operation ---------------------------------------------------------------

    async def _generate(
        self, ctx: RequestContext, model: BedrockModel, request: GenerationRequest
    ) -> GenerationResult:
        generator = await self._generator(model)
        result: GenerationResult | None = None
        async for event in self._events(ctx, generator, request):
            if event.done is not None:
                result = event.done
        if result is None:
            raise ModelErrorException("The model ended without a result.")
        self.app.usage.record(model.model_id, result.input_tokens, result.output_tokens)
        return result

    async def _events(
        self, ctx: RequestContext, generator: TextGenerator, request: GenerationRequest
    ) -> AsyncIterator[GenerationEvent]:
        stream = iterate_in_thread(lambda: generator.stream(request, ctx.cancel), ctx.cancel)
        with backend_errors():
            async for event in stream:
                yield event

    async def _open_stream(
        self, ctx: RequestContext, model: BedrockModel, request: GenerationRequest
    ) -> AsyncIterator[GenerationEvent]:
        """Start generating and await the first event, so a full queue is an HTTP 429, not a broken stream."""
        generator = await self._generator(model)
        events = self._events(ctx, generator, request)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            first = None

        async def rest() -> AsyncIterator[GenerationEvent]:
            if first is not None:
                yield first
            with backend_errors(streaming=True):
                async for event in events:
                    if event.done is not None:
                        self.app.usage.record(
                            model.model_id, event.done.input_tokens, event.done.output_tokens
                        )
                    yield event

        return rest()

    # -- InvokeModel ----------------------------------------------------------------------------------------

    @staticmethod
    def _json_body(params: dict[str, Any]) -> dict[str, Any]:
        content_type = params.get("contentType") or "application/json"
        if not content_type.startswith("application/json") and content_type != "*/*":
            raise ValidationException(
                f"The content type {content_type} is not supported; send application/json."
            )
        try:
            body = json.loads(params.get("body") or b"")
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationException(
                "Malformed input request, please reformat your input and try again."
            ) from exc
        if not isinstance(body, dict):
            raise ValidationException(
                "Malformed input request: #: expected type: JSONObject, found: "
                f"{type(body).__name__}, please reformat your input and try again."
            )
        return body

    async def invoke_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        model = self._model(params["modelId"])
        body = self._json_body(params)
        if model.kind == "embedding":
            output, input_tokens, output_tokens = await self._embed(model, body)
        else:
            chat_format = _chat_format(model)
            request = chat_format.parse(body, model)
            result = await self._generate(ctx, model, request)
            output = chat_format.response(result, request, model)
            input_tokens, output_tokens = result.input_tokens, result.output_tokens
        latency = int(1000 * (time.perf_counter() - started))
        return {
            "body": orjson.dumps(output, option=orjson.OPT_SERIALIZE_NUMPY),
            "contentType": "application/json",
            EXTRA_HEADERS: {
                "x-amzn-bedrock-input-token-count": str(input_tokens),
                "x-amzn-bedrock-output-token-count": str(output_tokens),
                "x-amzn-bedrock-invocation-latency": str(latency),
            },
        }

    async def _embed(self, model: BedrockModel, body: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
        embedding_format = _embedding_format(model)
        request = embedding_format.parse(body, model)
        embedder = await self._embedder(model)

        def run() -> tuple[list[Any], list[int]]:
            with backend_errors():
                vectors, counts = embed_counted(embedder, list(request.texts), normalize=True)
            resized = np.asarray(resize(vectors, request.dimensions, normalize=request.normalize), np.float32)
            return list(resized), counts

        vectors, counts = await run_blocking(run)
        self.app.usage.record(model.model_id, sum(counts), 0)
        return embedding_format.response(vectors, counts, request), sum(counts), 0

    async def invoke_model_with_response_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        model = self._chat_model(params["modelId"], "InvokeModelWithResponseStream")
        if not model.streaming:
            raise ValidationException("The model is unsupported for streaming.")
        chat_format = _chat_format(model)
        request = chat_format.parse(self._json_body(params), model)
        generator = await self._generator(model)
        with backend_errors():
            input_tokens = await run_blocking(lambda: generator.count_tokens(request.messages, request.tools))
        encoder = chat_format.streamer(request, model, input_tokens)
        events = await self._open_stream(ctx, model, request)

        async def chunks() -> AsyncIterator[Event]:
            first_byte: float | None = None
            pending = encoder.start()
            async for event in events:
                if event.text:
                    pending += encoder.delta(event.text)
                if event.done is not None:
                    final = encoder.finish(event.done)
                    latency = int(1000 * (time.perf_counter() - started))
                    final[-1] = {
                        **final[-1],
                        "amazon-bedrock-invocationMetrics": {
                            "inputTokenCount": event.done.input_tokens,
                            "outputTokenCount": event.done.output_tokens,
                            "invocationLatency": latency,
                            "firstByteLatency": int(1000 * ((first_byte or time.perf_counter()) - started)),
                        },
                    }
                    pending += final
                for chunk in pending:
                    first_byte = first_byte or time.perf_counter()
                    yield "chunk", {"bytes": orjson.dumps(chunk)}
                pending = []

        return {"body": chunks(), "contentType": "application/json"}

    # -- Converse -------------------------------------------------------------------------------------------

    async def converse(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        model = self._chat_model(params["modelId"], "Converse")
        request = converse.converse_request(params, model)
        result = await self._generate(ctx, model, request)
        return converse.converse_output(result, int(1000 * (time.perf_counter() - started)))

    async def converse_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        model = self._chat_model(params["modelId"], "ConverseStream")
        request = converse.converse_request(params, model)
        events = await self._open_stream(ctx, model, request)

        async def stream() -> AsyncIterator[Event]:
            yield "messageStart", {"role": "assistant"}
            text_open = False
            async for event in events:
                if event.text:
                    text_open = True
                    yield "contentBlockDelta", {"delta": {"text": event.text}, "contentBlockIndex": 0}
                if event.done is not None:
                    latency = int(1000 * (time.perf_counter() - started))
                    for item in converse.stream_closing_events(event.done, text_open, latency):
                        yield item

        return {"stream": stream()}

    # -- CountTokens ----------------------------------------------------------------------------------------

    async def count_tokens(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        model = self._chat_model(params["modelId"], "CountTokens")
        source = params["input"]
        if "converse" in source:
            request = converse.converse_request({**source["converse"], "modelId": model.model_id}, model)
        elif "invokeModel" in source:
            body = self._json_body({"body": source["invokeModel"]["body"]})
            request = _chat_format(model).parse(body, model)
        else:
            raise ValidationException("input must contain either converse or invokeModel.")
        generator = await self._generator(model)
        with backend_errors():
            count = await run_blocking(lambda: generator.count_tokens(request.messages, request.tools))
        return {"inputTokens": count}
