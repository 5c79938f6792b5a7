"""Today's model ids, profiles and stream shapes on the real local models (Qwen2.5-Coder 0.5B via llama.cpp):
an application profile made from a cross-region profile answers Converse, gpt-oss's OpenAI body and Cohere
Command's stream (read as AWS's example reads it) carry real text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.server import RunningServer

pytestmark = pytest.mark.real

QUESTION = "What is the capital of France? Answer with one word."


def test_application_profile_of_a_cross_region_profile_answers(real_server: RunningServer) -> None:
    profile = real_server.client("bedrock").create_inference_profile(
        inferenceProfileName="real-haiku-45",
        modelSource={
            "copyFrom": "arn:aws:bedrock:us-east-1:000000000000:inference-profile/"
            "global.anthropic.claude-haiku-4-5-20251001-v1:0"
        },
    )
    output = real_server.client("bedrock-runtime").converse(
        modelId=profile["inferenceProfileArn"],
        messages=[{"role": "user", "content": [{"text": QUESTION}]}],
        inferenceConfig={"maxTokens": 8, "temperature": 0},
    )
    assert "Paris" in output["output"]["message"]["content"][0]["text"]
    assert output["usage"]["outputTokens"] >= 1


def test_openai_body_and_cohere_stream_on_the_real_model(real_server: RunningServer) -> None:
    runtime = real_server.client("bedrock-runtime")
    response = runtime.invoke_model(
        modelId="openai.gpt-oss-20b-1:0",
        body=json.dumps(
            {
                "messages": [{"role": "user", "content": QUESTION}],
                "max_completion_tokens": 8,
                "temperature": 0,
            }
        ),
    )
    body = json.loads(response["body"].read())
    assert "Paris" in body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] >= 1
    streamed = runtime.invoke_model_with_response_stream(
        modelId="cohere.command-light-text-v14",
        body=json.dumps({"prompt": QUESTION, "max_tokens": 8, "temperature": 0}),
    )
    chunks: list[dict[str, Any]] = [json.loads(event["chunk"]["bytes"]) for event in streamed["body"]]
    text = "".join(chunk["generations"][0]["text"] for chunk in chunks if "generations" in chunk)
    assert "Paris" in text
    assert chunks[-1]["is_finished"] is True and "amazon-bedrock-invocationMetrics" in chunks[-1]
