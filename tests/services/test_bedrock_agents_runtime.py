"""InvokeAgent through boto3 on the fake models: the orchestration loop calling AWS's documented Lambda
handler shapes (function and OpenAPI), traces, sessions, return of control, asking the user, and Lambda
failures ending the stream as AWS does while the server keeps serving."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import EventStreamError

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.agents import (
    API_HANDLER,
    FAILING_HANDLER,
    FUNCTION_HANDLER,
    MALFORMED_HANDLER,
    PETS_API,
    WEATHER_FUNCTIONS,
    make_agent,
    make_function,
    orchestration,
    prepare,
    read_stream,
)


def _agent_with(server: RunningServer, **group: Any) -> str:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent)
    agent.create_agent_action_group(agentId=agent_id, agentVersion="DRAFT", actionGroupName="tools", **group)
    prepare(agent, agent_id)
    return agent_id


def _invoke(server: RunningServer, agent_id: str, text: str, session: str | None = None, **extra: Any) -> Any:
    runtime = server.client("bedrock-agent-runtime")
    return runtime.invoke_agent(
        agentId=agent_id,
        agentAliasId="TSTALIASID",
        sessionId=session or uuid.uuid4().hex,
        inputText=text,
        **extra,
    )


def test_function_action_group_runs_the_lambda(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    agent_id = _agent_with(server, actionGroupExecutor={"lambda": arn}, functionSchema=WEATHER_FUNCTIONS)
    session = uuid.uuid4().hex
    response = _invoke(
        server,
        agent_id,
        "Call get_weather in Paris please",
        session,
        enableTrace=True,
        sessionState={"sessionAttributes": {"user": "ada"}, "promptSessionAttributes": {"today": "Monday"}},
    )
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-bedrock-agent-session-id"] == session
    assert headers["x-amzn-bedrock-agent-content-type"] == "application/json"
    assert response["sessionId"] == session and response["contentType"] == "application/json"
    read = read_stream(response)
    assert read["text"].startswith("The tool get_weather returned: ")
    result = json.loads(read["text"].split("returned: ", 1)[1])
    assert result == {
        "function": "get_weather",
        "values": {"city": "Paris"},
        "input": "Call get_weather in Paris please",
        "agent": agent_id,
    }
    calls = orchestration(read["traces"], "invocationInput")
    group_call = calls[0]["actionGroupInvocationInput"]
    assert calls[0]["invocationType"] == "ACTION_GROUP" and group_call["executionType"] == "LAMBDA"
    assert group_call["function"] == "get_weather"
    assert group_call["parameters"] == [{"name": "city", "type": "string", "value": "Paris"}]
    observations = orchestration(read["traces"], "observation")
    assert [o["type"] for o in observations] == ["ACTION_GROUP", "FINISH"]
    outputs = orchestration(read["traces"], "modelInvocationOutput")
    assert len(outputs) == 2 and all(o["metadata"]["usage"]["inputTokens"] > 0 for o in outputs)
    inputs = orchestration(read["traces"], "modelInvocationInput")
    assert inputs[0]["type"] == "ORCHESTRATION" and "today: Monday" in inputs[0]["text"]

    # the Lambda's returned session attributes are the session's next time
    again = read_stream(_invoke(server, agent_id, "get_weather in Rome", session, enableTrace=True))
    assert "Rome" in again["text"]
    second_input = orchestration(again["traces"], "modelInvocationInput")[0]["text"]
    assert "Call get_weather in Paris please" in second_input  # the conversation is kept


def test_openapi_action_group(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), API_HANDLER)
    agent_id = _agent_with(
        server, actionGroupExecutor={"lambda": arn}, apiSchema={"payload": json.dumps(PETS_API)}
    )
    read = read_stream(_invoke(server, agent_id, "Please add_pet in Rex", enableTrace=True))
    body = json.loads(read["text"].split("returned: ", 1)[1])
    assert body["path"] == "/pets" and body["method"] == "POST"
    properties = body["body"]["content"]["application/json"]["properties"]
    assert {"name": "name", "type": "string", "value": "Rex"} in properties
    call = orchestration(read["traces"], "invocationInput")[0]["actionGroupInvocationInput"]
    assert call["apiPath"] == "/pets" and call["verb"] == "POST"

    path_call = read_stream(_invoke(server, agent_id, "get_pet in P7"))
    assert json.loads(path_call["text"].split("returned: ", 1)[1])["parameters"][0]["name"] == "petId"


def test_return_control_continues_the_loop(server: RunningServer) -> None:
    agent_id = _agent_with(
        server, actionGroupExecutor={"customControl": "RETURN_CONTROL"}, functionSchema=WEATHER_FUNCTIONS
    )
    session = uuid.uuid4().hex
    first = read_stream(_invoke(server, agent_id, "get_weather in Oslo", session))
    control = first["control"]
    assert first["text"] == "" and control is not None
    invocation = control["invocationInputs"][0]["functionInvocationInput"]
    assert invocation["function"] == "get_weather" and invocation["actionGroup"] == "tools"
    assert invocation["parameters"] == [{"name": "city", "type": "string", "value": "Oslo"}]
    results = [
        {
            "functionResult": {
                "actionGroup": "tools",
                "function": "get_weather",
                "responseBody": {"TEXT": {"body": "sunny, 21 C"}},
            }
        }
    ]
    runtime = server.client("bedrock-agent-runtime")
    wrong = error_of(
        runtime.invoke_agent,
        agentId=agent_id,
        agentAliasId="TSTALIASID",
        sessionId=session,
        sessionState={"invocationId": "not-it", "returnControlInvocationResults": results},
    )
    assert wrong["Code"] == "ValidationException"
    second = read_stream(
        runtime.invoke_agent(
            agentId=agent_id,
            agentAliasId="TSTALIASID",
            sessionId=session,
            inputText="ignored",
            sessionState={"invocationId": control["invocationId"], "returnControlInvocationResults": results},
        )
    )
    assert second["text"] == "The tool get_weather returned: sunny, 21 C"


def test_ask_user(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    agent_id = make_agent(agent)
    agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="ask",
        parentActionGroupSignature="AMAZON.UserInput",
    )
    agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="tools",
        actionGroupExecutor={"lambda": arn},
        functionSchema=WEATHER_FUNCTIONS,
    )
    prepare(agent, agent_id)
    read = read_stream(_invoke(server, agent_id, "I want something, AskUser what it is", enableTrace=True))
    observations = orchestration(read["traces"], "observation")
    assert observations[-1]["type"] == "ASK_USER" and read["text"]
    assert not orchestration(read["traces"], "invocationInput")  # nothing ran


def test_lambda_failures_end_the_stream_and_the_server_serves(server: RunningServer) -> None:
    lam = server.client("lambda")
    for handler, code in (
        (FAILING_HANDLER, "dependencyFailedException"),
        (MALFORMED_HANDLER, "badGatewayException"),
    ):
        agent_id = _agent_with(
            server,
            actionGroupExecutor={"lambda": make_function(lam, handler)},
            functionSchema=WEATHER_FUNCTIONS,
        )
        traces: list[dict[str, Any]] = []
        with pytest.raises(EventStreamError) as info:
            for event in _invoke(server, agent_id, "get_weather in Lima", enableTrace=True)["completion"]:
                if "trace" in event:
                    traces.append(event["trace"]["trace"])
        assert info.value.response["Error"]["Code"] == code
        assert any("failureTrace" in t for t in traces)
    healthy = _agent_with(
        server,
        actionGroupExecutor={"lambda": make_function(lam, FUNCTION_HANDLER)},
        functionSchema=WEATHER_FUNCTIONS,
    )
    assert "Lima" in read_stream(_invoke(server, healthy, "get_weather in Lima"))["text"]


def test_sessions_do_not_mix(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    agent_id = _agent_with(server, actionGroupExecutor={"lambda": arn}, functionSchema=WEATHER_FUNCTIONS)
    prompts: dict[str, list[str]] = {}

    def converse(name: str) -> None:
        session = f"session-{name}-{uuid.uuid4().hex[:6]}"
        _ = read_stream(_invoke(server, agent_id, f"my name is {name}", session))
        read = read_stream(
            _invoke(server, agent_id, f"get_weather in {name.title()}", session, enableTrace=True)
        )
        prompts[name] = [i["text"] for i in orchestration(read["traces"], "modelInvocationInput")]

    threads = [threading.Thread(target=converse, args=(name,)) for name in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any("my name is alpha" in text for text in prompts["alpha"])
    assert not any("beta" in text for text in prompts["alpha"])
    assert not any("alpha" in text for text in prompts["beta"])


def test_end_session_and_memory(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(
        agent, memoryConfiguration={"enabledMemoryTypes": ["SESSION_SUMMARY"], "storageDays": 30}
    )
    prepare(agent, agent_id)
    runtime = server.client("bedrock-agent-runtime")
    session = uuid.uuid4().hex
    read_stream(_invoke(server, agent_id, "I like green tea", session, memoryId="user-1"))
    read_stream(_invoke(server, agent_id, "bye", session, memoryId="user-1", endSession=True))
    memory = runtime.get_agent_memory(
        agentId=agent_id, agentAliasId="TSTALIASID", memoryId="user-1", memoryType="SESSION_SUMMARY"
    )["memoryContents"]
    assert len(memory) == 1 and memory[0]["sessionSummary"]["sessionId"] == session
    assert "green tea" in memory[0]["sessionSummary"]["summaryText"]
    later = read_stream(_invoke(server, agent_id, "hello", memoryId="user-1", enableTrace=True))
    assert "green tea" in orchestration(later["traces"], "modelInvocationInput")[0]["text"]
    runtime.delete_agent_memory(agentId=agent_id, agentAliasId="TSTALIASID", memoryId="user-1")
    assert not runtime.get_agent_memory(
        agentId=agent_id, agentAliasId="TSTALIASID", memoryId="user-1", memoryType="SESSION_SUMMARY"
    )["memoryContents"]


def test_bad_invocations(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    runtime = server.client("bedrock-agent-runtime")
    agent_id = make_agent(agent)
    unprepared = error_of(
        runtime.invoke_agent, agentId=agent_id, agentAliasId="TSTALIASID", sessionId="s-1", inputText="hi"
    )
    assert unprepared["Code"] == "ValidationException" and "PrepareAgent" in unprepared["Message"]
    missing = error_of(
        runtime.invoke_agent, agentId="NOSUCHAGNT", agentAliasId="TSTALIASID", sessionId="s-1", inputText="x"
    )
    assert missing["Code"] == "ResourceNotFoundException"
    prepare(agent, agent_id)
    no_memory = error_of(
        runtime.invoke_agent,
        agentId=agent_id,
        agentAliasId="TSTALIASID",
        sessionId="s-1",
        inputText="x",
        memoryId="m1",
    )
    assert no_memory["Code"] == "ValidationException"


def test_numbered_version_through_alias(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    agent_id = _agent_with(server, actionGroupExecutor={"lambda": arn}, functionSchema=WEATHER_FUNCTIONS)
    agent = server.client("bedrock-agent")
    alias = agent.create_agent_alias(agentId=agent_id, agentAliasName="prod")["agentAlias"]
    runtime = server.client("bedrock-agent-runtime")
    response = runtime.invoke_agent(
        agentId=agent_id,
        agentAliasId=alias["agentAliasId"],
        sessionId="s-prod",
        inputText="get_weather in Kyiv",
        enableTrace=True,
    )
    read = read_stream(response)
    assert "Kyiv" in read["text"]


def test_inline_agent(server: RunningServer) -> None:
    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    runtime = server.client("bedrock-agent-runtime")
    session = uuid.uuid4().hex
    common = {
        "foundationModel": "anthropic.claude-3-haiku-20240307-v1:0",
        "instruction": "You are a helpful assistant that answers questions about the weather.",
        "sessionId": session,
    }
    response = runtime.invoke_inline_agent(
        **common,
        inputText="get_weather in Lisbon",
        enableTrace=True,
        actionGroups=[
            {
                "actionGroupName": "tools",
                "actionGroupExecutor": {"lambda": arn},
                "functionSchema": WEATHER_FUNCTIONS,
            }
        ],
    )
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bedrock-agent-session-id"] == session
    read = read_stream(response)
    assert json.loads(read["text"].split("returned: ", 1)[1])["values"] == {"city": "Lisbon"}
    assert [o["type"] for o in orchestration(read["traces"], "observation")] == ["ACTION_GROUP", "FINISH"]
    control = read_stream(
        runtime.invoke_inline_agent(
            **{**common, "sessionId": uuid.uuid4().hex},
            inputText="get_weather in Quito",
            actionGroups=[
                {
                    "actionGroupName": "tools",
                    "actionGroupExecutor": {"customControl": "RETURN_CONTROL"},
                    "functionSchema": WEATHER_FUNCTIONS,
                }
            ],
        )
    )["control"]
    assert control["invocationInputs"][0]["functionInvocationInput"]["function"] == "get_weather"
    refused = error_of(
        runtime.invoke_inline_agent,
        **common,
        inputText="x",
        actionGroups=[{"actionGroupName": "code", "parentActionGroupSignature": "AMAZON.CodeInterpreter"}],
    )
    assert refused["Code"] == "ValidationException"


def test_knowledge_base_answers_with_citations(server: RunningServer) -> None:
    from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket, ingest

    agent = server.client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(server.client("s3"), {"docs/volcanoes.txt": b"Volcanoes erupt when magma rises."})
    ingest(agent, kb_id, create_data_source(agent, kb_id, bucket))
    agent_id = make_agent(agent)
    agent.associate_agent_knowledge_base(
        agentId=agent_id, agentVersion="DRAFT", knowledgeBaseId=kb_id, description="Facts about volcanoes."
    )
    prepare(agent, agent_id)
    read = read_stream(
        _invoke(server, agent_id, "search_knowledge_base: why do volcanoes erupt?", enableTrace=True)
    )
    assert "magma rises" in read["text"]
    lookup = orchestration(read["traces"], "invocationInput")[0]
    assert lookup["invocationType"] == "KNOWLEDGE_BASE"
    assert lookup["knowledgeBaseLookupInput"]["knowledgeBaseId"] == kb_id
    observed = orchestration(read["traces"], "observation")[0]
    assert observed["type"] == "KNOWLEDGE_BASE"
    assert observed["knowledgeBaseLookupOutput"]["retrievedReferences"][0]["location"]["type"] == "S3"
    citation = read["attributions"][0]["citations"][0]
    assert "magma" in citation["retrievedReferences"][0]["content"]["text"]
    assert citation["generatedResponsePart"]["textResponsePart"]["text"] == read["text"]


def test_stream_final_response_in_pieces(server: RunningServer) -> None:
    agent = server.client("bedrock-agent")
    agent_id = make_agent(agent)
    prepare(agent, agent_id)
    text = "please repeat these words back to me as they are, one two three four five six seven eight nine"
    response = _invoke(server, agent_id, text, streamingConfigurations={"streamFinalResponse": True})
    chunks = [event["chunk"]["bytes"].decode() for event in response["completion"] if "chunk" in event]
    assert len(chunks) > 1 and "".join(chunks) == f"You said: {text}"
