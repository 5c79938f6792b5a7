"""InvokeFlow runs through boto3, node type by node type: input -> prompt -> condition -> two outputs, a
Lambda node made from a zip through the Lambda API, an iterator/collector loop, knowledge base and prompt
resource nodes, object inputs (fake models), and a prompt flow on the real model."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EventStreamError

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.flows import (
    HAIKU,
    ROLE,
    branching_flow,
    create_prepared,
    data,
    input_node,
    invoke,
    io_,
    name,
    output_node,
    outputs,
    prompt_node,
)
from tests.services.knowledge_bases import (
    DOCUMENTS,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
)


def test_condition_routes_to_one_of_two_outputs(client: Callable[..., Any]) -> None:
    flow_id = create_prepared(client("bedrock-agent"), branching_flow())
    cats = invoke(client, flow_id, "cats")
    assert outputs(cats) == [("Cats", "You said: cats")]
    assert cats[-1] == {"flowCompletionEvent": {"completionReason": "SUCCESS"}}
    assert outputs(invoke(client, flow_id, "dogs")) == [("Other", "You said: dogs")]
    traced = invoke(client, flow_id, "dogs", enableTrace=True)
    traces = [e["flowTraceEvent"]["trace"] for e in traced if "flowTraceEvent" in e]
    chosen = [t["conditionNodeResultTrace"] for t in traces if "conditionNodeResultTrace" in t]
    assert [c["satisfiedConditions"] for c in chosen] == [[{"conditionName": "default"}]]
    ask_out = [t["nodeOutputTrace"] for t in traces if t.get("nodeOutputTrace", {}).get("nodeName") == "Ask"]
    assert ask_out[0]["fields"] == [
        {"nodeOutputName": "modelCompletion", "content": {"document": "You said: dogs"}}
    ]


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_lambda_node_runs_a_function_made_from_a_zip(client: Callable[..., Any]) -> None:
    lam = client("lambda")
    function = f"shout-{uuid.uuid4().hex[:8]}"
    handler = (
        "def handler(event, context):\n"
        "    value = event['node']['inputs'][0]['value']\n"
        "    node, flow = event['node']['name'], event['flow']['flowArn']\n"
        "    return {'loud': value.upper(), 'node': node, 'flow': flow}\n"
    )
    arn = lam.create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _zip(handler)},
    )["FunctionArn"]
    definition = {
        "nodes": [
            input_node(),
            {
                "name": "Shout",
                "type": "LambdaFunction",
                "configuration": {"lambdaFunction": {"lambdaArn": arn}},
                "inputs": [io_("in", "text", "String")],
                "outputs": [io_("out", "functionResponse", "Object")],
            },
            output_node("End", "Object"),
        ],
        "connections": [
            data("Start", "document", "Shout", "text"),
            data("Shout", "functionResponse", "End", "document"),
        ],
    }
    flow_id = create_prepared(client("bedrock-agent"), definition)
    [(node, result)] = outputs(invoke(client, flow_id, "quiet please"))
    assert node == "End"
    assert (
        result["loud"] == "QUIET PLEASE"
        and result["node"] == "Shout"
        and result["flow"].endswith(f"flow/{flow_id}")
    )
    for step in definition["nodes"][1:]:  # the function answers an object where a String is declared
        for field in (*step.get("inputs", []), *step.get("outputs", [])):
            if field["type"] == "Object":
                field["type"] = "String"
    mistyped = create_prepared(client("bedrock-agent"), definition)
    with pytest.raises(EventStreamError) as caught:
        invoke(client, mistyped, "quiet please")
    assert caught.value.response["Error"]["Code"] == "validationException"
    assert "functionResponse of node Shout must have type String" in caught.value.response["Error"]["Message"]


def test_iterator_and_collector(client: Callable[..., Any]) -> None:
    definition = {
        "nodes": [
            input_node("Array"),
            {
                "name": "Each",
                "type": "Iterator",
                "configuration": {"iterator": {}},
                "inputs": [io_("in", "array", "Array")],
                "outputs": [io_("out", "arrayItem", "String"), io_("out", "arraySize", "Number")],
            },
            prompt_node("Say", "{{item}}", "item"),
            {
                "name": "Gather",
                "type": "Collector",
                "configuration": {"collector": {}},
                "inputs": [io_("in", "arrayItem", "String"), io_("in", "arraySize", "Number")],
                "outputs": [io_("out", "collectedArray", "Array")],
            },
            output_node("End", "Array"),
            output_node("Echo", "Array"),  # a branch beside the loop runs once, not once per item
        ],
        "connections": [
            data("Start", "document", "Each", "array"),
            data("Each", "arrayItem", "Say", "item"),
            data("Say", "modelCompletion", "Gather", "arrayItem"),
            data("Each", "arraySize", "Gather", "arraySize"),
            data("Gather", "collectedArray", "End", "document"),
            data("Start", "document", "Echo", "document"),
        ],
    }
    flow_id = create_prepared(client("bedrock-agent"), definition)
    assert sorted(outputs(invoke(client, flow_id, ["one", "two", "three"]))) == [
        ("Echo", ["one", "two", "three"]),
        ("End", ["You said: one", "You said: two", "You said: three"]),
    ]
    assert sorted(outputs(invoke(client, flow_id, []))) == [("Echo", []), ("End", [])]


def test_knowledge_base_node_retrieves_and_generates(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(client("s3"), {k: DOCUMENTS[k] for k in ("docs/volcanoes.txt", "docs/coffee.md")})
    assert ingest(agent, kb_id, create_data_source(agent, kb_id, bucket))["status"] == "COMPLETE"

    def kb_flow(model: dict[str, Any], output: str, data_type: str) -> dict[str, Any]:
        node = {
            "name": "Search",
            "type": "KnowledgeBase",
            "configuration": {"knowledgeBase": {"knowledgeBaseId": kb_id, "numberOfResults": 1, **model}},
            "inputs": [io_("in", "retrievalQuery", "String")],
            "outputs": [io_("out", output, data_type)],
        }
        return {
            "nodes": [input_node(), node, output_node("End", data_type)],
            "connections": [
                data("Start", "document", "Search", "retrievalQuery"),
                data("Search", output, "End", "document"),
            ],
        }

    question = "How does magma make volcanoes erupt?"
    retrieved = create_prepared(agent, kb_flow({}, "retrievalResults", "Array"))
    [(_, results)] = outputs(invoke(client, retrieved, question))
    assert len(results) == 1 and "magma" in results[0]["content"]["text"]
    answered = create_prepared(agent, kb_flow({"modelId": HAIKU}, "outputText", "String"))
    [(_, text)] = outputs(invoke(client, answered, question))
    assert isinstance(text, str) and text
    wrong = kb_flow({}, "outputText", "String")
    kinds = [v["type"] for v in agent.validate_flow_definition(definition=wrong)["validations"]]
    assert "UnknownNodeOutput" in kinds


def test_prompt_resource_node_and_a_failing_function(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    variant = {
        "name": "v",
        "templateType": "TEXT",
        "templateConfiguration": {"text": {"text": "Shout {{word}}", "inputVariables": [{"name": "word"}]}},
        "modelId": HAIKU,
    }
    prompt = agent.create_prompt(name=name(), variants=[variant])
    prompt_arn = agent.create_prompt_version(promptIdentifier=prompt["id"])["arn"]
    node = prompt_node("Say", "", "word")
    node["configuration"] = {"prompt": {"sourceConfiguration": {"resource": {"promptArn": prompt_arn}}}}
    definition = {
        "nodes": [input_node(), node, output_node("End")],
        "connections": [
            data("Start", "document", "Say", "word"),
            data("Say", "modelCompletion", "End", "document"),
        ],
    }
    flow_id = create_prepared(agent, definition)
    assert outputs(invoke(client, flow_id, "hello")) == [("End", "You said: Shout hello")]
    gone = prompt_arn.replace(prompt["id"], "ZZZZZZZZZZ")
    node["configuration"]["prompt"]["sourceConfiguration"]["resource"]["promptArn"] = gone
    broken = agent.create_flow(name=name(), executionRoleArn=ROLE, definition=definition)["id"]
    refused = error_of(agent.prepare_flow, flowIdentifier=broken)
    assert refused["Code"] == "ValidationException" and "Say" in refused["Message"]

    lam = client("lambda")
    failing = lam.create_function(
        FunctionName=f"fail-{uuid.uuid4().hex[:8]}",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    raise RuntimeError('no way')\n")},
    )["FunctionArn"]
    definition = {
        "nodes": [
            input_node(),
            {
                "name": "Fail",
                "type": "LambdaFunction",
                "configuration": {"lambdaFunction": {"lambdaArn": failing}},
                "inputs": [io_("in", "text", "String")],
                "outputs": [io_("out", "functionResponse", "String")],
            },
            output_node("End"),
        ],
        "connections": [
            data("Start", "document", "Fail", "text"),
            data("Fail", "functionResponse", "End", "document"),
        ],
    }
    flow_id = create_prepared(agent, definition)
    with pytest.raises(EventStreamError) as caught:
        invoke(client, flow_id, "x")
    assert caught.value.response["Error"]["Code"] == "dependencyFailedException"  # the member name
    assert "no way" in caught.value.response["Error"]["Message"]


def test_object_input_fields_feed_a_prompt(client: Callable[..., Any]) -> None:
    """Input and Output nodes without configuration, inputs picking fields of an Object, a Number variable."""
    start = {"name": "Start", "type": "Input", "outputs": [io_("out", "document", "Object")]}
    ask = prompt_node("Ask", "List {{count}} {{kind}} songs.", "kind")
    inline = ask["configuration"]["prompt"]["sourceConfiguration"]["inline"]
    del inline["templateConfiguration"]["text"]["inputVariables"]
    ask["inputs"] = [
        {"name": "kind", "type": "String", "expression": "$.data.kind"},
        {"name": "count", "type": "Number", "expression": "$.data.count"},
    ]
    end = {"name": "End", "type": "Output", "inputs": [io_("in", "document", "String")]}
    definition = {
        "nodes": [start, ask, end],
        "connections": [
            data("Start", "document", "Ask", "kind"),
            data("Start", "document", "Ask", "count"),
            data("Ask", "modelCompletion", "End", "document"),
        ],
    }
    flow_id = create_prepared(client("bedrock-agent"), definition)
    events = invoke(client, flow_id, {"kind": "jazz", "count": 3}, enableTrace=True)
    assert outputs(events) == [("End", "You said: List 3 jazz songs.")]
    first = events[0]["flowTraceEvent"]["trace"]["nodeOutputTrace"]
    assert first["nodeName"] == "Start" and first["fields"][0]["content"]["document"] == {
        "kind": "jazz",
        "count": 3,
    }
    wrong = {**definition, "nodes": [{**start, "outputs": [io_("out", "document", "String")]}, ask, end]}
    kinds = [
        v["type"] for v in client("bedrock-agent").validate_flow_definition(definition=wrong)["validations"]
    ]
    assert kinds == ["IncompatibleConnectionDataType", "IncompatibleConnectionDataType"]


@pytest.mark.real
def test_a_prompt_flow_on_the_real_model(real_server: RunningServer) -> None:
    ask = prompt_node("Ask", "What is the capital of {{country}}? Answer with one word.", "country")
    inline = ask["configuration"]["prompt"]["sourceConfiguration"]["inline"]
    inline["inferenceConfiguration"] = {"text": {"maxTokens": 8, "temperature": 0.0}}
    definition = {
        "nodes": [input_node(), ask, output_node("End")],
        "connections": [
            data("Start", "document", "Ask", "country"),
            data("Ask", "modelCompletion", "End", "document"),
        ],
    }
    flow_id = create_prepared(real_server.client("bedrock-agent"), definition)
    [(node, answer)] = outputs(invoke(real_server.client, flow_id, "France"))
    assert node == "End" and "paris" in answer.lower()
