"""Until guardrails are evaluated (issue 14), a request naming one is refused, never answered unchecked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hello"}]}]
GUARDRAIL = {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1"}


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error.value.response["Error"]["Message"])


def test_converse_and_invoke_model_refuse_a_guardrail(server: RunningServer) -> None:
    runtime = server.client("bedrock-runtime")
    message = refused(runtime.converse, modelId=MODEL, messages=MESSAGES, guardrailConfig=GUARDRAIL)
    assert "Guardrails are not evaluated by this server yet" in message
    refused(runtime.converse_stream, modelId=MODEL, messages=MESSAGES, guardrailConfig=GUARDRAIL)
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    refused(runtime.invoke_model, modelId=MODEL, body=body, **GUARDRAIL)
    refused(runtime.invoke_model_with_response_stream, modelId=MODEL, body=body, **GUARDRAIL)
    tagged = json.dumps({**json.loads(body), "amazon-bedrock-guardrailConfig": {"tagSuffix": "x"}})
    refused(runtime.invoke_model, modelId=MODEL, body=tagged)
    # without a guardrail the same calls are answered
    assert runtime.converse(modelId=MODEL, messages=MESSAGES)["stopReason"] == "end_turn"


def test_retrieve_and_generate_refuses_a_guardrail(server: RunningServer) -> None:
    agent_runtime = server.client("bedrock-agent-runtime")
    configuration = {
        "type": "EXTERNAL_SOURCES",
        "externalSourcesConfiguration": {
            "modelArn": MODEL,
            "sources": [
                {
                    "sourceType": "BYTE_CONTENT",
                    "byteContent": {
                        "identifier": "a.txt",
                        "contentType": "text/plain",
                        "data": b"Some text.",
                    },
                }
            ],
            "generationConfiguration": {
                "guardrailConfiguration": {"guardrailId": "gr-1", "guardrailVersion": "1"}
            },
        },
    }
    message = refused(
        agent_runtime.retrieve_and_generate,
        input={"text": "What is this?"},
        retrieveAndGenerateConfiguration=configuration,
    )
    assert "guardrailConfiguration" in message
