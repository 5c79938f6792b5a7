from __future__ import annotations

import numpy as np

from outcrop.backends.base import ChatMessage, GenerationRequest, ToolCall, ToolSpec, generate
from outcrop.backends.fake import FakeChat, FakeEmbedder, example_arguments


def test_echo_streams_word_by_word() -> None:
    import threading

    events = list(
        FakeChat("f").stream(GenerationRequest([ChatMessage("user", "good morning")]), threading.Event())
    )
    assert [event.text for event in events[:-1]] == ["You", " said:", " good", " morning"]
    assert events[-1].done is not None and events[-1].done.output_tokens == 4


def test_arguments_follow_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "detailed": {"type": "boolean"},
        },
        "required": ["city", "unit", "days", "detailed"],
    }
    assert example_arguments(schema, "weather in New York please") == {
        "city": "New York",
        "unit": "celsius",
        "days": 1,
        "detailed": True,
    }


def test_tool_named_in_the_message_is_called_and_its_result_answered() -> None:
    tool = ToolSpec(
        "lookup_order", "Find an order", {"type": "object", "properties": {"id": {"type": "string"}}}
    )
    chat = FakeChat("f")
    first = generate(chat, GenerationRequest([ChatMessage("user", "please run lookup_order")], tools=[tool]))
    assert first.stop_reason == "tool_use" and first.tool_calls[0].name == "lookup_order"
    call: ToolCall = first.tool_calls[0]
    follow_up = [
        ChatMessage("user", "please run lookup_order"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "order 7 shipped", tool_call_id=call.id),
    ]
    second = generate(chat, GenerationRequest(follow_up, tools=[tool]))
    assert second.text == "The tool lookup_order returned: order 7 shipped"
    assert second.stop_reason == "end_turn"


def test_no_tool_call_without_a_match() -> None:
    tool = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {}})
    result = generate(FakeChat("f"), GenerationRequest([ChatMessage("user", "hello")], tools=[tool]))
    assert result.stop_reason == "end_turn" and not result.tool_calls


def test_fake_embedder_is_deterministic_and_sized() -> None:
    first, second = FakeEmbedder("e", 16), FakeEmbedder("e", 16)
    assert first.embed(["same text"]) == second.embed(["same text"])
    assert len(first.embed(["x"])[0]) == 16
    raw = np.array(first.embed(["two words"], normalize=False)[0])
    assert not np.isclose(np.linalg.norm(raw), 1.0)
