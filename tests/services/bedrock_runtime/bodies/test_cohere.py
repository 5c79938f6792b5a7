from __future__ import annotations

from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.cohere import CohereCommandFormat, CohereCommandRFormat

from .support import model, result, stream, wire

COMMAND = CohereCommandFormat()
COMMAND_R = CohereCommandRFormat()
COMMAND_MODEL = model("cohere-command", "cohere.command-text-v14", max_tokens=4096)
R_MODEL = model("cohere-command-r", "cohere.command-r-v1:0", max_tokens=4000)


def test_command_parse_defaults_to_twenty_tokens() -> None:
    request = COMMAND.parse(
        {"prompt": "Write a tagline", "p": 0.75, "k": 0, "temperature": 0.8}, COMMAND_MODEL
    )
    assert list(request.messages) == [ChatMessage("user", "Write a tagline")]
    assert (request.max_tokens, request.top_p, request.top_k, request.temperature) == (20, 0.75, 0, 0.8)


def test_command_response_and_stream() -> None:
    request = COMMAND.parse({"prompt": "Write a tagline", "max_tokens": 50}, COMMAND_MODEL)
    output = wire(COMMAND.response(result("Fresh ideas.", "max_tokens"), request, COMMAND_MODEL))
    assert output["generations"][0]["text"] == "Fresh ideas."
    assert output["generations"][0]["finish_reason"] == "MAX_TOKENS"
    assert output["prompt"] == "Write a tagline" and set(output) == {"generations", "id", "prompt"}
    chunks = stream(COMMAND, request, COMMAND_MODEL, ["Fresh", " ideas."], result("Fresh ideas."))
    # AWS's examples print chunk["generations"][0]["text"]; LangChain reads "text" and "is_finished"
    assert "".join(chunk["generations"][0]["text"] for chunk in chunks) == "Fresh ideas."
    assert [chunk["text"] for chunk in chunks] == ["Fresh", " ideas.", ""]
    assert [chunk["is_finished"] for chunk in chunks] == [False, False, True]
    assert chunks[0]["generations"][0]["finish_reason"] is None
    assert chunks[-1]["finish_reason"] == chunks[-1]["generations"][0]["finish_reason"] == "COMPLETE"
    assert chunks[-1]["response"]["generations"][0]["text"] == "Fresh ideas."
    assert len({chunk["generations"][0]["id"] for chunk in chunks}) == 1


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({"prompt": "x", "num_generations": 2}, "num_generations must be 1"),
        ({"prompt": "x", "top_k": 2}, "#: extraneous key [top_k] is not permitted"),
        (
            {"prompt": "x", "return_likelihoods": "SOME"},
            "#/return_likelihoods: SOME is not a valid enum value",
        ),
        ({}, "#: required key [prompt] not found"),
    ],
)
def test_command_malformed_bodies(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        COMMAND.parse(bad_body, COMMAND_MODEL)
    assert message in caught.value.message


def test_command_r_parse() -> None:
    request = COMMAND_R.parse(
        {
            "message": "And Jupiter?",
            "preamble": "You are an astronomer.",
            "chat_history": [
                {"role": "USER", "message": "How big is Mars?"},
                {"role": "CHATBOT", "message": "About half the size of Earth."},
            ],
            "documents": [{"title": "Jupiter", "snippet": "The largest planet."}],
            "max_tokens": 100,
            "k": 10,
            "seed": 7,
        },
        R_MODEL,
    )
    system, *rest = request.messages
    assert system.role == "system" and system.content.startswith("You are an astronomer.")
    assert "The largest planet." in system.content
    assert rest == [
        ChatMessage("user", "How big is Mars?"),
        ChatMessage("assistant", "About half the size of Earth."),
        ChatMessage("user", "And Jupiter?"),
    ]
    assert (request.max_tokens, request.top_k, request.seed) == (100, 10, 7)


def test_command_r_tools_and_tool_results() -> None:
    request = COMMAND_R.parse(
        {
            "message": "Sales on 2023-09-29?",
            "tools": [
                {
                    "name": "query_daily_sales_report",
                    "description": "Sales for one day",
                    "parameter_definitions": {
                        "day": {"description": "YYYY-MM-DD", "type": "str", "required": True}
                    },
                }
            ],
            "tool_results": [
                {
                    "call": {"name": "query_daily_sales_report", "parameters": {"day": "2023-09-29"}},
                    "outputs": [{"total_sales": 10000}],
                }
            ],
        },
        R_MODEL,
    )
    [tool] = request.tools
    assert tool.parameters == {
        "type": "object",
        "properties": {"day": {"type": "string", "description": "YYYY-MM-DD"}},
        "required": ["day"],
    }
    user, assistant, tool_turn = request.messages
    assert user == ChatMessage("user", "Sales on 2023-09-29?")
    assert assistant.tool_calls[0].name == "query_daily_sales_report"
    assert tool_turn.role == "tool" and tool_turn.tool_call_id == assistant.tool_calls[0].id
    assert "10000" in tool_turn.content


def test_command_r_response() -> None:
    history = [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello"}]
    request = COMMAND_R.parse({"message": "Bye", "chat_history": history}, R_MODEL)
    assert request.max_tokens == 4000
    output = wire(COMMAND_R.response(result("Goodbye!", input_tokens=8, output_tokens=2), request, R_MODEL))
    assert output["text"] == "Goodbye!"
    assert output["finish_reason"] == "COMPLETE"
    assert output["chat_history"] == [
        *history,
        {"role": "USER", "message": "Bye"},
        {"role": "CHATBOT", "message": "Goodbye!"},
    ]
    assert output["meta"]["billed_units"] == {"input_tokens": 8, "output_tokens": 2}
    assert "tool_calls" not in output
    call = ToolCall("call_1", "lookup", {"q": "x"})
    with_tools = COMMAND_R.response(result("", "tool_use", tool_calls=[call]), request, R_MODEL)
    assert with_tools["tool_calls"] == [{"name": "lookup", "parameters": {"q": "x"}}]


def test_command_r_stream_events() -> None:
    request = COMMAND_R.parse({"message": "Hi"}, R_MODEL)
    call = ToolCall("call_1", "lookup", {"q": "x"})
    chunks = stream(
        COMMAND_R, request, R_MODEL, ["Hel", "lo"], result("Hello", "tool_use", tool_calls=[call])
    )
    assert [chunk["event_type"] for chunk in chunks] == [
        "stream-start",
        "text-generation",
        "text-generation",
        "tool-calls-generation",
        "stream-end",
    ]
    assert [chunk["is_finished"] for chunk in chunks] == [False, False, False, False, True]
    assert chunks[-1]["response"]["text"] == "Hello"
    assert chunks[-1]["response"]["generation_id"] == chunks[0]["generation_id"]


def test_command_r_malformed_bodies() -> None:
    with pytest.raises(ValidationException) as caught:
        COMMAND_R.parse({"chat_history": []}, R_MODEL)
    assert "#: required key [message] not found" in caught.value.message
    with pytest.raises(ValidationException) as caught:
        COMMAND_R.parse({"message": "x", "chat_history": [{"role": "BOT", "message": "y"}]}, R_MODEL)
    assert "#/chat_history/0/role: BOT is not a valid enum value" in caught.value.message
