"""Flows through boto3: create, prepare (with AWS's validation types), versions, aliases, paging, bad
input and restart persistence (fake models). What each node type does in a run: test_bedrock_flow_nodes.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.flows import (
    ROLE,
    branching_flow,
    create_prepared,
    data,
    invoke,
    name,
    outputs,
)


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
