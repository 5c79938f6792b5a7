"""Chat prompts in and model text out: rendering a model's own Jinja chat template, and reading its reply.

Rendering ourselves (rather than through llama.cpp's built-in formats) lets the template see `tools` and
tool results, as the model was trained. Reading the reply is incremental: text that might be the start of
a tool call or of a stop sequence is held back until it is decided, so markup never leaks into deltas.
Tool calls use the Hermes/Qwen form: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from outcrop.backends.base import BackendError, ChatMessage, ToolCall, ToolSpec
from outcrop.backends.json_schema import schema_errors

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_BARE_CALL = re.compile(r'(?:```[\w\- \t]*\n\s*)?\{\s*"name"\s*:')
_OPENING_FENCE = re.compile(r"^\s*```[\w\- \t]*\n")
_TOOL_CALL_BLOCK = re.compile(
    re.escape(TOOL_CALL_OPEN) + r"(.*?)(?:" + re.escape(TOOL_CALL_CLOSE) + r"|\Z)", re.S
)


def new_tool_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _tojson(
    value: Any, indent: int | None = None, ensure_ascii: bool = False, sort_keys: bool = False
) -> str:
    """Like transformers' `tojson`: plain JSON, no HTML escaping (jinja's own filter escapes `<`)."""
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _strftime_now(format_string: str) -> str:
    return datetime.datetime.now().strftime(format_string)


def _message_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The OpenAI-style message dicts that Hugging Face chat templates expect."""
    tool_names: dict[str, str] = {}
    rendered: list[dict[str, Any]] = []
    for message in messages:
        entry: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            entry["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
            tool_names.update({call.id: call.name for call in message.tool_calls})
        if message.role == "tool":
            entry["tool_call_id"] = message.tool_call_id
            entry["name"] = tool_names.get(message.tool_call_id or "", "")
        rendered.append(entry)
    return rendered


def tool_dicts(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        for tool in tools
    ]


def _tools_preamble(tools: Sequence[ToolSpec]) -> str:
    """Tool instructions for templates that do not render `tools` themselves."""
    listing = "\n".join(_tojson(entry) for entry in tool_dicts(tools))
    return (
        "You may call functions. Available functions:\n"
        f"{listing}\n"
        f"To call one, reply with {TOOL_CALL_OPEN}"
        '{"name": <function-name>, "arguments": <args-json-object>}'
        f"{TOOL_CALL_CLOSE}"
    )


class ChatTemplate:
    """A model's Jinja chat template, rendered in a sandbox with the helpers HF templates use."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        environment.filters["tojson"] = _tojson
        environment.globals["raise_exception"] = _raise_exception
        environment.globals["strftime_now"] = _strftime_now
        self._template = environment.from_string(source)
        self.renders_tools = "tools" in source
        self._bos_token = bos_token
        self._eos_token = eos_token

    def render(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> str:
        """The prompt text, ending with the assistant's turn opener."""
        message_dicts = _message_dicts(messages)
        if tools and not self.renders_tools:
            preamble = {"role": "system", "content": _tools_preamble(tools)}
            if message_dicts and message_dicts[0]["role"] == "system":
                merged = message_dicts[0]["content"] + "\n\n" + preamble["content"]
                message_dicts[0] = {"role": "system", "content": merged}
            else:
                message_dicts.insert(0, preamble)
        try:
            return self._template.render(
                messages=message_dicts,
                tools=tool_dicts(tools) if tools and self.renders_tools else None,
                add_generation_prompt=True,
                bos_token=self._bos_token,
                eos_token=self._eos_token,
            )
        except TemplateError as error:
            raise BackendError(f"the model's chat template failed: {error}") from error


def forced_tool_prefix(tool_choice: str | None, tools: Sequence[ToolSpec]) -> str:
    """Text to put in the model's mouth so it must call a tool ("any") or one named tool."""
    if not tools or tool_choice in (None, "auto", "none"):
        return ""
    if tool_choice == "any":
        return TOOL_CALL_OPEN + "\n"
    if tool_choice not in {tool.name for tool in tools}:
        raise ValueError(f"tool_choice names {tool_choice!r}, which is not among the tools given")
    return TOOL_CALL_OPEN + "\n" + '{"name": ' + json.dumps(tool_choice) + ', "arguments": '


def _json_objects(text: str) -> list[Any]:
    """Consecutive JSON values in `text` (separated by whitespace); stops at the first non-JSON text.

    Not strict: a grammar's string rule lets a raw newline into a string, which is still meant as text."""
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    position = 0
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        values.append(value)
    return values


def checked_tool_call(payload: Any, tools: Sequence[ToolSpec], call_id: str = "") -> ToolCall | None:
    """A call from one `{"name", "arguments"}` payload (arguments as an object or a JSON string), or None
    unless it names an offered tool with arguments that follow its schema."""
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return None
    tool = next((tool for tool in tools if tool.name == payload["name"]), None)
    if tool is None:
        return None
    arguments = payload.get("arguments", payload.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}", strict=False)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict) or schema_errors(arguments, tool.parameters):
        return None
    return ToolCall(id=call_id or new_tool_call_id(), name=tool.name, arguments=arguments)


def parse_tool_calls(text: str, tools: Sequence[ToolSpec]) -> list[ToolCall]:
    """The calls in `text`, which starts where the scanner saw a call open: `<tool_call>` blocks (a missing
    last close tag is tolerated), or, from models that drop the tags, bare or code-fenced
    `{"name": ..., "arguments": ...}`. A call is kept only if it names one of `tools` and its arguments
    follow that tool's schema; if any call is not, there are none (the reply then stands as text)."""
    if TOOL_CALL_OPEN in text:
        payloads = [
            value for match in _TOOL_CALL_BLOCK.finditer(text) for value in _json_objects(match.group(1))
        ]
    else:
        payloads = _json_objects(_OPENING_FENCE.sub("", text, count=1))
    calls = [checked_tool_call(payload, tools) for payload in payloads]
    return [call for call in calls if call is not None] if all(calls) else []


def _call_may_open(text: str) -> bool:
    """Whether `text` (from a backquote or brace) can still grow into the opening of a bare call,
    such as '```json\n{ "na' (once it has, `_BARE_CALL` finds it)."""
    position = 0
    if text.startswith("`"):
        if not text.startswith("```"):
            return "```".startswith(text)
        position = 3
        while position < len(text) and (text[position].isalnum() or text[position] in "_- \t"):
            position += 1
        if position < len(text) and text[position] != "\n":
            return False
        position += 1
    rest = text[position:].lstrip()
    if not rest:
        return True
    if not rest.startswith("{"):
        return False
    key = rest[1:].lstrip()
    return '"name"'.startswith(key) or (key.startswith('"name"') and not key[6:].strip())


class OutputScanner:
    """Turns a model's raw text stream into safe deltas, stopping at stop sequences and tool calls.

    `feed` returns the text that can be shown now. Once a stop sequence completes, `stop_sequence` is set
    and nothing more is emitted; once a tool call opens (`<tool_call>`, or a bare or fenced
    `{"name": ...`, which small models write, often after a sentence), the rest goes to `tool_text`,
    never to the deltas. Text that might still become a marker is held back until it is decided, and so
    is trailing whitespace, which would otherwise dangle before a call.
    """

    def __init__(self, stop: Sequence[str], *, detect_tool_calls: bool, tool_prefix: str = "") -> None:
        self._stops = [sequence for sequence in stop if sequence]
        self._markers = [*self._stops, *([TOOL_CALL_OPEN] if detect_tool_calls else [])]
        self._pending = ""
        self.stop_sequence: str | None = None
        self.in_tool_call = bool(tool_prefix)
        self.tool_text = tool_prefix
        self.gap = ""  # the whitespace between the text and the call, shown if the call is no call after all
        self._detect_tool_calls = detect_tool_calls

    @property
    def finished(self) -> bool:
        """True once a stop sequence completed: generation should end."""
        return self.stop_sequence is not None

    def feed(self, delta: str) -> str:
        if self.finished or not delta:
            return ""
        if self.in_tool_call:
            self.tool_text += delta
            return ""
        self._pending += delta
        first: tuple[int, str] | None = None
        for marker in self._markers:
            index = self._pending.find(marker)
            if index >= 0 and (first is None or index < first[0]):
                first = (index, marker)
        bare = _BARE_CALL.search(self._pending) if self._detect_tool_calls else None
        if bare is not None and (first is None or bare.start() < first[0]):
            first = (bare.start(), TOOL_CALL_OPEN)
        if first is not None:
            index, marker = first
            safe, rest = self._pending[:index], self._pending[index:]
            self._pending = ""
            if marker == TOOL_CALL_OPEN and marker not in self._stops:
                self.in_tool_call = True
                self.tool_text = rest
                kept = safe.rstrip()
                self.gap = safe[len(kept) :]
                return kept
            self.stop_sequence = marker
            return safe
        held = self._held()
        safe = self._pending[: len(self._pending) - held]
        self._pending = self._pending[len(self._pending) - held :]
        return safe

    def _held(self) -> int:
        """Length of the pending tail that could still grow into a marker (or is trailing whitespace)."""
        longest = 0
        for marker in self._markers:
            for size in range(min(len(marker) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(marker[:size]):
                    longest = size
                    break
        if self._detect_tool_calls:
            longest = max(longest, len(self._pending) - len(self._pending.rstrip()))
            for index, character in enumerate(self._pending[: len(self._pending) - longest]):
                if character in "`{" and _call_may_open(self._pending[index:]):
                    kept = self._pending[:index].rstrip()  # and the whitespace before it
                    return len(self._pending) - len(kept)
        return longest

    def flush(self) -> str:
        """At the end of generation: the held-back text turned out to be plain text."""
        rest, self._pending = self._pending, ""
        return "" if self.finished else rest
