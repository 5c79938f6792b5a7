"""Amazon Bedrock Runtime: InvokeModel (native bodies), Converse, their streaming forms, CountTokens,
ApplyGuardrail, and asynchronous invocations (logic in `async_invokes`). A model call that names a guardrail
carries a Guard (`guarded`) down the inference path, which screens its input and output."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from outcrop.backends.base import GenerationRequest
from outcrop.catalog import BedrockModel
from outcrop.concurrency import run_blocking
from outcrop.config import Settings
from outcrop.guardrails.enforce import Guard, GuardrailEngine
from outcrop.inference import Inference
from outcrop.protocol.errors import ValidationException
from outcrop.protocol.serialize import EXTRA_HEADERS
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock_agent.prompt_render import prompt_converse
from outcrop.services.bedrock_agent.resource_store import AgentResourceStore
from outcrop.services.bedrock_runtime import converse
from outcrop.services.bedrock_runtime.async_invokes import AsyncInvokes
from outcrop.services.bedrock_runtime.attachments import Document
from outcrop.services.bedrock_runtime.bodies import ChatFormat, structured
from outcrop.services.bedrock_runtime.bodies.registry import CHAT_FORMATS
from outcrop.services.bedrock_runtime.document_citations import citation_deltas, cited_content, cites
from outcrop.services.bedrock_runtime.guarded import converse_guard, invoke_fields, invoke_guarding
from outcrop.services.bedrock_runtime.invoke import invoke_body
from outcrop.services.bedrock_runtime.request_options import ConverseOptions, InvokeOptions
from outcrop.storage.objects import ObjectStore

Event = tuple[str, dict[str, Any]]


def _chat_format(model: BedrockModel) -> ChatFormat:
    return CHAT_FORMATS[model.format]


class BedrockRuntime(Service):
    service_name = "bedrock-runtime"

    def __init__(
        self,
        *,
        inference: Inference,
        objects: ObjectStore,
        settings: Settings,
        data_path: Callable[..., Path],
        prompt_flows: AgentResourceStore,
        guardrails: GuardrailEngine,
    ) -> None:
        self.inference = inference
        self.guardrails = guardrails  # ApplyGuardrail, and the guardrails model calls name
        self.objects = objects  # where Converse reads documents and images given as S3 locations
        self.prompt_flows = prompt_flows  # managed prompts, whose ARNs Converse takes as modelId
        self.async_invokes = AsyncInvokes(  # the logic of the *AsyncInvoke operations
            inference=inference,
            objects=objects,
            root=data_path("bedrock-runtime"),
            workers=settings.llm_parallel,
        )

    def close(self) -> None:
        self.async_invokes.close()

    async def _converse_request(
        self, params: dict[str, Any], model: BedrockModel
    ) -> tuple[GenerationRequest, list[Document]]:
        """Off the event loop: documents are parsed (PDF, DOCX...) and S3 objects read while translating."""
        return await run_blocking(lambda: converse.converse_parts(params, model, self.objects))

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
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
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
        model = self.inference.resolve(params["modelId"])
        body = self._json_body(params)
        options = InvokeOptions(params, accept=params.get("accept"))
        guarding = invoke_guarding(self.guardrails, params, body, model, streaming=False)
        invoked = await run_blocking(lambda: invoke_body(self.inference, ctx.caller, model, body, guarding))
        latency = int(1000 * (time.perf_counter() - started))
        return {
            "body": orjson.dumps(invoked.body, option=orjson.OPT_SERIALIZE_NUMPY),
            "contentType": "application/json",
            **options.served(),
            EXTRA_HEADERS: {
                "x-amzn-bedrock-input-token-count": str(invoked.input_tokens),
                "x-amzn-bedrock-output-token-count": str(invoked.output_tokens),
                "x-amzn-bedrock-invocation-latency": str(latency),
            },
        }

    async def invoke_model_with_response_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        model = self.inference.chat_model(params["modelId"], "InvokeModelWithResponseStream")
        body = self._json_body(params)
        options = InvokeOptions(params, accept=params.get("accept"))
        guarding = invoke_guarding(self.guardrails, params, body, model, streaming=True)
        if not model.streaming:
            raise ValidationException("The model is unsupported for streaming.")
        chat_format = _chat_format(model)
        request = chat_format.parse(body, model)
        guard = None
        if guarding is not None:
            request, guard = await run_blocking(lambda: guarding.guard(request, ctx.caller))
        input_tokens = await self.inference.count_tokens(model, request)
        encoder = chat_format.streamer(request, model, input_tokens)
        events = await self.inference.stream(ctx.caller, model, request, guard)

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
                    if guard is not None:
                        fields = invoke_fields(guard, chat_format, event.done, request, model)
                        final[-1] = {**final[-1], **fields}
                    pending += final
                for chunk in pending:
                    first_byte = first_byte or time.perf_counter()
                    yield "chunk", {"bytes": orjson.dumps(chunk)}
                pending = []

        return {"body": chunks(), "contentType": "application/json", **options.served()}

    # -- Converse -------------------------------------------------------------------------------------------

    async def converse(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        params = prompt_converse(params, self.prompt_flows)  # a prompt ARN: its variant's request
        model = self.inference.chat_model(params["modelId"], "Converse")
        options = ConverseOptions(params)
        request, documents = await self._converse_request(params, model)
        guard = await self._converse_guard(ctx, params, streaming=False)
        result = await self.inference.generate(ctx.caller, model, request, guard)
        if request.json_schema is not None and not (guard is not None and guard.intervened):
            structured.check_reply(result, request.json_schema)
        extras = converse.output_extras(options, result, request, model)
        output = converse.converse_output(result, int(1000 * (time.perf_counter() - started)), extras)
        if guard is not None:
            trace = guard.converse_trace()
            output.update({"trace": trace} if trace else {})
            if guard.intervened:
                output["stopReason"] = "guardrail_intervened"
                return output
        if cites(documents) and result.text:
            output["output"]["message"]["content"][:1] = cited_content(result.text, documents)
        return output

    async def _converse_guard(
        self, ctx: RequestContext, params: dict[str, Any], *, streaming: bool
    ) -> Guard | None:
        return await run_blocking(
            lambda: converse_guard(self.guardrails, params, ctx.caller, streaming=streaming)
        )

    async def converse_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        params = prompt_converse(params, self.prompt_flows)  # a prompt ARN: its variant's request
        model = self.inference.chat_model(params["modelId"], "ConverseStream")
        options = ConverseOptions(params)
        request, documents = await self._converse_request(params, model)
        guard = await self._converse_guard(ctx, params, streaming=True)
        events = await self.inference.stream(ctx.caller, model, request, guard)

        async def stream() -> AsyncIterator[Event]:
            yield "messageStart", {"role": "assistant"}
            text_open = False
            async for event in events:
                if event.text:
                    text_open = True
                    yield "contentBlockDelta", {"delta": {"text": event.text}, "contentBlockIndex": 0}
                if event.done is not None:
                    latency = int(1000 * (time.perf_counter() - started))
                    stop, trace = None, None
                    if guard is not None:
                        stop = "guardrail_intervened" if guard.intervened else None
                        trace = guard.converse_trace()
                    cited = text_open and not (guard is not None and guard.intervened)
                    for delta in citation_deltas(event.done.text, documents) if cited else ():
                        yield "contentBlockDelta", {"delta": delta, "contentBlockIndex": 0}
                    closing = converse.stream_closing_events(
                        event.done,
                        text_open,
                        latency,
                        stop_reason=stop,
                        trace=trace,
                        fields=converse.response_fields(options, event.done, request, model),
                        served=options.served(),
                    )
                    for item in closing:
                        yield item

        return {"stream": stream()}

    # -- CountTokens ----------------------------------------------------------------------------------------

    async def count_tokens(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        model = self.inference.chat_model(params["modelId"], "CountTokens")
        source = params["input"]
        if "converse" in source:
            request, _ = await self._converse_request(
                {**source["converse"], "modelId": model.model_id}, model
            )
        elif "invokeModel" in source:
            body = self._json_body({"body": source["invokeModel"]["body"]})
            request = _chat_format(model).parse(body, model)
        else:
            raise ValidationException("input must contain either converse or invokeModel.")
        return {"inputTokens": await self.inference.count_tokens(model, request)}

    # -- ApplyGuardrail -------------------------------------------------------------------------------------

    async def apply_guardrail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The guardrail's evaluation of the content alone (no model): the store and detectors decide."""
        return await run_blocking(lambda: self.guardrails.apply(params, ctx.caller))

    # -- asynchronous invocations (logic in async_invokes) ---------------------------------------------------

    def start_async_invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.async_invokes.start(ctx, params)

    def get_async_invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.async_invokes.get(ctx, params)

    def list_async_invokes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.async_invokes.list(ctx, params)
