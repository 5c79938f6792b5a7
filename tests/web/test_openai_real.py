"""The OpenAI-compatible API on the real local models: the official client and LangChain's ChatOpenAI."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import httpx
import openai
import pytest

from tests.server import RunningServer

pytestmark = pytest.mark.real

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"  # qwen2.5-coder-0.5b


def _client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.endpoint + "/v1", api_key="sk-local", max_retries=0, timeout=300)


def test_real_chat_stream_json_and_embeddings(real_server: RunningServer) -> None:
    client = _client(real_server)
    reply = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        max_tokens=16,
        temperature=0,
    )
    assert "paris" in (reply.choices[0].message.content or "").lower()
    assert reply.usage is not None and reply.usage.completion_tokens > 0

    stream = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Count from 1 to 5, separated by spaces."}],
        max_tokens=24,
        temperature=0,
        stream=True,
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len([piece for piece in pieces if piece]) >= 3
    assert "3" in "".join(pieces)

    structured = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Give a JSON object with keys name and age for Ada, 36."}],
        max_tokens=48,
        temperature=0,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(structured.choices[0].message.content or ""), dict)

    vectors = client.embeddings.create(
        model="amazon.titan-embed-text-v2:0",
        input=["The cat sat on the mat.", "A kitten rested on the rug.", "Stock prices fell sharply."],
        dimensions=256,
    )
    a, b, c = (item.embedding for item in vectors.data)
    assert len(a) == 256

    def cosine(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True)) / math.sqrt(
            sum(p * p for p in x) * sum(q * q for q in y)
        )

    assert cosine(a, b) > cosine(a, c)


def test_langchain_chat_openai(real_server: RunningServer) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="qwen2.5-coder-0.5b",
        base_url=real_server.endpoint + "/v1",
        api_key="sk-local",  # type: ignore[arg-type]
        temperature=0,
        max_completion_tokens=16,
        max_retries=0,
    )
    answer = llm.invoke("What is 2 + 2? Answer with the number only.")
    assert "4" in str(answer.content)


def test_real_stream_stops_when_the_client_hangs_up(real_server: RunningServer) -> None:
    def generated() -> int:
        models = httpx.get(real_server.endpoint + "/_outcrop/health").json()["models"]
        return int(models["qwen2.5-coder-0.5b"]["generated_tokens"] or 0)

    client = _client(real_server)
    client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    before = generated()
    stream = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Write a very long story about a lighthouse keeper."}],
        max_tokens=1000,
        temperature=0,
        stream=True,
    )
    for received, _ in enumerate(stream):
        if received == 3:
            break
    stream.close()
    time.sleep(1.5)
    settled = generated()
    time.sleep(1.5)
    assert generated() == settled, "generation went on after the client hung up"
    assert settled - before < 400


def test_a_full_queue_is_a_429_before_the_stream_starts(tmp_path: Any) -> None:
    """One decoding slot, no waiting place: a second stream gets RateLimitError, not a broken stream."""
    limits = {"OUTCROP_LLM_PARALLEL": "1", "OUTCROP_LLM_QUEUE": "0"}
    server = RunningServer(tmp_path / "data", fake_models=False, extra_env=limits).start()
    try:
        client = _client(server)
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}], max_tokens=1)
        busy = client.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Count from 1 to 500, one number per line."}],
            max_tokens=200,
            stream=True,
        )
        next(iter(busy))  # the slot is taken
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(
                model=CHAT, messages=[{"role": "user", "content": "hello"}], max_tokens=5, stream=True
            )
        assert refused.value.code == "rate_limit_exceeded"
        busy.close()
    finally:
        server.stop()
