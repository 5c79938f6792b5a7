"""bedrock-agent TagResource, UntagResource and ListTagsForResource through boto3, on the ARNs boto3 sends
(botocore's own pattern for them has a typo that no real ARN matches)."""

from __future__ import annotations

from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.agents import make_agent, prepare


def _tags(agent: Any, arn: str) -> dict[str, str]:
    return dict(agent.list_tags_for_resource(resourceArn=arn)["tags"])


def test_agent_and_alias_tags(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent, tags={"team": "ai"})
    arn = agent.get_agent(agentId=agent_id)["agent"]["agentArn"]
    assert _tags(agent, arn) == {"team": "ai"}
    agent.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "ml"})
    assert _tags(agent, arn) == {"team": "ml", "env": "dev"}
    agent.untag_resource(resourceArn=arn, tagKeys=["team", "not-there"])
    assert _tags(agent, arn) == {"env": "dev"}
    assert agent.get_agent(agentId=agent_id)["agent"]["agentStatus"] == "NOT_PREPARED"

    prepare(agent, agent_id)
    alias = agent.create_agent_alias(agentId=agent_id, agentAliasName="live", tags={"stage": "prod"})
    alias_arn = alias["agentAlias"]["agentAliasArn"]
    assert _tags(agent, alias_arn) == {"stage": "prod"}
    agent.tag_resource(resourceArn=alias_arn, tags={"owner": "me"})
    assert _tags(agent, alias_arn) == {"stage": "prod", "owner": "me"}
    assert _tags(agent, arn) == {"env": "dev"}  # the agent's tags are its own

    too_many = error_of(agent.tag_resource, resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert too_many["Code"] == "ServiceQuotaExceededException"
    agent.delete_agent(agentId=agent_id, skipResourceInUseCheck=True)
    gone = error_of(agent.list_tags_for_resource, resourceArn=arn)
    assert gone["Code"] == "ResourceNotFoundException"


def test_knowledge_base_flow_and_prompt_tags(server: RunningServer) -> None:
    from tests.services.knowledge_bases import create_knowledge_base

    agent = server.client("bedrock-agent")
    kb_id = create_knowledge_base(agent, tags={"data": "docs"})
    kb_arn = agent.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]["knowledgeBaseArn"]
    assert _tags(agent, kb_arn) == {"data": "docs"}
    agent.tag_resource(resourceArn=kb_arn, tags={"cost-center": "42"})
    agent.untag_resource(resourceArn=kb_arn, tagKeys=["data"])
    assert _tags(agent, kb_arn) == {"cost-center": "42"}

    prompt = agent.create_prompt(
        name="tagged-prompt",
        variants=[
            {
                "name": "v",
                "templateType": "TEXT",
                "templateConfiguration": {"text": {"text": "Say {{x}}"}},
            }
        ],
        tags={"kind": "prompt"},
    )
    assert _tags(agent, prompt["arn"]) == {"kind": "prompt"}
    agent.tag_resource(resourceArn=prompt["arn"], tags={"more": "yes"})
    assert _tags(agent, prompt["arn"]) == {"kind": "prompt", "more": "yes"}


def test_bad_tag_requests(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    account_arn = "arn:aws:bedrock:us-east-1:000000000000"
    missing = error_of(agent.list_tags_for_resource, resourceArn=f"{account_arn}:agent/NOSUCHAGNT")
    assert missing["Code"] == "ResourceNotFoundException"
    kb = error_of(agent.tag_resource, resourceArn=f"{account_arn}:knowledge-base/NOSUCHKB12", tags={"a": "b"})
    assert kb["Code"] == "ResourceNotFoundException"
    other = error_of(agent.list_tags_for_resource, resourceArn=f"{account_arn}:guardrail/abcdefghij")
    assert other["Code"] == "ValidationException"
    agent_id = make_agent(agent)
    arn = agent.get_agent(agentId=agent_id)["agent"]["agentArn"]
    too_long = error_of(agent.tag_resource, resourceArn=arn, tags={"k": "v" * 257})
    assert too_long["Code"] == "ValidationException"
