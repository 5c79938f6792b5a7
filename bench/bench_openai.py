"""The OpenAI-compatible API against boto3 and the raw libraries underneath, same models, same run.

1. Streaming generation (qwen2.5-coder-0.5b behind anthropic.claude-3-haiku): tokens/s and time to first
   token through the official `openai` client's SSE stream, through boto3 `converse_stream`, and through
   plain llama-cpp-python on the same GGUF in this process. Rounds are interleaved; the best is reported.
2. Embeddings (all-MiniLM-L6-v2 behind Cohere Embed English): embeddings/s through `openai` embeddings
   (32 texts a call, base64 as the client asks by default), through boto3 `invoke_model` with the same
   batches, and raw onnxruntime + tokenizers at batch 32, in interleaved rounds (best of each reported).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai

from common import ROOT, outcrop_server
from decode_throughput import TOPICS, Throughput, best, load_raw_llama, raw_llama_cpp
from embed_throughput import embeddings_per_second, model_files, raw_onnxruntime, sentences

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"
GGUF = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
EMBED = "cohere.embed-english-v3"
BATCH = 32


def story(index: int) -> str:
    return f"Write a long story about {TOPICS[index % len(TOPICS)]}."


def openai_stream(client: openai.OpenAI, max_tokens: int) -> Throughput:
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    stream = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": story(0)}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter() - started
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    elapsed = time.perf_counter() - started
    return Throughput("outcrop openai chat stream", 1, tokens, elapsed, first or elapsed)


def boto3_stream(runtime: Any, max_tokens: int) -> Throughput:
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    response = runtime.converse_stream(
        modelId=CHAT,
        messages=[{"role": "user", "content": [{"text": story(0)}]}],
        inferenceConfig={"maxTokens": max_tokens, "temperature": 0.0},
    )
    for event in response["stream"]:
        if "contentBlockDelta" in event and first is None:
            first = time.perf_counter() - started
        if "metadata" in event:
            tokens = event["metadata"]["usage"]["outputTokens"]
    elapsed = time.perf_counter() - started
    return Throughput("outcrop boto3 converse_stream", 1, tokens, elapsed, first or elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=512)
    arguments = parser.parse_args()
    threads = os.cpu_count() or 1
    texts = sentences(arguments.count)
    model_file, tokenizer_file = model_files()
    raw_embed = raw_onnxruntime(model_file, tokenizer_file, threads, batch=BATCH)
    gguf = Path(os.environ.get("OUTCROP_MODEL_DIR", ROOT / "data" / "models")) / GGUF

    with outcrop_server(fake_models=False) as server:
        client = openai.OpenAI(base_url=server.endpoint + "/v1", api_key="bench", max_retries=0, timeout=600)
        runtime = server.client("bedrock-runtime")
        openai_stream(client, 4)  # loads the model
        llm = load_raw_llama(gguf, threads)
        raw_llama_cpp(llm, 4)
        runs: dict[str, list[Throughput]] = {"openai": [], "boto3": [], "raw": []}
        for _ in range(arguments.rounds):
            runs["raw"].append(raw_llama_cpp(llm, arguments.max_tokens))
            runs["openai"].append(openai_stream(client, arguments.max_tokens))
            runs["boto3"].append(boto3_stream(runtime, arguments.max_tokens))
        llm.close()

        def through_openai(batch_texts: Sequence[str]) -> None:
            for start in range(0, len(batch_texts), BATCH):
                chunk = list(batch_texts[start : start + BATCH])
                assert len(client.embeddings.create(model=EMBED, input=chunk).data) == len(chunk)

        def through_boto3(batch_texts: Sequence[str]) -> None:
            for start in range(0, len(batch_texts), BATCH):
                body = {"texts": list(batch_texts[start : start + BATCH]), "input_type": "search_document"}
                response = runtime.invoke_model(modelId=EMBED, body=json.dumps(body))
                assert len(json.loads(response["body"].read())["embeddings"]) == len(body["texts"])

        embedding_rounds: dict[str, list[float]] = {"raw": [], "openai": [], "boto3": []}
        for _ in range(arguments.rounds):  # interleaved, so all three see the same background load
            embedding_rounds["raw"].append(embeddings_per_second(raw_embed, texts))
            embedding_rounds["openai"].append(embeddings_per_second(through_openai, texts))
            embedding_rounds["boto3"].append(embeddings_per_second(through_boto3, texts))
    embed_raw, embed_openai, embed_boto3 = (
        max(embedding_rounds[name]) for name in ("raw", "openai", "boto3")
    )

    best_runs = {name: best(values) for name, values in runs.items()}
    print(f"\nStreaming generation, {GGUF}, {threads} threads, max_tokens={arguments.max_tokens}, same run")
    for name, values in runs.items():
        rounds = ", ".join(f"{run.tokens_per_s:.1f}" for run in values)
        print(f"  {best_runs[name].line()}   rounds: {rounds}  [{name}]")
    raw, ours, aws = best_runs["raw"], best_runs["openai"], best_runs["boto3"]
    print(
        f"  openai / raw llama.cpp = {ours.tokens_per_s / raw.tokens_per_s:.2f} tokens/s; "
        f"openai / boto3 = {ours.tokens_per_s / aws.tokens_per_s:.2f}; time to first token "
        f"{ours.ttft_s * 1000:.0f} ms (boto3 {aws.ttft_s * 1000:.0f} ms, raw {raw.ttft_s * 1000:.0f} ms)"
    )
    print(f"\nEmbeddings, all-MiniLM-L6-v2 int8, {arguments.count} sentences, batch {BATCH}, same run")
    for label, name in (
        ("raw onnxruntime + tokenizers", "raw"),
        ("outcrop openai embeddings", "openai"),
        ("outcrop boto3 invoke_model", "boto3"),
    ):
        rounds = ", ".join(f"{value:.1f}" for value in embedding_rounds[name])
        print(f"  {label:<32} {max(embedding_rounds[name]):8.1f} embeddings/s   rounds: {rounds}")
    print(
        f"  openai / raw = {embed_openai / embed_raw:.2f}; openai / boto3 = {embed_openai / embed_boto3:.2f}"
    )


if __name__ == "__main__":
    main()
