"""InvokeAgent, InvokeInlineAgent, GetAgentMemory and DeleteAgentMemory (a base class of the
bedrock-agent-runtime provider).

The alias names a version: TSTALIASID runs DRAFT as last prepared, other aliases a numbered version. An
agent's guardrailConfiguration screens the user's input and the final answer (`agent_guard`). Memory
(SESSION_SUMMARY): when a session with a memoryId ends (endSession, or idle past the agent's TTL), the agent's
model summarizes it; later sessions with that memoryId start with the newest summaries in their prompt.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from outcrop.backends.base import ChatMessage, GenerationRequest
from outcrop.concurrency import run_blocking
from outcrop.guardrails.enforce import GuardrailEngine
from outcrop.inference import Caller, Inference
from outcrop.lambdas.workers import Outcome
from outcrop.protocol.errors import ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.agents import check_prompt_override
from outcrop.services.bedrock_agent.agents_groups import api_schema_text
from outcrop.services.bedrock_agent.agents_schema import SchemaError, check_functions, parse_openapi
from outcrop.services.bedrock_agent.agents_store import AgentStore, Summary
from outcrop.services.bedrock_agent_runtime.agent_actions import AgentSetup, build_actions
from outcrop.services.bedrock_agent_runtime.agent_guard import agent_guard, guarded_turn
from outcrop.services.bedrock_agent_runtime.agent_loop import AgentTurn, Event
from outcrop.services.bedrock_agent_runtime.agent_prepost import enabled, prompt_configs
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSession, AgentSessions
from outcrop.services.paging import Pager
from outcrop.storage.vectors import Hit

if TYPE_CHECKING:
    from outcrop.lambdas.registry import FunctionRegistry
    from outcrop.rag.kbstore import KnowledgeBaseStore
    from outcrop.storage.objects import ObjectStore

_MEMORY_PAGES = Pager(
    ValidationException, "The nextToken is not valid.", default=1000, token="nextToken", size="maxItems"
)
SUMMARY_PROMPT = (
    "Summarize the conversation below between a user and an assistant in a few sentences: what the user "
    "wanted, what was done and what the user told about themselves. Reply with the summary only."
)


class AgentInvokeOperations:
    """The agent runtime operations; the provider gives the stores, the inference path and Lambda."""

    agents: AgentStore
    agent_sessions: AgentSessions
    guardrails: GuardrailEngine
    knowledge_bases: KnowledgeBaseStore
    inference: Inference
    lambda_functions: FunctionRegistry
    objects: ObjectStore

    def _search(
        self, caller: Caller, kb_id: str, query: str, configuration: dict[str, Any] | None
    ) -> list[Hit]:
        raise NotImplementedError  # the provider's knowledge-base search

    def _agent_setup(self, agent_id: str, alias_id: str) -> AgentSetup:
        agent = self.agents.get("agent", agent_id, "", agent_id)
        if agent is None:
            raise ResourceNotFoundException(f"Agent {agent_id} doesn't exist.")
        alias = self.agents.get("alias", agent_id, "", alias_id)
        if alias is None:
            raise ResourceNotFoundException(f"Agent alias {alias_id} of agent {agent_id} doesn't exist.")
        if alias.body.get("aliasInvocationState") == "REJECT_INVOCATIONS":
            raise ValidationException(f"Agent alias {alias_id} rejects invocations (aliasInvocationState).")
        version = alias.body["routingConfiguration"][0]["agentVersion"]
        if version == "DRAFT":
            prepared = self.agents.get("prepared", agent_id, "DRAFT", "DRAFT")
            if prepared is None:
                raise ValidationException(
                    f"Agent {agent_id} has not been prepared. Call PrepareAgent before invoking it."
                )
            body, groups, kbs = prepared.body["agent"], prepared.body["groups"], prepared.body["kbs"]
        else:
            record = self.agents.get("version", agent_id, version, version)
            if record is None:
                raise ResourceNotFoundException(f"Agent {agent_id} version {version} doesn't exist.")
            body = record.body["agent"]
            groups = [r.body for r in self.agents.records("group", agent_id, version)]
            kbs = [r.body for r in self.agents.records("kb", agent_id, version)]
        model = self.inference.find(body["foundationModel"])
        if model is None or model.kind != "chat":
            raise ValidationException(
                f"The agent's foundation model {body['foundationModel']} is not served."
            )
        configs = prompt_configs(body.get("promptOverrideConfiguration"))
        orchestration = configs.get("ORCHESTRATION", {})
        overridden = orchestration.get("promptCreationMode") == "OVERRIDDEN"
        return AgentSetup(
            agent_id=agent_id,
            alias_id=alias_id,
            version=version,
            name=body["agentName"],
            instruction=body.get("instruction", ""),
            model=model,
            model_id=body["foundationModel"],
            actions=build_actions(groups, kbs, lambda schema: api_schema_text(schema, self.objects)),
            idle_ttl=int(body.get("idleSessionTTLInSeconds", 600)),
            template=orchestration.get("basePromptTemplate") if overridden else None,
            inference=orchestration.get("inferenceConfiguration") or {},
            memory=body.get("memoryConfiguration"),
            guardrail=body.get("guardrailConfiguration"),
            pre=enabled(configs.get("PRE_PROCESSING")),
            post=enabled(configs.get("POST_PROCESSING")),
        )

    async def _call_lambda(self, arn: str, event: dict[str, Any]) -> Outcome | None:
        spec = self.lambda_functions.find(arn)
        if spec is None:
            return None
        return await self.lambda_functions.invoke(spec, event)

    async def invoke_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        agent_id, alias_id = params["agentId"], params["agentAliasId"]
        setup = await run_blocking(lambda: self._agent_setup(agent_id, alias_id))
        return await self._start_turn(ctx, setup, params, params.get("sessionState") or {})

    async def invoke_inline_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The same loop on an agent described in the request (sessions kept apart from stored agents')."""
        setup = await run_blocking(lambda: self._inline_setup(params))
        state = dict(params.get("inlineSessionState") or {})
        state["knowledgeBaseConfigurations"] = [
            {"knowledgeBaseId": kb["knowledgeBaseId"], "retrievalConfiguration": kb["retrievalConfiguration"]}
            for kb in params.get("knowledgeBases") or []
            if kb.get("retrievalConfiguration")
        ]
        return await self._start_turn(ctx, setup, params, state)

    def _inline_setup(self, params: dict[str, Any]) -> AgentSetup:
        if params.get("collaborators") or params.get("collaboratorConfigurations"):
            raise ValidationException("Multi-agent collaboration is not supported by Outcrop.")
        if params.get("agentCollaboration") not in (None, "DISABLED"):
            raise ValidationException("Multi-agent collaboration is not supported by Outcrop: use DISABLED.")
        if params.get("orchestrationType") == "CUSTOM_ORCHESTRATION" or params.get("customOrchestration"):
            raise ValidationException("CUSTOM_ORCHESTRATION is not supported by Outcrop.")
        model = self.inference.find(params["foundationModel"])
        if model is None or model.kind != "chat":
            raise ValidationException(
                f"The foundation model {params['foundationModel']} is not a text generation model of this "
                "server's catalog."
            )
        override = params.get("promptOverrideConfiguration")
        if override:
            check_prompt_override(override)
        groups = [self._inline_group(group) for group in params.get("actionGroups") or []]
        kbs = []
        for kb in params.get("knowledgeBases") or []:
            if self.knowledge_bases.knowledge_base(kb["knowledgeBaseId"]) is None:
                raise ResourceNotFoundException(
                    f"Knowledge base with id {kb['knowledgeBaseId']} does not exist"
                )
            kbs.append({**kb, "knowledgeBaseState": "ENABLED"})
        configs = prompt_configs(override)
        orchestration = configs.get("ORCHESTRATION", {})
        overridden = orchestration.get("promptCreationMode") == "OVERRIDDEN"
        return AgentSetup(
            agent_id="INLINE",
            alias_id="INLINE",
            version="DRAFT",
            name=params.get("agentName", "InlineAgent"),
            instruction=params["instruction"],
            model=model,
            model_id=params["foundationModel"],
            actions=build_actions(groups, kbs, lambda schema: api_schema_text(schema, self.objects)),
            idle_ttl=int(params.get("idleSessionTTLInSeconds", 600)),
            template=orchestration.get("basePromptTemplate") if overridden else None,
            inference=orchestration.get("inferenceConfiguration") or {},
            guardrail=params.get("guardrailConfiguration"),
            pre=enabled(configs.get("PRE_PROCESSING")),
            post=enabled(configs.get("POST_PROCESSING")),
        )

    def _inline_group(self, group: dict[str, Any]) -> dict[str, Any]:
        """An inline action group checked as CreateAgentActionGroup checks a stored one."""
        name, signature = group["actionGroupName"], group.get("parentActionGroupSignature")
        if signature == "AMAZON.UserInput":
            return {**group, "parentActionSignature": signature}
        if signature:
            raise ValidationException(f"{signature} is not supported by Outcrop (no sandbox to run it in).")
        executor = group.get("actionGroupExecutor") or {}
        if not executor:
            raise ValidationException(f"Action group {name} needs an actionGroupExecutor.")
        if "lambda" in executor and self.lambda_functions.find(executor["lambda"]) is None:
            raise ValidationException(f"Lambda function {executor['lambda']} was not found.")
        if ("apiSchema" in group) == ("functionSchema" in group):
            raise ValidationException(
                f"Action group {name} must have exactly one of apiSchema or functionSchema."
            )
        try:
            if "functionSchema" in group:
                check_functions(group["functionSchema"].get("functions") or [])
            else:
                parse_openapi(api_schema_text(group["apiSchema"], self.objects))
        except SchemaError as error:
            raise ValidationException(f"Action group {name}: {error}") from error
        return group

    async def _start_turn(
        self, ctx: RequestContext, setup: AgentSetup, params: dict[str, Any], state: dict[str, Any]
    ) -> dict[str, Any]:
        """Check the request, open its session and return the output whose stream runs the turn."""
        agent_id, alias_id, session_id = setup.agent_id, setup.alias_id, params["sessionId"]
        if state.get("files"):
            raise ValidationException(
                "sessionState.files needs a code interpreter, which Outcrop does not run."
            )
        memory_id = params.get("memoryId")
        if memory_id and not setup.memory:
            raise ValidationException(
                f"Agent {agent_id} has no memoryConfiguration; memoryId cannot be used."
            )
        session, expired = self.agent_sessions.open(agent_id, alias_id, session_id, setup.idle_ttl)
        for old in expired:
            await self._summarize(ctx.caller, setup, old)
        returned = state.get("returnControlInvocationResults")
        if returned:
            pending = session.pending
            if pending is None or state.get("invocationId") != pending.invocation_id:
                raise ValidationException(
                    "The invocationId in sessionState does not match the agent's pending returnControl "
                    "invocation in this session."
                )
        elif not params.get("inputText") and not params.get("endSession"):
            raise ValidationException(
                "inputText is required unless returnControlInvocationResults are given."
            )
        session.remember(state)
        if memory_id:
            session.memory_id = memory_id
        history = (state.get("conversationHistory") or {}).get("messages")
        if history and not session.history:
            session.history = [
                ChatMessage(m["role"], "".join(block.get("text", "") for block in m["content"]))
                for m in history
            ]
        overrides = {
            c["knowledgeBaseId"]: c["retrievalConfiguration"]
            for c in state.get("knowledgeBaseConfigurations") or []
        }
        caller = ctx.caller
        turn = AgentTurn(
            setup=setup,
            session=session,
            inference=self.inference,
            caller=caller,
            call_lambda=self._call_lambda,
            search=lambda kb_id, query: self._search(caller, kb_id, query, overrides.get(kb_id)),
            enable_trace=bool(params.get("enableTrace")),
            memory=self._memory_texts(setup, memory_id),
            turns_kept=(params.get("promptCreationConfigurations") or {}).get(
                "previousConversationTurnsToInclude"
            ),
            stream_final=bool((params.get("streamingConfigurations") or {}).get("streamFinalResponse")),
        )
        text = params.get("inputText", "")
        # the agent's guardrail (an unknown one is refused here, before the stream starts)
        guard = await run_blocking(lambda: agent_guard(self.guardrails, setup, text, caller))

        async def events() -> AsyncIterator[Event]:
            async with session.lock:
                try:
                    if returned or text:
                        run = (
                            turn.events(text, returned)
                            if guard is None
                            else guarded_turn(guard, turn, text, returned)
                        )
                        async for event in run:
                            yield event
                finally:
                    if params.get("endSession"):
                        ended = self.agent_sessions.end(agent_id, alias_id, session_id)
                        if ended is not None:
                            await self._summarize(caller, setup, ended)

        output: dict[str, Any] = {
            "contentType": "application/json",
            "sessionId": session_id,
            "completion": events(),
        }
        if memory_id:
            output["memoryId"] = memory_id
        return output

    # -- memory ---------------------------------------------------------------------------------------------

    def _memory_texts(self, setup: AgentSetup, memory_id: str | None) -> list[str]:
        if not memory_id or not setup.memory:
            return []
        days = setup.memory.get("storageDays", 30)
        recent = (setup.memory.get("sessionSummaryConfiguration") or {}).get("maxRecentSessions", 20)
        found = self.agents.summaries(setup.agent_id, setup.alias_id, memory_id, time.time() - days * 86400)
        return [summary.summary for summary in found[:recent]]

    async def _summarize(self, caller: Caller, setup: AgentSetup, session: AgentSession) -> None:
        if not session.memory_id or not setup.memory or not session.history:
            return
        transcript = "\n".join(f"{m.role}: {m.content}" for m in session.history)
        request = GenerationRequest(
            messages=[ChatMessage("system", SUMMARY_PROMPT), ChatMessage("user", transcript)],
            max_tokens=256,
            temperature=0.0,
        )
        result = await self.inference.generate(caller, setup.model, request)
        summary = Summary(session.session_id, result.text.strip(), session.started, time.time())
        memory_id = session.memory_id
        await run_blocking(
            lambda: self.agents.add_summary(setup.agent_id, setup.alias_id, memory_id, summary)
        )

    def get_agent_memory(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        agent_id, alias_id = params["agentId"], params["agentAliasId"]
        if self.agents.get("alias", agent_id, "", alias_id) is None:
            raise ResourceNotFoundException(f"Agent alias {alias_id} of agent {agent_id} doesn't exist.")
        found = self.agents.summaries(agent_id, alias_id, params["memoryId"])
        page, token = _MEMORY_PAGES.page(found, params)
        contents = [
            {
                "sessionSummary": {
                    "memoryId": params["memoryId"],
                    "sessionId": s.session_id,
                    "sessionStartTime": datetime.fromtimestamp(s.started, UTC),
                    "sessionExpiryTime": datetime.fromtimestamp(s.ended, UTC),
                    "summaryText": s.summary,
                }
            }
            for s in page
        ]
        return {"memoryContents": contents, **({"nextToken": token} if token else {})}

    def delete_agent_memory(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        agent_id, alias_id = params["agentId"], params["agentAliasId"]
        if self.agents.get("alias", agent_id, "", alias_id) is None:
            raise ResourceNotFoundException(f"Agent alias {alias_id} of agent {agent_id} doesn't exist.")
        self.agents.delete_summaries(agent_id, alias_id, params.get("memoryId"), params.get("sessionId"))
        return {}
