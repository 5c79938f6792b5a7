from __future__ import annotations

import json
from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, ToolCall, ToolSpec
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.mistral import MistralFormat

from .support import model, result, stream, wire

FORMAT = MistralFormat()
MISTRAL = model("mistral", "mistral.mistral-7b-instruct-v0:2", max_tokens=8192)
LARGE = model("mistral", "mistral.mistral-large-2402-v1:0", max_tokens=8192)
TOOL = {
    "type": "function",
    "function": {
        "name": "top_song",
        "description": "The most popular song on a radio station",
        "parameters": {"type": "object", "properties": {"sign": {"type": "string"}}, "required": ["sign"]},
    },
}


def test_parse_a_text_completion_body() -> None:
    request = FORMAT.parse(
        {
            "prompt": "<s>[INST] What is your favourite condiment? [/INST]",
            "max_tokens": 200,
            "stop": ["\n\n"],
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 50,
        },
        MISTRAL,
    )
    assert list(request.messages) == [ChatMessage("user", "What is your favourite condiment?")]
    assert (request.max_tokens, tuple(request.stop), request.top_k) == (200, ("\n\n",), 50)


def test_text_response_and_stream() -> None:
    request = FORMAT.parse({"prompt": "<s>[INST] Hi [/INST]"}, MISTRAL)
    assert request.max_tokens == 512
    output = wire(FORMAT.response(result("Lemon."), request, MISTRAL))
    assert output["outputs"][0]["text"] == "Lemon."
    assert output == {"outputs": [{"text": "Lemon.", "stop_reason": "stop"}]}
    chunks = stream(FORMAT, request, MISTRAL, ["Lem", "on."], result("Lemon.", "max_tokens"))
    assert "".join(chunk["outputs"][0]["text"] for chunk in chunks) == "Lemon."
    assert [chunk["outputs"][0]["stop_reason"] for chunk in chunks] == [None, None, "length"]


def test_parse_a_chat_body_with_tools() -> None:
    request = FORMAT.parse(
        {
            "messages": [
                {"role": "system", "content": "You are a DJ."},
                {"role": "user", "content": "Top song on WZPZ?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"id": "v6RMMiRlT", "function": {"name": "top_song", "arguments": '{"sign": "WZPZ"}'}}
                    ],
                },
                {"role": "tool", "tool_call_id": "v6RMMiRlT", "content": "Elemental Hotel"},
            ],
            "tools": [TOOL],
            "tool_choice": "any",
            "max_tokens": 100,
        },
        LARGE,
    )
    assert list(request.messages) == [
        ChatMessage("system", "You are a DJ."),
        ChatMessage("user", "Top song on WZPZ?"),
        ChatMessage("assistant", "", (ToolCall("v6RMMiRlT", "top_song", {"sign": "WZPZ"}),)),
        ChatMessage("tool", "Elemental Hotel", tool_call_id="v6RMMiRlT"),
    ]
    assert list(request.tools) == [
        ToolSpec("top_song", TOOL["function"]["description"], TOOL["function"]["parameters"])
    ]
    assert request.tool_choice == "any"


def test_chat_response_and_stream() -> None:
    request = FORMAT.parse({"messages": [{"role": "user", "content": "Hi"}], "tools": [TOOL]}, LARGE)
    call = ToolCall("call_1", "top_song", {"sign": "WZPZ"})
    output = wire(FORMAT.response(result("", "tool_use", tool_calls=[call]), request, LARGE))
    [choice] = output["choices"]
    assert choice["stop_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "top_song"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"sign": "WZPZ"}
    plain = wire(FORMAT.response(result("Hello"), request, LARGE))
    assert plain["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    chunks = stream(FORMAT, request, LARGE, ["Hel", "lo"], result("Hello"))
    assert "".join(chunk["choices"][0]["message"]["content"] for chunk in chunks) == "Hello"
    assert chunks[-1]["choices"][0]["stop_reason"] == "stop"


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({}, "#: required key [prompt] not found"),
        ({"prompt": "x", "max_gen_len": 5}, "#: extraneous key [max_gen_len] is not permitted"),
        ({"prompt": "x", "max_tokens": 9000}, "#/max_tokens: 9000 is not less or equal to 8192"),
        ({"messages": [{"content": "x"}]}, "#/messages/0: required key [role] not found"),
        ({"messages": "hi"}, "#/messages: expected type: JSONArray, found: String"),
    ],
)
def test_malformed_bodies(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        FORMAT.parse(bad_body, MISTRAL)
    assert message in caught.value.message
