from __future__ import annotations

import pytest

from outcrop.backends.base import BackendBusy, BackendUnavailable, ChatMessage, GenerationRequest, generate
from outcrop.backends.openai_compat import OpenAIChat, OpenAIEmbedder

from .openai_server import _FakeOpenAIServer


def test_request_carries_options_and_key(openai_server: _FakeOpenAIServer) -> None:
    chat = OpenAIChat("m", base_url=openai_server.base_url, remote_model="remote-x", api_key="secret")
    request = GenerationRequest(
        [ChatMessage("user", "hi")], max_tokens=7, temperature=0.2, top_p=0.9, stop=["zz"], seed=3
    )
    result = generate(chat, request)
    sent = openai_server.requests[-1]
    assert sent["auth"] == "Bearer secret"
    body = sent["body"]
    assert (
        body["model"],
        body["max_tokens"],
        body["temperature"],
        body["top_p"],
        body["stop"],
        body["seed"],
    ) == ("remote-x", 7, 0.2, 0.9, ["zz"], 3)
    assert body["stream"] is True and "top_k" not in body
    assert result.text == "You said: hi" and result.input_tokens == 1 and result.output_tokens == 3


def test_server_errors_map_to_backend_errors(openai_server: _FakeOpenAIServer) -> None:
    chat = OpenAIChat("m", base_url=openai_server.base_url, remote_model="x")
    embedder = OpenAIEmbedder("e", base_url=openai_server.base_url, remote_model="x", dimensions=64)
    openai_server.fail_with = 429
    try:
        with pytest.raises(BackendBusy):
            generate(chat, GenerationRequest([ChatMessage("user", "hi")]))
        with pytest.raises(BackendBusy):
            embedder.embed(["x"])
    finally:
        openai_server.fail_with = None


def test_unreachable_server_is_unavailable() -> None:
    chat = OpenAIChat("m", base_url="http://127.0.0.1:9/v1", remote_model="x", timeout_s=2)
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        generate(chat, GenerationRequest([ChatMessage("user", "hi")]))
