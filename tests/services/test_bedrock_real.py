"""Bedrock Runtime end to end on the real default models: llama.cpp GGUF generation and ONNX embeddings."""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.server import RunningServer

pytestmark = pytest.mark.real

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # Qwen2.5-Coder-0.5B in the bundled catalog
SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"  # Qwen2.5-Coder-1.5B


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def test_guide_invoke_model_on_the_real_llm(real_server: RunningServer) -> None:
    runtime = real_server.client("bedrock-runtime")
    response = runtime.invoke_model(
        modelId=SONNET,
        contentType="application/json",
        accept="application/json",
        body=json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 200,
                "temperature": 0,
                "messages": [
                    {"role": "user", "content": "What is the capital of France? Answer in one sentence."}
                ],
            }
        ),
    )
    output = json.loads(response["body"].read())
    assert "Paris" in output["content"][0]["text"]
    assert output["usage"]["input_tokens"] > 5 and output["usage"]["output_tokens"] > 1
    assert output["stop_reason"] in ("end_turn", "max_tokens")


def test_converse_stream_on_the_real_llm(real_server: RunningServer) -> None:
    response = real_server.client("bedrock-runtime").converse_stream(
        modelId=HAIKU,
        system=[{"text": "You answer in very few words."}],
        messages=[user("What is the capital city of Japan?")],
        inferenceConfig={"maxTokens": 40, "temperature": 0.0},
    )
    events = list(response["stream"])
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) > 1
    assert "tokyo" in "".join(deltas).lower()
    usage = events[-1]["metadata"]["usage"]
    assert usage["inputTokens"] > 10 and 1 <= usage["outputTokens"] <= 40


def test_answers_only_from_context(real_server: RunningServer) -> None:
    context = "Outcrop's mascot is a grey heron named Basalt."
    response = real_server.client("bedrock-runtime").converse(
        modelId=HAIKU,
        system=[
            {
                "text": "Answer only from the context. If the context does not contain the answer, "
                "reply exactly: I don't know.\n\nContext: " + context
            }
        ],
        messages=[user("What is the name of Outcrop's mascot?")],
        inferenceConfig={"maxTokens": 30, "temperature": 0.0},
    )
    assert "Basalt" in response["output"]["message"]["content"][0]["text"]


def test_real_tool_calling(real_server: RunningServer) -> None:
    tool = {
        "toolSpec": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "inputSchema": {
                "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            },
        }
    }
    response = real_server.client("bedrock-runtime").converse(
        modelId=SONNET,
        messages=[user("What's the weather like in Paris right now?")],
        toolConfig={"tools": [tool]},
        inferenceConfig={"maxTokens": 100, "temperature": 0.0},
    )
    assert response["stopReason"] == "tool_use"
    call = next(b["toolUse"] for b in response["output"]["message"]["content"] if "toolUse" in b)
    assert call["name"] == "get_weather"
    assert "paris" in call["input"]["city"].lower()


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_titan_embeddings_are_real_sentence_vectors(real_server: RunningServer) -> None:
    runtime = real_server.client("bedrock-runtime")

    def embed(text: str, model_id: str = "amazon.titan-embed-text-v1") -> list[float]:
        body = json.loads(
            runtime.invoke_model(modelId=model_id, body=json.dumps({"inputText": text}))["body"].read()
        )
        return list(body["embedding"])

    cat, kitten, stocks = (
        embed("A cat sits on the mat."),
        embed("A kitten is resting on a rug."),
        embed("Stock markets fell sharply today."),
    )
    assert len(cat) == 1536
    assert cosine(cat, kitten) > cosine(cat, stocks) + 0.2
    v2 = embed("A cat sits on the mat.", "amazon.titan-embed-text-v2:0")
    assert len(v2) == 1024 and math.isclose(math.sqrt(sum(x * x for x in v2)), 1.0, rel_tol=1e-3)


def model_state(server: RunningServer, name: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{server.endpoint}/_outcrop/health").json()["models"][name]
    return state


def test_a_client_that_disconnects_stops_its_generation(real_server: RunningServer) -> None:
    runtime = real_server.client("bedrock-runtime")
    runtime.converse(modelId=HAIKU, messages=[user("hi")], inferenceConfig={"maxTokens": 1})  # warm up
    before = model_state(real_server, "qwen2.5-coder-0.5b")["generated_tokens"]
    response = runtime.converse_stream(
        modelId=HAIKU,
        messages=[user("Count from 1 to 2000, one number per line.")],
        inferenceConfig={"maxTokens": 2000, "temperature": 0.0},
    )
    stream = iter(response["stream"])
    for _ in range(5):
        next(stream)
    response["stream"].close()  # hang up
    time.sleep(2.0)
    settled = model_state(real_server, "qwen2.5-coder-0.5b")["generated_tokens"]
    time.sleep(2.0)
    after = model_state(real_server, "qwen2.5-coder-0.5b")["generated_tokens"]
    assert after == settled, "the model kept generating after the client left"
    assert after - before < 200


def test_concurrent_requests_all_complete(real_server: RunningServer) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def ask(number: int) -> None:
        try:
            response = real_server.client("bedrock-runtime").converse(
                modelId=HAIKU,
                messages=[user(f"What is {number} plus {number}? Reply with the number only.")],
                inferenceConfig={"maxTokens": 10, "temperature": 0.0},
            )
            results.append(response["output"]["message"]["content"][0]["text"])
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n,)) for n in (2, 3, 4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert sorted(results) == sorted(results) and len(results) == 4
    assert any("10" in text for text in results)


def test_a_full_queue_answers_throttling_at_once(tmp_path: Any) -> None:
    """One decoding slot and one waiting place: a third concurrent caller is refused immediately."""
    limits = {"OUTCROP_LLM_PARALLEL": "1", "OUTCROP_LLM_QUEUE": "1"}
    server = RunningServer(tmp_path / "data", fake_models=False, extra_env=limits).start()
    try:
        runtime = server.client("bedrock-runtime")
        runtime.converse(modelId=HAIKU, messages=[user("hi")], inferenceConfig={"maxTokens": 1})  # load
        long_request = {
            "modelId": HAIKU,
            "messages": [user("Count from 1 to 500, one number per line.")],
            # long enough that both occupiers still hold the slot and the queue place when the third call
            # comes 1.5 s later, even on a quiet machine decoding 40 tokens/s (60 tokens was not: a CI flake)
            "inferenceConfig": {"maxTokens": 300, "temperature": 0.0},
        }
        outcomes: list[str] = []

        def occupy() -> None:
            try:
                outcomes.append(server.client("bedrock-runtime").converse(**long_request)["stopReason"])
            except Exception as exc:  # reported by the assertion below, not lost in the thread
                outcomes.append(repr(exc))

        threads = [threading.Thread(target=occupy) for _ in range(2)]
        for thread in threads:
            thread.start()
            time.sleep(0.5)
        time.sleep(0.5)
        started = time.perf_counter()
        with pytest.raises(ClientError) as caught:
            runtime.converse(**long_request)
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert time.perf_counter() - started < 2.0
        health = httpx.get(f"{server.endpoint}/_outcrop/health", timeout=2)
        assert health.status_code == 200  # a busy model never blocks health checks
        for thread in threads:
            thread.join(600)
        assert outcomes == ["max_tokens", "max_tokens"]
    finally:
        server.stop()


def test_botocore_retry_after_a_read_timeout_joins_the_running_generation(real_server: RunningServer) -> None:
    """botocore gives up reading after 2 s and retries with the same amz-sdk-invocation-id: one generation."""
    impatient = boto3.client(
        "bedrock-runtime",
        endpoint_url=real_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="x",
        config=Config(read_timeout=2, retries={"max_attempts": 10, "mode": "standard"}),
    )
    impatient.converse(modelId=HAIKU, messages=[user("hi")], inferenceConfig={"maxTokens": 1})  # loaded
    calls_before = httpx.get(f"{real_server.endpoint}/_outcrop/health").json()["usage"][HAIKU]["calls"]
    response = impatient.converse(
        modelId=HAIKU,
        messages=[user("Count from 1 to 300, one number per line.")],
        inferenceConfig={"maxTokens": 60, "temperature": 0.0},
    )
    assert response["ResponseMetadata"]["RetryAttempts"] >= 1
    assert response["usage"]["outputTokens"] == 60
    calls_after = httpx.get(f"{real_server.endpoint}/_outcrop/health").json()["usage"][HAIKU]["calls"]
    assert calls_after == calls_before + 1
