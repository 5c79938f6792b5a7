"""Agents with a customer managed key (`customerEncryptionKeyArn`), through boto3: the instruction, action
groups and the runtime's session state are stored sealed under a data key of that KMS key, so their
plaintext is nowhere in the data dir, before or after a restart; a disabled key makes GetAgent and
InvokeAgent answer AccessDeniedException while ListAgents still lists the agent; a key KMS refuses is a
ValidationException (data sources' keys: test_bedrock_kb_cmk.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.agents import MODEL, ROLE, prepare, read_stream, wait_status
from tests.services.at_rest import found_in, own_server

MISSING_KEY = "arn:aws:kms:us-east-1:000000000000:key/" + "1" * 8 + "-1111-1111-1111-" + "1" * 12
SECRET = "zanzibar-7c1e"  # in the instruction
SCHEMA_SECRET = "quokka-51d2"  # in an action group's function description
SESSION_SECRET = "marmalade-93af"  # in a session attribute the runtime keeps


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from own_server(tmp_path_factory, "agent-cmk")


@pytest.fixture
def client(server: RunningServer) -> Callable[..., Any]:
    return server.client


def _agent_with_key(agent: Any, key: str, instruction: str) -> str:
    request = {
        "agentName": f"cmk-{uuid.uuid4().hex[:8]}",
        "foundationModel": MODEL,
        "instruction": instruction,
        "agentResourceRoleArn": ROLE,
        "customerEncryptionKeyArn": key,
        "clientToken": str(uuid.uuid4()),
    }
    created = agent.create_agent(**request)["agent"]
    assert created["customerEncryptionKeyArn"] == key
    retried = agent.create_agent(**request)["agent"]  # the same request again answers the same agent
    assert (retried["agentId"], retried["instruction"]) == (created["agentId"], instruction)
    agent_id = str(created["agentId"])
    wait_status(agent, agent_id, "NOT_PREPARED")
    return agent_id


def _invoke(runtime: Any, agent_id: str, session: str) -> dict[str, Any]:
    response = runtime.invoke_agent(
        agentId=agent_id,
        agentAliasId="TSTALIASID",
        sessionId=session,
        inputText="What is the weather like?",
        sessionState={"sessionAttributes": {"code": SESSION_SECRET}},
    )
    return read_stream(response)


def test_an_agents_data_is_sealed_under_its_key(client: Callable[..., Any], server: RunningServer) -> None:
    key = client("kms").create_key(Description="agents")["KeyMetadata"]["Arn"]
    agent = client("bedrock-agent")
    agent_id = _agent_with_key(agent, key, f"You answer weather questions. Code word {SECRET}.")
    agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="lookup",
        actionGroupExecutor={"customControl": "RETURN_CONTROL"},
        functionSchema={"functions": [{"name": "forecast", "description": f"Forecast {SCHEMA_SECRET}."}]},
    )
    prepare(agent, agent_id)
    assert _invoke(client("bedrock-agent-runtime"), agent_id, "s-1")["traces"] is not None
    server.stop()  # SQLite's WAL checkpointed and closed: what is on disk is all there is
    for secret in (SECRET, SCHEMA_SECRET, SESSION_SECRET):
        assert found_in(server.data_dir, secret.encode()) == [], secret
    server.start()
    agent = client("bedrock-agent")
    got = agent.get_agent(agentId=agent_id)["agent"]
    assert SECRET in got["instruction"] and got["customerEncryptionKeyArn"] == key
    groups = agent.list_agent_action_groups(agentId=agent_id, agentVersion="DRAFT")["actionGroupSummaries"]
    assert [g["actionGroupName"] for g in groups] == ["lookup"]
    _invoke(client("bedrock-agent-runtime"), agent_id, "s-1")  # the saved session opens again

    # a disabled key: the agent is still listed, but nothing sealed can be read
    client("kms").disable_key(KeyId=key)
    denied = error_of(agent.get_agent, agentId=agent_id)
    assert denied["Code"] == "AccessDeniedException" and denied["Status"] == 403
    assert "DisabledException" in denied["Message"] and key in denied["Message"]
    listed = agent.list_agents()["agentSummaries"]
    assert agent_id in [a["agentId"] for a in listed]
    refused = error_of(
        client("bedrock-agent-runtime").invoke_agent,
        agentId=agent_id,
        agentAliasId="TSTALIASID",
        sessionId="s-2",
        inputText="Hello",
    )
    assert refused["Code"] == "AccessDeniedException"
    client("kms").enable_key(KeyId=key)
    assert SECRET in agent.get_agent(agentId=agent_id)["agent"]["instruction"]
    agent.delete_agent(agentId=agent_id, skipResourceInUseCheck=True)


def test_updating_the_key_reseals_and_removing_it_opens(client: Callable[..., Any]) -> None:
    kms = client("kms")
    first, second = (kms.create_key(Description=d)["KeyMetadata"]["Arn"] for d in ("one", "two"))
    agent = client("bedrock-agent")
    agent_id = _agent_with_key(agent, first, f"Answer every weather question briefly. {SECRET}")
    update = {"agentId": agent_id, "agentName": agent.get_agent(agentId=agent_id)["agent"]["agentName"]}
    kind = f"Be kind when answering weather questions. {SECRET}"
    update |= {"agentResourceRoleArn": ROLE, "foundationModel": MODEL, "instruction": kind}
    agent.update_agent(**update, customerEncryptionKeyArn=second)
    kms.disable_key(KeyId=first)  # the old key no longer matters
    got = agent.get_agent(agentId=agent_id)["agent"]
    assert got["customerEncryptionKeyArn"] == second and got["instruction"] == kind
    kms.disable_key(KeyId=second)
    assert error_of(agent.get_agent, agentId=agent_id)["Code"] == "AccessDeniedException"
    kms.enable_key(KeyId=second)
    agent.update_agent(**update)  # without a key: stored in the clear from now on
    kms.disable_key(KeyId=second)
    assert "customerEncryptionKeyArn" not in agent.get_agent(agentId=agent_id)["agent"]
    agent.delete_agent(agentId=agent_id)


def test_a_key_kms_refuses_is_a_validation_error(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    name = f"cmk-{uuid.uuid4().hex[:8]}"
    refused = error_of(
        agent.create_agent,
        agentName=name,
        agentResourceRoleArn=ROLE,
        instruction="You are a helpful assistant that answers questions about the weather.",
        customerEncryptionKeyArn=MISSING_KEY,
    )
    assert refused["Code"] == "ValidationException" and "NotFoundException" in refused["Message"]
    assert name not in [a["agentName"] for a in agent.list_agents()["agentSummaries"]]
    disabled = client("kms").create_key(Description="off")["KeyMetadata"]["Arn"]
    client("kms").disable_key(KeyId=disabled)
    refused = error_of(
        agent.create_agent,
        agentName=name,
        agentResourceRoleArn=ROLE,
        instruction="You are a helpful assistant that answers questions about the weather.",
        customerEncryptionKeyArn=disabled,
    )
    assert refused["Code"] == "ValidationException" and "DisabledException" in refused["Message"]
