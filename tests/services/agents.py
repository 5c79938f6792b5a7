"""Helpers for the Bedrock Agents tests: Lambda packages with AWS's documented handler shapes, agents made
through boto3, and InvokeAgent streams read into their parts."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/agent-role"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
INSTRUCTION = "You are a helpful assistant that answers questions about the weather and bookings."

# The function-details handler of AWS's "Configure Lambda functions" guide, echoing what it received.
FUNCTION_HANDLER = """
import json

def lambda_handler(event, context):
    agent = event['agent']
    actionGroup = event['actionGroup']
    function = event['function']
    parameters = event.get('parameters', [])
    values = {p['name']: p['value'] for p in parameters}
    responseBody = {"TEXT": {"body": json.dumps({"function": function, "values": values,
                                                  "input": event['inputText'], "agent": agent['id']})}}
    action_response = {'actionGroup': actionGroup, 'function': function,
                       'functionResponse': {'responseBody': responseBody}}
    session = dict(event['sessionAttributes'])
    session['calls'] = str(int(session.get('calls', '0')) + 1)
    return {'response': action_response, 'messageVersion': event['messageVersion'],
            'sessionAttributes': session, 'promptSessionAttributes': event['promptSessionAttributes']}
"""

# The OpenAPI handler of the same guide.
API_HANDLER = """
import json

def lambda_handler(event, context):
    actionGroup = event['actionGroup']
    api_path = event['apiPath']
    httpMethod = event['httpMethod']
    parameters = event.get('parameters', [])
    requestBody = event.get('requestBody', {})
    responseBody = {"application/json": {"body": json.dumps({"path": api_path, "method": httpMethod,
                                                             "parameters": parameters, "body": requestBody})}}
    action_response = {'actionGroup': actionGroup, 'apiPath': api_path, 'httpMethod': httpMethod,
                       'httpStatusCode': 200, 'responseBody': responseBody}
    return {'messageVersion': '1.0', 'response': action_response,
            'sessionAttributes': event['sessionAttributes'],
            'promptSessionAttributes': event['promptSessionAttributes']}
"""

FAILING_HANDLER = """
def lambda_handler(event, context):
    raise RuntimeError("the booking system is down")
"""

MALFORMED_HANDLER = """
def lambda_handler(event, context):
    return {"hello": "not the documented shape"}
"""

WEATHER_FUNCTIONS = {
    "functions": [
        {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {"city": {"type": "string", "description": "The city", "required": True}},
        },
        {
            "name": "book_table",
            "description": "Book a table at a restaurant.",
            "parameters": {
                "restaurant": {"type": "string", "description": "Restaurant name", "required": True},
                "people": {"type": "integer", "description": "How many people", "required": True},
            },
        },
    ]
}

PETS_API = {
    "openapi": "3.0.0",
    "info": {"title": "Pets", "version": "1.0.0"},
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "get_pet",
                "description": "Get a pet by its id.",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "The pet"}},
            }
        },
        "/pets": {
            "post": {
                "operationId": "add_pet",
                "description": "Add a pet.",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                                "required": ["name"],
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "Added"}},
            }
        },
    },
}


def package(handler: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", handler)
    return buffer.getvalue()


def make_function(lam: Any, handler: str) -> str:
    """A Lambda function from the handler's text; returns its ARN."""
    name = f"agent-fn-{uuid.uuid4().hex[:8]}"
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.lambda_handler",
        Code={"ZipFile": package(handler)},
        Timeout=10,
    )
    return str(created["FunctionArn"])


def wait_status(agent: Any, agent_id: str, wanted: str, limit: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        found: dict[str, Any] = agent.get_agent(agentId=agent_id)["agent"]
        if found["agentStatus"] == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def make_agent(agent: Any, model: str = MODEL, **extra: Any) -> str:
    created = agent.create_agent(
        agentName=f"agent-{uuid.uuid4().hex[:8]}",
        foundationModel=model,
        instruction=INSTRUCTION,
        agentResourceRoleArn=ROLE,
        **extra,
    )
    agent_id = str(created["agent"]["agentId"])
    assert wait_status(agent, agent_id, "NOT_PREPARED")["agentStatus"] == "NOT_PREPARED"
    return agent_id


def prepare(agent: Any, agent_id: str) -> None:
    agent.prepare_agent(agentId=agent_id)
    assert wait_status(agent, agent_id, "PREPARED")["agentStatus"] == "PREPARED"


def read_stream(response: dict[str, Any]) -> dict[str, Any]:
    """The text, traces, return-control payload and citations of an InvokeAgent response."""
    text, traces, control, attributions = "", [], None, []
    for event in response["completion"]:
        if "chunk" in event:
            text += event["chunk"]["bytes"].decode()
            if "attribution" in event["chunk"]:
                attributions.append(event["chunk"]["attribution"])
        elif "trace" in event:
            traces.append(event["trace"]["trace"])
        elif "returnControl" in event:
            control = event["returnControl"]
    return {"text": text, "traces": traces, "control": control, "attributions": attributions}


def orchestration(traces: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [t["orchestrationTrace"][key] for t in traces if key in t.get("orchestrationTrace", {})]


def as_json(value: Any) -> Any:
    return json.loads(value)
