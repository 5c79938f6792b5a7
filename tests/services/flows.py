"""Flow definitions and calls shared by the Flows tests: nodes, connections, a branching flow, and an
InvokeFlow that collects its events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


ROLE = "arn:aws:iam::000000000000:role/flows"


def name() -> str:
    return "flow-" + uuid.uuid4().hex[:10]


def io_(kind: str, field: str, data_type: str) -> dict[str, Any]:
    return {"name": field, "type": data_type, **({"expression": "$.data"} if kind == "in" else {})}


def input_node(data_type: str = "String") -> dict[str, Any]:
    return {
        "name": "Start",
        "type": "Input",
        "configuration": {"input": {}},
        "outputs": [io_("out", "document", data_type)],
    }


def output_node(node: str, data_type: str = "String") -> dict[str, Any]:
    return {
        "name": node,
        "type": "Output",
        "configuration": {"output": {}},
        "inputs": [io_("in", "document", data_type)],
    }


def prompt_node(node: str, template: str, variable: str) -> dict[str, Any]:
    inline = {
        "templateType": "TEXT",
        "templateConfiguration": {"text": {"text": template, "inputVariables": [{"name": variable}]}},
        "modelId": HAIKU,
    }
    return {
        "name": node,
        "type": "Prompt",
        "configuration": {"prompt": {"sourceConfiguration": {"inline": inline}}},
        "inputs": [io_("in", variable, "String")],
        "outputs": [io_("out", "modelCompletion", "String")],
    }


def data(source: str, output: str, target: str, field: str) -> dict[str, Any]:
    return {
        "name": f"{source}_{output}_{target}_{field}",
        "type": "Data",
        "source": source,
        "target": target,
        "configuration": {"data": {"sourceOutput": output, "targetInput": field}},
    }


def conditional(source: str, condition: str, target: str) -> dict[str, Any]:
    return {
        "name": f"{source}_{condition}_{target}",
        "type": "Conditional",
        "source": source,
        "target": target,
        "configuration": {"conditional": {"condition": condition}},
    }


def branching_flow() -> dict[str, Any]:
    """Input -> Prompt -> Condition -> Cats or Other (each Output also fed the completion)."""
    condition = {
        "name": "Check",
        "type": "Condition",
        "configuration": {
            "condition": {
                "conditions": [
                    {"name": "isCats", "expression": 'completion == "You said: cats"'},
                    {"name": "default"},
                ]
            }
        },
        "inputs": [io_("in", "completion", "String")],
    }
    return {
        "nodes": [
            input_node(),
            prompt_node("Ask", "{{topic}}", "topic"),
            condition,
            output_node("Cats"),
            output_node("Other"),
        ],
        "connections": [
            data("Start", "document", "Ask", "topic"),
            data("Ask", "modelCompletion", "Check", "completion"),
            data("Ask", "modelCompletion", "Cats", "document"),
            data("Ask", "modelCompletion", "Other", "document"),
            conditional("Check", "isCats", "Cats"),
            conditional("Check", "default", "Other"),
        ],
    }


def create_prepared(agent: Any, definition: dict[str, Any]) -> str:
    flow_id: str = agent.create_flow(name=name(), executionRoleArn=ROLE, definition=definition)["id"]
    assert agent.prepare_flow(flowIdentifier=flow_id)["status"] == "Prepared"
    return flow_id


def invoke(
    client: Callable[..., Any], flow_id: str, document: Any, alias: str = "TSTALIASID", **extra: Any
) -> list[dict[str, Any]]:
    response = client("bedrock-agent-runtime").invoke_flow(
        flowIdentifier=flow_id,
        flowAliasIdentifier=alias,
        inputs=[{"nodeName": "Start", "nodeOutputName": "document", "content": {"document": document}}],
        **extra,
    )
    assert response["executionId"]
    return list(response["responseStream"])


def outputs(events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (e["flowOutputEvent"]["nodeName"], e["flowOutputEvent"]["content"]["document"])
        for e in events
        if "flowOutputEvent" in e
    ]
