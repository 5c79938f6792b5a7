"""Deterministic stand-ins for real models: fast tests and offline demos that still behave sensibly.

FakeChat rules, in order:
1. The last message is a tool result: answer "The tool <name> returned: <result text>".
2. Tools are given and the last user message names one of them (case-insensitive), or mentions
   "weather" while some tool's name or description does, or `tool_choice` forces a tool: call that tool
   (the first match in the order given). Arguments are built from the tool's JSON schema: each required
   property (every property when none is marked required) gets its enum's first value, else by type:
   string -> the word after " in " in the user message if there is one (so "weather in Paris?" gives
   "Paris"), else "example"; integer -> 1; number -> 1.0; boolean -> true; array -> []; object -> {}.
3. Otherwise echo: "You said: <last user message>" (or `{"response": <that>}` in JSON mode, or with a
   JSON schema for the reply, a value built from the schema as tool arguments are).
Text streams word by word; tokens are whitespace-separated words; max_tokens and stop sequences apply.

FakeEmbedder gives each lower-cased word a seeded random direction and sums them, so the same text
always gets the same unit vector and texts that share words score higher than texts that do not.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from outcrop.backends.base import (
    ChatMessage,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    StopReason,
    ToolCall,
    ToolSpec,
)
from outcrop.backends.chat_template import OutputScanner, new_tool_call_id

_WORD = re.compile(r"\w+", re.UNICODE)
_PLACE = re.compile(r"\bin\s+([A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)")


def count_words(text: str) -> int:
    return len(text.split())


def _last(messages: Sequence[ChatMessage], role: str) -> ChatMessage | None:
    return next((message for message in reversed(messages) if message.role == role), None)


def _example_value(schema: dict[str, Any], user_text: str) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((entry for entry in kind if entry != "null"), "string")
    if kind == "object":
        return example_arguments(schema, user_text)
    if kind == "string":
        place = _PLACE.search(user_text)
        return place.group(1) if place else "example"
    defaults: dict[str, Any] = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    return defaults.get(kind, "example")


def example_arguments(parameters: dict[str, Any], user_text: str) -> dict[str, Any]:
    """Arguments satisfying a tool's JSON schema, as described in the module docstring."""
    properties: dict[str, Any] = parameters.get("properties", {})
    required = parameters.get("required") or list(properties)
    return {name: _example_value(properties.get(name, {}), user_text) for name in required}


def _chosen_tool(request: GenerationRequest, user_text: str) -> ToolSpec | None:
    tools = list(request.tools)
    if not tools or request.tool_choice == "none":
        return None
    by_name = {tool.name: tool for tool in tools}
    if request.tool_choice in by_name:
        return by_name[request.tool_choice]
    lowered = user_text.lower()
    for tool in tools:
        if tool.name.lower() in lowered:
            return tool
    if "weather" in lowered:
        for tool in tools:
            if "weather" in (tool.name + " " + tool.description).lower():
                return tool
    return tools[0] if request.tool_choice == "any" else None


class FakeChat:
    """An echo model that follows the rules in the module docstring."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        tool_words = sum(count_words(f"{tool.name} {tool.description}") for tool in tools)
        return sum(count_words(message.content) for message in messages) + tool_words

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        input_tokens = self.count_tokens(request.messages, request.tools)
        last = request.messages[-1] if request.messages else None
        user = _last(request.messages, "user")
        user_text = user.content if user else ""
        if last is not None and last.role == "tool":
            call = next(
                (
                    call
                    for message in request.messages
                    for call in message.tool_calls
                    if call.id == last.tool_call_id
                ),
                None,
            )
            reply = f"The tool {call.name if call else 'call'} returned: {last.content}"
        else:
            tool = _chosen_tool(request, user_text)
            if tool is not None:
                arguments = example_arguments(tool.parameters, user_text)
                call = ToolCall(id=new_tool_call_id(), name=tool.name, arguments=arguments)
                done = GenerationResult(
                    text="",
                    stop_reason="tool_use",
                    input_tokens=input_tokens,
                    output_tokens=count_words(json.dumps(arguments)) + 1,
                    tool_calls=[call],
                )
                yield GenerationEvent(done=done)
                return
            reply = f"You said: {user_text}"
            if request.json_schema is not None:
                reply = json.dumps(_example_value(request.json_schema, user_text))
            elif request.json_mode:
                reply = json.dumps({"response": user_text})
        yield from self._stream_words(reply, request, input_tokens, cancel)

    def _stream_words(
        self, reply: str, request: GenerationRequest, input_tokens: int, cancel: threading.Event
    ) -> Iterator[GenerationEvent]:
        scanner = OutputScanner(request.stop, detect_tool_calls=False)
        words = reply.split(" ")
        produced: list[str] = []
        emitted: list[str] = []
        stop_reason: StopReason = "end_turn"
        for index, word in enumerate(words):
            if cancel.is_set():
                break
            if len(produced) >= request.max_tokens:
                stop_reason = "max_tokens"
                break
            delta = scanner.feed(word if index == 0 else " " + word)
            produced.append(word)
            if delta:
                emitted.append(delta)
                yield GenerationEvent(text=delta)
            if scanner.finished:
                stop_reason = "stop_sequence"
                break
        tail = scanner.flush()
        if tail:
            emitted.append(tail)
            yield GenerationEvent(text=tail)
        done = GenerationResult(
            text="".join(emitted),
            stop_reason=stop_reason,
            input_tokens=input_tokens,
            output_tokens=len(produced),
            stop_sequence=scanner.stop_sequence,
        )
        yield GenerationEvent(done=done)


def _word_direction(word: str, dimensions: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dimensions)


class FakeEmbedder:
    """A bag-of-words hashing embedder: deterministic, and crudely similarity-aware."""

    def __init__(self, model_id: str, dimensions: int = 384) -> None:
        self.model_id = model_id
        self.dimensions = dimensions

    def count_tokens(self, text: str) -> int:
        return max(1, len(_WORD.findall(text)))

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        vectors: list[list[float]] = []
        for text in texts:
            words = _WORD.findall(text.lower()) or [text]
            vector = sum(
                (_word_direction(word, self.dimensions) for word in words), np.zeros(self.dimensions)
            )
            if normalize:
                vector = vector / (np.linalg.norm(vector) or 1.0)
            vectors.append([float(value) for value in vector])
        return vectors


_DEFAULT_FAKE_DIMENSIONS = 384


def fake_chat(name: str, config: Mapping[str, Any]) -> FakeChat:
    """The chat kind's fake, as the registry builds it."""
    return FakeChat(name)


def fake_embedder(name: str, config: Mapping[str, Any]) -> FakeEmbedder:
    """The embedding kind's fake, at the catalog's `dimensions` (384 when it gives none)."""
    return FakeEmbedder(name, int(config.get("dimensions", _DEFAULT_FAKE_DIMENSIONS)))
