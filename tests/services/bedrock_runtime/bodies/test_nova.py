from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, ToolCall, ToolSpec
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.nova import NovaFormat

from .support import model, result, stream, wire

FORMAT = NovaFormat()
NOVA = model("nova", "amazon.nova-lite-v1:0", max_tokens=5000)
TOOL_CONFIG = {
    "tools": [
        {
            "toolSpec": {
                "name": "top_song",
                "description": "Most popular song on a station",
                "inputSchema": {"json": {"type": "object", "properties": {"sign": {"type": "string"}}}},
            }
        }
    ],
    "toolChoice": {"auto": {}},
}


def test_parse_the_documented_body() -> None:
    request = FORMAT.parse(
        {
            "schemaVersion": "messages-v1",
            "system": [{"text": "Act as a creative writing assistant."}],
            "messages": [{"role": "user", "content": [{"text": "A story about a dragon"}]}],
            "inferenceConfig": {
                "max_new_tokens": 300,
                "temperature": 0.7,
                "top_p": 0.9,
                "top_k": 20,
                "stopSequences": ["END"],
            },
        },
        NOVA,
    )
    assert list(request.messages) == [
        ChatMessage("system", "Act as a creative writing assistant."),
        ChatMessage("user", "A story about a dragon"),
    ]
    assert (request.max_tokens, request.temperature, request.top_p, request.top_k) == (300, 0.7, 0.9, 20)
    assert tuple(request.stop) == ("END",)


def test_camel_case_inference_keys_and_text_documents() -> None:
    document = {
        "document": {
            "format": "txt",
            "name": "notes",
            "source": {"bytes": base64.b64encode(b"Dragons fly.").decode()},
        }
    }
    request = FORMAT.parse(
        {
            "messages": [{"role": "user", "content": [document, {"text": "Summarise"}]}],
            "inferenceConfig": {"maxTokens": 100, "topP": 0.5},
        },
        NOVA,
    )
    assert (request.max_tokens, request.top_p) == (100, 0.5)
    assert "Dragons fly." in request.messages[0].content


def test_tool_use_round_trip() -> None:
    request = FORMAT.parse(
        {
            "messages": [
                {"role": "user", "content": [{"text": "Top song on WZPZ?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"toolUse": {"toolUseId": "t1", "name": "top_song", "input": {"sign": "WZPZ"}}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"song": "X"}}]}}],
                },
            ],
            "toolConfig": TOOL_CONFIG,
        },
        NOVA,
    )
    assert request.tools == [
        ToolSpec(
            "top_song",
            "Most popular song on a station",
            TOOL_CONFIG["tools"][0]["toolSpec"]["inputSchema"]["json"],
        )
    ]
    assert request.messages[1] == ChatMessage(
        "assistant", "", (ToolCall("t1", "top_song", {"sign": "WZPZ"}),)
    )
    assert request.messages[2].role == "tool" and json.loads(request.messages[2].content) == {"song": "X"}


def test_response() -> None:
    request = FORMAT.parse({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}, NOVA)
    output = wire(FORMAT.response(result("Hello!", input_tokens=4, output_tokens=2), request, NOVA))
    assert output["output"]["message"]["content"][0]["text"] == "Hello!"
    assert output == {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 4,
            "outputTokens": 2,
            "totalTokens": 6,
            "cacheReadInputTokenCount": 0,
            "cacheWriteInputTokenCount": 0,
        },
    }
    call = ToolCall("call_1", "top_song", {"sign": "WZPZ"})
    with_tool = FORMAT.response(result("", "tool_use", tool_calls=[call]), request, NOVA)
    assert with_tool["output"]["message"]["content"] == [
        {"toolUse": {"toolUseId": "call_1", "name": "top_song", "input": {"sign": "WZPZ"}}}
    ]


def test_stream_chunks() -> None:
    request = FORMAT.parse({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}, NOVA)
    call = ToolCall("call_1", "top_song", {"sign": "WZPZ"})
    chunks = stream(
        FORMAT, request, NOVA, ["Hel", "lo"], result("Hello", "tool_use", output_tokens=5, tool_calls=[call])
    )
    assert [next(iter(chunk)) for chunk in chunks] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert (
        "".join(c["contentBlockDelta"]["delta"].get("text", "") for c in chunks if "contentBlockDelta" in c)
        == "Hello"
    )
    assert chunks[-2] == {"messageStop": {"stopReason": "tool_use"}}
    assert chunks[-1]["metadata"]["usage"]["outputTokens"] == 5


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({"system": [{"text": "x"}]}, "Malformed input request: #: required key [messages] not found"),
        (
            {"messages": [{"role": "user", "content": "Hi"}]},
            "#/messages/0/content: expected type: JSONArray, found: String",
        ),
        (
            {"messages": [{"role": "model", "content": [{"text": "Hi"}]}]},
            "#/messages/0/role: model is not a valid enum value",
        ),
        ({"schemaVersion": "v2", "messages": []}, "#/schemaVersion: v2 is not a valid enum value"),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "x"}]}],
                "inferenceConfig": {"max_new_tokens": "9"},
            },
            "#/inferenceConfig/max_new_tokens: expected type: Integer, found: String",
        ),
        ({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, "must start with a user message"),
    ],
)
def test_malformed_bodies(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        FORMAT.parse(bad_body, NOVA)
    assert message in caught.value.message
