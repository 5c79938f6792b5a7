from __future__ import annotations

import json
from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, Image, ToolCall, ToolSpec
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.anthropic import AnthropicFormat

from .support import model, result, stream, wire

FORMAT = AnthropicFormat()
HAIKU = model("anthropic", "anthropic.claude-3-haiku-20240307-v1:0", max_tokens=4096)
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def body(**fields: Any) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Hello"}],
        **fields,
    }


def test_parse_a_typical_messages_body() -> None:
    request = FORMAT.parse(
        body(
            system="You are terse.",
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            stop_sequences=["\n\nHuman:"],
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Describe this."},
            ],
        ),
        HAIKU,
    )
    assert list(request.messages) == [
        ChatMessage("system", "You are terse."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello!"),
        ChatMessage("user", "Describe this."),
    ]
    assert (request.max_tokens, request.temperature, request.top_p, request.top_k) == (300, 0.2, 0.9, 40)
    assert tuple(request.stop) == ("\n\nHuman:",)


def test_images_stay_images_and_system_blocks_are_read() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    request = FORMAT.parse(
        body(
            system=[{"type": "text", "text": "Be kind."}],
            messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]}],
        ),
        HAIKU,
    )
    assert request.messages[0] == ChatMessage("system", "Be kind.")
    assert request.messages[1].content == "What is this?"
    assert request.messages[1].images == (Image("image/png", b"\x89PNG\r\n\x1a\n"),)


def test_tools_tool_use_and_tool_results() -> None:
    request = FORMAT.parse(
        body(
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [{"type": "text", "text": "18C"}],
                        },
                        {"type": "text", "text": "Thanks"},
                    ],
                },
            ],
        ),
        HAIKU,
    )
    assert list(request.tools) == [
        ToolSpec("get_weather", "Current weather for a city", WEATHER_TOOL["input_schema"])
    ]
    assert request.tool_choice == "get_weather"
    assert list(request.messages[1:]) == [
        ChatMessage("assistant", "Let me check.", (ToolCall("toolu_1", "get_weather", {"city": "Paris"}),)),
        ChatMessage("tool", "18C", tool_call_id="toolu_1"),
        ChatMessage("user", "Thanks"),
    ]


@pytest.mark.parametrize(
    ("choice", "expected_tools", "expected_choice"),
    [({"type": "any"}, 1, "any"), ({"type": "auto"}, 1, None), ({"type": "none"}, 0, None)],
)
def test_tool_choice(choice: dict[str, str], expected_tools: int, expected_choice: str | None) -> None:
    request = FORMAT.parse(body(tools=[WEATHER_TOOL], tool_choice=choice), HAIKU)
    assert (len(request.tools), request.tool_choice) == (expected_tools, expected_choice)


def test_response_reads_as_boto3_users_read_it() -> None:
    output = wire(
        FORMAT.response(
            result("Hi there!", input_tokens=12, output_tokens=4), FORMAT.parse(body(), HAIKU), HAIKU
        )
    )
    assert output["content"][0]["text"] == "Hi there!"
    assert output["id"].startswith("msg_bdrk_")
    assert {key: output[key] for key in ("type", "role", "model", "stop_reason", "stop_sequence")} == {
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku-20240307",
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    assert output["usage"] == {"input_tokens": 12, "output_tokens": 4}


def test_tool_use_response() -> None:
    call = ToolCall("call_abc", "get_weather", {"city": "Paris"})
    output = wire(
        FORMAT.response(result("", "tool_use", tool_calls=[call]), FORMAT.parse(body(), HAIKU), HAIKU)
    )
    assert output["stop_reason"] == "tool_use"
    [block] = output["content"]
    assert block["type"] == "tool_use" and block["id"].startswith("toolu_bdrk_")
    assert (block["name"], block["input"]) == ("get_weather", {"city": "Paris"})


def test_stop_sequence_is_reported() -> None:
    output = FORMAT.response(
        result("a", "stop_sequence", stop_sequence="END"), FORMAT.parse(body(), HAIKU), HAIKU
    )
    assert (output["stop_reason"], output["stop_sequence"]) == ("stop_sequence", "END")


def test_stream_events_in_order() -> None:
    call = ToolCall("call_1", "get_weather", {"city": "Paris"})
    done = result("Hi there", "tool_use", input_tokens=9, output_tokens=7, tool_calls=[call])
    chunks = stream(FORMAT, FORMAT.parse(body(), HAIKU), HAIKU, ["Hi", " there"], done)
    assert [chunk["type"] for chunk in chunks] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert chunks[0]["message"]["usage"]["input_tokens"] == 9
    assert "".join(
        c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta" and c["index"] == 0
    ) == ("Hi there")
    assert chunks[5]["content_block"]["type"] == "tool_use" and chunks[5]["index"] == 1
    assert json.loads(chunks[6]["delta"]["partial_json"]) == {"city": "Paris"}
    assert chunks[8]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert chunks[8]["usage"] == {"output_tokens": 7}


def test_an_empty_stream_still_has_a_text_block() -> None:
    chunks = stream(FORMAT, FORMAT.parse(body(), HAIKU), HAIKU, [], result("", output_tokens=0))
    assert [chunk["type"] for chunk in chunks] == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_claude2_text_completion_body() -> None:
    entry = model("anthropic", "anthropic.claude-v2:1")
    request = FORMAT.parse({"prompt": "\n\nHuman: Hi\n\nAssistant:", "max_tokens_to_sample": 100}, entry)
    assert list(request.messages) == [ChatMessage("user", "Hi")]
    output = wire(FORMAT.response(result("Hello", "max_tokens"), request, entry))
    assert output["completion"] == "Hello" and output["stop_reason"] == "max_tokens"
    chunks = stream(FORMAT, request, entry, ["Hel", "lo"], result("Hello"))
    assert "".join(chunk["completion"] for chunk in chunks) == "Hello"
    assert chunks[-1]["stop_reason"] == "stop_sequence"


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        (
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10},
            "Malformed input request: #: required key [messages] not found, "
            "please reformat your input and try again.",
        ),
        ({"messages": []}, "Malformed input request: #: 2 schema violations found"),
        (body(max_tokens="ten"), "#/max_tokens: expected type: Integer, found: String"),
        (
            body(max_tokens=10_000),
            "max_tokens: 10000 > 4096, which is the maximum allowed number of output tokens "
            "for claude-3-haiku-20240307",
        ),
        (body(messages=[]), "messages: at least one message is required"),
        (body(messages=[{"role": "system", "content": "x"}]), 'Unexpected role "system"'),
        (body(messages=[{"role": "user"}]), "#/messages/0: required key [content] not found"),
        (
            body(messages=[{"role": "user", "content": [{"type": "audio"}]}]),
            "messages.0.content.0.type: Input tag 'audio'",
        ),
        (
            body(
                messages=[
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}
                ]
            ),
            "must define tools",
        ),
        (body(tool_choice={"type": "sometimes"}), "#/tool_choice/type: sometimes is not a valid enum value"),
        (
            body(tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "get_time"}),
            "The tool choice names get_time, which is not among the tools given.",
        ),
    ],
)
def test_malformed_bodies(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        FORMAT.parse(bad_body, HAIKU)
    assert message in caught.value.message
