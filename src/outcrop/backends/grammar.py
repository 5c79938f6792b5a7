"""GBNF grammars for llama.cpp's sampler, built from tool and response JSON schemas.

Small models call tools in the right shape most of the time, and "most" breaks agents. llama.cpp's grammar
sampler makes the shape certain: a tool call can only name one of the tools, and its arguments can only be
JSON that follows that tool's schema (llama-cpp-python's JSON-schema converter writes the rules, with
integer bounds from grammar_numbers). With tool choice "auto" the reply is text or calls, and every way a
small model starts a call leads into the constrained call rule: a `<tool_call>` block, or a bare
`{"name": ...` (alone, after text, or inside a ```json fence). Text may contain neither, so whatever looks
like a call is one, and valid. With "any" or a named tool the prompt already ends inside the call (see
`chat_template.forced_tool_prefix`), so the grammar starts there and nothing else can be written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import ToolSpec
from outcrop.backends.chat_template import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from outcrop.backends.grammar_numbers import integer_bounds, integer_range_rule

_log = logging.getLogger(__name__)
_MORE_CALLS = 3  # parallel calls allowed after the first
# JSON whitespace wherever the converter allows some: none, a space, or one line break and an indent (as
# llama.cpp's own JSON grammar). The converter's default (a space at most) forbids the pretty-printed calls
# the models write by habit; each forbidden line break was a full-vocabulary redraw, and it pushed the
# model off its course: `"duration_minutes": 30` became 3000000000000000 when the line break after 30 was
# refused and only more digits were left. Bounded, so no reply can run away in whitespace.
_SPACE = '( " " | "\\n" [ \\t]{0,20} )?'


@dataclass(frozen=True)
class Grammar:
    """A GBNF grammar whose start rule is `root`."""

    text: str


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _converter() -> Any:
    from llama_cpp.llama_grammar import RESERVED_NAMES, SchemaConverter

    class Converter(SchemaConverter):
        """The stock converter, plus integers held within their schema's bounds, and JSON's whitespace
        after an enum or const value as after any other (the stock rule allows none there)."""

        def _generate_constant_rule(self, value: Any) -> str:
            return f"{super()._generate_constant_rule(value)} space"  # type: ignore[no-untyped-call]

        def visit(self, schema: dict[str, Any], name: str) -> Any:
            bounds = integer_bounds(schema) if schema.get("type") == "integer" else None
            rule = integer_range_rule(*bounds) if bounds else None
            if rule is None:
                return super().visit(schema, name)  # type: ignore[no-untyped-call]
            rule_name = name + "-" if name in RESERVED_NAMES else name or "root"
            return self._add_rule(rule_name, rule)  # type: ignore[no-untyped-call]

    converter = Converter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    converter._rules["space"] = _SPACE
    return converter


def _argument_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Tool arguments are always an object, even when the schema leaves out the type."""
    if "type" not in schema and not any(key in schema for key in ("anyOf", "oneOf", "allOf", "$ref")):
        return {**schema, "type": "object"}
    return schema


def _rules(converter: Any, schema: dict[str, Any], name: str) -> str:
    """Add the rules for `schema` under `name`; an unusual schema gets any JSON object instead."""
    try:
        return str(converter.visit(converter.resolve_refs(schema, name), name))
    except Exception as error:  # the converter rejects some schemas; validation still guards the result
        _log.warning("no grammar for schema %s (%s); allowing any JSON object", name, error)
        return str(converter.visit({"type": "object"}, name))


def tool_call_grammar(
    tools: Sequence[ToolSpec], tool_choice: str | None, *, after_result: bool = False
) -> Grammar | None:
    """The grammar for a reply to a request offering `tools`; None when no tool can be called.

    `after_result`: the last turn is a tool's result. The small models then often echo the call they
    made as a bare `{"name": ...}` before answering, so there a reply may open only with text or a
    `<tool_call>` block (a bare call after text is still a call)."""
    if not tools or tool_choice == "none":
        return None
    converter = _converter()
    calls: list[str] = []
    for index, tool in enumerate(tools):
        arguments = _rules(converter, _argument_schema(tool.parameters), f"arguments-{index}")
        if tool.name == tool_choice:
            rules = converter.format_grammar()
            return Grammar(f'root ::= {arguments} "}}" {_literal(chr(10) + TOOL_CALL_CLOSE)}\n{rules}')
        name = _literal(json.dumps(tool.name))
        calls.append(
            f'{name} "," space {_literal(chr(34) + "arguments" + chr(34) + ":")} space {arguments} "}}"'
        )
    close = _literal(chr(10) + TOOL_CALL_CLOSE)
    rules = [
        # JSON's whitespace (`space`), pretty-printed or not; `text` below tells a call by `{ws"name"`
        f'call ::= "{{" space {_literal(chr(34) + "name" + chr(34) + ":")} space ({" | ".join(calls)})',
        f"tagged ::= {_literal(TOOL_CALL_OPEN + chr(10))} call {close}",
        converter.format_grammar(),
    ]
    if tool_choice == "any":
        return Grammar(f'root ::= call {close} ("\\n" tagged){{0,{_MORE_CALLS}}}\n' + "\n".join(rules))
    roots = [
        "root ::= " + ("tagged-calls" if after_result else "calls") + " | text calls?",
        "calls ::= tagged-calls | bare",
        f'tagged-calls ::= tagged ("\\n" tagged){{0,{_MORE_CALLS}}}',
        # calls a model writes without tags, one a line, maybe in a ```json fence; nothing after them
        f'bare ::= call ("\\n" call){{0,{_MORE_CALLS}}} ("\\n"? "```")?',
    ]
    return Grammar("\n".join([*roots, _prose_rules(), *rules]))


def text_grammar() -> Grammar:
    """Text that opens no tool call: what a reply goes on as once its model started a call to a tool that
    was not offered (see llamacpp.py)."""
    return Grammar("root ::= text\n" + _prose_rules())


def _prose_rules() -> str:
    """`text`: a reply that opens with neither `{` nor a call, and contains neither `<tool_call>` nor
    `{"name"` (whitespace allowed after the brace): where the model writes one, the text ends and the call
    rule takes over, so the call is constrained from its first character.

    A small automaton for "contains neither": state t<i> means the text ends with the first i characters
    of `<tool_call>`, b<i> that it ends with a brace, whitespace and the first i characters of `"name"`.
    Neither word repeats its first character, and neither holds the other's, so any `<` goes to t1 and
    any `{` to b0."""
    rules = ['text ::= [^{<] t0 | "<" t1', 't0 ::= ([^<{] t0 | "<" t1 | "{" b0)?']
    restart = '"<" t1 | "{" b0'
    for prefix, word in (("t", TOOL_CALL_OPEN), ("b", '"name"')):
        first = 1 if prefix == "t" else 0
        for index in range(first, len(word)):
            character = word[index]
            escaped = _literal(character)
            advance = f"{escaped} {prefix}{index + 1} | " if index + 1 < len(word) else ""
            others = "<{" + ('\\"' if character == '"' else character)
            if prefix == "b" and index == 0:  # whitespace between the brace and the quote
                advance += "[ \\t\\r\\n] b0 | "
                others += " \\t\\r\\n"
            rules.append(f"{prefix}{index} ::= ({advance}{restart} | [^{others}] t0)?")
    return "\n".join(rules)


def json_grammar(schema: dict[str, Any] | None) -> Grammar:
    """JSON mode: any JSON object, or (with a response schema) a value that follows `schema`."""
    if schema is None:
        from llama_cpp.llama_grammar import JSON_GBNF

        return Grammar(JSON_GBNF)
    converter = _converter()
    _rules(converter, schema, "")  # the converter names the unnamed rule `root`
    return Grammar(converter.format_grammar())
