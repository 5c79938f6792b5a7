"""Agents for Amazon Bedrock Runtime, the Knowledge Bases data plane: Retrieve and RetrieveAndGenerate.

Searches the stores that bedrock-agent's ingestion fills (rag/retrieve.py) and answers with the catalog's chat
models (rag/generate.py); conversation turns of a `sessionId` are kept in the knowledge-base store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import GenerationEvent, GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.concurrency import run_blocking
from outcrop.inference import Caller, Inference, ModelStreamErrorException
from outcrop.lambdas.registry import FunctionRegistry
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
from outcrop.rag.kbstore import KnowledgeBase, KnowledgeBaseStore
from outcrop.rag.rerank import LOCAL_RERANKER, RerankError, rerank, rerank_hits, reranking_model, source_text
from outcrop.rag.retrieve import (
    RetrievalError,
    knowledge_base_embedder,
    retrieval_result,
    search,
    search_settings,
)
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock_agent.agents_store import AgentStore
from outcrop.services.bedrock_agent_runtime.agent_invoke import AgentInvokeOperations
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSessions
from outcrop.storage.objects import ObjectStore
from outcrop.storage.vectors import Hit

MAX_SESSION_TURNS = 20


class BedrockAgentRuntime(AgentInvokeOperations, Service):
    service_name = "bedrock-agent-runtime"

    def __init__(
        self,
        *,
        inference: Inference,
        knowledge_bases: KnowledgeBaseStore,
        objects: ObjectStore,
        lambda_functions: FunctionRegistry,
        agents: AgentStore,
    ) -> None:
        self.inference = inference
        self.knowledge_bases = knowledge_bases
        self.objects = objects
        self.lambda_functions = lambda_functions
        self.agents = agents  # Bedrock Agents InvokeAgent runs (agent_invoke.py), with their sessions
        self.agent_sessions = AgentSessions()

    def _kb(self, kb_id: str) -> KnowledgeBase:
        kb = self.knowledge_bases.knowledge_base(kb_id)
        if kb is None:
            raise ResourceNotFoundException(f"Knowledge base with id {kb_id} does not exist")
        return kb

    def _search(
        self, caller: Caller, kb_id: str, query: str, configuration: dict[str, Any] | None
    ) -> list[Hit]:
        kb = self._kb(kb_id)
        try:
            settings = search_settings(configuration)
            embedder = knowledge_base_embedder(self.inference, caller, kb)
            hits = search(self.knowledge_bases.vectors(kb), embedder, query, settings)
            if settings.rerank is None:
                return hits
            reranker = self.inference.reranker(caller, LOCAL_RERANKER)
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
        ranked = rerank(
            self.inference.reranker(ctx.caller, LOCAL_RERANKER), query["textQuery"]["text"], texts
        )
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
        hits = self._search(
            ctx.caller, params["knowledgeBaseId"], query["text"], params.get("retrievalConfiguration")
        )
        return {"retrievalResults": [retrieval_result(hit) for hit in hits]}

    # -- RetrieveAndGenerate ---------------------------------------------------------------------------------

    def _chat_model(self, model_arn: str) -> BedrockModel:
        model = self.inference.find(model_arn)
        if model is None or model.kind != "chat":
            raise ValidationException(f"The model {model_arn} is not a text generation model of this server.")
        return model

    def _prepare(self, caller: Caller, params: dict[str, Any]) -> Prepared:
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
            found = self.knowledge_bases.session_turns(session_id)
            if found is None:
                raise ResourceNotFoundException(f"Session with Id {session_id} does not exist.")
            history = found
        question = params["input"]["text"]
        if kind == "EXTERNAL_SOURCES":
            try:
                name, data, content_type = source_document(kb_config["sources"][0], self.objects.read_object)
                hits = passages(name, data, content_type, question)
            except ExternalSourceError as error:
                raise ValidationException(str(error)) from error
        else:
            hits = self._search(
                caller, kb_config["knowledgeBaseId"], question, kb_config.get("retrievalConfiguration")
            )
        generation = kb_config.get("generationConfiguration")
        try:
            request = build_request(question, hits, history, generation)
        except TemplateError as error:
            raise ValidationException(str(error)) from error
        plain = build_request(question, hits, history, generation, markers=False)
        session = session_id or str(uuid.uuid4())
        return Prepared(session, history, question, hits, model, request, plain)

    def _finish(self, prepared: Prepared, raw: str) -> tuple[str, list[dict[str, Any]]]:
        """Attribute the answer and remember the turn; returns the text and citations."""
        text, runs = attribute(raw, prepared.hits)
        turns = [*prepared.history, {"user": prepared.question, "assistant": text}]
        self.knowledge_bases.save_session(prepared.session_id, turns[-MAX_SESSION_TURNS:])
        return text, citations(runs, prepared.hits)

    def retrieve_and_generate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prepared = self._prepare(ctx.caller, params)
        result = self.inference.generate_blocking(ctx.caller, prepared.model, prepared.request)
        if not says_something(result.text):  # markers alone: asked for again without them
            result = self.inference.generate_blocking(ctx.caller, prepared.model, prepared.plain_request)
        text, cited = self._finish(prepared, result.text)
        return {"sessionId": prepared.session_id, "output": {"text": text}, "citations": cited}

    async def retrieve_and_generate_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Text as the model writes it (markers stripped), then one citation event per cited run."""
        prepared = await run_blocking(lambda: self._prepare(ctx.caller, params))
        # a full queue answers 429 here, before the stream starts
        stream = await self.inference.stream(ctx.caller, prepared.model, prepared.request)

        async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            relay = _Relay()
            async for text in relay.texts(stream):
                yield "output", {"text": text}
            if relay.result is not None and not relay.sent and not says_something(relay.raw):
                relay.raw, relay.result = "", None  # markers alone: ask again without them
                again = await self.inference.stream(ctx.caller, prepared.model, prepared.plain_request)
                async for text in relay.texts(again):
                    yield "output", {"text": text}
            raw, sent = relay.raw, relay.sent
            if relay.result is None:
                raise ModelStreamErrorException("The model ended without a result.")
            text, cited = await run_blocking(lambda: self._finish(prepared, raw))
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


@dataclass(frozen=True)
class Prepared:
    """A RetrieveAndGenerate request ready for the model."""

    session_id: str
    history: list[dict[str, str]]
    question: str
    hits: list[Hit]
    model: BedrockModel
    request: GenerationRequest
    plain_request: GenerationRequest  # the same without source markers, for a markers-only answer
