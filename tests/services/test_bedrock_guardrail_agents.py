"""Guardrails on the agent runtime, through boto3 on the fake models: RetrieveAndGenerate and its stream
(generationConfiguration.guardrailConfiguration, guardrailAction, the guardrail event) and agents (the
guardrailConfiguration of an inline agent on its input and final answer, guardrailTrace events)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer
from tests.services.agents import WEATHER_FUNCTIONS, read_stream
from tests.services.knowledge_bases import CHAT_ARN
from tests.services.test_bedrock_guardrail_enforce import BLOCKED_IN, BLOCKED_OUT, WORDS, make_guardrail

SOURCE_TEXT = "The zorbex plant grows in cold marshes. It flowers once every ten years in late spring."


@pytest.fixture(scope="module")
def words(server: RunningServer) -> tuple[str, str]:
    return make_guardrail(server, "agent-words", **WORDS)


def external(guardrail: dict[str, str] | None) -> dict[str, Any]:
    generation = {"guardrailConfiguration": guardrail} if guardrail else {}
    source = {
        "sourceType": "BYTE_CONTENT",
        "byteContent": {
            "identifier": "plants.txt",
            "contentType": "text/plain",
            "data": SOURCE_TEXT.encode(),
        },
    }
    return {
        "type": "EXTERNAL_SOURCES",
        "externalSourcesConfiguration": {
            "modelArn": CHAT_ARN,
            "sources": [source],
            "generationConfiguration": generation,
        },
    }


def test_retrieve_and_generate_screens_the_question_and_the_answer(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-agent-runtime")
    guardrail = {"guardrailId": words[0], "guardrailVersion": words[1]}
    blocked = runtime.retrieve_and_generate(
        input={"text": "When does the zorbex flower?"}, retrieveAndGenerateConfiguration=external(guardrail)
    )
    assert blocked["guardrailAction"] == "INTERVENED"
    assert blocked["output"]["text"] == BLOCKED_IN and blocked["citations"] == []
    # a word screened on output only: the question passes, the echo model's "You said" is blocked
    said = make_guardrail(
        server, "said", wordPolicyConfig={"wordsConfig": [{"text": "said", "inputEnabled": False}]}
    )
    output_guard = {"guardrailId": said[0], "guardrailVersion": said[1]}
    answered = runtime.retrieve_and_generate(
        input={"text": "When does the plant flower?"}, retrieveAndGenerateConfiguration=external(output_guard)
    )
    assert answered["guardrailAction"] == "INTERVENED"
    assert answered["output"]["text"] == BLOCKED_OUT and answered["citations"] == []
    streamed = runtime.retrieve_and_generate_stream(
        input={"text": "When does the plant flower?"}, retrieveAndGenerateConfiguration=external(output_guard)
    )
    events = list(streamed["stream"])
    assert "".join(e["output"]["text"] for e in events if "output" in e).strip() == BLOCKED_OUT
    assert [e["guardrail"]["action"] for e in events if "guardrail" in e] == ["INTERVENED"]
    unguarded = runtime.retrieve_and_generate(
        input={"text": "When does the plant flower?"}, retrieveAndGenerateConfiguration=external(None)
    )
    assert "guardrailAction" not in unguarded
    streamed = runtime.retrieve_and_generate_stream(
        input={"text": "Tell me about zorbex"}, retrieveAndGenerateConfiguration=external(guardrail)
    )
    events = list(streamed["stream"])
    text = "".join(e["output"]["text"] for e in events if "output" in e)
    assert text == BLOCKED_IN
    assert [e["guardrail"]["action"] for e in events if "guardrail" in e] == ["INTERVENED"]
    with pytest.raises(ClientError) as unknown:
        runtime.retrieve_and_generate(
            input={"text": "hi"},
            retrieveAndGenerateConfiguration=external(
                {"guardrailId": "abcdef123456", "guardrailVersion": "1"}
            ),
        )
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_agent_guardrail_screens_the_input_and_the_final_answer(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-agent-runtime")
    common = {
        "foundationModel": "anthropic.claude-3-haiku-20240307-v1:0",
        "instruction": "You are a helpful assistant that answers questions about the weather.",
        "guardrailConfiguration": {"guardrailIdentifier": words[0], "guardrailVersion": words[1]},
        "enableTrace": True,
    }
    blocked = read_stream(
        runtime.invoke_inline_agent(**common, sessionId=uuid.uuid4().hex, inputText="what is a zorbex?")
    )
    assert blocked["text"] == BLOCKED_IN
    [trace] = [t["guardrailTrace"] for t in blocked["traces"] if "guardrailTrace" in t]
    assert trace["action"] == "INTERVENED"
    assert trace["inputAssessments"][0]["wordPolicy"]["customWords"][0]["match"] == "zorbex"
    assert not any("orchestrationTrace" in t for t in blocked["traces"])  # the agent never ran
    # the answer is screened too: a tool result carrying the denied word ends in the blocked message
    session = uuid.uuid4().hex
    group = {
        "actionGroupName": "tools",
        "actionGroupExecutor": {"customControl": "RETURN_CONTROL"},
        "functionSchema": WEATHER_FUNCTIONS,
    }
    first = read_stream(
        runtime.invoke_inline_agent(
            **common, sessionId=session, inputText="get_weather in Quito", actionGroups=[group]
        )
    )
    control = first["control"]
    assert control is not None
    [clean] = [t["guardrailTrace"] for t in first["traces"] if "guardrailTrace" in t]
    assert clean["action"] == "NONE"
    result = {
        "functionResult": {
            "actionGroup": "tools",
            "function": "get_weather",
            "responseBody": {"TEXT": {"body": "zorbex storms all week"}},
        }
    }
    second = read_stream(
        runtime.invoke_inline_agent(
            **common,
            sessionId=session,
            actionGroups=[group],
            inlineSessionState={
                "invocationId": control["invocationId"],
                "returnControlInvocationResults": [result],
            },
        )
    )
    assert second["text"] == BLOCKED_OUT
    outputs = [t["guardrailTrace"] for t in second["traces"] if "guardrailTrace" in t]
    assert [t["action"] for t in outputs] == ["INTERVENED"]
    assert outputs[0]["outputAssessments"][0]["wordPolicy"]["customWords"][0]["match"] == "zorbex"
