"""GBNF grammars for llama.cpp's sampler, built from tool and response JSON schemas.

Small models call tools in the right shape most of the time, and "most" breaks agents. llama.cpp's grammar
sampler makes the shape certain: a tool call can only name one of the tools, and its arguments can only be
JSON that follows that tool's schema (llama-cpp-python's JSON-schema converter writes the rules). With
tool choice "auto" the reply is text or calls: text may not open like a bare JSON call, which small models
write and often get wrong, so a call is always a `<tool_call>` block (after text or alone) and is
constrained from its first character. With "any" or a named tool the prompt already ends inside the call
(see `chat_template.forced_tool_prefix`), so the grammar starts there and nothing else can be written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import ToolSpec
from outcrop.backends.chat_template import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

_log = logging.getLogger(__name__)
_MORE_CALLS = 3  # parallel calls allowed after the first


@dataclass(frozen=True)
class Grammar:
    """A GBNF grammar whose start rule is `root`."""

    text: str


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _converter() -> Any:
    from llama_cpp.llama_grammar import SchemaConverter

    return SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )


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


def tool_call_grammar(tools: Sequence[ToolSpec], tool_choice: str | None) -> Grammar | None:
    """The grammar for a reply to a request offering `tools`; None when no tool can be called."""
    if not tools or tool_choice == "none":
        return None
    converter = _converter()
    calls: list[str] = []
    for index, tool in enumerate(tools):
        arguments = _rules(converter, _argument_schema(tool.parameters), f"arguments-{index}")
        if tool.name == tool_choice:
            rules = converter.format_grammar()
            return Grammar(f'root ::= {arguments} "}}" {_literal(chr(10) + TOOL_CALL_CLOSE)}\n{rules}')
        opening = _literal('{"name": ' + json.dumps(tool.name) + ', "arguments": ')
        calls.append(f'{opening} {arguments} "}}"')
    tagged = f"{_literal(TOOL_CALL_OPEN + chr(10))} call {_literal(chr(10) + TOOL_CALL_CLOSE)}"
    more = f'("\\n" tagged){{0,{_MORE_CALLS}}}'
    rules = f"call ::= {' | '.join(calls)}\ntagged ::= {tagged}\n{converter.format_grammar()}"
    if tool_choice == "any":
        return Grammar(f"root ::= call {_literal(chr(10) + TOOL_CALL_CLOSE)} {more}\n{rules}")
    return Grammar(f"root ::= calls | text calls?\ncalls ::= tagged {more}\n{_prose_rules()}\n{rules}")


def _prose_rules() -> str:
    """`text`: any reply that does not open like a bare JSON call (`{`) and never contains the call
    opening; a call can only follow it as a `<tool_call>` block, which the grammar then constrains.

    Rule t<i> means "the text so far ends with the first i characters of the opening" (a small automaton
    for "does not contain"; the opening's `<` occurs only at its start, so any `<` goes back to t1)."""
    opening = TOOL_CALL_OPEN
    rules = ['text ::= [^{<] t0 | "<" t1', 't0 ::= ([^<] t0 | "<" t1)?']
    for index in range(1, len(opening)):
        character = opening[index]
        advance = f'"{character}" t{index + 1} | ' if index + 1 < len(opening) else ""
        rules.append(f't{index} ::= ({advance}"<" t1 | [^<{character}] t0)?')
    return "\n".join(rules)


def json_grammar(schema: dict[str, Any] | None) -> Grammar:
    """JSON mode: any JSON object, or (with a response schema) a value that follows `schema`."""
    if schema is None:
        from llama_cpp.llama_grammar import JSON_GBNF

        return Grammar(JSON_GBNF)
    converter = _converter()
    _rules(converter, schema, "")  # the converter names the unnamed rule `root`
    return Grammar(converter.format_grammar())
