"""InvokeFlow's executor: runs a prepared flow definition and yields its event stream.

A node runs once all of its data inputs hold values and, when Conditional connections lead to it, one of
them was taken. Values move along Data connections, each input picking its part with its `$.data`
expression. An Iterator runs the nodes after it once per array item, up to the Collector that gathers
their results; the nodes after the Collector then run once. Prompt nodes take the inference path (through
the Converse translation), KnowledgeBase nodes the provider's Retrieve / RetrieveAndGenerate, LambdaFunction
nodes the local Lambda functions, with the event AWS sends a flow's function.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from outcrop.concurrency import run_blocking
from outcrop.guardrails.enforce import GuardrailEngine
from outcrop.inference import Inference
from outcrop.lambdas.registry import FunctionRegistry
from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.flow_expressions import ExpressionError, condition, select
from outcrop.services.bedrock_agent.prompt_render import default_variant, render_variant, stored_prompt
from outcrop.services.bedrock_agent.resource_store import AgentResourceStore
from outcrop.services.bedrock_agent_runtime.agent_loop import DependencyFailedException
from outcrop.services.bedrock_agent_runtime.flow_guard import (
    guard_actions,
    node_guardrail,
    prompt_guard,
    rag_guardrail,
)
from outcrop.services.bedrock_runtime.converse import converse_request

Event = tuple[str, dict[str, Any]]
Operation = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]
_TYPES: dict[str, type | tuple[type, ...]] = {
    "String": str,
    "Number": (int, float),
    "Boolean": bool,
    "Object": dict,
    "Array": list,
}


@dataclass
class FlowParts:
    """What the nodes run on, from the provider."""

    inference: Inference
    guardrails: GuardrailEngine
    store: AgentResourceStore
    functions: FunctionRegistry
    retrieve: Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
    retrieve_and_generate: Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class _Scope:
    """Values produced and nodes run so far; an iteration works on a copy."""

    produced: dict[tuple[str, str], Any] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    taken: set[tuple[str, str]] = field(default_factory=set)  # (condition node, condition name)


def _now() -> datetime:
    return datetime.now(UTC)


def _typed(value: Any, data_type: str) -> bool:
    """Whether a value has a flow data type (a boolean is not a Number)."""
    wanted = _TYPES[data_type]
    return isinstance(value, wanted) and not (data_type == "Number" and isinstance(value, bool))


def _check_types(node: dict[str, Any], side: str, values: dict[str, Any]) -> None:
    """At run time each input and output is checked against its declared type, as Bedrock does."""
    for declared in node.get(f"{side}s") or []:
        name = declared["name"]
        if name in values and not _typed(values[name], declared["type"]):
            raise ValidationException(
                f"The {side} {name} of node {node['name']} must have type {declared['type']}; it was given "
                f"{type(values[name]).__name__}."
            )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class FlowRun:
    def __init__(
        self,
        ctx: RequestContext,
        definition: dict[str, Any],
        parts: FlowParts,
        *,
        flow_arn: str,
        alias_arn: str,
        trace: bool,
    ) -> None:
        self.ctx = ctx
        self.nodes = {node["name"]: node for node in definition.get("nodes") or []}
        self.connections = definition.get("connections") or []
        self.parts = parts
        self.flow_arn, self.alias_arn, self.trace = flow_arn, alias_arn, trace

    def start(self, inputs: list[dict[str, Any]]) -> _Scope:
        """The scope after the Input node took the request's document (checked before the stream opens)."""
        if len(inputs) != 1:
            raise ValidationException("InvokeFlow takes exactly one input, for the flow's Input node.")
        given = inputs[0]
        node = self.nodes.get(given["nodeName"])
        if node is None or node["type"] != "Input":
            raise ValidationException(f"{given['nodeName']} is not the Input node of this flow.")
        output = node["outputs"][0]
        name = given.get("nodeOutputName") or output["name"]
        if name != output["name"]:
            raise ValidationException(f"The Input node {node['name']} has no output {name}.")
        document = given["content"].get("document")
        if not _typed(document, output["type"]):
            raise ValidationException(
                f"The input document must have type {output['type']}, the type of {node['name']}.{name}."
            )
        scope = _Scope()
        scope.produced[(node["name"], name)] = document
        scope.done.add(node["name"])
        return scope

    async def events(self, scope: _Scope) -> AsyncIterator[Event]:
        if self.trace:
            for (node, output), value in scope.produced.items():
                fields = [{"nodeOutputName": output, "content": {"document": value}}]
                yield self._trace("nodeOutputTrace", {"nodeName": node, "fields": fields})
        async for event in self._run(scope, None):
            yield event
        yield "flowCompletionEvent", {"completionReason": "SUCCESS"}

    # -- scheduling ------------------------------------------------------------------------------------------

    def _incoming(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.connections if c["target"] == name]

    def _inputs(self, scope: _Scope, name: str) -> dict[str, Any] | None:
        """The node's input values, or None while it is not ready to run."""
        incoming = self._incoming(name)
        conditional = [c for c in incoming if c["type"] == "Conditional"]
        if conditional and not any(
            (c["source"], c["configuration"]["conditional"]["condition"]) in scope.taken for c in conditional
        ):
            return None
        feeds = {
            c["configuration"]["data"]["targetInput"]: (
                c["source"],
                c["configuration"]["data"]["sourceOutput"],
            )
            for c in incoming
            if c["type"] == "Data"
        }
        values: dict[str, Any] = {}
        for field_ in self.nodes[name].get("inputs") or []:
            source = feeds.get(field_["name"])
            if source is None or source not in scope.produced:
                return None
            try:
                values[field_["name"]] = select(scope.produced[source], field_["expression"])
            except ExpressionError as error:
                raise ValidationException(f"Node {name}: {error}") from error
        return values

    async def _run(self, scope: _Scope, region: set[str] | None) -> AsyncIterator[Event]:
        """Run every node (of `region`, an iteration's body, if given) that becomes ready."""
        while True:
            ready = [
                (name, values)
                for name in (self.nodes if region is None else region)
                if name not in scope.done and (values := self._inputs(scope, name)) is not None
            ]
            if not ready:
                return
            for name, values in ready:
                if name in scope.done:  # run meanwhile, inside an iteration's body
                    continue
                scope.done.add(name)
                async for event in self._node(scope, name, values):
                    yield event

    def _trace(self, kind: str, body: dict[str, Any]) -> Event:
        return "flowTraceEvent", {"trace": {kind: {**body, "timestamp": _now()}}}

    async def _node(self, scope: _Scope, name: str, values: dict[str, Any]) -> AsyncIterator[Event]:
        node = self.nodes[name]
        kind = node["type"]
        _check_types(node, "input", values)
        if self.trace:
            fields = [{"nodeInputName": k, "content": {"document": v}} for k, v in values.items()]
            yield self._trace("nodeInputTrace", {"nodeName": name, "fields": fields})
        outputs: dict[str, Any] = {}
        if kind == "Output":
            yield (
                "flowOutputEvent",
                {"content": {"document": values["document"]}, "nodeName": name, "nodeType": kind},
            )
        elif kind == "Condition":
            chosen = self._condition(node, values)
            scope.taken.add((name, chosen))
            if self.trace:
                yield self._trace(
                    "conditionNodeResultTrace",
                    {"nodeName": name, "satisfiedConditions": [{"conditionName": chosen}]},
                )
        elif kind == "Iterator":
            async for event in self._iterate(scope, name, values["array"]):
                yield event
            return
        elif kind == "Collector":
            outputs["collectedArray"] = [values["arrayItem"]]
        elif kind == "Prompt":
            outputs["modelCompletion"], actions = await self._prompt(node, values)
            for action in actions if self.trace else []:
                yield self._trace("nodeActionTrace", action)
        elif kind == "KnowledgeBase":
            outputs.update(await self._knowledge_base(node, values))
        elif kind == "LambdaFunction":
            outputs["functionResponse"] = await self._lambda(node, values)
        _check_types(node, "output", outputs)
        for key, value in outputs.items():
            scope.produced[(name, key)] = value
        if self.trace and outputs:
            fields = [{"nodeOutputName": k, "content": {"document": v}} for k, v in outputs.items()]
            yield self._trace("nodeOutputTrace", {"nodeName": name, "fields": fields})

    async def _iterate(self, scope: _Scope, name: str, items: Any) -> AsyncIterator[Event]:
        if not isinstance(items, list):
            raise ValidationException(f"Iterator node {name} was given {type(items).__name__}, not an array.")
        body, collectors = self._loop_body(name)
        collected: dict[str, list[Any]] = {n: [] for n in collectors}
        ran: set[str] = set()
        for item in items:
            inner = _Scope(dict(scope.produced), set(scope.done), set(scope.taken))
            inner.produced[(name, "arrayItem")] = item
            inner.produced[(name, "arraySize")] = len(items)
            async for event in self._run(inner, body):
                yield event
            ran |= inner.done & body
            for collector in collectors:
                values = self._inputs(inner, collector)
                if values is not None:
                    collected[collector].append(values["arrayItem"])
        scope.done |= ran
        scope.produced[(name, "arraySize")] = len(items)
        for collector, gathered in collected.items():
            if collector not in scope.done and (gathered or not items):
                scope.done.add(collector)
                scope.produced[(collector, "collectedArray")] = gathered
                if self.trace:
                    fields = [{"nodeOutputName": "collectedArray", "content": {"document": gathered}}]
                    yield self._trace("nodeOutputTrace", {"nodeName": collector, "fields": fields})

    def _loop_body(self, iterator: str) -> tuple[set[str], set[str]]:
        """The nodes after an Iterator up to its Collectors (which close the loop), and those Collectors."""
        body: set[str] = set()
        collectors: set[str] = set()
        todo = [c["target"] for c in self.connections if c["source"] == iterator]
        while todo:
            name = todo.pop()
            if name in body or name in collectors or name not in self.nodes:
                continue
            if self.nodes[name]["type"] == "Collector":
                collectors.add(name)
                continue
            body.add(name)
            todo += [c["target"] for c in self.connections if c["source"] == name]
        return body, collectors

    # -- node kinds ------------------------------------------------------------------------------------------

    @staticmethod
    def _condition(node: dict[str, Any], values: dict[str, Any]) -> str:
        """The first condition, in order, that holds; `default` when none does."""
        for entry in node["configuration"]["condition"]["conditions"]:
            if entry["name"] == "default" or not entry.get("expression"):
                continue
            try:
                if condition(entry["expression"])(values):
                    return str(entry["name"])
            except ExpressionError as error:
                raise ValidationException(f"Condition node {node['name']}: {error}") from error
        return "default"

    async def _prompt(self, node: dict[str, Any], values: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The completion (the guardrail's message where the node's guardrail intervened) and the node's
        guardrail screenings as trace bodies."""
        source = node["configuration"]["prompt"]["sourceConfiguration"]
        if "resource" in source:
            body = stored_prompt(self.parts.store, source["resource"]["promptArn"])
            if body is None:
                raise ValidationException(f"Prompt node {node['name']} names no prompt ARN.")
            variant = default_variant(body)
        else:
            variant = {"name": node["name"], **source["inline"]}
        params = render_variant(variant, {k: _text(v) for k, v in values.items()})
        inference = self.parts.inference
        model = inference.chat_model(str(params["modelId"]), "InvokeFlow")
        request = converse_request(params, model)
        config = node_guardrail(node)
        if config is None:
            return (await inference.generate(self.ctx.caller, model, request)).text, []
        engine, caller = self.parts.guardrails, self.ctx.caller
        guard = await run_blocking(lambda: prompt_guard(engine, config, params, caller))
        result = await inference.generate(caller, model, request, guard)
        return result.text, guard_actions(node["name"], guard)

    async def _knowledge_base(self, node: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        config = node["configuration"]["knowledgeBase"]
        search: dict[str, Any] = {}
        if config.get("numberOfResults"):
            search["numberOfResults"] = config["numberOfResults"]
        if config.get("rerankingConfiguration"):
            search["rerankingConfiguration"] = config["rerankingConfiguration"]
        retrieval = {"vectorSearchConfiguration": search} if search else None
        query = _text(values["retrievalQuery"])
        if not config.get("modelId"):
            params: dict[str, Any] = {
                "knowledgeBaseId": config["knowledgeBaseId"],
                "retrievalQuery": {"text": query},
            }
            if retrieval:
                params["retrievalConfiguration"] = retrieval
            found = await self.parts.retrieve(self.ctx, params)
            return {"retrievalResults": found["retrievalResults"]}
        kb: dict[str, Any] = {"knowledgeBaseId": config["knowledgeBaseId"], "modelArn": config["modelId"]}
        if retrieval:
            kb["retrievalConfiguration"] = retrieval
        generation: dict[str, Any] = {}
        if config.get("promptTemplate"):
            generation["promptTemplate"] = config["promptTemplate"]
        if (config.get("inferenceConfiguration") or {}).get("text"):
            generation["inferenceConfig"] = {"textInferenceConfig": config["inferenceConfiguration"]["text"]}
        if config.get("guardrailConfiguration"):  # RetrieveAndGenerate screens the query and the answer
            generation["guardrailConfiguration"] = rag_guardrail(config["guardrailConfiguration"])
        if generation:
            kb["generationConfiguration"] = generation
        answer = await self.parts.retrieve_and_generate(
            self.ctx,
            {
                "input": {"text": query},
                "retrieveAndGenerateConfiguration": {
                    "type": "KNOWLEDGE_BASE",
                    "knowledgeBaseConfiguration": kb,
                },
            },
        )
        return {"outputText": answer["output"]["text"]}

    async def _lambda(self, node: dict[str, Any], values: dict[str, Any]) -> Any:
        arn = node["configuration"]["lambdaFunction"]["lambdaArn"]
        spec = self.parts.functions.find(arn)
        if spec is None:
            raise DependencyFailedException(
                f"The Lambda function {arn} of node {node['name']} does not exist."
            )
        inputs = [
            {"name": f["name"], "type": f["type"], "expression": f["expression"], "value": values[f["name"]]}
            for f in node.get("inputs") or []
        ]
        event = {
            "messageVersion": "1.0",
            "flow": {"flowArn": self.flow_arn, "flowAliasArn": self.alias_arn},
            "node": {"name": node["name"], "inputs": inputs},
        }
        outcome = await self.parts.functions.invoke(spec, event)
        if outcome.error is not None:
            message = outcome.error.get("errorMessage", "the function raised an error")
            raise DependencyFailedException(
                f"The Lambda function {arn} of node {node['name']} failed: {message}"
            )
        return json.loads(outcome.payload or "null")
