"""requireConfirmation through boto3 on the fake models: a function (or OpenAPI operation with
x-requireConfirmation) that needs the user's consent returns control with USER_CONFIRMATION before it runs;
CONFIRM runs the Lambda and goes on, DENY makes the agent answer without the call. A RETURN_CONTROL group
asks for USER_CONFIRMATION_AND_RESULT."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.agents import (
    API_HANDLER,
    FUNCTION_HANDLER,
    PETS_API,
    WEATHER_FUNCTIONS,
    make_agent,
    make_function,
    orchestration,
    prepare,
    read_stream,
)

CONFIRMED = copy.deepcopy(WEATHER_FUNCTIONS)
CONFIRMED["functions"][1]["requireConfirmation"] = "ENABLED"  # book_table needs the user's consent


def _agent(server: RunningServer, **group: Any) -> str:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent)
    agent.create_agent_action_group(agentId=agent_id, agentVersion="DRAFT", actionGroupName="tools", **group)
    prepare(agent, agent_id)
    return agent_id


def _invoke(server: RunningServer, agent_id: str, session: str, **extra: Any) -> dict[str, Any]:
    runtime = server.client("bedrock-agent-runtime")
    response = runtime.invoke_agent(agentId=agent_id, agentAliasId="TSTALIASID", sessionId=session, **extra)
    return read_stream(response)


def _answer(control: dict[str, Any], state: str, **result: Any) -> dict[str, Any]:
    invocation = control["invocationInputs"][0]["functionInvocationInput"]
    entry = {"actionGroup": invocation["actionGroup"], "function": invocation["function"], **result}
    return {
        "invocationId": control["invocationId"],
        "returnControlInvocationResults": [{"functionResult": {**entry, "confirmationState": state}}],
    }


def test_confirmed_call_runs_the_lambda(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    agent_id = _agent(server, actionGroupExecutor={"lambda": arn}, functionSchema=CONFIRMED)
    stored = server.client("bedrock-agent").list_agent_action_groups(agentId=agent_id, agentVersion="DRAFT")
    group_id = stored["actionGroupSummaries"][0]["actionGroupId"]
    group = server.client("bedrock-agent").get_agent_action_group(
        agentId=agent_id, agentVersion="DRAFT", actionGroupId=group_id
    )["agentActionGroup"]
    assert group["functionSchema"]["functions"][1]["requireConfirmation"] == "ENABLED"

    session = uuid.uuid4().hex
    first = _invoke(server, agent_id, session, inputText="Please book_table in Luigi for 1", enableTrace=True)
    assert first["text"] == "" and first["control"] is not None
    invocation = first["control"]["invocationInputs"][0]["functionInvocationInput"]
    assert invocation["actionInvocationType"] == "USER_CONFIRMATION"
    assert invocation["function"] == "book_table" and invocation["actionGroup"] == "tools"
    assert {p["name"] for p in invocation["parameters"]} == {"restaurant", "people"}

    second = _invoke(
        server,
        agent_id,
        session,
        inputText="ignored",
        enableTrace=True,
        sessionState=_answer(first["control"], "CONFIRM"),
    )
    assert second["control"] is None
    ran = json.loads(second["text"].split("returned: ", 1)[1])
    assert ran["function"] == "book_table" and ran["values"] == {"restaurant": "Luigi", "people": "1"}
    assert (
        ran["input"] == "Please book_table in Luigi for 1"
    )  # the Lambda sees the turn's own input, as on AWS
    observed = orchestration(second["traces"], "observation")
    assert [o["type"] for o in observed] == ["ACTION_GROUP", "FINISH"]

    # a function without requireConfirmation runs at once, in the same session
    plain = _invoke(server, agent_id, session, inputText="get_weather in Rome")
    assert plain["control"] is None and json.loads(plain["text"].split("returned: ", 1)[1])["values"] == {
        "city": "Rome"
    }


def test_denied_call_is_not_made(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    agent_id = _agent(server, actionGroupExecutor={"lambda": arn}, functionSchema=CONFIRMED)
    session = uuid.uuid4().hex
    first = _invoke(server, agent_id, session, inputText="Please book_table in Luigi for 1")
    denied = _invoke(server, agent_id, session, inputText="x", sessionState=_answer(first["control"], "DENY"))
    assert denied["control"] is None
    assert "declined" in denied["text"] and "values" not in denied["text"]  # the Lambda never ran
    # an answer without a confirmationState is no consent either
    other = uuid.uuid4().hex
    again = _invoke(server, agent_id, other, inputText="Please book_table in Luigi for 1")
    results = _answer(again["control"], "DENY")
    del results["returnControlInvocationResults"][0]["functionResult"]["confirmationState"]
    silent = _invoke(server, agent_id, other, inputText="x", sessionState=results)
    assert "declined" in silent["text"]


def test_return_control_group_asks_for_confirmation_and_result(server: RunningServer) -> None:
    agent_id = _agent(
        server, actionGroupExecutor={"customControl": "RETURN_CONTROL"}, functionSchema=CONFIRMED
    )
    session = uuid.uuid4().hex
    first = _invoke(server, agent_id, session, inputText="Please book_table in Luigi for 1")
    invocation = first["control"]["invocationInputs"][0]["functionInvocationInput"]
    assert invocation["actionInvocationType"] == "USER_CONFIRMATION_AND_RESULT"
    body = {"TEXT": {"body": "Booked, reference BK-2231"}}
    done = _invoke(
        server,
        agent_id,
        session,
        inputText="x",
        sessionState=_answer(first["control"], "CONFIRM", responseBody=body),
    )
    assert done["text"] == "The tool book_table returned: Booked, reference BK-2231"
    # without confirmation the group's other function returns control for its result only, as before
    weather = _invoke(server, agent_id, uuid.uuid4().hex, inputText="get_weather in Oslo")
    assert weather["control"]["invocationInputs"][0]["functionInvocationInput"]["actionInvocationType"] == (
        "RESULT"
    )


def test_openapi_operation_with_x_require_confirmation(server: RunningServer) -> None:
    api = copy.deepcopy(PETS_API)
    api["paths"]["/pets"]["post"]["x-requireConfirmation"] = "ENABLED"
    arn = make_function(server.client("lambda"), API_HANDLER)
    agent_id = _agent(server, actionGroupExecutor={"lambda": arn}, apiSchema={"payload": json.dumps(api)})
    session = uuid.uuid4().hex
    first = _invoke(server, agent_id, session, inputText="Please add_pet in Rex")
    invocation = first["control"]["invocationInputs"][0]["apiInvocationInput"]
    assert invocation["actionInvocationType"] == "USER_CONFIRMATION"
    assert invocation["apiPath"] == "/pets" and invocation["httpMethod"] == "POST"
    state = {
        "invocationId": first["control"]["invocationId"],
        "returnControlInvocationResults": [
            {
                "apiResult": {
                    "actionGroup": "tools",
                    "apiPath": "/pets",
                    "httpMethod": "POST",
                    "confirmationState": "CONFIRM",
                }
            }
        ],
    }
    done = _invoke(server, agent_id, session, inputText="x", sessionState=state)
    ran = json.loads(done["text"].split("returned: ", 1)[1])
    assert ran["path"] == "/pets" and ran["method"] == "POST"
    # the operation without the extension runs at once
    path_call = _invoke(server, agent_id, session, inputText="get_pet in P7")
    assert path_call["control"] is None and "/pets/{petId}" in path_call["text"]


def test_bad_confirmation_setting(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent)
    api = copy.deepcopy(PETS_API)
    api["paths"]["/pets"]["post"]["x-requireConfirmation"] = "SOMETIMES"
    refused = error_of(
        agent.create_agent_action_group,
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="pets",
        actionGroupExecutor={"customControl": "RETURN_CONTROL"},
        apiSchema={"payload": json.dumps(api)},
    )
    assert refused["Code"] == "ValidationException" and "x-requireConfirmation" in refused["Message"]


BOOK_HANDLER = """
def lambda_handler(event, context):
    values = {p['name']: p['value'] for p in event.get('parameters', [])}
    body = f"Booked a table at {values.get('restaurant')} for {values.get('people')}. Confirmation BK-4471."
    return {'messageVersion': '1.0', 'response': {'actionGroup': event['actionGroup'],
            'function': event['function'], 'functionResponse': {'responseBody': {'TEXT': {'body': body}}}}}
"""
BOOKING = {
    "functions": [
        {
            "name": "book_table",
            "description": "Book a table at a restaurant.",
            "parameters": {
                "restaurant": {"type": "string", "description": "Restaurant name", "required": True},
                "people": {"type": "integer", "description": "How many people", "required": True},
            },
            "requireConfirmation": "ENABLED",
        }
    ]
}
SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"  # the catalog maps it to Qwen2.5-Coder 1.5B
SHORT = {
    "promptConfigurations": [
        {"promptType": "ORCHESTRATION", "inferenceConfiguration": {"temperature": 0.0, "maximumLength": 96}}
    ]
}


@pytest.mark.real
def test_real_model_waits_for_confirmation(real_server: RunningServer) -> None:
    """On the real 1.5B model at temperature 0: the booking waits for the user's consent with the values
    the user gave; confirmed, the Lambda runs and its confirmation number reaches the answer; denied, it
    never runs."""
    agent = real_server.client("bedrock-agent")
    arn = make_function(real_server.client("lambda"), BOOK_HANDLER)
    agent_id = make_agent(agent, model=SONNET, promptOverrideConfiguration=SHORT)
    agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="booking",
        actionGroupExecutor={"lambda": arn},
        functionSchema=BOOKING,
    )
    prepare(agent, agent_id)
    outcomes = {}
    for state in ("CONFIRM", "DENY"):
        session = uuid.uuid4().hex
        first = _invoke(real_server, agent_id, session, inputText="Book a table at Luigi for 2 people.")
        assert first["control"] is not None, first["text"]
        invocation = first["control"]["invocationInputs"][0]["functionInvocationInput"]
        assert invocation["actionInvocationType"] == "USER_CONFIRMATION"
        values = {p["name"]: p["value"] for p in invocation["parameters"]}
        assert "luigi" in values["restaurant"].lower() and values["people"] == "2"
        outcomes[state] = _invoke(
            real_server, agent_id, session, inputText="x", sessionState=_answer(first["control"], state)
        )["text"]
    assert "4471" in outcomes["CONFIRM"], outcomes
    assert "4471" not in outcomes["DENY"] and outcomes["DENY"].strip(), outcomes
