"""langchain-aws's BedrockAgentsRunnable, unmodified, against a running server with fake models: it creates
the agent (polling its status with a 10 s limit), a RETURN_CONTROL function-schema action group from a
LangChain tool, prepares it, and runs the return-of-control loop as AgentExecutor does."""

from __future__ import annotations

import uuid

import pytest
from langchain_aws.agents import BedrockAgentAction, BedrockAgentFinish, BedrockAgentsRunnable
from langchain_core.tools import tool

from tests.server import RunningServer
from tests.services.agents import INSTRUCTION, MODEL, ROLE


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def test_bedrock_agents_runnable_return_control(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOUTCROPLANGCHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "langchain-secret")
    runnable = BedrockAgentsRunnable.create_agent(
        agent_name=f"lc-{uuid.uuid4().hex[:8]}",
        agent_resource_role_arn=ROLE,
        foundation_model=MODEL,
        instruction=INSTRUCTION,
        tools=[get_weather],
        region_name="us-east-1",
        bedrock_endpoint_url=server.endpoint,
        runtime_endpoint_url=server.endpoint,
        enable_trace=True,
    )
    steps = runnable.invoke({"input": "What does get_weather say in Paris?"})
    assert isinstance(steps, list) and len(steps) == 1
    action = steps[0]
    assert isinstance(action, BedrockAgentAction)
    assert action.tool == "get_weather" and action.tool_input == {"city": "Paris"}
    observation = get_weather.invoke(action.tool_input)
    final = runnable.invoke(
        {"input": "What does get_weather say in Paris?", "intermediate_steps": [(action, observation)]}
    )
    assert isinstance(final, BedrockAgentFinish)
    assert final.return_values["output"] == "The tool get_weather returned: sunny in Paris"
    assert final.session_id == action.session_id
