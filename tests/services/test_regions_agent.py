"""bedrock-agent's knowledge bases live in the account and region that made them."""

from __future__ import annotations

import uuid
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.knowledge_bases import create_knowledge_base
from tests.services.regions import AWAY, HOME, arn_region, regional


def test_a_knowledge_base_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "bedrock-agent", HOME), regional(server, "bedrock-agent", AWAY)
    name = f"kb-{uuid.uuid4().hex[:8]}"
    kb_id = create_knowledge_base(home, name=name)
    kb = home.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]
    assert arn_region(kb["knowledgeBaseArn"]) == HOME
    assert kb_id in [k["knowledgeBaseId"] for k in home.list_knowledge_bases()["knowledgeBaseSummaries"]]

    assert kb_id not in [k["knowledgeBaseId"] for k in away.list_knowledge_bases()["knowledgeBaseSummaries"]]
    assert error_of(away.get_knowledge_base, knowledgeBaseId=kb_id)["Code"] == "ResourceNotFoundException"
    assert error_of(away.list_data_sources, knowledgeBaseId=kb_id)["Code"] == "ResourceNotFoundException"
    assert error_of(away.delete_knowledge_base, knowledgeBaseId=kb_id)["Code"] == "ResourceNotFoundException"
    runtime = regional(server, "bedrock-agent-runtime", AWAY)
    retrieve = error_of(runtime.retrieve, knowledgeBaseId=kb_id, retrievalQuery={"text": "anything"})
    assert retrieve["Code"] == "ResourceNotFoundException"

    # the name is free in us-east-1, and taken in eu-west-1
    other = create_knowledge_base(away, name=name)
    assert (
        arn_region(away.get_knowledge_base(knowledgeBaseId=other)["knowledgeBase"]["knowledgeBaseArn"])
        == AWAY
    )
    assert error_of(lambda: create_knowledge_base(home, name=name))["Code"] == "ConflictException"
    away.delete_knowledge_base(knowledgeBaseId=other)
    home.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_an_agent_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "bedrock-agent", HOME), regional(server, "bedrock-agent", AWAY)
    name = f"agent-{uuid.uuid4().hex[:8]}"

    def create(agent: Any) -> dict[str, Any]:
        made: dict[str, Any] = agent.create_agent(
            agentName=name, foundationModel="anthropic.claude-3-haiku-20240307-v1:0", instruction="x" * 40
        )["agent"]
        return made

    made = create(home)
    agent_id = made["agentId"]
    assert arn_region(made["agentArn"]) == HOME
    assert home.get_agent(agentId=agent_id)["agent"]["agentName"] == name
    assert error_of(away.get_agent, agentId=agent_id)["Code"] == "ResourceNotFoundException"
    assert error_of(away.list_agent_action_groups, agentId=agent_id, agentVersion="DRAFT")["Code"] == (
        "ResourceNotFoundException"
    )
    assert error_of(away.delete_agent, agentId=agent_id)["Code"] == "ResourceNotFoundException"
    assert agent_id not in [a["agentId"] for a in away.list_agents()["agentSummaries"]]
    assert agent_id in [a["agentId"] for a in home.list_agents()["agentSummaries"]]
    other = create(away)  # the name is free in us-east-1
    assert arn_region(other["agentArn"]) == AWAY
    away.delete_agent(agentId=other["agentId"])
    home.delete_agent(agentId=agent_id)
