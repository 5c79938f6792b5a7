"""A tiny OpenAI-compatible server for tests: the fake models behind `/v1/chat/completions` and
`/v1/embeddings`, speaking the same SSE chunks vLLM sends (tool calls in fragments, usage last)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest, TextGenerator, ToolCall, ToolSpec
from outcrop.backends.fake import FakeChat, FakeEmbedder

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _text(content: str | list[dict[str, Any]] | None) -> str:
    """A message's text; of a list of parts (text and image_url), the text parts."""
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content if part.get("type") == "text")
    return content or ""


def _generation_request(body: dict[str, Any]) -> GenerationRequest:
    messages = [
        ChatMessage(
            role=entry["role"],
            content=_text(entry.get("content")),
            tool_calls=tuple(
                ToolCall(call["id"], call["function"]["name"], json.loads(call["function"]["arguments"]))
                for call in entry.get("tool_calls") or ()
            ),
            tool_call_id=entry.get("tool_call_id"),
        )
        for entry in body["messages"]
    ]
    tools = [
        ToolSpec(
            tool["function"]["name"], tool["function"].get("description", ""), tool["function"]["parameters"]
        )
        for tool in body.get("tools") or ()
    ]
    choice = body.get("tool_choice")
    response_format = body.get("response_format") or {}
    tool_choice: str | None = None
    if choice == "required":
        tool_choice = "any"
    elif isinstance(choice, dict):
        tool_choice = choice["function"]["name"]
    return GenerationRequest(
        messages=messages,
        max_tokens=body.get("max_tokens", 512),
        stop=body.get("stop") or (),
        tools=tools,
        tool_choice=tool_choice,
        json_mode=response_format.get("type") in ("json_object", "json_schema"),
        json_schema=(response_format.get("json_schema") or {}).get("schema"),
    )


class _Handler(BaseHTTPRequestHandler):
    server: _FakeOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if self.server.fail_with:
            self._reply(self.server.fail_with, {"error": {"message": "nope"}})
        elif self.path == "/v1/embeddings":
            vectors = FakeEmbedder("remote", 64).embed(body["input"])
            data = [
                {"object": "embedding", "index": index, "embedding": vector}
                for index, vector in enumerate(vectors)
            ]
            self._reply(200, {"object": "list", "data": list(reversed(data))})
        elif self.path == "/v1/chat/completions":
            self._stream_chat(body)
        else:
            self._reply(404, {"error": {"message": "not found"}})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_event(self, payload: dict[str, Any] | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def _stream_chat(self, body: dict[str, Any]) -> None:
        request = _generation_request(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        model = self.server.model
        try:
            for event in model.stream(request, threading.Event()):
                if event.text:
                    self._send_event(
                        {"choices": [{"index": 0, "delta": {"content": event.text}, "finish_reason": None}]}
                    )
                if event.done is None:
                    continue
                done = event.done
                for index, call in enumerate(done.tool_calls):
                    arguments = json.dumps(call.arguments)
                    head = {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name},
                    }
                    self._send_event({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})
                    for start in range(0, len(arguments), 5):
                        piece = {"index": index, "function": {"arguments": arguments[start : start + 5]}}
                        self._send_event({"choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]})
                final = {"index": 0, "delta": {}, "finish_reason": _FINISH[done.stop_reason]}
                if done.stop_sequence is not None:
                    final["stop_reason"] = done.stop_sequence
                self._send_event({"choices": [final]})
                usage = {"prompt_tokens": done.input_tokens, "completion_tokens": done.output_tokens}
                self._send_event({"choices": [], "usage": usage})
            self._send_event("[DONE]")
        except (BrokenPipeError, ConnectionResetError):
            pass


class _FakeOpenAIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.model: TextGenerator = FakeChat("remote")  # what answers /v1/chat/completions

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def fake_openai_server() -> Iterator[_FakeOpenAIServer]:
    server = _FakeOpenAIServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
