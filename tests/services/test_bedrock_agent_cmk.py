"""Knowledge-base data sources and agents keep their data unencrypted, so a customer managed key is refused
by name (ValidationException), never stored and ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.errors import error_of
from tests.services.knowledge_bases import create_knowledge_base

KEY = "arn:aws:kms:us-east-1:000000000000:key/" + "1" * 36
ROLE = "arn:aws:iam::000000000000:role/service-role/AmazonBedrockExecutionRoleForAgents_cmk"


def test_an_agent_with_a_customer_key_is_refused(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    refused = error_of(
        agent.create_agent,
        agentName="cmk-agent",
        agentResourceRoleArn=ROLE,
        instruction="You are a helpful assistant that answers questions about the weather.",
        customerEncryptionKeyArn=KEY,
    )
    assert refused["Code"] == "ValidationException" and "customerEncryptionKeyArn" in refused["Message"]
    assert [a for a in agent.list_agents()["agentSummaries"] if a["agentName"] == "cmk-agent"] == []


def test_a_data_source_with_a_customer_key_is_refused(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    refused = error_of(
        agent.create_data_source,
        knowledgeBaseId=kb_id,
        name="cmk-source",
        dataSourceConfiguration={"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::cmk-docs"}},
        serverSideEncryptionConfiguration={"kmsKeyArn": KEY},
    )
    assert refused["Code"] == "ValidationException" and "kmsKeyArn" in refused["Message"]
    assert agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"] == []
