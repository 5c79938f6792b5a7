"""OpenAI Chat Completions bodies (gpt-oss, Qwen3 and the other open-weight families), and the DeepSeek and
Writer bodies that take either a prompt or chat messages."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.completions import DeepSeekFormat, WriterFormat, deepseek_turns
from outcrop.services.bedrock_runtime.bodies.openai_chat import OpenAIChatFormat

from .support import model, result, stream, wire

CHAT, DEEPSEEK, WRITER = OpenAIChatFormat(), DeepSeekFormat(), WriterFormat()
GPT = model("openai-chat", "openai.gpt-oss-20b-1:0", max_tokens=8192)
R1 = model("deepseek", "deepseek.r1-v1:0", max_tokens=8192)
PALMYRA = model("writer", "writer.palmyra-x5-v1:0", max_tokens=8192)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_chat_parse_reads_messages_limits_and_tools() -> None:
    request = CHAT.parse(
        {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
            "max_completion_tokens": 100,
            "temperature": 0.2,
            "tools": [WEATHER],
            "tool_choice": "required",
            "reasoning_effort": "low",
        },
        GPT,
    )
    assert list(request.messages) == [ChatMessage("system", "Be brief."), ChatMessage("user", "Weather?")]
    assert (request.max_tokens, request.temperature, request.tool_choice) == (100, 0.2, "any")
    assert [tool.name for tool in request.tools] == ["get_weather"]
    assert CHAT.parse({"messages": [{"role": "user", "content": "x"}], "max_tokens": 7}, GPT).max_tokens == 7


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "#: required key [messages] not found"),
        ({"messages": []}, "#/messages: expected minimum item count: 1"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n must be 1"),
        (
            {"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 9000},
            "not less or equal",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"}, "not a valid enum"),
        ({"messages": [{"role": "user", "content": "x"}], "logprobs": True}, "logprobs are not returned"),
    ],
)
def test_chat_bad_bodies(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        CHAT.parse(body, GPT)
    assert message in caught.value.message


def test_chat_response_and_stream_with_a_tool_call() -> None:
    request = CHAT.parse(
        {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER]}, GPT
    )
    call = ToolCall("call_abc", "get_weather", {"city": "Paris"})
    done = result("", "tool_use", tool_calls=[call])
    output = wire(CHAT.response(done, request, GPT))
    choice = output["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert output["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    chunks = stream(CHAT, request, GPT, [], done)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    closing = chunks[-1]["choices"][0]
    assert closing["finish_reason"] == "tool_calls" and closing["delta"]["tool_calls"][0]["index"] == 0
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_chat_stream_text() -> None:
    request = CHAT.parse({"messages": [{"role": "user", "content": "hi"}]}, GPT)
    chunks = stream(CHAT, request, GPT, ["Hel", "lo"], result("Hello", "max_tokens"))
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Hello"
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "length"]
    assert {c["model"] for c in chunks} == {"openai.gpt-oss-20b-1:0"}


def test_deepseek_markup_becomes_turns() -> None:
    prompt = (
        "You are terse.<\uff5cUser\uff5c>What is 2+2?<\uff5cAssistant\uff5c>4"
        "<\uff5cend\u2581of\u2581sentence\uff5c>"
        "<\uff5cUser\uff5c>And 3+3?<\uff5cAssistant\uff5c><think>\n"
    )
    assert deepseek_turns("<\uff5cbegin\u2581of\u2581sentence\uff5c>" + prompt) == [
        ChatMessage("system", "You are terse."),
        ChatMessage("user", "What is 2+2?"),
        ChatMessage("assistant", "4"),
        ChatMessage("user", "And 3+3?"),
    ]
    assert deepseek_turns("plain question") == [ChatMessage("user", "plain question")]


def test_deepseek_prompt_body_response_and_stream() -> None:
    request = DEEPSEEK.parse({"prompt": "Why?", "max_tokens": 20, "stop": ["\n\n"], "top_p": 0.9}, R1)
    assert (request.max_tokens, list(request.stop), request.top_p) == (20, ["\n\n"], 0.9)
    assert wire(DEEPSEEK.response(result("Because.", "max_tokens"), request, R1)) == {
        "choices": [{"text": "Because.", "stop_reason": "length"}]
    }
    chunks = stream(DEEPSEEK, request, R1, ["Be", "cause."], result("Because."))
    assert chunks == [
        {"choices": [{"text": "Be", "stop_reason": None}]},
        {"choices": [{"text": "cause.", "stop_reason": None}]},
        {"choices": [{"text": "", "stop_reason": "stop"}]},
    ]


def test_deepseek_messages_body_answers_as_chat_completions() -> None:
    request = DEEPSEEK.parse({"messages": [{"role": "user", "content": "Why?"}]}, R1)
    output = wire(DEEPSEEK.response(result("Because."), request, R1))
    assert output["object"] == "chat.completion" and output["choices"][0]["message"]["content"] == "Because."
    assert stream(DEEPSEEK, request, R1, ["x"], result("x"))[0]["object"] == "chat.completion.chunk"


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "#: required key [prompt] not found"), ({"prompt": "  "}, "expected minLength: 1")],
)
def test_deepseek_bad_bodies(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        DEEPSEEK.parse(body, R1)
    assert message in caught.value.message


def test_writer_reads_text_objects_and_prompts() -> None:
    request = WRITER.parse(
        {"messages": [{"role": "user", "content": {"text": "Explain quantum computing"}}]}, PALMYRA
    )
    assert list(request.messages) == [ChatMessage("user", "Explain quantum computing")]
    assert (
        wire(WRITER.response(result("Qubits."), request, PALMYRA))["choices"][0]["message"]["content"]
        == "Qubits."
    )
    prompt = WRITER.parse({"prompt": "Write a haiku"}, PALMYRA)
    assert wire(WRITER.response(result("Leaves."), prompt, PALMYRA)) == {
        "choices": [{"text": "Leaves.", "finish_reason": "stop"}]
    }
