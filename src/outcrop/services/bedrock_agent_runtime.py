"""Agents for Amazon Bedrock Runtime, the Knowledge Bases data plane: Retrieve and RetrieveAndGenerate.

Searches the stores that bedrock-agent's ingestion fills (rag/retrieve.py) and answers with the catalog's chat
models (rag/generate.py); conversation turns of a `sessionId` are kept in the knowledge-base store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import (
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    TextGenerator,
    generate,
)
from outcrop.catalog import BedrockModel
from outcrop.concurrency import iterate_in_thread, run_blocking
from outcrop.protocol.errors import ResourceNotFoundException, ValidationException
from outcrop.rag.external import ExternalSourceError, passages, source_document
from outcrop.rag.generate import (
    TemplateError,
    attribute,
    build_request,
    citations,
    says_something,
    streamable,
)
from outcrop.rag.kbstore import KnowledgeBase
from outcrop.rag.rerank import LOCAL_RERANKER, RerankError, rerank, rerank_hits, reranking_model, source_text
from outcrop.rag.retrieve import RetrievalError, retrieval_result, search, search_settings
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock_agent import embedder_for
from outcrop.services.bedrock_runtime import ModelStreamErrorException, backend_errors
from outcrop.storage.vectors import Hit

MAX_SESSION_TURNS = 20


class BedrockAgentRuntime(Service):
    service_name = "bedrock-agent-runtime"

    def _kb(self, kb_id: str) -> KnowledgeBase:
        kb = self.app.knowledge_bases.knowledge_base(kb_id)
        if kb is None:
            raise ResourceNotFoundException(f"Knowledge base with id {kb_id} does not exist")
        return kb

    def _search(self, kb_id: str, query: str, configuration: dict[str, Any] | None) -> list[Hit]:
        kb = self._kb(kb_id)
        try:
            settings = search_settings(configuration)
            embedder = embedder_for(self, kb)
            with backend_errors():
                hits = search(self.app.knowledge_bases.vectors(kb), embedder, query, settings)
                if settings.rerank is None:
                    return hits
                reranker = self.app.models.embedder(LOCAL_RERANKER)
                return rerank_hits(
                    reranker, query, hits, settings.rerank.number_of_results, settings.rerank.metadata
                )
        except RetrievalError as error:
            raise ValidationException(str(error)) from error

    def rerank(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Bedrock's Rerank: the inline sources ordered by relevance to the one text query."""
        if params.get("nextToken"):
            raise ValidationException("The nextToken is not valid: Rerank returns every result at once.")
        configuration = params["rerankingConfiguration"]
        if configuration["type"] != "BEDROCK_RERANKING_MODEL":
            raise ValidationException("rerankingConfiguration.type must be BEDROCK_RERANKING_MODEL")
        bedrock = configuration["bedrockRerankingConfiguration"]
        query = params["queries"][0]
        if query.get("type") != "TEXT" or not query.get("textQuery", {}).get("text"):
            raise ValidationException("Only TEXT queries (textQuery.text) are supported.")
        try:
            reranking_model(bedrock["modelConfiguration"]["modelArn"])
            texts = [source_text(source) for source in params["sources"]]
        except RerankError as error:
            raise ValidationException(str(error)) from error
        count = bedrock.get("numberOfResults") or len(texts)
        with backend_errors():
            ranked = rerank(self.app.models.embedder(LOCAL_RERANKER), query["textQuery"]["text"], texts)
        return {
            "results": [
                {
                    "index": index,
                    "relevanceScore": score,
                    "document": params["sources"][index]["inlineDocumentSource"],
                }
                for index, score in ranked[:count]
            ]
        }

    def retrieve(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        query = params["retrievalQuery"]
        if query.get("type", "TEXT") != "TEXT" or "text" not in query:
            raise ValidationException("Only text queries (retrievalQuery.text) are supported.")
        if params.get("nextToken"):
            raise ValidationException("The nextToken is not valid: Retrieve returns every result at once.")
        hits = self._search(params["knowledgeBaseId"], query["text"], params.get("retrievalConfiguration"))
        return {"retrievalResults": [retrieval_result(hit) for hit in hits]}

    # -- RetrieveAndGenerate ---------------------------------------------------------------------------------

    def _chat_model(self, model_arn: str) -> BedrockModel:
        model = self.app.catalog.find(model_arn)
        if model is None or model.kind != "chat":
            raise ValidationException(f"The model {model_arn} is not a text generation model of this server.")
        return model

    def _prepare(self, params: dict[str, Any]) -> Prepared:
        """Validate, load the session, retrieve and build the chat request."""
        configuration = params["retrieveAndGenerateConfiguration"]
        kind = configuration["type"]
        if kind == "EXTERNAL_SOURCES" and "externalSourcesConfiguration" in configuration:
            kb_config = configuration["externalSourcesConfiguration"]
        elif kind == "KNOWLEDGE_BASE" and "knowledgeBaseConfiguration" in configuration:
            kb_config = configuration["knowledgeBaseConfiguration"]
        else:
            raise ValidationException(
                "KNOWLEDGE_BASE needs a knowledgeBaseConfiguration and EXTERNAL_SOURCES an "
                f"externalSourcesConfiguration (type {kind})."
            )
        model = self._chat_model(kb_config["modelArn"])
        session_id = params.get("sessionId")
        history: list[dict[str, str]] = []
        if session_id:
            found = self.app.knowledge_bases.session_turns(session_id)
            if found is None:
                raise ResourceNotFoundException(f"Session with Id {session_id} does not exist.")
            history = found
        question = params["input"]["text"]
        if kind == "EXTERNAL_SOURCES":
            try:
                name, data, content_type = source_document(
                    kb_config["sources"][0], self.app.objects.read_object
                )
                hits = passages(name, data, content_type, question)
            except ExternalSourceError as error:
                raise ValidationException(str(error)) from error
        else:
            hits = self._search(
                kb_config["knowledgeBaseId"], question, kb_config.get("retrievalConfiguration")
            )
        generation = kb_config.get("generationConfiguration")
        try:
            request = build_request(question, hits, history, generation)
        except TemplateError as error:
            raise ValidationException(str(error)) from error
        plain = build_request(question, hits, history, generation, markers=False)
        with backend_errors():
            generator = self.app.models.generator(model.local)
        session = session_id or str(uuid.uuid4())
        return Prepared(session, history, question, hits, model, generator, request, plain)

    def _finish(
        self, prepared: Prepared, raw: str, result: GenerationResult
    ) -> tuple[str, list[dict[str, Any]]]:
        """Attribute the answer, count the tokens and remember the turn; returns the text and citations."""
        self.app.usage.record(prepared.model.model_id, result.input_tokens, result.output_tokens)
        text, runs = attribute(raw, prepared.hits)
        turns = [*prepared.history, {"user": prepared.question, "assistant": text}]
        self.app.knowledge_bases.save_session(prepared.session_id, turns[-MAX_SESSION_TURNS:])
        return text, citations(runs, prepared.hits)

    def _discard(self, prepared: Prepared, result: GenerationResult) -> None:
        """Count the tokens of an answer that said nothing but markers; it is asked for again without them."""
        self.app.usage.record(prepared.model.model_id, result.input_tokens, result.output_tokens)

    def retrieve_and_generate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prepared = self._prepare(params)
        with backend_errors():
            result = generate(prepared.generator, prepared.request, ctx.cancel)
            if not says_something(result.text):
                self._discard(prepared, result)
                result = generate(prepared.generator, prepared.plain_request, ctx.cancel)
        text, cited = self._finish(prepared, result.text, result)
        return {"sessionId": prepared.session_id, "output": {"text": text}, "citations": cited}

    async def retrieve_and_generate_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Text as the model writes it (markers stripped), then one citation event per cited run."""
        prepared = await run_blocking(lambda: self._prepare(params))
        stream = iterate_in_thread(
            lambda: prepared.generator.stream(prepared.request, ctx.cancel), ctx.cancel
        )
        with backend_errors():  # a full queue answers 429 here, before the stream starts
            first = await anext(stream, None)

        async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            relay = _Relay()
            pending = [first] if first is not None else []
            with backend_errors(streaming=True):
                async for text in relay.texts(_chain(pending, stream)):
                    yield "output", {"text": text}
                if relay.result is not None and not relay.sent and not says_something(relay.raw):
                    self._discard(prepared, relay.result)  # markers alone: ask again without them
                    relay.raw, relay.result = "", None
                    again = iterate_in_thread(
                        lambda: prepared.generator.stream(prepared.plain_request, ctx.cancel), ctx.cancel
                    )
                    async for text in relay.texts(again):
                        yield "output", {"text": text}
            result, raw, sent = relay.result, relay.raw, relay.sent
            if result is None:
                raise ModelStreamErrorException("The model ended without a result.")
            done = result
            text, cited = await run_blocking(lambda: self._finish(prepared, raw, done))
            if text.startswith(sent) and len(text) > len(sent):
                yield "output", {"text": text[len(sent) :]}
            for citation in cited:
                yield "citation", {"citation": citation, **citation}

        return {"sessionId": prepared.session_id, "stream": events()}


@dataclass
class _Relay:
    """One streamed answer: the raw model text, what of it was sent (markers stripped), and the result."""

    raw: str = ""
    sent: str = ""
    result: GenerationResult | None = None

    async def texts(self, events: AsyncIterator[GenerationEvent]) -> AsyncIterator[str]:
        """The new text to send after each event, once later tokens can no longer change it."""
        async for event in events:
            self.raw += event.text
            ready = streamable(self.raw)
            if len(ready) > len(self.sent) and ready.startswith(self.sent):
                yield ready[len(self.sent) :]
                self.sent = ready
            if event.done is not None:
                self.result = event.done


async def _chain(
    first: list[GenerationEvent], rest: AsyncIterator[GenerationEvent]
) -> AsyncIterator[GenerationEvent]:
    for event in first:
        yield event
    async for event in rest:
        yield event


@dataclass(frozen=True)
class Prepared:
    """A RetrieveAndGenerate request ready for the model."""

    session_id: str
    history: list[dict[str, str]]
    question: str
    hits: list[Hit]
    model: BedrockModel
    generator: TextGenerator
    request: GenerationRequest
    plain_request: GenerationRequest  # the same without source markers, for a markers-only answer
