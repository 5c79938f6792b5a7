"""Invoking a model with a native InvokeModel body or a Converse request, in a worker thread.

InvokeModel, asynchronous invocations and batch inference jobs all run a body through here, so a body is
translated (`bedrock_bodies` formats) and sent down the inference path one way. Embedding bodies can be
run several at once: their texts go to the model in one call, which is what makes batch embedding fast.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from outcrop.backends.projection import resize
from outcrop.catalog import BedrockModel
from outcrop.inference import Caller, Inference
from outcrop.protocol.errors import ServiceError
from outcrop.services.bedrock_runtime import converse
from outcrop.services.bedrock_runtime.bodies import EmbeddingRequest, structured
from outcrop.services.bedrock_runtime.bodies.registry import CHAT_FORMATS, EMBEDDING_FORMATS
from outcrop.services.bedrock_runtime.guarded import InvokeGuarding, invoke_fields
from outcrop.services.bedrock_runtime.request_options import ConverseOptions
from outcrop.storage.objects import ObjectStore

EMBED_CHUNK = 32
"""Texts per embedding call when several bodies are embedded together (the ONNX embedders' sweet spot)."""


@dataclass(frozen=True)
class Invoked:
    """A model's answer to one body: the response body and the tokens it took."""

    body: dict[str, Any]
    input_tokens: int
    output_tokens: int


def invoke_body(
    inference: Inference,
    caller: Caller,
    model: BedrockModel,
    body: dict[str, Any],
    guarding: InvokeGuarding | None = None,
) -> Invoked:
    """The native response body of one native request body (InvokeModel's contract), screened by the
    guardrail the request names (its fields added to the body as AWS adds them)."""
    if model.kind == "embedding":
        answer = embed_bodies(inference, caller, model, [body])[0]
        if isinstance(answer, ServiceError):
            raise answer
        return answer
    chat_format = CHAT_FORMATS[model.format]
    request = chat_format.parse(body, model)
    guard = None
    if guarding is not None:
        request, guard = guarding.guard(request, caller)
    result = inference.generate_blocking(caller, model, request, guard)
    if request.json_schema is not None and not (guard is not None and guard.intervened):
        structured.check_reply(result, request.json_schema)
    response = chat_format.response(result, request, model)
    if guard is not None:
        response.update(invoke_fields(guard, chat_format, result, request, model))
    return Invoked(response, result.input_tokens, result.output_tokens)


def check_body(model: BedrockModel, body: dict[str, Any]) -> None:
    """Raise the ValidationException Bedrock gives a body this model cannot take, without running it
    (for work that runs later: the caller hears of a bad body now, not in a failure message)."""
    if model.kind == "embedding":
        EMBEDDING_FORMATS[model.format].parse(body, model)
    else:
        CHAT_FORMATS[model.format].parse(body, model)


def converse_body(
    inference: Inference,
    caller: Caller,
    model: BedrockModel,
    params: dict[str, Any],
    objects: ObjectStore | None = None,
) -> Invoked:
    """Converse's response body for a Converse request body (batch jobs of type Converse); documents and
    images given as S3 locations are read from `objects`."""
    started = time.perf_counter()
    options = ConverseOptions(params)
    request = converse.converse_request({**params, "modelId": model.model_id}, model, objects)
    result = inference.generate_blocking(caller, model, request)
    if request.json_schema is not None:
        structured.check_reply(result, request.json_schema)
    latency = int(1000 * (time.perf_counter() - started))
    extras = converse.output_extras(options, result, request, model)
    output = converse.converse_output(result, latency, extras)
    return Invoked(output, result.input_tokens, result.output_tokens)


def embed_bodies(
    inference: Inference, caller: Caller, model: BedrockModel, bodies: Sequence[dict[str, Any]]
) -> list[Invoked | ServiceError]:
    """Each embedding body's response, or the error its body alone deserves; the texts of every valid
    body go to the model together, `EMBED_CHUNK` at a time. A model failure raises for all of them."""
    embedding_format = EMBEDDING_FORMATS[model.format]
    parsed: list[EmbeddingRequest | ServiceError] = []
    for body in bodies:
        try:
            parsed.append(embedding_format.parse(body, model))
        except ServiceError as error:
            parsed.append(error)
    texts = [text for request in parsed if isinstance(request, EmbeddingRequest) for text in request.texts]
    vectors: list[list[float]] = []
    counts: list[int] = []
    for start in range(0, len(texts), EMBED_CHUNK):
        chunk = texts[start : start + EMBED_CHUNK]
        chunk_vectors, chunk_counts = inference.embed_blocking(caller, model, chunk)
        vectors += chunk_vectors
        counts += chunk_counts
    answers: list[Invoked | ServiceError] = []
    offset = 0
    for request in parsed:
        if isinstance(request, ServiceError):
            answers.append(request)
            continue
        end = offset + len(request.texts)
        mine = resize(vectors[offset:end], request.dimensions, normalize=request.normalize)
        own_counts = counts[offset:end]
        offset = end
        response = embedding_format.response(list(np.asarray(mine, np.float32)), own_counts, request)
        answers.append(Invoked(response, sum(own_counts), 0))
    return answers
