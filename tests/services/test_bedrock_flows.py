"""Flows through boto3: create, prepare (with AWS's validation types), versions, aliases, paging, bad input,
restart persistence, and InvokeFlow runs: input -> prompt -> condition -> two outputs, a Lambda node made
from a zip through the Lambda API, and an iterator/collector loop (fake models)."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EventStreamError

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.knowledge_bases import (
    DOCUMENTS,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
)

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


def test_flow_lifecycle_versions_and_aliases(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    created = agent.create_flow(
        name=name(), executionRoleArn=ROLE, definition=branching_flow(), description="d"
    )
    flow_id = created["id"]
    assert (created["status"], created["version"]) == ("NotPrepared", "DRAFT")
    got = agent.get_flow(flowIdentifier=created["arn"])
    assert got["validations"] == [] and got["definition"]["nodes"][0]["name"] == "Start"
    early = error_of(agent.create_flow_version, flowIdentifier=flow_id)
    assert early["Code"] == "ValidationException" and "not prepared" in early["Message"]
    prepared = agent.prepare_flow(flowIdentifier=flow_id)
    assert (prepared["id"], prepared["status"]) == (flow_id, "Prepared")
    assert agent.get_flow(flowIdentifier=flow_id)["status"] == "Prepared"
    version = agent.create_flow_version(flowIdentifier=flow_id, description="first")
    assert (version["version"], version["status"]) == ("1", "Prepared")
    assert agent.get_flow_version(flowIdentifier=flow_id, flowVersion="1")["description"] == "first"
    assert [
        v["version"] for v in agent.list_flow_versions(flowIdentifier=flow_id)["flowVersionSummaries"]
    ] == ["DRAFT", "1"]
    alias = agent.create_flow_alias(
        flowIdentifier=flow_id, name="live", routingConfiguration=[{"flowVersion": "1"}]
    )
    assert alias["arn"].endswith(f"flow/{flow_id}/alias/{alias['id']}")
    assert agent.get_flow_alias(flowIdentifier=flow_id, aliasIdentifier=alias["arn"])["name"] == "live"
    assert (
        error_of(
            agent.create_flow_alias,
            flowIdentifier=flow_id,
            name="live",
            routingConfiguration=[{"flowVersion": "1"}],
        )["Code"]
        == "ConflictException"
    )
    assert (
        error_of(
            agent.create_flow_alias,
            flowIdentifier=flow_id,
            name="x",
            routingConfiguration=[{"flowVersion": "9"}],
        )["Status"]
        == 404
    )
    assert outputs(invoke(client, flow_id, "cats", alias=alias["id"])) == [("Cats", "You said: cats")]
    updated = agent.update_flow(
        flowIdentifier=flow_id,
        name=created["name"],
        executionRoleArn=ROLE,
        definition=branching_flow(),
        description="new",
    )
    assert updated["status"] == "NotPrepared"
    not_ready = error_of(
        client("bedrock-agent-runtime").invoke_flow,
        flowIdentifier=flow_id,
        flowAliasIdentifier="TSTALIASID",
        inputs=[{"nodeName": "Start", "content": {"document": "x"}}],
    )
    assert "not prepared" in not_ready["Message"]
    assert outputs(invoke(client, flow_id, "cats", alias=alias["id"])) == [("Cats", "You said: cats")]
    in_use = error_of(agent.delete_flow_version, flowIdentifier=flow_id, flowVersion="1")
    assert in_use["Code"] == "ConflictException"
    agent.update_flow_alias(
        flowIdentifier=flow_id,
        aliasIdentifier=alias["id"],
        name="live",
        description="moved",
        routingConfiguration=[{"flowVersion": "1"}],
    )
    summaries = agent.list_flow_aliases(flowIdentifier=flow_id)["flowAliasSummaries"]
    assert [(s["id"], s.get("description")) for s in summaries] == [(alias["id"], "moved")]
    assert error_of(agent.delete_flow, flowIdentifier=flow_id)["Code"] == "ConflictException"
    assert agent.delete_flow_alias(flowIdentifier=flow_id, aliasIdentifier=alias["id"])["id"] == alias["id"]
    assert agent.delete_flow_version(flowIdentifier=flow_id, flowVersion="1")["version"] == "1"
    assert agent.delete_flow(flowIdentifier=flow_id)["id"] == flow_id
    assert error_of(agent.get_flow, flowIdentifier=flow_id)["Code"] == "ResourceNotFoundException"


def test_list_flows_pages(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    made = {agent.create_flow(name=name(), executionRoleArn=ROLE)["id"] for _ in range(3)}
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = agent.list_flows(maxResults=2, **token)
        seen += [f["id"] for f in page["flowSummaries"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_unsupported_node_types_are_refused_at_create(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    definition = branching_flow()
    definition["nodes"].append(
        {
            "name": "Helper",
            "type": "Agent",
            "configuration": {
                "agent": {
                    "agentAliasArn": "arn:aws:bedrock:us-east-1:000000000000:agent-alias/"
                    "AAAAAAAAAA/BBBBBBBBBB"
                }
            },
        }
    )
    error = error_of(agent.create_flow, name=name(), executionRoleArn=ROLE, definition=definition)
    assert (
        error["Code"] == "ValidationException"
        and "Agent" in error["Message"]
        and "Helper" in error["Message"]
    )
    flow_id = agent.create_flow(name=name(), executionRoleArn=ROLE)["id"]
    updated = error_of(
        agent.update_flow, flowIdentifier=flow_id, name=name(), executionRoleArn=ROLE, definition=definition
    )
    assert updated["Code"] == "ValidationException" and "Agent" in updated["Message"]


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda d: d["connections"].pop(0), "UnfulfilledNodeInput"),
        (
            lambda d: d["connections"][0]["configuration"]["data"].update(targetInput="nope"),
            "UnknownConnectionTargetInput",
        ),
        (lambda d: d["connections"][0].update(target="Nowhere"), "UnknownConnectionTarget"),
        (
            lambda d: d["nodes"][2]["configuration"]["condition"]["conditions"].pop(),
            "MissingDefaultCondition",
        ),
        (
            lambda d: d["nodes"][2]["configuration"]["condition"]["conditions"][0].update(
                expression="completion =="
            ),
            "MalformedConditionExpression",
        ),
        (
            lambda d: d["nodes"][1]["inputs"][0].update(expression="data.topic"),
            "MalformedNodeInputExpression",
        ),
        (lambda d: d["nodes"][1]["outputs"][0].update(type="Number"), "MismatchedNodeOutputType"),
        (
            lambda d: d["connections"][-1]["configuration"]["conditional"].update(condition="ghost"),
            "UnknownConnectionCondition",
        ),
        (lambda d: d["nodes"].pop(0), "MissingStartingNodes"),
        (
            lambda d: d["connections"].append(data("Cats", "document", "Ask", "topic")),
            "UnknownConnectionSourceOutput",
        ),
    ],
)
def test_prepare_refuses_invalid_definitions(
    client: Callable[..., Any], change: Callable[[dict[str, Any]], Any], kind: str
) -> None:
    agent = client("bedrock-agent")
    definition = branching_flow()
    change(definition)
    kinds = [v["type"] for v in agent.validate_flow_definition(definition=definition)["validations"]]
    assert kind in kinds
    flow_id = agent.create_flow(name=name(), executionRoleArn=ROLE, definition=definition)["id"]
    assert kind in [v["type"] for v in agent.get_flow(flowIdentifier=flow_id)["validations"]]
    error = error_of(agent.prepare_flow, flowIdentifier=flow_id)
    assert (error["Code"], error["Status"]) == ("ValidationException", 400)
    assert error["Message"].startswith("Flow definition is invalid:")


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


def test_invoke_flow_bad_input(client: Callable[..., Any]) -> None:
    flow_id = create_prepared(client("bedrock-agent"), branching_flow())
    runtime = client("bedrock-agent-runtime")
    wrong_type = error_of(
        runtime.invoke_flow,
        flowIdentifier=flow_id,
        flowAliasIdentifier="TSTALIASID",
        inputs=[{"nodeName": "Start", "content": {"document": 42}}],
    )
    assert wrong_type["Code"] == "ValidationException" and "String" in wrong_type["Message"]
    wrong_node = error_of(
        runtime.invoke_flow,
        flowIdentifier=flow_id,
        flowAliasIdentifier="TSTALIASID",
        inputs=[{"nodeName": "Ask", "content": {"document": "x"}}],
    )
    assert "not the Input node" in wrong_node["Message"]
    missing = error_of(
        runtime.invoke_flow,
        flowIdentifier=flow_id,
        flowAliasIdentifier="AAAAAAAAAA",
        inputs=[{"nodeName": "Start", "content": {"document": "x"}}],
    )
    assert missing["Code"] == "ResourceNotFoundException"


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


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path / "data").start()
    yield running
    running.stop()


def test_flows_survive_a_restart(own_server: RunningServer) -> None:
    agent = own_server.client("bedrock-agent")
    flow_id = create_prepared(agent, branching_flow())
    agent.create_flow_version(flowIdentifier=flow_id)
    alias = agent.create_flow_alias(
        flowIdentifier=flow_id, name="kept", routingConfiguration=[{"flowVersion": "1"}]
    )
    own_server.restart()
    agent = own_server.client("bedrock-agent")
    assert agent.get_flow(flowIdentifier=flow_id)["status"] == "Prepared"
    assert agent.get_flow_alias(flowIdentifier=flow_id, aliasIdentifier=alias["id"])["name"] == "kept"
    assert outputs(invoke(own_server.client, flow_id, "cats", alias=alias["id"])) == [
        ("Cats", "You said: cats")
    ]


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
