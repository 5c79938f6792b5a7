"""InvokeFlow (bedrock-agent-runtime): a mixin of the provider that finds the flow version an alias routes
to and streams its run (see `flow_run`)."""

from __future__ import annotations

import uuid
from typing import Any

from outcrop.concurrency import run_blocking
from outcrop.guardrails.enforce import GuardrailEngine
from outcrop.inference import Inference
from outcrop.lambdas.registry import FunctionRegistry
from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.flows import flow_to_run
from outcrop.services.bedrock_agent.resource_store import AgentResourceStore
from outcrop.services.bedrock_agent_runtime.flow_guard import check_guardrails
from outcrop.services.bedrock_agent_runtime.flow_run import FlowParts, FlowRun


class FlowInvocation:
    inference: Inference
    guardrails: GuardrailEngine
    prompt_flows: AgentResourceStore
    lambda_functions: FunctionRegistry

    def retrieve(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError  # the provider's Retrieve

    def retrieve_and_generate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError  # the provider's RetrieveAndGenerate

    async def _retrieve(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await run_blocking(lambda: self.retrieve(ctx, params))

    async def _retrieve_and_generate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await run_blocking(lambda: self.retrieve_and_generate(ctx, params))

    async def invoke_flow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("executionId"):
            raise ValidationException(
                "No execution of this flow waits for input: executionId continues multi-turn (Agent node) "
                "flows, which this server does not run."
            )
        latency = ((params.get("modelPerformanceConfiguration") or {}).get("performanceConfig") or {}).get(
            "latency"
        )
        if latency not in (None, "standard"):
            raise ValidationException(
                "Only standard latency is available: this server has no optimized models."
            )
        flow, alias_arn = await run_blocking(
            lambda: flow_to_run(
                self.prompt_flows, ctx, params["flowIdentifier"], params["flowAliasIdentifier"]
            )
        )
        nodes = flow.body["definition"].get("nodes") or []
        await run_blocking(lambda: check_guardrails(self.guardrails, nodes))  # unknown ones fail now
        parts = FlowParts(
            inference=self.inference,
            guardrails=self.guardrails,
            store=self.prompt_flows,
            functions=self.lambda_functions,
            retrieve=self._retrieve,
            retrieve_and_generate=self._retrieve_and_generate,
        )
        run = FlowRun(
            ctx,
            flow.body["definition"],
            parts,
            flow_arn=ctx.arn("bedrock", f"flow/{flow.id}"),
            alias_arn=alias_arn,
            trace=bool(params.get("enableTrace")),
        )
        scope = run.start(params["inputs"])
        return {"executionId": str(uuid.uuid4()), "responseStream": run.events(scope)}
