"""An OpenAI-compatible API (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) on the same catalog.

A model is named by its Bedrock id (`anthropic.claude-3-haiku-20240307-v1:0`) or by a local model's name
(`qwen2.5-coder-0.5b`). Generation and embedding go through the same registry, token meter and error
mapping as Bedrock Runtime (the inference path), so the official `openai` client and boto3 see the same
models. It is a second wire protocol beside AWS's, authenticated by the same Authenticator: with
`auth = "keys"` or `"sigv4"`, callers must send `Authorization: Bearer <one of api_keys>`. A chat request
may name a Bedrock guardrail with the `X-Amzn-Bedrock-GuardrailIdentifier` and `-GuardrailVersion` headers:
the messages are screened before the model runs and the reply after (finish_reason `content_filter` and the
blocked message when it intervenes; the `x-amzn-bedrock-guardrail-action` header says INTERVENED or NONE).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from outcrop.app import App
from outcrop.backends.base import GenerationEvent, GenerationResult
from outcrop.backends.projection import resize
from outcrop.catalog import BedrockModel
from outcrop.concurrency import run_blocking
from outcrop.guardrails.enforce import Guard, GuardrailEngine, resolve
from outcrop.guardrails.types import GuardText
from outcrop.inference import Caller, Inference
from outcrop.protocol.auth import Authenticator, identify
from outcrop.protocol.errors import ServiceError
from outcrop.protocol.origin import OriginPolicy
from outcrop.protocol.parse import HttpRequest, holds_lone_surrogate
from outcrop.protocol.serialize import HttpResponse
from outcrop.services.base import Service
from outcrop.web.openai_chat import ChatCall, completion, parse_chat, sse_chunks
from outcrop.web.openai_errors import OpenAIError, from_service_error

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]

# Browser apps may call the API from the console's own origin and the configured allowed_origins only
# (protocol/origin.py): in dev mode any key passes, so a page elsewhere must not drive the models.
_CORS_METHODS = "GET, POST, OPTIONS"
_CORS_EXPOSED = "x-amzn-bedrock-guardrail-action, openai-processing-ms"
GUARDRAIL_HEADER = "X-Amzn-Bedrock-GuardrailIdentifier"
GUARDRAIL_VERSION_HEADER = "X-Amzn-Bedrock-GuardrailVersion"
GUARDRAIL_ACTION = "x-amzn-bedrock-guardrail-action"  # INTERVENED or NONE, on a guarded reply


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


def _body(request: HttpRequest) -> dict[str, Any]:
    raw = request.body or b""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OpenAIError("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise OpenAIError("The request body must be a JSON object.")
    # Only a \uD8xx-\uDFxx escape can smuggle a lone surrogate in; look closer only then.
    if holds_lone_surrogate(raw, body):
        raise OpenAIError("The request body holds a string with an unpaired UTF-16 surrogate escape.")
    return body


class OpenAIApi:
    def __init__(
        self,
        inference: Inference,
        authenticator: Authenticator,
        region: str,
        guardrails: GuardrailEngine,
        origins: OriginPolicy | None = None,
    ) -> None:
        self.inference = inference
        self.origins = origins or OriginPolicy()
        self.guardrails = guardrails  # Bedrock guardrails, named by the X-Amzn-Bedrock-Guardrail* headers
        self.catalog = inference.catalog
        self._authenticator = authenticator
        self._region = region

    # -- models ---------------------------------------------------------------------------------------------

    def _local_entry(self, name: str) -> BedrockModel | None:
        table = self.catalog.local.get(name)
        if table is None:
            return None
        kind = str(table.get("kind", "chat"))
        return BedrockModel(
            model_id=name,
            name=name,
            provider="Outcrop",
            format="local",
            local=name,
            kind=kind,
            context_tokens=int(table.get("n_ctx", 4096)),
        )

    def resolve(self, body: dict[str, Any], kind: str) -> tuple[BedrockModel, str]:
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise OpenAIError("You must provide a model parameter.", param="model")
        model = self.inference.find(name) or self._local_entry(name)
        if model is None:
            raise OpenAIError(
                f"The model `{name}` does not exist. GET /v1/models lists the models served here.",
                404,
                param="model",
                code="model_not_found",
            )
        if model.kind != kind:
            raise OpenAIError(
                f"The model `{name}` is a {model.kind} model and cannot serve this endpoint.",
                param="model",
                code="model_not_supported",
            )
        return model, name

    def model_list(self) -> list[dict[str, Any]]:
        entries = [
            {"id": model.model_id, "object": "model", "created": 0, "owned_by": model.provider}
            for model in self.catalog.bedrock.values()
        ]
        entries += [
            {"id": name, "object": "model", "created": 0, "owned_by": "outcrop"}
            for name, table in self.catalog.local.items()
            if table.get("kind", "chat") in ("chat", "embedding")
        ]
        return entries

    # -- chat -----------------------------------------------------------------------------------------------

    async def chat(self, request: HttpRequest) -> HttpResponse:
        body = _body(request)
        model, name = self.resolve(body, "chat")
        try:
            call = parse_chat(body, model, name)
        except ServiceError as error:
            raise from_service_error(error) from error
        caller = Caller(identify(request, self._region).access_key, threading.Event())
        guard = await self._guard(request, caller, call)
        events = await self._open(caller, model, call, guard)
        if call.stream:
            headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
            return HttpResponse(200, headers, sse_chunks(call, events, guard))
        result: GenerationResult | None = None
        async for event in events:
            result = event.done or result
        if result is None:
            raise OpenAIError("The model ended without a result.", 500)
        response = _json(200, completion(call, result, guard))
        if guard is not None:
            response.headers[GUARDRAIL_ACTION] = guard.action
        return response

    async def _guard(self, request: HttpRequest, caller: Caller, call: ChatCall) -> Guard | None:
        """The guardrail the request names in its headers (a Bedrock guardrail, screening the messages'
        text on the way in and the reply on the way out), or None; an unknown one is a 404."""
        identifier = request.header(GUARDRAIL_HEADER)
        version = request.header(GUARDRAIL_VERSION_HEADER)
        if not identifier and not version:
            return None
        try:
            guardrail = await run_blocking(lambda: resolve(self.guardrails, identifier, version))
        except ServiceError as error:
            raised = from_service_error(error)
            if error.status == 404:
                raised.code = "guardrail_not_found"
            raised.param = GUARDRAIL_HEADER
            raise raised from error
        inputs = [GuardText(m.content) for m in call.request.messages if m.role != "tool" and m.content]
        return Guard(self.guardrails, guardrail, inputs, caller, mode="sync" if call.stream else "whole")

    async def _open(
        self, caller: Caller, model: BedrockModel, call: ChatCall, guard: Guard | None = None
    ) -> AsyncIterator[GenerationEvent]:
        """Start generating and wait for the first event, so a full queue is a 429 before any byte is sent."""
        try:
            stream = await self.inference.stream(caller, model, call.request, guard)
        except ServiceError as error:
            raise from_service_error(error) from error

        async def rest() -> AsyncIterator[GenerationEvent]:
            try:
                async for event in stream:
                    yield event
            except ServiceError as error:
                raise from_service_error(error) from error
            finally:
                caller.cancel.set()
                await stream.aclose()

        return rest()

    # -- embeddings -----------------------------------------------------------------------------------------

    async def embeddings(self, request: HttpRequest) -> HttpResponse:
        body = _body(request)
        model, name = self.resolve(body, "embedding")
        texts = _embedding_inputs(body.get("input"))
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise OpenAIError("encoding_format must be 'float' or 'base64'.", param="encoding_format")
        caller = Caller(identify(request, self._region).access_key)
        try:
            native = await run_blocking(lambda: self.inference.embedder(caller, model).dimensions)
        except ServiceError as error:
            raise from_service_error(error) from error
        size = model.dimensions or native
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= size:
                raise OpenAIError(
                    f"dimensions must be an integer from 1 to {size} for {name}.", param="dimensions"
                )
            size = dimensions
        try:
            vectors, counts = await self.inference.embed(caller, model, texts)
        except ServiceError as error:
            raise from_service_error(error) from error
        matrix = np.asarray(await run_blocking(lambda: resize(vectors, size)), dtype=np.float32)
        tokens = sum(counts)
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": (
                    base64.b64encode(row.astype("<f4").tobytes()).decode()
                    if encoding == "base64"
                    else row.tolist()
                ),
            }
            for index, row in enumerate(matrix)
        ]
        return _json(
            200,
            {
                "object": "list",
                "data": data,
                "model": name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # -- routing --------------------------------------------------------------------------------------------

    def _authorized(self, request: HttpRequest) -> bool:
        """The server's own Authenticator decides, as for AWS requests (bearer keys are the API keys)."""
        try:
            self._authenticator.authenticate(request, identify(request, self._region))
        except ServiceError:
            return False
        return True

    async def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        if request.method == "OPTIONS":  # a browser app's CORS preflight
            return self._preflight(request)
        try:
            if self.origins.cross_site(request):
                raise OpenAIError(
                    f"Requests from web pages on {request.header('origin') or 'another site'} are refused: "
                    "only the console's own origin and the allowed_origins setting may call this API.",
                    403,
                    code="origin_not_allowed",
                )
            if not self._authorized(request):
                raise OpenAIError(
                    "Incorrect or missing API key: send `Authorization: Bearer <key>` with one of the "
                    "server's api_keys.",
                    401,
                    code="invalid_api_key",
                )
            response = await self._dispatch(request)
        except OpenAIError as error:
            response = error.response()
        response.headers.setdefault("openai-processing-ms", str(int(1000 * (time.perf_counter() - started))))
        cors = self.origins.cors_headers(request)
        if "access-control-allow-origin" in cors:
            cors["access-control-expose-headers"] = _CORS_EXPOSED
        response.headers.update(cors)
        return response

    def _preflight(self, request: HttpRequest) -> HttpResponse:
        headers = self.origins.preflight_headers(request, _CORS_METHODS)
        if headers is None:
            response = OpenAIError(
                f"The origin {request.header('origin') or '(none)'} may not call this API from a browser: "
                "only the console's own origin and the allowed_origins setting may.",
                403,
                code="origin_not_allowed",
            ).response()
            response.headers["vary"] = "Origin"
            return response
        return HttpResponse(204, headers)

    async def _dispatch(self, request: HttpRequest) -> HttpResponse:
        path = request.raw_path.split("?", 1)[0].rstrip("/")
        routes: dict[str, tuple[str, Handler]] = {
            "/v1/chat/completions": ("POST", self.chat),
            "/v1/embeddings": ("POST", self.embeddings),
            "/v1/models": ("GET", self.models),
        }
        if path in routes:
            method, handler = routes[path]
            if request.method != method:
                raise OpenAIError(f"{path} accepts {method}, not {request.method}.", 405)
            return await handler(request)
        if path.startswith("/v1/models/") and request.method == "GET":
            return await self.model(path.removeprefix("/v1/models/"))
        raise OpenAIError(f"Unknown request URL: {request.method} {path}.", 404, code="unknown_url")

    async def models(self, request: HttpRequest) -> HttpResponse:
        return _json(200, {"object": "list", "data": self.model_list()})

    async def model(self, name: str) -> HttpResponse:
        for entry in self.model_list():
            if entry["id"] == name:
                return _json(200, entry)
        raise OpenAIError(f"The model `{name}` does not exist.", 404, param="model", code="model_not_found")


def _embedding_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise OpenAIError("input must be a non-empty string or a non-empty list of strings.", param="input")
    if not all(isinstance(item, str) for item in value):
        raise OpenAIError(
            "input must be text here: token-id arrays are not accepted (the models tokenize themselves).",
            param="input",
        )
    if any(not item for item in value):
        raise OpenAIError("input must not contain empty strings.", param="input")
    if len(value) > 2048:
        raise OpenAIError("input may hold at most 2048 items.", param="input")
    return list(value)


def mount(app: App, services: Mapping[str, Service]) -> dict[str, Handler]:
    origins = OriginPolicy.from_settings(app.settings)
    api = OpenAIApi(app.inference, app.authenticator, app.settings.region, app.guardrails, origins)
    return {"/v1/": api.handle, "/v1": api.handle}
