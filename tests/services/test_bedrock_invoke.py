"""InvokeModel and its streaming form through boto3, one native body per model family (fake models)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def invoke(
    client: Callable[..., Any], model_id: str, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    response = client("bedrock-runtime").invoke_model(
        modelId=model_id, body=json.dumps(body), contentType="application/json", accept="application/json"
    )
    return json.loads(response["body"].read()), response["ResponseMetadata"]["HTTPHeaders"]


def stream_chunks(client: Callable[..., Any], model_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client("bedrock-runtime").invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps(body)
    )
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def test_guide_anthropic_messages_body(client: Callable[..., Any]) -> None:
    output, headers = invoke(
        client,
        "anthropic.claude-3-sonnet-20240229-v1:0",
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 1000,
            "messages": [{"role": "user", "content": "Explain quantum computing in simple terms"}],
        },
    )
    assert output["content"][0]["text"] == "You said: Explain quantum computing in simple terms"
    assert output["type"] == "message" and output["role"] == "assistant"
    assert output["stop_reason"] == "end_turn"
    assert output["usage"]["output_tokens"] == 8
    assert headers["x-amzn-bedrock-output-token-count"] == "8"
    assert int(headers["x-amzn-bedrock-input-token-count"]) == output["usage"]["input_tokens"]


def test_anthropic_stream_has_the_event_sequence_and_metrics(client: Callable[..., Any]) -> None:
    chunks = stream_chunks(
        client,
        HAIKU,
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "a b"}],
        },
    )
    types = [chunk["type"] for chunk in chunks]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "content_block_delta" in types and "message_delta" in types
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    assert text == "You said: a b"
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == 4
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_titan_text(client: Callable[..., Any]) -> None:
    output, _ = invoke(
        client,
        "amazon.titan-text-express-v1",
        {"inputText": "hello titan", "textGenerationConfig": {"maxTokenCount": 20, "temperature": 0}},
    )
    result = output["results"][0]
    assert result["outputText"] == "You said: hello titan"
    assert result["completionReason"] == "FINISH"
    assert result["tokenCount"] == 4


def test_llama_and_its_stream(client: Callable[..., Any]) -> None:
    prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello llama<|eot_id|>"
    output, _ = invoke(client, "meta.llama3-8b-instruct-v1:0", {"prompt": prompt, "max_gen_len": 50})
    assert output["generation"] == "You said: hello llama"
    assert output["stop_reason"] == "stop"
    chunks = stream_chunks(client, "meta.llama3-8b-instruct-v1:0", {"prompt": prompt, "max_gen_len": 2})
    assert "".join(c["generation"] for c in chunks) == "You said:"
    assert chunks[-1]["stop_reason"] == "length"


def test_mistral(client: Callable[..., Any]) -> None:
    output, _ = invoke(client, "mistral.mistral-7b-instruct-v0:2", {"prompt": "<s>[INST] hi mistral [/INST]"})
    assert output["outputs"][0]["text"] == "You said: hi mistral"


def test_cohere_command(client: Callable[..., Any]) -> None:
    output, _ = invoke(client, "cohere.command-text-v14", {"prompt": "hi cohere", "max_tokens": 20})
    assert output["generations"][0]["text"] == "You said: hi cohere"
    assert output["generations"][0]["finish_reason"] == "COMPLETE"


def test_ai21_jurassic(client: Callable[..., Any]) -> None:
    output, _ = invoke(client, "ai21.j2-mid-v1", {"prompt": "hi jurassic", "maxTokens": 20})
    assert output["completions"][0]["data"]["text"] == "You said: hi jurassic"
    assert output["completions"][0]["finishReason"]["reason"] == "endoftext"
    with pytest.raises(ClientError) as caught:
        stream_chunks(client, "ai21.j2-mid-v1", {"prompt": "x", "maxTokens": 5})
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_nova(client: Callable[..., Any]) -> None:
    output, _ = invoke(
        client,
        "amazon.nova-micro-v1:0",
        {
            "schemaVersion": "messages-v1",
            "system": [{"text": "be nice"}],
            "messages": [{"role": "user", "content": [{"text": "hi nova"}]}],
            "inferenceConfig": {"max_new_tokens": 20},
        },
    )
    assert output["output"]["message"]["content"][0]["text"] == "You said: hi nova"
    assert output["usage"]["totalTokens"] == output["usage"]["inputTokens"] + output["usage"]["outputTokens"]


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_titan_embeddings_v1_and_v2(client: Callable[..., Any]) -> None:
    v1, _ = invoke(client, "amazon.titan-embed-text-v1", {"inputText": "vector search"})
    assert len(v1["embedding"]) == 1536
    assert v1["inputTextTokenCount"] > 0
    v2, _ = invoke(client, "amazon.titan-embed-text-v2:0", {"inputText": "vector search"})
    assert len(v2["embedding"]) == 1024 and math.isclose(norm(v2["embedding"]), 1.0, rel_tol=1e-3)
    small, _ = invoke(
        client,
        "amazon.titan-embed-text-v2:0",
        {"inputText": "vector search", "dimensions": 256, "normalize": True},
    )
    assert len(small["embedding"]) == 256
    again, _ = invoke(client, "amazon.titan-embed-text-v2:0", {"inputText": "vector search"})
    assert again["embedding"] == v2["embedding"]


def test_cohere_embed(client: Callable[..., Any]) -> None:
    output, _ = invoke(
        client, "cohere.embed-english-v3", {"texts": ["one", "two"], "input_type": "search_document"}
    )
    assert len(output["embeddings"]) == 2 and len(output["embeddings"][0]) == 1024
    assert output["response_type"] == "embeddings_floats"


def test_bad_native_bodies(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    for model_id, body in [
        (HAIKU, {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10}),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 300}),
        ("amazon.titan-text-express-v1", {"inputText": "x", "max_tokens": 3}),
    ]:
        with pytest.raises(ClientError) as caught:
            runtime.invoke_model(modelId=model_id, body=json.dumps(body))
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
