"""Agents for Amazon Bedrock Runtime, the Knowledge Bases data plane: Retrieve and RetrieveAndGenerate.

Searches the stores that bedrock-agent's ingestion fills (rag/retrieve.py) and answers with the catalog's chat
models (rag/generate.py); conversation turns of a `sessionId` are kept in the knowledge-base store.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from outcrop.backends.base import GenerationRequest
from outcrop.backends.grounding import EvidenceDetector, GroundingDetector
from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BedrockModel
from outcrop.concurrency import run_blocking
from outcrop.guardrails.enforce import Guard, GuardrailEngine, Mode, resolve
from outcrop.guardrails.types import GuardText
from outcrop.inference import Caller, Inference
from outcrop.kms.keys import Keyring
from outcrop.lambdas.registry import FunctionRegistry
from outcrop.protocol.errors import ResourceNotFoundException, ValidationException
from outcrop.rag.external import ExternalSourceError, passages, source_document
from outcrop.rag.generate import (
    TemplateError,
    build_request,
    citations,
    extractive_request,
    says_something,
    sentences,
)
from outcrop.rag.grounding import AnswerCheck
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
from outcrop.services.bedrock_agent.resource_store import AgentResourceStore
from outcrop.services.bedrock_agent_runtime.agent_invoke import AgentInvokeOperations
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSessions
from outcrop.services.bedrock_agent_runtime.flows import FlowInvocation
from outcrop.services.bedrock_agent_runtime.rag_sessions import RagSessions
from outcrop.services.bedrock_agent_runtime.session_ops import SessionOperations
from outcrop.services.bedrock_agent_runtime.session_store import SessionStore
from outcrop.services.bedrock_runtime.request_options import additional_request_fields
from outcrop.storage.objects import ObjectStore
from outcrop.storage.vectors import Hit

MAX_SESSION_TURNS = 20
# the catalog's grounding detector (words only when a catalog lacks it)
GROUNDING_MODEL = "evidence-grounding"


class BedrockAgentRuntime(AgentInvokeOperations, FlowInvocation, SessionOperations, Service):
    service_name = "bedrock-agent-runtime"

    def __init__(
        self,
        *,
        inference: Inference,
        knowledge_bases: KnowledgeBaseStore,
        objects: ObjectStore,
        models: ModelRegistry,
        prompt_flows: AgentResourceStore,
        lambda_functions: FunctionRegistry,
        agents: AgentStore,
        guardrails: GuardrailEngine,
        kms: Keyring,
        bedrock_sessions: SessionStore,
    ) -> None:
        self.inference = inference
        self.guardrails = guardrails  # RetrieveAndGenerate's and agents' guardrails
        self.knowledge_bases = knowledge_bases
        self.objects = objects
        self.models = models
        self.prompt_flows = prompt_flows  # flows InvokeFlow runs (flows.py), their Lambda nodes' functions
        self.lambda_functions = lambda_functions
        self.agents = agents  # Bedrock Agents InvokeAgent runs (agent_invoke.py), with their sessions
        self.agent_sessions = AgentSessions(agents)  # saved in the agent store: they outlive a restart
        self.rag_sessions = RagSessions(knowledge_bases, lambda: kms)  # sealed where a session has a key
        self.session_store = bedrock_sessions  # session management (session_ops.py)

    def _kb(self, kb_id: str, where: tuple[str, str] | None = None) -> KnowledgeBase:
        """A knowledge base by id; with `where` (account, region), only one that lives there."""
        kb = self.knowledge_bases.knowledge_base(kb_id)
        if kb is None or (where is not None and (kb.account, kb.region) != where):
            raise ResourceNotFoundException(f"Knowledge base with id {kb_id} does not exist")
        return kb

    def _search(
        self,
        caller: Caller,
        kb_id: str,
        query: str,
        configuration: dict[str, Any] | None,
        where: tuple[str, str] | None = None,
    ) -> list[Hit]:
        kb = self._kb(kb_id, where)
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
        if params.get("userContext"):
            raise ValidationException(
                "userContext (access control filtering) is not supported by Outcrop: its knowledge bases "
                "keep no per-document access lists."
            )
        text = query["text"]
        guard = self._guard(ctx.caller, params.get("guardrailConfiguration"), text, streaming=False)
        if guard is not None:  # as on AWS, a guardrail reads the query; retrieved passages are not screened
            guard.screen_input_texts()
            if guard.input_blocked:
                return {"retrievalResults": [], "guardrailAction": guard.action}
            text = guard.mask(text)
        hits = self._search(
            ctx.caller,
            params["knowledgeBaseId"],
            text,
            params.get("retrievalConfiguration"),
            (ctx.account_id, ctx.region),
        )
        answer: dict[str, Any] = {"retrievalResults": [retrieval_result(hit) for hit in hits]}
        return answer | ({"guardrailAction": guard.action} if guard is not None else {})

    # -- RetrieveAndGenerate ---------------------------------------------------------------------------------

    def _chat_model(self, model_arn: str) -> BedrockModel:
        model = self.inference.find(model_arn)
        if model is None or model.kind != "chat":
            raise ValidationException(f"The model {model_arn} is not a text generation model of this server.")
        return model

    def _prepare(
        self,
        caller: Caller,
        params: dict[str, Any],
        *,
        streaming: bool = False,
        where: tuple[str, str],
    ) -> Prepared:
        """Validate, load the session, screen the question (a guardrail), retrieve and build the chat
        request."""
        configuration = params.get("retrieveAndGenerateConfiguration")
        if configuration is None:  # optional in botocore's model, required by the service
            raise ValidationException(
                "1 validation error detected: Value null at 'retrieveAndGenerateConfiguration' failed to "
                "satisfy constraint: Member must not be null"
            )
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
        session_key = (params.get("sessionConfiguration") or {}).get("kmsKeyArn")
        if session_id:
            found = self.rag_sessions.turns(session_id, session_key, where)
            if found is None:
                raise ResourceNotFoundException(f"Session with Id {session_id} does not exist.")
            history = found
        question = params["input"]["text"]
        guardrail = (kb_config.get("generationConfiguration") or {}).get("guardrailConfiguration")
        guard = self._guard(caller, guardrail, question, streaming)
        session = session_id or str(uuid.uuid4())
        if guard is not None:  # the question is screened before anything is retrieved for it
            guard.screen_input_texts()
            if guard.input_blocked:
                blank = GenerationRequest(messages=[])
                return Prepared(
                    session, history, question, [], model, blank, blank, guard, session_key, where
                )
            question = guard.mask(question)
        if kind == "EXTERNAL_SOURCES":
            try:
                name, data, content_type = source_document(kb_config["sources"][0], self.objects.read_object)
                hits = passages(name, data, content_type, question)
            except ExternalSourceError as error:
                raise ValidationException(str(error)) from error
        else:
            hits = self._search(
                caller,
                kb_config["knowledgeBaseId"],
                question,
                kb_config.get("retrievalConfiguration"),
                where,
            )
        generation = kb_config.get("generationConfiguration")
        top_k = additional_request_fields((generation or {}).get("additionalModelRequestFields"))
        try:
            request = replace(build_request(question, hits, history, generation), top_k=top_k or None)
        except TemplateError as error:
            raise ValidationException(str(error)) from error
        plain = replace(
            build_request(question, hits, history, generation, markers=False), top_k=top_k or None
        )
        second = extractive_request(question, hits[0], history, generation) if hits else None
        retry = replace(second, top_k=top_k or None) if second else None
        return Prepared(
            session, history, question, hits, model, request, plain, guard, session_key, where, retry
        )

    def _guard(
        self, caller: Caller, config: dict[str, Any] | None, question: str, streaming: bool
    ) -> Guard | None:
        """The guardrail of a guardrailConfiguration (guardrailId and guardrailVersion): it reads the
        question on the way in and the answer on the way out."""
        if not config:
            return None
        guardrail = resolve(self.guardrails, config.get("guardrailId"), config.get("guardrailVersion"))
        mode: Mode = "sync" if streaming else "whole"
        return Guard(self.guardrails, guardrail, [GuardText(question)], caller, mode=mode)

    def _check(self, caller: Caller, prepared: Prepared) -> AnswerCheck:
        """The grounding check of this answer, with the detector's embedder routed through inference (words
        alone where the catalog lacks the detector or its embedding model)."""
        detector: GroundingDetector = (
            self.models.get(GROUNDING_MODEL, "grounding")
            if GROUNDING_MODEL in self.models.names("grounding")
            else EvidenceDetector(GROUNDING_MODEL, None)
        )
        embedder = None
        name = detector.embedding_model
        if name and name in self.models.names("embedding"):  # a user's catalog may lack it: words only
            model = BedrockModel(name, name, "Outcrop", "", name, "embedding")
            embedder = self.inference.embedder(caller, model)
        return AnswerCheck(detector, embedder, prepared.question, prepared.hits)

    def _finish(self, prepared: Prepared, check: AnswerCheck) -> tuple[str, list[dict[str, Any]]]:
        """The checked answer and its citations (or the guardrail's blocked message); the turn is
        remembered."""
        guard = prepared.guard
        if guard is not None and (guard.input_blocked or guard.output_blocked):
            text, cited = guard.blocked_input_message(), []
            if not guard.input_blocked:
                text = guard.blocked_output_message()
        else:
            answer, runs = check.answer()
            text, cited = answer, citations(runs, prepared.hits)
        turns = [*prepared.history, {"user": prepared.question, "assistant": text}]
        self.rag_sessions.save(
            prepared.session_id, turns[-MAX_SESSION_TURNS:], prepared.session_key, prepared.where
        )
        return text, cited

    def retrieve_and_generate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prepared = self._prepare(ctx.caller, params, where=(ctx.account_id, ctx.region))
        check = self._check(ctx.caller, prepared)
        guard = prepared.guard
        # nothing retrieved: nothing to ground an answer in, so the model is not asked
        request = prepared.request if prepared.hits else None
        feed = _Feed(check, len(prepared.hits))
        while request is not None:
            for event in self.inference.stream_blocking(ctx.caller, prepared.model, request, guard):
                if guard is not None and guard.output_blocked:
                    break
                if feed.take(event.text, done=event.done is not None):
                    break  # refused: nothing later can change the answer (closing the run stops it)
            request = feed.next_request(prepared, request)
        text, cited = self._finish(prepared, check)
        answer = {"sessionId": prepared.session_id, "output": {"text": text}, "citations": cited}
        return answer | ({"guardrailAction": guard.action} if guard is not None else {})

    async def retrieve_and_generate_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The checked answer as it is released (from its first supported, relevant sentence on), then one
        citation event per cited run; Bedrock's fallback text when nothing survives the check."""
        prepared = await run_blocking(
            lambda: self._prepare(ctx.caller, params, streaming=True, where=(ctx.account_id, ctx.region))
        )
        check = await run_blocking(lambda: self._check(ctx.caller, prepared))
        guard = prepared.guard
        # a full queue answers 429 here, before the stream starts
        stream = (
            await self.inference.stream(ctx.caller, prepared.model, prepared.request, guard)
            if prepared.hits
            else None
        )

        async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            feed, sent = _Feed(check, len(prepared.hits)), ""
            current, request = stream, prepared.request
            while current is not None:
                async for event in current:
                    if guard is not None and guard.output_blocked:
                        await current.aclose()  # the rest is the blocked message, answered below
                        break
                    done = event.done is not None
                    settled = await run_blocking(lambda: feed.take(event.text, done=done))  # noqa: B023
                    text = check.answer()[0] if check.committed else ""
                    if len(text) > len(sent):
                        yield "output", {"text": text[len(sent) :]}
                        sent = text
                    if settled:
                        await current.aclose()  # refused: stop the model
                        break
                following = feed.next_request(prepared, request)
                if following is None:
                    break
                request = following
                # closing the last try early set its caller's cancel flag; a client that hangs up now
                # closes this generator, and with it the next try
                caller = replace(ctx.caller, cancel=threading.Event())
                current = await self.inference.stream(caller, prepared.model, request, guard)
            text, cited = await run_blocking(lambda: self._finish(prepared, check))
            if not sent or (guard is not None and guard.output_blocked):
                yield "output", {"text": text if not sent else f" {text}"}
            for citation in cited:
                yield "citation", {"citation": citation, **citation}
            if guard is not None:
                yield "guardrail", {"action": guard.action}

        return {"sessionId": prepared.session_id, "stream": events()}


@dataclass
class _Feed:
    """Model text as it arrives, handed to the answer check a completed sentence at a time."""

    check: AnswerCheck
    results: int
    raw: str = ""
    fed: int = 0

    def take(self, text: str, *, done: bool) -> bool:
        """Add streamed text; True once the answer is settled (the model need not go on)."""
        self.raw += text
        found = sentences(self.raw, self.results)
        complete = len(found) if done else len(found) - 1
        while self.fed < complete and not self.check.settled:
            self.check.add(found[self.fed])
            self.fed += 1
        return self.check.settled

    def restart(self) -> None:
        self.raw, self.fed = "", 0

    def next_request(self, prepared: Prepared, asked: GenerationRequest) -> GenerationRequest | None:
        """What to ask after `asked`: the same without markers when the answer was markers alone, then
        once, when no sentence was kept, the extractive second try (`rag.generate.extractive_request`)."""
        guard = prepared.guard
        if guard is not None and guard.output_blocked:
            return None
        if asked is prepared.request and not says_something(self.raw) and not self.check.settled:
            self.restart()
            return prepared.plain_request
        if asked is prepared.retry_request or prepared.retry_request is None or not self.check.reopen():
            return None
        self.restart()
        return prepared.retry_request


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
    guard: Guard | None = None  # generationConfiguration's guardrail around the question and the answer
    session_key: str | None = None  # sessionConfiguration.kmsKeyArn: the session's turns are sealed under it
    where: tuple[str, str] = ("", "")  # the caller's account and region
    retry_request: GenerationRequest | None = None  # the extractive second try (None: not asked)
