"""The GBNF text built from tool and response schemas (the real sampler runs it in the contract suite)."""

from __future__ import annotations

from outcrop.backends.base import ToolSpec
from outcrop.backends.grammar import json_grammar, tool_call_grammar

WEATHER = ToolSpec(
    "get_weather",
    "",
    {"type": "object", "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"]},
)
SEARCH = ToolSpec("web_search", "", {"properties": {"query": {"type": "string"}}})


def rules(text: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in text.splitlines())


def test_auto_allows_text_or_a_tagged_call_of_each_tool() -> None:
    grammar = tool_call_grammar([WEATHER, SEARCH], None)
    assert grammar is not None
    table = rules(grammar.text)
    assert table["root"] == "calls | text calls?"
    assert table["text"].startswith("[^{<]")  # a reply may not open like a bare JSON call
    assert (
        '\\"name\\": \\"get_weather\\"' in table["call"] and '\\"name\\": \\"web_search\\"' in table["call"]
    )
    assert table["tagged"] == '"<tool_call>\\n" call "\\n</tool_call>"'
    # the schema's enum reaches the arguments rule, and a schema without a type is still an object
    assert '"\\"c\\"" | "\\"f\\""' in grammar.text
    assert table["arguments-1"].startswith('"{"')


def test_any_starts_inside_the_call_and_a_named_tool_inside_its_arguments() -> None:
    grammar = tool_call_grammar([WEATHER, SEARCH], "any")
    assert grammar is not None and rules(grammar.text)["root"].startswith("call ")
    named = tool_call_grammar([WEATHER, SEARCH], "web_search")
    assert named is not None and rules(named.text)["root"] == 'arguments-1 "}" "\\n</tool_call>"'


def test_no_tools_no_grammar() -> None:
    assert tool_call_grammar([], None) is None
    assert tool_call_grammar([WEATHER], "none") is None


def test_json_grammars() -> None:
    assert json_grammar(None).text.split()[:3] == ["root", "::=", "object"]
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert rules(json_grammar(schema).text)["root"] == '"{" space n-kv "}" space'
