"""Converse and InvokeModel members that shape how a call is served, through boto3: structured outputs
(outputConfig, output_config, response_format), effort, performanceConfig, serviceTier, requestMetadata,
projectIdentifier, additionalModelResponseFieldPaths and InvokeModel's accept."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from outcrop.backends.json_schema import schema_errors
from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
GPT_OSS = "openai.gpt-oss-20b-1:0"
CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "country": {"type": "string"},
        "kind": {"type": "string", "enum": ["capital", "other"]},
    },
    "required": ["city", "country", "kind"],
    "additionalProperties": False,
}
TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def text_format(schema: Any, **extra: str) -> dict[str, Any]:
    raw = schema if isinstance(schema, str) else json.dumps(schema)
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": raw, **extra}}}}


def error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


# -- structured outputs -----------------------------------------------------------------------------------


def test_converse_text_format_answers_json_valid_under_the_schema(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    response = runtime.converse(
        modelId=HAIKU,
        messages=[user("Which city is the capital of France?")],
        outputConfig=text_format(CITY, name="city", description="A city and its country"),
    )
    reply = json.loads(response["output"]["message"]["content"][0]["text"])
    assert schema_errors(reply, CITY) == []
    assert reply["kind"] == "capital"  # the fake model writes each enum's first value


def test_converse_stream_text_format_streams_json_valid_under_the_schema(client: Callable[..., Any]) -> None:
    stream = client("bedrock-runtime").converse_stream(
        modelId=HAIKU, messages=[user("Name a city.")], outputConfig=text_format(CITY)
    )["stream"]
    text = "".join(
        event["contentBlockDelta"]["delta"].get("text", "")
        for event in stream
        if "contentBlockDelta" in event
    )
    assert schema_errors(json.loads(text), CITY) == []


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ("{not json", "is not valid JSON"),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "additionalProperties to false"),
        ({"type": "integer", "minimum": 3}, "'minimum' is not supported"),
        ({"type": "string", "maxLength": 3}, "'maxLength' is not supported"),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "'oneOf' is not supported"),
        ({"$ref": "https://example.com/schema.json"}, "only local $ref"),
        (
            {
                "$defs": {
                    "node": {
                        "type": "object",
                        "properties": {"next": {"$ref": "#/$defs/node"}},
                        "additionalProperties": False,
                    }
                },
                "$ref": "#/$defs/node",
            },
            "recursive schemas are not supported",
        ),
        ({"type": "array", "items": {"type": "string"}, "minItems": 2}, "minItems may only be 0 or 1"),
        ({"type": "string", "format": "credit-card"}, "format 'credit-card' is not supported"),
    ],
)
def test_converse_refuses_schemas_bedrock_refuses(client: Callable[..., Any], schema: Any, says: str) -> None:
    runtime = client("bedrock-runtime")
    code, message = error(
        lambda: runtime.converse(modelId=HAIKU, messages=[user("hi")], outputConfig=text_format(schema))
    )
    assert code == "ValidationException"
    assert says in message
    assert "outputConfig.textFormat" in message


def test_text_format_with_tools_or_effort_is_refused(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    code, message = error(
        lambda: runtime.converse(
            modelId=HAIKU, messages=[user("hi")], outputConfig=text_format(CITY), toolConfig={"tools": [TOOL]}
        )
    )
    assert code == "ValidationException" and "cannot be combined with tools" in message
    code, message = error(
        lambda: runtime.converse(modelId=HAIKU, messages=[user("hi")], outputConfig={"effort": "high"})
    )
    assert code == "ValidationException" and "outputConfig.effort is not supported" in message
    code, message = error(
        lambda: runtime.converse(modelId=HAIKU, messages=[user("hi")], outputConfig={"effort": "huge"})
    )
    assert "must be one of low, medium, high, xhigh, max" in message


def test_invoke_model_anthropic_output_config_format(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Name a city."}],
        "output_config": {"format": {"type": "json_schema", "schema": CITY}},
    }
    answer = json.loads(runtime.invoke_model(modelId=HAIKU, body=json.dumps(body))["body"].read())
    assert schema_errors(json.loads(answer["content"][0]["text"]), CITY) == []
    deprecated = {**body, "output_config": None, "output_format": {"type": "json_schema", "schema": CITY}}
    answer = json.loads(runtime.invoke_model(modelId=HAIKU, body=json.dumps(deprecated))["body"].read())
    assert schema_errors(json.loads(answer["content"][0]["text"]), CITY) == []
    bad = {
        **body,
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "number", "maximum": 2}}},
    }
    code, message = error(lambda: runtime.invoke_model(modelId=HAIKU, body=json.dumps(bad)))
    assert code == "ValidationException" and "'maximum' is not supported" in message
    effort = {**body, "output_config": {"effort": "low"}}
    code, message = error(lambda: runtime.invoke_model(modelId=HAIKU, body=json.dumps(effort)))
    assert code == "ValidationException" and "effort is not supported" in message


def test_invoke_model_openai_body_response_format_json_schema(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    body = {
        "messages": [{"role": "user", "content": "Name a city."}],
        "max_completion_tokens": 200,
        "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}},
    }
    answer = json.loads(runtime.invoke_model(modelId=GPT_OSS, body=json.dumps(body))["body"].read())
    assert schema_errors(json.loads(answer["choices"][0]["message"]["content"]), CITY) == []
    body["response_format"] = {
        "type": "json_schema",
        "json_schema": {"schema": {"type": "string", "pattern": "a+", "minLength": 1}},
    }
    code, message = error(lambda: runtime.invoke_model(modelId=GPT_OSS, body=json.dumps(body)))
    assert code == "ValidationException" and "is not supported" in message


# -- performanceConfig, serviceTier, requestMetadata, projectIdentifier -----------------------------------


def test_converse_reports_the_latency_and_tier_served(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    plain = runtime.converse(modelId=HAIKU, messages=[user("hi")])
    assert "performanceConfig" not in plain and "serviceTier" not in plain
    asked = runtime.converse(
        modelId=HAIKU,
        messages=[user("hi")],
        performanceConfig={"latency": "optimized"},
        serviceTier={"type": "default"},
        requestMetadata={"team": "search", "run id": "a1:b2"},
        projectIdentifier="default",
    )
    assert asked["performanceConfig"] == {"latency": "standard"}  # no optimized variant: served standard
    assert asked["serviceTier"] == {"type": "default"}
    events = list(
        runtime.converse_stream(
            modelId=HAIKU,
            messages=[user("hi")],
            performanceConfig={"latency": "standard"},
            serviceTier={"type": "default"},
        )["stream"]
    )
    metadata = next(event["metadata"] for event in events if "metadata" in event)
    assert metadata["performanceConfig"] == {"latency": "standard"}
    assert metadata["serviceTier"] == {"type": "default"}


def test_tiers_and_projects_this_server_lacks_are_refused(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    for tier, says in (
        ("flex", "service tier flex is not supported"),
        ("priority", "default tier"),
        ("reserved", "Reservation not found."),
    ):
        call = partial(runtime.converse, modelId=HAIKU, messages=[user("hi")], serviceTier={"type": tier})
        code, message = error(call)
        assert code == "ValidationException" and says in message
    code, message = error(
        lambda: runtime.converse(modelId=HAIKU, messages=[user("hi")], projectIdentifier="research")
    )
    assert code == "ResourceNotFoundException" and "only the default project" in message
    code, message = error(
        lambda: runtime.converse(modelId=HAIKU, messages=[user("hi")], requestMetadata={"bad*key": "x"})
    )
    assert code == "ValidationException" and "requestMetadata" in message


def test_invoke_model_headers_latency_tier_metadata_and_accept(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    response = runtime.invoke_model(
        modelId=HAIKU,
        body=body,
        accept="application/json",
        performanceConfigLatency="optimized",
        serviceTier="default",
        requestMetadata=json.dumps({"team": "search"}),
    )
    assert response["performanceConfigLatency"] == "standard"
    assert response["serviceTier"] == "default"
    assert json.loads(response["body"].read())["type"] == "message"
    plain = runtime.invoke_model(modelId=HAIKU, body=body, accept="*/*")
    assert "serviceTier" not in plain and "performanceConfigLatency" not in plain
    streamed = runtime.invoke_model_with_response_stream(modelId=HAIKU, body=body, serviceTier="default")
    assert streamed["serviceTier"] == "default"
    assert any("chunk" in event for event in streamed["body"])
    code, message = error(lambda: runtime.invoke_model(modelId=HAIKU, body=body, accept="text/plain"))
    assert (code, message) == (
        "ValidationException",
        "The provided Accept Type is invalid or not supported for this model",
    )
    code, message = error(lambda: runtime.invoke_model(modelId=HAIKU, body=body, serviceTier="flex"))
    assert code == "ValidationException" and "flex" in message
    code, message = error(lambda: runtime.invoke_model(modelId=HAIKU, body=body, requestMetadata="[1, 2]"))
    assert code == "ValidationException" and "requestMetadata" in message


# -- additionalModelResponseFieldPaths --------------------------------------------------------------------


def test_converse_returns_requested_native_response_fields(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    response = runtime.converse(
        modelId=HAIKU,
        messages=[user("one two three four five")],
        inferenceConfig={"stopSequences": ["three"]},
        additionalModelResponseFieldPaths=["/stop_sequence", "/usage/output_tokens", "/not_there"],
    )
    fields = response["additionalModelResponseFields"]
    assert fields["stop_sequence"] == "three"
    assert fields["usage"]["output_tokens"] == response["usage"]["outputTokens"]
    assert "not_there" not in fields  # a pointer to nothing is left out, as Bedrock leaves it out
    events = list(
        runtime.converse_stream(
            modelId=HAIKU, messages=[user("hello")], additionalModelResponseFieldPaths=["/stop_reason"]
        )["stream"]
    )
    stop = next(event["messageStop"] for event in events if "messageStop" in event)
    assert stop["additionalModelResponseFields"] == {"stop_reason": "end_turn"}


@pytest.mark.parametrize("pointer", ["stop_sequence", "/a~2b", "#/stop_reason"])
def test_malformed_field_paths_are_refused(client: Callable[..., Any], pointer: str) -> None:
    runtime = client("bedrock-runtime")
    code, message = error(
        lambda: runtime.converse(
            modelId=HAIKU, messages=[user("hi")], additionalModelResponseFieldPaths=[pointer]
        )
    )
    assert code == "ValidationException" and "not a valid JSON Pointer" in message


# -- the real 0.5B model ----------------------------------------------------------------------------------


@pytest.mark.real
def test_real_model_structured_output_parses_and_follows_its_schema(real_server: RunningServer) -> None:
    """Haiku's ids are served by the 0.5B model: at temperature 0 its reply is JSON valid under the schema."""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "languages": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age", "languages"],
        "additionalProperties": False,
    }
    response = real_server.client("bedrock-runtime").converse(
        modelId=HAIKU,
        messages=[user("Ana is 34 and speaks Spanish and English. Extract her details.")],
        inferenceConfig={"temperature": 0, "maxTokens": 120},
        outputConfig=text_format(schema, name="person"),
    )
    assert response["stopReason"] == "end_turn"
    reply = json.loads(response["output"]["message"]["content"][0]["text"])
    assert schema_errors(reply, schema) == []
    assert reply["age"] == 34


def test_strict_tools_are_served_and_system_tools_refused(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    strict = {"toolSpec": {**TOOL["toolSpec"], "strict": True}}
    response = runtime.converse(
        modelId=HAIKU,
        messages=[user("What is the weather in Paris?")],
        toolConfig={"tools": [strict], "toolChoice": {"any": {}}},
    )
    call = response["output"]["message"]["content"][-1]["toolUse"]
    assert call["name"] == "get_weather" and isinstance(call["input"], dict)
    code, message = error(
        lambda: runtime.converse(
            modelId=HAIKU,
            messages=[user("hi")],
            toolConfig={"tools": [{"systemTool": {"name": "nova_grounding"}}]},
        )
    )
    assert code == "ValidationException" and "system tool nova_grounding is not available" in message
