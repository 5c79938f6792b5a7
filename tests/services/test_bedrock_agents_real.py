"""An agent on the real 1.5B model: it chooses the Lambda-backed function, passes the city the user named,
reads the Lambda's documented response and answers with what it returned."""

from __future__ import annotations

import uuid

import pytest

from tests.server import RunningServer
from tests.services.agents import make_agent, make_function, orchestration, prepare, read_stream

pytestmark = pytest.mark.real

SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"  # the catalog maps it to Qwen2.5-Coder 1.5B
HANDLER = """
def lambda_handler(event, context):
    city = {p['name']: p['value'] for p in event.get('parameters', [])}.get('city', '?')
    body = f"The weather in {city} is 23 degrees and sunny."
    return {'messageVersion': '1.0', 'response': {'actionGroup': event['actionGroup'],
            'function': event['function'], 'functionResponse': {'responseBody': {'TEXT': {'body': body}}}}}
"""
FUNCTIONS = {
    "functions": [
        {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {"city": {"type": "string", "description": "City name", "required": True}},
        }
    ]
}
SHORT = {
    "promptConfigurations": [
        {
            "promptType": "ORCHESTRATION",
            "promptCreationMode": "DEFAULT",
            "inferenceConfiguration": {"maximumLength": 96, "temperature": 0.0},
        }
    ]
}


def test_agent_calls_the_lambda_and_answers(real_server: RunningServer) -> None:
    agent = real_server.client("bedrock-agent")
    arn = make_function(real_server.client("lambda"), HANDLER)
    agent_id = make_agent(agent, model=SONNET, promptOverrideConfiguration=SHORT)
    agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="weather",
        actionGroupExecutor={"lambda": arn},
        functionSchema=FUNCTIONS,
    )
    prepare(agent, agent_id)
    runtime = real_server.client("bedrock-agent-runtime")
    response = runtime.invoke_agent(
        agentId=agent_id,
        agentAliasId="TSTALIASID",
        sessionId=uuid.uuid4().hex,
        inputText="What is the weather in Paris right now?",
        enableTrace=True,
    )
    read = read_stream(response)
    calls = orchestration(read["traces"], "invocationInput")
    assert calls and calls[0]["actionGroupInvocationInput"]["function"] == "get_weather"
    assert calls[0]["actionGroupInvocationInput"]["parameters"][0]["value"].lower() == "paris"
    raw = [o["rawResponse"]["content"] for o in orchestration(read["traces"], "modelInvocationOutput")]
    assert "23" in read["text"], raw
    usage = orchestration(read["traces"], "modelInvocationOutput")[0]["metadata"]["usage"]
    assert usage["inputTokens"] > 50 and usage["outputTokens"] > 0
