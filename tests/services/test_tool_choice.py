"""Tool choice and structured output through every API that offers them, against the fake models:
Converse `toolConfig.toolChoice`, the Anthropic messages body's `tool_choice`, and the OpenAI API's
`tool_choice` and `response_format` json_schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
STOCK = {
    "name": "get_stock_price",
    "description": "Latest price of a stock",
    "schema": {
        "type": "object",
        "properties": {"ticker": {"type": "string"}, "currency": {"enum": ["USD", "EUR"]}},
        "required": ["ticker", "currency"],
    },
}


def converse_tools(*tools: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "toolSpec": {
                "name": t["name"],
                "description": t["description"],
                "inputSchema": {"json": t["schema"]},
            }
        }
        for t in tools
    ]


def converse(client: Callable[..., Any], text: str, choice: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {"tools": converse_tools(WEATHER, STOCK)}
    if choice is not None:
        config["toolChoice"] = choice
    return dict(
        client("bedrock-runtime").converse(
            modelId=HAIKU, messages=[{"role": "user", "content": [{"text": text}]}], toolConfig=config
        )
    )


def tool_uses(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [block["toolUse"] for block in response["output"]["message"]["content"] if "toolUse" in block]


@pytest.mark.parametrize(
    ("text", "choice", "expected"),
    [
        ("Tell me a joke", None, []),
        ("Tell me a joke", {"auto": {}}, []),
        ("Tell me a joke", {"any": {}}, ["get_weather"]),
        ("Weather in Oslo?", {"tool": {"name": "get_stock_price"}}, ["get_stock_price"]),
    ],
)
def test_converse_tool_choice(
    client: Callable[..., Any], text: str, choice: dict[str, Any] | None, expected: list[str]
) -> None:
    response = converse(client, text, choice)
    assert [use["name"] for use in tool_uses(response)] == expected
    assert response["stopReason"] == ("tool_use" if expected else "end_turn")
    if expected == ["get_stock_price"]:
        assert tool_uses(response)[0]["input"] == {"ticker": "Oslo", "currency": "USD"}


def test_converse_tool_choice_naming_an_unknown_tool_is_refused(client: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        converse(client, "hi", {"tool": {"name": "get_time"}})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "get_time" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "any"}, "get_weather"), ({"type": "tool", "name": "get_stock_price"}, "get_stock_price")],
)
def test_anthropic_body_tool_choice(
    client: Callable[..., Any], choice: dict[str, Any], expected: str
) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Tell me a joke"}],
        "tools": [
            {"name": t["name"], "description": t["description"], "input_schema": t["schema"]}
            for t in (WEATHER, STOCK)
        ],
        "tool_choice": choice,
    }
    raw = client("bedrock-runtime").invoke_model(modelId=HAIKU, body=json.dumps(body))["body"].read()
    reply = json.loads(raw)
    assert reply["stop_reason"] == "tool_use"
    assert [block["name"] for block in reply["content"] if block["type"] == "tool_use"] == [expected]


@pytest.fixture
def oai(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.endpoint + "/v1", api_key="sk-local", max_retries=0)


def test_openai_tool_choice_required_calls_a_tool(oai: openai.OpenAI) -> None:
    tools: Any = [
        {"type": "function", "function": {"name": t["name"], "parameters": t["schema"]}} for t in (STOCK,)
    ]
    reply = oai.chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}], tools=tools, tool_choice="required"
    )
    calls = reply.choices[0].message.tool_calls or []
    assert reply.choices[0].finish_reason == "tool_calls"
    assert [json.loads(call.function.arguments) for call in calls] == [
        {"ticker": "example", "currency": "USD"}
    ]  # type: ignore[union-attr]


def test_openai_json_schema_reply_follows_the_schema(oai: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    reply = oai.chat.completions.create(
        model=HAIKU,
        messages=[{"role": "user", "content": "Describe Paris."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    assert json.loads(reply.choices[0].message.content or "") == {"city": "example", "population": 1}
