"""A remote model behind the OpenAI-compatible HTTP API (vLLM, Ollama, llama.cpp's server, ...).

When one machine is not enough, the heavy lifting moves to such a server and Outcrop stays the AWS face.
Chat streams over server-sent events; tool calls arrive as fragments that are stitched together here.
Token counting has no standard endpoint, so `count_tokens` estimates (about four characters a token).
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from outcrop.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    ChatMessage,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    StopReason,
    ToolCall,
    ToolSpec,
)
from outcrop.backends.chat_template import checked_tool_call, tool_dicts

_FINISH_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
}


def _content_json(message: ChatMessage) -> str | list[dict[str, Any]]:
    """Plain text, or the text and `image_url` parts (as data URLs) of a turn that carries images."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    for image in message.images:
        url = f"data:{image.media_type};base64,{base64.b64encode(image.data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _message_json(message: ChatMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": message.role, "content": _content_json(message)}
    if message.tool_calls:
        entry["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        entry["tool_call_id"] = message.tool_call_id
    return entry


def _request_json(model: str, request: GenerationRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message_json(message) for message in request.messages],
        "max_tokens": request.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "seed": request.seed,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if request.stop:
        body["stop"] = list(request.stop)
    if request.json_schema is not None:
        schema = {"name": "response", "schema": request.json_schema, "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif request.json_mode:
        body["response_format"] = {"type": "json_object"}
    if request.tools:
        body["tools"] = tool_dicts(request.tools)
        if request.tool_choice == "any":
            body["tool_choice"] = "required"
        elif request.tool_choice not in (None, "auto"):
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    return body


def _raise_for_status(response: httpx.Response, base_url: str) -> None:
    if response.status_code < 400:
        return
    detail = response.read().decode("utf-8", "replace")[:500]
    if response.status_code in (429, 503):
        raise BackendBusy(f"remote model server at {base_url} is busy ({response.status_code}): {detail}")
    raise BackendError(f"remote model server at {base_url} answered {response.status_code}: {detail}")


class _ToolCallAssembler:
    """Stitches streamed tool-call fragments (keyed by index) back into whole calls."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, str]] = {}

    def add(self, fragments: list[dict[str, Any]]) -> None:
        for fragment in fragments:
            part = self._parts.setdefault(
                int(fragment.get("index", 0)), {"id": "", "name": "", "arguments": ""}
            )
            part["id"] = fragment.get("id") or part["id"]
            function = fragment.get("function") or {}
            part["name"] += function.get("name") or ""
            part["arguments"] += function.get("arguments") or ""

    def calls(self, tools: Sequence[ToolSpec]) -> tuple[list[ToolCall], str]:
        """The calls, if every one names an offered tool with valid arguments; else none, and the calls as
        text (a remote server that does not constrain can still write a broken call)."""
        parts = [part for _, part in sorted(self._parts.items())]
        calls = [checked_tool_call(part, tools, part["id"]) for part in parts]
        if all(calls):
            return [call for call in calls if call is not None], ""
        return [], "\n".join(json.dumps({"name": p["name"], "arguments": p["arguments"]}) for p in parts)


class _Remote:
    """The HTTP client shared by the chat and embedding halves."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout_s))

    def unavailable(self, error: httpx.HTTPError) -> BackendUnavailable:
        return BackendUnavailable(f"cannot reach the remote model server at {self.base_url}: {error}")


class OpenAIChat:
    """A chat model served by an OpenAI-compatible server, streamed over SSE. It passes images on; whether
    the remote model can see them is the catalog's `input_modalities` claim."""

    sees_images = True

    def __init__(
        self,
        model_id: str,
        *,
        base_url: str,
        remote_model: str,
        api_key: str | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self.model_id = model_id
        self._remote = _Remote(base_url, api_key, timeout_s)
        self._remote_model = remote_model

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        characters = sum(len(message.content) for message in messages)
        characters += len(json.dumps(tool_dicts(tools))) if tools else 0
        return math.ceil(characters / 4) + 4 * len(messages)

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        body = _request_json(self._remote_model, request)
        text_parts: list[str] = []
        tools = _ToolCallAssembler()
        finish: str | None = None
        matched_stop: str | None = None
        usage: dict[str, Any] = {}
        try:
            with self._remote.client.stream("POST", "/chat/completions", json=body) as response:
                _raise_for_status(response, self._remote.base_url)
                for line in response.iter_lines():
                    if cancel.is_set():
                        break
                    if not line.startswith("data:"):
                        continue
                    payload = line[len("data:") :].strip()
                    if payload == "[DONE]":
                        break
                    chunk = json.loads(payload)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            text_parts.append(delta["content"])
                            yield GenerationEvent(text=delta["content"])
                        if delta.get("tool_calls"):
                            tools.add(delta["tool_calls"])
                        finish = choice.get("finish_reason") or finish
                        # vLLM names the stop string that ended generation; others leave it out.
                        if isinstance(choice.get("stop_reason"), str):
                            matched_stop = choice["stop_reason"]
        except httpx.HTTPError as error:
            raise self._remote.unavailable(error) from error
        calls, broken = tools.calls(request.tools)
        if broken:
            text_parts.append(broken)
            yield GenerationEvent(text=broken)
        stop_reason: StopReason = "tool_use" if calls else _FINISH_REASONS.get(finish or "stop", "end_turn")
        if matched_stop is not None and matched_stop in request.stop and not calls:
            stop_reason = "stop_sequence"
        text = "".join(text_parts)
        input_tokens = int(usage.get("prompt_tokens") or self.count_tokens(request.messages, request.tools))
        output_tokens = int(usage.get("completion_tokens") or math.ceil(len(text) / 4))
        yield GenerationEvent(
            done=GenerationResult(
                text=text,
                stop_reason=stop_reason,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                stop_sequence=matched_stop if stop_reason == "stop_sequence" else None,
                tool_calls=calls,
            )
        )


class OpenAIEmbedder:
    """An embedding model served by an OpenAI-compatible `/embeddings` endpoint."""

    def __init__(
        self,
        model_id: str,
        *,
        base_url: str,
        remote_model: str,
        dimensions: int,
        api_key: str | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.model_id = model_id
        self.dimensions = dimensions
        self._remote = _Remote(base_url, api_key, timeout_s)
        self._remote_model = remote_model

    def count_tokens(self, text: str) -> int:
        return max(1, math.ceil(len(text) / 4))

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        if not texts:
            return []
        try:
            response = self._remote.client.post(
                "/embeddings",
                json={"model": self._remote_model, "input": list(texts), "encoding_format": "float"},
            )
        except httpx.HTTPError as error:
            raise self._remote.unavailable(error) from error
        _raise_for_status(response, self._remote.base_url)
        data = sorted(response.json()["data"], key=lambda item: int(item.get("index", 0)))
        vectors = np.asarray([item["embedding"] for item in data], dtype=np.float64)
        if vectors.shape != (len(texts), self.dimensions):
            raise BackendError(
                f"remote embeddings have shape {vectors.shape}, expected ({len(texts)}, {self.dimensions})"
            )
        if normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        rows: list[list[float]] = vectors.tolist()
        return rows


def _api_key(config: Mapping[str, Any]) -> str | None:
    if config.get("api_key_env"):
        return os.environ.get(str(config["api_key_env"]))
    return str(config["api_key"]) if config.get("api_key") else None


def load(name: str, config: Mapping[str, Any], files: object) -> OpenAIChat | OpenAIEmbedder:
    """The registry's loader: a remote OpenAI-compatible server (nothing to load here but settings)."""
    if "base_url" not in config:
        raise ValueError("an openai model needs `base_url` (e.g. http://localhost:8000/v1)")
    common: dict[str, Any] = {
        "base_url": str(config["base_url"]),
        "remote_model": str(config.get("remote_model", name)),
        "api_key": _api_key(config),
    }
    if config.get("timeout_s"):
        common["timeout_s"] = float(config["timeout_s"])
    if config["kind"] == "chat":
        return OpenAIChat(name, **common)
    if "dimensions" not in config:
        raise ValueError("a remote embedding model needs `dimensions`")
    return OpenAIEmbedder(name, dimensions=int(config["dimensions"]), **common)
