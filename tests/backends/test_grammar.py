"""The GBNF text built from tool and response schemas (the real sampler runs it in the contract suite)."""

from __future__ import annotations

import re

from outcrop.backends.base import ToolSpec
from outcrop.backends.grammar import json_grammar, tool_call_grammar
from outcrop.backends.grammar_numbers import integer_bounds, integer_range_rule

WEATHER = ToolSpec(
    "get_weather",
    "",
    {"type": "object", "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"]},
)
SEARCH = ToolSpec("web_search", "", {"properties": {"query": {"type": "string"}}})


def rules(text: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in text.splitlines())


def test_auto_allows_text_or_a_call_of_each_tool_however_it_opens() -> None:
    grammar = tool_call_grammar([WEATHER, SEARCH], None)
    assert grammar is not None
    table = rules(grammar.text)
    assert table["root"] == "calls | text calls?"
    assert table["calls"] == "tagged-calls | bare"
    assert table["tagged-calls"] == 'tagged ("\\n" tagged){0,3}'
    assert table["bare"].startswith("call ")  # `{"name"` alone, after text or in a fence
    assert table["text"].startswith("[^{<]")  # a reply may only open with `{` as a call
    # text turns to the call rule at a brace, whitespace and "name"; a `<` restarts the tag's automaton
    assert table["b0"].startswith('("\\"" b1 | [ \\t\\r\\n] b0 | "<" t1 | "{" b0')
    assert table["b5"] == '("<" t1 | "{" b0 | [^<{\\"] t0)?'
    assert table["t10"] == '("<" t1 | "{" b0 | [^<{>] t0)?'
    assert table["call"].startswith('"{" space "\\"name\\":" space (')
    assert '"\\"get_weather\\"" "," space "\\"arguments\\":" space arguments-0 "}"' in table["call"]
    assert '"\\"web_search\\"" "," space' in table["call"]
    assert table["tagged"] == '"<tool_call>\\n" call "\\n</tool_call>"'
    # the schema's enum reaches the arguments rule, and a schema without a type is still an object
    assert '"\\"c\\"" space | "\\"f\\"" space' in grammar.text
    assert table["arguments-1"].startswith('"{"')
    # after a tool's result a bare call may not open the reply (small models echo the call there)
    answer = tool_call_grammar([WEATHER, SEARCH], None, after_result=True)
    assert answer is not None and rules(answer.text)["root"] == "tagged-calls | text calls?"


def test_any_starts_inside_the_call_and_a_named_tool_inside_its_arguments() -> None:
    grammar = tool_call_grammar([WEATHER, SEARCH], "any")
    assert grammar is not None and rules(grammar.text)["root"].startswith("call ")
    named = tool_call_grammar([WEATHER, SEARCH], "web_search")
    assert named is not None and rules(named.text)["root"] == 'arguments-1 "}" "\\n</tool_call>"'


def test_json_whitespace_is_bounded_and_allows_pretty_printing() -> None:
    """The models write calls pretty-printed: a line break and an indent are allowed wherever JSON has
    whitespace (after enum and const values too), but never more than one line break in a row."""
    grammar = tool_call_grammar([WEATHER, SEARCH], None)
    assert grammar is not None
    table = rules(grammar.text)
    assert table["space"] == '( " " | "\\n" [ \\t]{0,20} )?'
    assert table["arguments-0-unit"] == '"\\"c\\"" space | "\\"f\\"" space'
    constant = json_grammar({"type": "object", "properties": {"k": {"const": 1}}, "required": ["k"]})
    assert rules(constant.text)["k"] == '"1" space'


def test_no_tools_no_grammar() -> None:
    assert tool_call_grammar([], None) is None
    assert tool_call_grammar([WEATHER], "none") is None


def test_json_grammars() -> None:
    assert json_grammar(None).text.split()[:3] == ["root", "::=", "object"]
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert rules(json_grammar(schema).text)["root"] == '"{" space n-kv "}" space'


def test_integer_bounds_reach_the_grammar() -> None:
    limited = ToolSpec(
        "search",
        "",
        {"type": "object", "properties": {"top": {"type": "integer", "minimum": 1, "maximum": 10}}},
    )
    grammar = tool_call_grammar([limited], None)
    assert grammar is not None
    assert rules(grammar.text)["arguments-0-top"] == '(([1-9] | "10")) space'
    assert integer_bounds({"exclusiveMinimum": 0, "maximum": 9.5}) == (1, 9)
    assert integer_bounds({"type": "integer"}) is None


def test_integer_ranges_hold_exactly_the_integers_in_range() -> None:
    def pattern(low: int | None, high: int | None) -> re.Pattern[str]:
        expression = integer_range_rule(low, high)
        assert expression is not None
        literal = re.sub(r'"([^"]*)"', lambda match: re.escape(match.group(1)), expression[: -len(" space")])
        return re.compile(literal.replace(" ", ""))

    for low, high in [(1, 10), (0, None), (250, None), (5, 123), (-20, 7), (None, -3), (99, 1000)]:
        checker = pattern(low, high)
        for number in range(-1100, 1200):
            inside = (low is None or number >= low) and (high is None or number <= high)
            assert bool(checker.fullmatch(str(number))) == inside, (low, high, number)
        assert not any(checker.fullmatch(text) for text in ("01", "-0", "", "-"))
    assert integer_range_rule(3, 2) is None
