"""Bedrock Agents control plane through boto3: agents and their status, PrepareAgent, action groups, aliases
and versions, knowledge-base associations, and AWS-shaped errors for bad input."""

from __future__ import annotations

import json
import time
import uuid

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.agents import (
    FUNCTION_HANDLER,
    INSTRUCTION,
    MODEL,
    PETS_API,
    ROLE,
    WEATHER_FUNCTIONS,
    make_agent,
    make_function,
    prepare,
)


def test_agent_lifecycle(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    name = f"life-{uuid.uuid4().hex[:8]}"
    created = agent.create_agent(
        agentName=name,
        foundationModel=MODEL,
        instruction=INSTRUCTION,
        agentResourceRoleArn=ROLE,
        idleSessionTTLInSeconds=300,
        memoryConfiguration={"enabledMemoryTypes": ["SESSION_SUMMARY"], "storageDays": 7},
        guardrailConfiguration={"guardrailIdentifier": "abc123", "guardrailVersion": "1"},
        tags={"team": "ai"},
    )["agent"]
    assert created["agentStatus"] == "CREATING" and created["agentVersion"] == "DRAFT"
    agent_id = created["agentId"]
    assert created["agentArn"].endswith(f":agent/{agent_id}") and len(agent_id) == 10
    time.sleep(0.7)
    got = agent.get_agent(agentId=agent_id)["agent"]
    assert got["agentStatus"] == "NOT_PREPARED" and got["idleSessionTTLInSeconds"] == 300
    assert got["guardrailConfiguration"]["guardrailIdentifier"] == "abc123"
    assert got["memoryConfiguration"]["storageDays"] == 7
    assert agent_id in [a["agentId"] for a in agent.list_agents()["agentSummaries"]]

    prepared = agent.prepare_agent(agentId=agent_id)
    assert prepared["agentStatus"] == "PREPARING"
    time.sleep(0.7)
    assert agent.get_agent(agentId=agent_id)["agent"]["agentStatus"] == "PREPARED"

    updated = agent.update_agent(
        agentId=agent_id,
        agentName=name,
        foundationModel=MODEL,
        agentResourceRoleArn=ROLE,
        instruction=INSTRUCTION + " Be brief.",
    )["agent"]
    assert updated["instruction"].endswith("Be brief.")
    time.sleep(0.7)
    assert agent.get_agent(agentId=agent_id)["agent"]["agentStatus"] == "NOT_PREPARED"

    aliases = agent.list_agent_aliases(agentId=agent_id)["agentAliasSummaries"]
    assert [a["agentAliasId"] for a in aliases] == ["TSTALIASID"]
    assert agent.delete_agent(agentId=agent_id)["agentStatus"] == "DELETING"
    assert error_of(agent.get_agent, agentId=agent_id)["Code"] == "ResourceNotFoundException"


def test_aliases_make_versions(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent)
    assert error_of(agent.create_agent_alias, agentId=agent_id, agentAliasName="live")["Code"] == (
        "ValidationException"
    )  # never prepared
    prepare(agent, agent_id)
    alias = agent.create_agent_alias(agentId=agent_id, agentAliasName="live", tags={"k": "v"})["agentAlias"]
    assert alias["routingConfiguration"] == [{"agentVersion": "1"}]
    assert alias["agentAliasStatus"] == "CREATING"
    time.sleep(0.7)
    got = agent.get_agent_alias(agentId=agent_id, agentAliasId=alias["agentAliasId"])["agentAlias"]
    assert got["agentAliasStatus"] == "PREPARED"
    second = agent.create_agent_alias(
        agentId=agent_id, agentAliasName="pinned", routingConfiguration=[{"agentVersion": "1"}]
    )["agentAlias"]
    assert second["routingConfiguration"] == [{"agentVersion": "1"}]
    versions = agent.list_agent_versions(agentId=agent_id)["agentVersionSummaries"]
    assert [v["agentVersion"] for v in versions] == ["DRAFT", "1"]
    version = agent.get_agent_version(agentId=agent_id, agentVersion="1")["agentVersion"]
    assert version["version"] == "1" and version["instruction"] == INSTRUCTION
    missing = error_of(
        agent.create_agent_alias,
        agentId=agent_id,
        agentAliasName="x",
        routingConfiguration=[{"agentVersion": "7"}],
    )
    assert missing["Code"] == "ResourceNotFoundException"
    in_use = error_of(agent.delete_agent_version, agentId=agent_id, agentVersion="1")
    assert in_use["Code"] == "ConflictException"
    assert error_of(agent.delete_agent, agentId=agent_id)["Code"] == "ConflictException"
    agent.delete_agent_alias(agentId=agent_id, agentAliasId=second["agentAliasId"])
    assert agent.delete_agent(agentId=agent_id, skipResourceInUseCheck=True)["agentStatus"] == "DELETING"


def test_action_groups(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    lam = server.client("lambda")
    arn = make_function(lam, FUNCTION_HANDLER)
    agent_id = make_agent(agent)
    prepare(agent, agent_id)
    group = agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="weather",
        actionGroupExecutor={"lambda": arn},
        functionSchema=WEATHER_FUNCTIONS,
    )["agentActionGroup"]
    assert group["actionGroupState"] == "ENABLED" and group["agentVersion"] == "DRAFT"
    assert agent.get_agent(agentId=agent_id)["agent"]["agentStatus"] == "NOT_PREPARED"
    api = agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="pets",
        actionGroupExecutor={"customControl": "RETURN_CONTROL"},
        apiSchema={"payload": json.dumps(PETS_API)},
    )["agentActionGroup"]
    user_input = agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="UserInputAction",
        parentActionGroupSignature="AMAZON.UserInput",
    )["agentActionGroup"]
    assert user_input["parentActionSignature"] == "AMAZON.UserInput"
    listed = agent.list_agent_action_groups(agentId=agent_id, agentVersion="DRAFT")["actionGroupSummaries"]
    assert {g["actionGroupName"] for g in listed} == {"weather", "pets", "UserInputAction"}

    updated = agent.update_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupId=api["actionGroupId"],
        actionGroupName="pets",
        actionGroupExecutor={"customControl": "RETURN_CONTROL"},
        apiSchema={
            "payload": "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /ping:\n    get:\n"
            "      description: Ping the service.\n"
        },
        actionGroupState="DISABLED",
    )["agentActionGroup"]
    assert updated["actionGroupState"] == "DISABLED"
    agent.delete_agent_action_group(
        agentId=agent_id, agentVersion="DRAFT", actionGroupId=api["actionGroupId"]
    )
    still = error_of(
        agent.delete_agent_action_group,
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupId=group["actionGroupId"],
    )
    assert still["Code"] == "ConflictException"  # ENABLED groups need skipResourceInUseCheck

    prepare(agent, agent_id)
    agent.create_agent_alias(agentId=agent_id, agentAliasName="v1")
    copied = agent.list_agent_action_groups(agentId=agent_id, agentVersion="1")["actionGroupSummaries"]
    assert {g["actionGroupName"] for g in copied} == {"weather", "UserInputAction"}


def test_bad_action_groups(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent)
    base = {"agentId": agent_id, "agentVersion": "DRAFT", "actionGroupName": "g"}
    unknown = error_of(
        agent.create_agent_action_group,
        **base,
        actionGroupExecutor={"lambda": "arn:aws:lambda:us-east-1:000000000000:function:nope"},
        functionSchema=WEATHER_FUNCTIONS,
    )
    assert unknown["Code"] == "ValidationException" and "nope" in unknown["Message"]
    code = error_of(
        agent.create_agent_action_group, **base, parentActionGroupSignature="AMAZON.CodeInterpreter"
    )
    assert code["Code"] == "ValidationException" and "CodeInterpreter" in code["Message"]
    control = {"customControl": "RETURN_CONTROL"}
    broken = error_of(
        agent.create_agent_action_group,
        **base,
        actionGroupExecutor=control,
        apiSchema={"payload": "{not: [json"},
    )
    assert broken["Code"] == "ValidationException" and "parse" in broken["Message"]
    no_paths = json.dumps({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}})
    empty = error_of(
        agent.create_agent_action_group, **base, actionGroupExecutor=control, apiSchema={"payload": no_paths}
    )
    assert empty["Code"] == "ValidationException"
    missing_s3 = error_of(
        agent.create_agent_action_group,
        **base,
        actionGroupExecutor=control,
        apiSchema={"s3": {"s3BucketName": "no-such-bucket", "s3ObjectKey": "api.yaml"}},
    )
    assert missing_s3["Code"] == "ValidationException"
    both = error_of(agent.create_agent_action_group, **base, actionGroupExecutor=control)
    assert both["Code"] == "ValidationException"
    bad_name = error_of(
        agent.create_agent_action_group,
        **{**base, "actionGroupName": "bad name!"},
        actionGroupExecutor=control,
        functionSchema=WEATHER_FUNCTIONS,
    )
    assert bad_name["Code"] == "ValidationException"
    agent.create_agent_action_group(**base, actionGroupExecutor=control, functionSchema=WEATHER_FUNCTIONS)
    twice = error_of(
        agent.create_agent_action_group, **base, actionGroupExecutor=control, functionSchema=WEATHER_FUNCTIONS
    )
    assert twice["Code"] == "ConflictException"


def test_api_schema_from_s3(server: RunningServer) -> None:
    agent, s3 = server.client("bedrock-agent"), server.client("s3")
    bucket = f"schemas-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="pets.json", Body=json.dumps(PETS_API).encode())
    agent_id = make_agent(agent)
    group = agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="pets",
        actionGroupExecutor={"customControl": "RETURN_CONTROL"},
        apiSchema={"s3": {"s3BucketName": bucket, "s3ObjectKey": "pets.json"}},
    )["agentActionGroup"]
    assert group["apiSchema"]["s3"]["s3ObjectKey"] == "pets.json"


def test_bad_agents(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    common = {"agentResourceRoleArn": ROLE, "instruction": INSTRUCTION}
    model = error_of(
        agent.create_agent, agentName="m1", foundationModel="amazon.titan-embed-text-v2:0", **common
    )
    assert model["Code"] == "ValidationException" and "text generation" in model["Message"]
    spaced = error_of(agent.create_agent, agentName="has space", foundationModel=MODEL, **common)
    assert spaced["Code"] == "ValidationException" and "agentName" in spaced["Message"]
    override = {
        "promptConfigurations": [
            {"promptType": "PRE_PROCESSING", "promptState": "ENABLED", "parserMode": "OVERRIDDEN"}
        ]
    }
    refused = error_of(
        agent.create_agent,
        agentName="m3",
        foundationModel=MODEL,
        promptOverrideConfiguration=override,
        **common,
    )
    assert refused["Code"] == "ValidationException" and "PRE_PROCESSING" in refused["Message"]
    no_template = {
        "promptConfigurations": [{"promptType": "ORCHESTRATION", "promptCreationMode": "OVERRIDDEN"}]
    }
    missing = error_of(
        agent.create_agent,
        agentName="m4",
        foundationModel=MODEL,
        promptOverrideConfiguration=no_template,
        **common,
    )
    assert missing["Code"] == "ValidationException" and "basePromptTemplate" in missing["Message"]
    name = f"dup-{uuid.uuid4().hex[:6]}"
    agent.create_agent(agentName=name, foundationModel=MODEL, **common)
    assert (
        error_of(agent.create_agent, agentName=name, foundationModel=MODEL, **common)["Code"]
        == "ConflictException"
    )
    assert error_of(agent.get_agent, agentId="ABCDEFGHIJ")["Status"] == 404
    token = uuid.uuid4().hex + "-retry"
    once = agent.create_agent(
        agentName=f"tok-{uuid.uuid4().hex[:6]}", foundationModel=MODEL, clientToken=token, **common
    )
    again = agent.create_agent(agentName="any-name", foundationModel=MODEL, clientToken=token, **common)
    assert again["agent"]["agentId"] == once["agent"]["agentId"]
    bare = agent.create_agent(agentName=f"bare-{uuid.uuid4().hex[:6]}")["agent"]
    time.sleep(0.6)
    assert error_of(agent.prepare_agent, agentId=bare["agentId"])["Code"] == "ValidationException"


def test_knowledge_base_association(server: RunningServer) -> None:
    from tests.services.knowledge_bases import create_knowledge_base

    agent = server.client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    agent_id = make_agent(agent)
    linked = agent.associate_agent_knowledge_base(
        agentId=agent_id,
        agentVersion="DRAFT",
        knowledgeBaseId=kb_id,
        description="Use it for policy questions.",
    )["agentKnowledgeBase"]
    assert linked["knowledgeBaseState"] == "ENABLED"
    again = error_of(
        agent.associate_agent_knowledge_base,
        agentId=agent_id,
        agentVersion="DRAFT",
        knowledgeBaseId=kb_id,
        description="again",
    )
    assert again["Code"] == "ConflictException"
    agent.update_agent_knowledge_base(
        agentId=agent_id, agentVersion="DRAFT", knowledgeBaseId=kb_id, knowledgeBaseState="DISABLED"
    )
    summaries = agent.list_agent_knowledge_bases(agentId=agent_id, agentVersion="DRAFT")
    assert summaries["agentKnowledgeBaseSummaries"][0]["knowledgeBaseState"] == "DISABLED"
    agent.disassociate_agent_knowledge_base(agentId=agent_id, agentVersion="DRAFT", knowledgeBaseId=kb_id)
    gone = error_of(
        agent.get_agent_knowledge_base, agentId=agent_id, agentVersion="DRAFT", knowledgeBaseId=kb_id
    )
    assert gone["Code"] == "ResourceNotFoundException"
    unknown = error_of(
        agent.associate_agent_knowledge_base,
        agentId=agent_id,
        agentVersion="DRAFT",
        knowledgeBaseId="NOSUCHKB12",
        description="x",
    )
    assert unknown["Code"] == "ResourceNotFoundException"
