"""Under `auth = "iam"`, an agent with a customer managed key needs the caller to be allowed
kms:GenerateDataKey and kms:Decrypt on that key (Bedrock's "Encryption of agent resources"): a user allowed
bedrock:* alone is denied GetAgent and InvokeAgent, worded as AWS words a denial, and creating an agent with
the key; allowed the two KMS actions on the key, with the agent's ARN as encryption context, it may."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer
from tests.services.agents import MODEL, ROLE, wait_status

INSTRUCTION = "You are a helpful assistant that answers questions about the weather."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("agent-cmk-iam") / "data") as running:
        yield running


def _user(server: RunningServer, name: str, *statements: dict[str, Any]) -> dict[str, Any]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def test_an_agents_key_needs_kms_permissions_of_the_caller(server: RunningServer) -> None:
    key = server.client("kms").create_key(Description="agents")["KeyMetadata"]["Arn"]
    root = server.client("bedrock-agent")
    agent_id = root.create_agent(
        agentName=f"cmk-{uuid.uuid4().hex[:8]}",
        foundationModel=MODEL,
        instruction=INSTRUCTION,
        agentResourceRoleArn=ROLE,
        customerEncryptionKeyArn=key,
    )["agent"]["agentId"]
    wait_status(root, agent_id, "NOT_PREPARED")
    agent_arn = f"arn:aws:bedrock:us-east-1:000000000000:agent/{agent_id}"

    bedrock_only = signed_as(server, "bedrock-agent", _user(server, "bedrock-only", allow("bedrock:*")))
    denied = error_of(bedrock_only.get_agent, agentId=agent_id)
    assert denied["Code"] == "AccessDeniedException" and denied["Status"] == 403
    assert denied["Message"] == (
        "User: arn:aws:iam::000000000000:user/bedrock-only is not authorized to perform: "
        f"kms:GenerateDataKey on resource: {key} because no identity-based policy allows the "
        "kms:GenerateDataKey action"
    )
    runtime = signed_as(server, "bedrock-agent-runtime", _user(server, "runtime-only", allow("bedrock:*")))
    refused = error_of(
        runtime.invoke_agent, agentId=agent_id, agentAliasId="TSTALIASID", sessionId="s-1", inputText="Hi"
    )
    assert refused["Code"] == "AccessDeniedException" and "kms:" in refused["Message"]
    made = error_of(
        bedrock_only.create_agent,
        agentName=f"cmk-{uuid.uuid4().hex[:8]}",
        instruction=INSTRUCTION,
        agentResourceRoleArn=ROLE,
        customerEncryptionKeyArn=key,
    )
    assert made["Code"] == "AccessDeniedException"

    # the documented grant: both actions on the key, for this agent's ARN as encryption context
    context = {"StringEquals": {"kms:EncryptionContext:aws:bedrock:arn": agent_arn}}
    kms_allowed = allow(["kms:GenerateDataKey", "kms:Decrypt"], key, Condition=context)
    with_kms = signed_as(server, "bedrock-agent", _user(server, "with-kms", allow("bedrock:*"), kms_allowed))
    assert with_kms.get_agent(agentId=agent_id)["agent"]["instruction"] == INSTRUCTION
    other = root.create_agent(
        agentName=f"plain-{uuid.uuid4().hex[:8]}", instruction=INSTRUCTION, agentResourceRoleArn=ROLE
    )["agent"]["agentId"]
    assert bedrock_only.get_agent(agentId=other)["agent"]["agentId"] == other  # no key: no KMS needed
