"""Bedrock Runtime through boto3 against a running server with the deterministic fake models."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EventStreamError

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "inputSchema": {
            "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        },
    }
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def test_converse_answers_with_usage_and_metrics(client: Callable[..., Any]) -> None:
    response = client("bedrock-runtime").converse(
        modelId=HAIKU,
        system=[{"text": "Be brief."}],
        messages=[user("hello there")],
        inferenceConfig={"maxTokens": 50, "temperature": 0.2, "topP": 0.9},
    )
    assert response["output"]["message"]["role"] == "assistant"
    assert response["output"]["message"]["content"][0]["text"] == "You said: hello there"
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["outputTokens"] == 4
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 0


def test_converse_multi_turn_sees_the_last_user_turn(client: Callable[..., Any]) -> None:
    response = client("bedrock-runtime").converse(
        modelId=HAIKU,
        messages=[user("first"), {"role": "assistant", "content": [{"text": "ok"}]}, user("second question")],
    )
    assert response["output"]["message"]["content"][0]["text"] == "You said: second question"


def test_converse_max_tokens_and_stop_sequences(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    limited = runtime.converse(
        modelId=HAIKU, messages=[user("one two three four five")], inferenceConfig={"maxTokens": 3}
    )
    assert limited["stopReason"] == "max_tokens"
    assert limited["usage"]["outputTokens"] == 3
    stopped = runtime.converse(
        modelId=HAIKU,
        messages=[user("one two three four five")],
        inferenceConfig={"stopSequences": ["three"]},
    )
    assert stopped["stopReason"] == "stop_sequence"
    assert "three" not in stopped["output"]["message"]["content"][0]["text"]


def test_converse_stream_events_in_order(client: Callable[..., Any]) -> None:
    response = client("bedrock-runtime").converse_stream(modelId=HAIKU, messages=[user("stream this please")])
    events = list(response["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "You said: stream this please"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 5
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"


def test_tool_use_loop(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    messages = [user("What is the weather in Paris?")]
    first = runtime.converse(modelId=HAIKU, messages=messages, toolConfig={"tools": [WEATHER_TOOL]})
    assert first["stopReason"] == "tool_use"
    tool_use = next(b["toolUse"] for b in first["output"]["message"]["content"] if "toolUse" in b)
    assert tool_use["name"] == "get_weather"
    assert tool_use["input"] == {"city": "Paris"}
    messages.append(first["output"]["message"])
    messages.append(
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"json": {"celsius": 21}}]}}
            ],
        }
    )
    second = runtime.converse(modelId=HAIKU, messages=messages, toolConfig={"tools": [WEATHER_TOOL]})
    assert second["stopReason"] == "end_turn"
    assert "21" in second["output"]["message"]["content"][0]["text"]


def test_tool_use_in_stream(client: Callable[..., Any]) -> None:
    response = client("bedrock-runtime").converse_stream(
        modelId=HAIKU, messages=[user("weather in Oslo")], toolConfig={"tools": [WEATHER_TOOL]}
    )
    events = list(response["stream"])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    tool_input = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]
    )
    assert json.loads(tool_input) == {"city": "Oslo"}
    assert next(e["messageStop"] for e in events if "messageStop" in e)["stopReason"] == "tool_use"


def test_count_tokens(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    counted = runtime.count_tokens(modelId=HAIKU, input={"converse": {"messages": [user("one two three")]}})[
        "inputTokens"
    ]
    assert counted > 0
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "one two three"}],
        }
    )
    assert (
        runtime.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": body}})["inputTokens"] == counted
    )


# -- bad input: each answered as Bedrock answers it ------------------------------------------------


@pytest.fixture
def unchecked(server: RunningServer) -> Any:
    """A client that skips boto3's own parameter checks, so the server's validation is what answers."""
    return server.client("bedrock-runtime", parameter_validation=False)


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return {
        "code": caught.value.response["Error"]["Code"],
        "message": caught.value.response["Error"]["Message"],
        "status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"],
    }


def test_unknown_model_is_a_validation_error(unchecked: Any) -> None:
    error = error_of(lambda: unchecked.converse(modelId="acme.nonexistent-v1", messages=[user("hi")]))
    assert error == {
        "code": "ValidationException",
        "message": "The provided model identifier is invalid.",
        "status": 400,
    }


def test_missing_and_invalid_fields_name_the_field(unchecked: Any) -> None:
    missing = error_of(lambda: unchecked.converse(modelId=HAIKU, messages=[{"role": "user"}]))
    assert missing["code"] == "ValidationException" and missing["status"] == 400
    assert "messages.1.member.content" in missing["message"] and "must not be null" in missing["message"]
    out_of_range = error_of(
        lambda: unchecked.converse(modelId=HAIKU, messages=[user("x")], inferenceConfig={"maxTokens": 0})
    )
    assert "inferenceConfig.maxTokens" in out_of_range["message"]
    assert "greater than or equal to 1" in out_of_range["message"]
    bad_enum = error_of(
        lambda: unchecked.converse(modelId=HAIKU, messages=[{"role": "robot", "content": [{"text": "x"}]}])
    )
    assert "messages.1.member.role" in bad_enum["message"] and "enum value set" in bad_enum["message"]


def test_wrong_json_type_names_the_field(server: RunningServer) -> None:
    raw = httpx.post(
        f"{server.endpoint}/model/{HAIKU}/converse",
        json={"messages": [user("x")], "inferenceConfig": {"temperature": "hot"}},
        headers={"authorization": "Bearer test-api-key"},
    )
    assert raw.status_code == 400
    assert raw.headers["x-amzn-errortype"] == "ValidationException"
    assert "inferenceConfig.temperature" in raw.json()["message"]


def test_conversation_rules(unchecked: Any) -> None:
    starts_with_assistant = error_of(
        lambda: unchecked.converse(
            modelId=HAIKU, messages=[{"role": "assistant", "content": [{"text": "x"}]}]
        )
    )
    assert "must start with a user message" in starts_with_assistant["message"]
    not_alternating = error_of(lambda: unchecked.converse(modelId=HAIKU, messages=[user("a"), user("b")]))
    assert "alternate" in not_alternating["message"]
    too_many_tokens = error_of(
        lambda: unchecked.converse(modelId=HAIKU, messages=[user("x")], inferenceConfig={"maxTokens": 999999})
    )
    assert too_many_tokens["code"] == "ValidationException" and "model limit" in too_many_tokens["message"]


def test_oversized_input_is_rejected(unchecked: Any) -> None:
    error = error_of(lambda: unchecked.invoke_model(modelId=HAIKU, body=b"x" * 25_000_001))
    assert error["code"] == "ValidationException" and error["status"] == 400
    assert "body" in error["message"]


def test_malformed_json_and_wrong_content_type(server: RunningServer) -> None:
    runtime = server.client("bedrock-runtime")
    malformed = error_of(lambda: runtime.invoke_model(modelId=HAIKU, body=b"{not json"))
    assert malformed["code"] == "ValidationException" and "Malformed input request" in malformed["message"]
    wrong_type = error_of(
        lambda: runtime.invoke_model(modelId=HAIKU, body=b"<xml/>", contentType="application/xml")
    )
    assert wrong_type["code"] == "ValidationException" and "application/xml" in wrong_type["message"]
    raw = httpx.post(
        f"{server.endpoint}/model/{HAIKU}/converse",
        content=b"{broken",
        headers={"content-type": "application/json", "authorization": "Bearer test-api-key"},
    )
    assert raw.status_code == 400
    assert raw.headers["x-amzn-errortype"] == "SerializationException"


def test_bearer_api_key_is_accepted(server: RunningServer) -> None:
    raw = httpx.post(
        f"{server.endpoint}/model/{HAIKU}/converse",
        json={"messages": [user("hi bearer")]},
        headers={"authorization": "Bearer bedrock-api-key-test"},
    )
    assert raw.status_code == 200, raw.text
    assert raw.json()["output"]["message"]["content"][0]["text"] == "You said: hi bearer"


def test_streaming_errors_before_the_first_event_are_http_errors(unchecked: Any) -> None:
    error = error_of(lambda: unchecked.converse_stream(modelId="acme.nonexistent-v1", messages=[user("hi")]))
    assert error["code"] == "ValidationException"


def test_unimplemented_operation_says_so(server: RunningServer) -> None:
    bedrock = server.client("bedrock")
    error = error_of(lambda: bedrock.list_custom_models())
    assert error["status"] == 501
    assert "does not implement bedrock ListCustomModels" in error["message"]


def test_embedding_model_refuses_converse(client: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        client("bedrock-runtime").converse(modelId="amazon.titan-embed-text-v2:0", messages=[user("x")])
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_event_stream_error_type_is_importable() -> None:
    assert issubclass(EventStreamError, ClientError)
