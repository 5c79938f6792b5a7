"""Text-completion bodies that also take chat messages: DeepSeek (R1, V3.x) and Writer Palmyra.

Sent a `prompt`, both answer `choices[].text` with the family's stop reason, and stream chunks of the same
shape; sent `messages`, both answer as OpenAI Chat Completions (see `openai_chat`). DeepSeek prompts
usually carry DeepSeek's own chat markup (User and Assistant tags between full-width bars), which is read
back into turns; Writer's messages may hold their text as `{"text": ...}` objects, read as plain content.
"""

from __future__ import annotations

import re
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import (
    STOP_OR_LENGTH,
    DeltaCounter,
    Fields,
    NativeRequest,
    echo,
    malformed,
    max_tokens,
    stop_name,
)
from outcrop.services.bedrock_runtime.bodies.messages import prompt_messages
from outcrop.services.bedrock_runtime.bodies.openai_chat import (
    ChatCompletionStream,
    chat_completion,
    chat_request,
)

# DeepSeek's markup: full-width bars (U+FF5C) and U+2581 for spaces, as its tokenizer writes them (or ASCII).
_BAR = "[|\uff5c]"
_DEEPSEEK_TURN = re.compile(rf"<{_BAR}(User|Assistant){_BAR}>")
_DEEPSEEK_MARKS = re.compile(rf"<{_BAR}(?:begin|end)[\u2581_ ]of[\u2581_ ]sentence{_BAR}>|</?think>")


def deepseek_turns(prompt: str) -> list[ChatMessage]:
    """The turns of a DeepSeek-markup prompt (text before the first turn is the system prompt); a prompt
    without the markup goes through the shared raw-prompt reader."""
    parts = _DEEPSEEK_TURN.split(_DEEPSEEK_MARKS.sub("", prompt))
    if len(parts) == 1:
        return prompt_messages(prompt)
    turns = [ChatMessage("system", parts[0].strip())] if parts[0].strip() else []
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        turns.append(ChatMessage("user" if role == "User" else "assistant", content.strip()))
    if turns and turns[-1].role == "assistant" and not turns[-1].content:
        turns.pop()
    return turns if any(turn.role == "user" for turn in turns) else [*turns, ChatMessage("user", "")]


def _writer_messages(body: dict[str, Any]) -> dict[str, Any]:
    """Writer's `{"text": ...}` message content as the plain string OpenAI-style readers take."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    fixed = [
        {**item, "content": item["content"]["text"]}
        if isinstance(item, dict) and isinstance(item.get("content"), dict) and "text" in item["content"]
        else item
        for item in messages
    ]
    return {**body, "messages": fixed}


_DEFAULT_MAX_TOKENS = 4096


class _CompletionFormat:
    """A `prompt` body with `choices[].text` out; a `messages` body as OpenAI Chat Completions."""

    name: str
    reason_key: str  # what the family calls a choice's stop reason

    def turns(self, prompt: str) -> list[ChatMessage]:
        return prompt_messages(prompt)

    def normalise(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(self.normalise(body))
        if "messages" in fields:
            request = chat_request(fields, model)
            return NativeRequest(**vars(request), native={"api": "chat"})
        prompt = fields.string("prompt", required=True) or ""
        if not prompt.strip():
            raise malformed("#/prompt: expected minLength: 1, actual: 0")
        stop = fields.body.get("stop")
        return NativeRequest(
            messages=self.turns(prompt),
            max_tokens=max_tokens(fields, "max_tokens", default=_DEFAULT_MAX_TOKENS, model=model),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
            stop=(stop,) if isinstance(stop, str) else tuple(fields.strings("stop") or ()),
            seed=fields.integer("seed"),
            native={"api": "text"},
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        if echo(request, "api") == "chat":
            return chat_completion(result, model)
        return {"choices": [{"text": result.text, self.reason_key: stop_name(result, STOP_OR_LENGTH)}]}

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        if echo(request, "api") == "chat":
            return ChatCompletionStream(model)
        return _TextStream(input_tokens, self.reason_key)


class _TextStream(DeltaCounter):
    def __init__(self, input_tokens: int, reason_key: str) -> None:
        super().__init__(input_tokens)
        self.reason_key = reason_key

    def chunk(self, text: str) -> dict[str, Any]:
        return {"choices": [{"text": text, self.reason_key: None}]}

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        return [{"choices": [{"text": "", self.reason_key: stop_name(result, STOP_OR_LENGTH)}]}]


class DeepSeekFormat(_CompletionFormat):
    name, reason_key = "deepseek", "stop_reason"

    def turns(self, prompt: str) -> list[ChatMessage]:
        return deepseek_turns(prompt)


class WriterFormat(_CompletionFormat):
    name, reason_key = "writer", "finish_reason"

    def normalise(self, body: dict[str, Any]) -> dict[str, Any]:
        return _writer_messages(body)
