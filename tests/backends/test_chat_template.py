from __future__ import annotations

import pytest

from outcrop.backends.base import ChatMessage, ToolCall, ToolSpec
from outcrop.backends.chat_template import ChatTemplate, OutputScanner, forced_tool_prefix, parse_tool_calls

TOOL = ToolSpec(
    "get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}}
)

MINI_TEMPLATE = (
    "{% for m in messages %}[{{ m.role }}]{{ m.content }}"
    "{% for c in m.tool_calls or [] %}<call>{{ c.function.arguments | tojson }}</call>{% endfor %}"
    "{% if m.name %}({{ m.name }}){% endif %}{% endfor %}"
    "{% if tools %}{% for t in tools %}<tool>{{ t.function.name }}</tool>{% endfor %}{% endif %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)


def feed_all(scanner: OutputScanner, pieces: list[str]) -> str:
    shown = "".join(scanner.feed(piece) for piece in pieces)
    return shown + scanner.flush()


def test_plain_text_passes_through() -> None:
    assert feed_all(OutputScanner([], detect_tool_calls=True), ["Hello", " there", "!"]) == "Hello there!"


def test_stop_sequence_split_across_deltas_is_never_shown() -> None:
    scanner = OutputScanner(["END"], detect_tool_calls=False)
    shown = [scanner.feed(piece) for piece in ["one two E", "N", "D three"]]
    assert "".join(shown) == "one two "
    assert shown[0] == "one two " and scanner.stop_sequence == "END"
    assert scanner.feed("more") == "" and scanner.flush() == ""


def test_text_that_only_looked_like_a_marker_is_released() -> None:
    scanner = OutputScanner(["END"], detect_tool_calls=True)
    assert scanner.feed("a <tool") == "a "
    assert scanner.feed("box> E") == "<toolbox> "
    assert scanner.flush() == "E"


def test_tool_call_markup_goes_to_tool_text() -> None:
    scanner = OutputScanner([], detect_tool_calls=True)
    shown = feed_all(
        scanner,
        ["Let me check.", "<tool_", 'call>\n{"name": "get_weather", ', '"arguments": {}}\n</tool_call>'],
    )
    assert shown == "Let me check."
    assert scanner.in_tool_call and scanner.tool_text.startswith("<tool_call>")


def test_reply_starting_with_json_is_held_as_a_possible_tool_call() -> None:
    scanner = OutputScanner([], detect_tool_calls=True)
    assert feed_all(scanner, ["  ", '{"name": "get_weather", "arguments": {"city": "Oslo"}}']) == ""
    assert parse_tool_calls(scanner.tool_text, [TOOL])[0].arguments == {"city": "Oslo"}


A = ToolSpec("a", "", {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]})
B = ToolSpec("b", "", {"type": "object", "properties": {"y": {"type": "integer"}}})


def test_parse_tool_calls_variants() -> None:
    tagged = (
        '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": "{\\"y\\": 2}"}'
    )
    calls = parse_tool_calls(tagged, [A, B])
    assert [(call.name, call.arguments) for call in calls] == [("a", {"x": 1}), ("b", {"y": 2})]
    assert len({call.id for call in calls}) == 2
    assert parse_tool_calls('{"name": "zzz", "arguments": {}}', [TOOL]) == []
    assert parse_tool_calls("<tool_call>not json</tool_call>", [TOOL]) == []


def test_calls_whose_arguments_break_the_schema_are_no_calls() -> None:
    assert parse_tool_calls('{"name": "a", "arguments": {"x": "one"}}', [A]) == []
    assert parse_tool_calls('{"name": "a", "arguments": {}}', [A]) == []
    # one broken call among several: the reply stands as text rather than as half its calls
    both = (
        '<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call><tool_call>{"name": "b", "arguments": 3}'
    )
    assert parse_tool_calls(both, [A, B]) == []


def test_a_bare_call_after_prose_is_a_call_and_the_prose_its_text() -> None:
    scanner = OutputScanner([], detect_tool_calls=True)
    pieces = ["Let me check", " the weather.\n", '{"na', 'me": "get_weather", "arguments": {"city": "Oslo"}}']
    assert feed_all(scanner, pieces) == "Let me check the weather."
    assert scanner.gap == "\n"
    assert parse_tool_calls(scanner.tool_text, [TOOL])[0].arguments == {"city": "Oslo"}


def test_a_fenced_call_after_prose_hides_its_fence() -> None:
    scanner = OutputScanner([], detect_tool_calls=True)
    pieces = ["Sure. ", "``", "`json\n{", ' "name": "get_weather", "arguments": {}}\n```']
    assert feed_all(scanner, pieces) == "Sure."
    assert [call.name for call in parse_tool_calls(scanner.tool_text, [TOOL])] == ["get_weather"]


def test_braces_in_prose_that_open_no_call_stream_on() -> None:
    scanner = OutputScanner([], detect_tool_calls=True)
    assert feed_all(scanner, ["Use {", '"city": 1} or ', "`x`"]) == 'Use {"city": 1} or `x`'
    assert not scanner.in_tool_call


def test_forced_tool_prefix() -> None:
    assert forced_tool_prefix(None, [TOOL]) == ""
    assert forced_tool_prefix("any", [TOOL]) == "<tool_call>\n"
    assert forced_tool_prefix("get_weather", [TOOL]).endswith('{"name": "get_weather", "arguments": ')
    with pytest.raises(ValueError, match="not among the tools"):
        forced_tool_prefix("nope", [TOOL])


def test_template_sees_tools_tool_calls_and_tool_names() -> None:
    template = ChatTemplate(MINI_TEMPLATE)
    call = ToolCall("c1", "get_weather", {"city": "<Oslo>"})
    messages = [
        ChatMessage("user", "weather?"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "sunny", tool_call_id="c1"),
    ]
    rendered = template.render(messages, [TOOL])
    assert rendered == (
        '[user]weather?[assistant]<call>{"city": "<Oslo>"}</call>[tool]sunny(get_weather)'
        "<tool>get_weather</tool>[assistant]"
    )


def test_template_without_tool_support_gets_a_tools_preamble() -> None:
    template = ChatTemplate("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}")
    rendered = template.render([ChatMessage("user", "hi")], [TOOL])
    assert rendered.startswith("[system]You may call functions") and "get_weather" in rendered


def test_fenced_json_reply_is_held_but_fenced_code_streams() -> None:
    scanner = OutputScanner([], detect_tool_calls=True)
    pieces = ["``", "`json\n", '{"name": "get_weather",', ' "arguments": {"city": "Oslo"}}\n```']
    assert feed_all(scanner, pieces) == ""
    assert parse_tool_calls(scanner.tool_text, [TOOL])[0].arguments == {"city": "Oslo"}
    code = OutputScanner([], detect_tool_calls=True)
    assert code.feed("```py") == "" and code.feed("thon\nprint(1)") == "```python\nprint(1)"


def test_without_tools_json_streams_as_text() -> None:
    assert OutputScanner([], detect_tool_calls=False).feed('{"a": 1}') == '{"a": 1}'
