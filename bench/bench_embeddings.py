"""Bench 2: embeddings/s through boto3 `invoke_model` vs raw onnxruntime, same model, batch and threads.

Outcrop is measured end to end (boto3 → HTTP → parse → ONNX → projection → JSON → boto3) with Cohere Embed
bodies of 32 texts, which the bundled catalog serves with all-MiniLM-L6-v2; the baseline is a plain
onnxruntime + tokenizers loop over the same sentences at batch 32, in this process. Titan Embeddings
(one text per call, as its API takes) is reported too.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Sequence

from common import outcrop_server
from embed_throughput import embeddings_per_second, model_files, raw_onnxruntime, sentences

BATCH = 32
COUNT = 1024
ROUNDS = 7  # raw and Outcrop take turns on the same texts; medians resist a machine shared with other work


def main() -> None:
    texts = sentences(COUNT)
    threads = os.cpu_count() or 1
    model, tokenizer = model_files()
    raw_embed = raw_onnxruntime(model, tokenizer, threads, batch=BATCH)
    with outcrop_server(fake_models=False) as server:
        runtime = server.client("bedrock-runtime")

        def through_cohere(batch_texts: Sequence[str]) -> None:
            for start in range(0, len(batch_texts), BATCH):
                body = {"texts": list(batch_texts[start : start + BATCH]), "input_type": "search_document"}
                response = runtime.invoke_model(modelId="cohere.embed-english-v3", body=json.dumps(body))
                assert len(json.loads(response["body"].read())["embeddings"]) == len(body["texts"])

        raw_rates: list[float] = []
        our_rates: list[float] = []
        for _ in range(ROUNDS):
            raw_rates.append(embeddings_per_second(raw_embed, texts))
            our_rates.append(embeddings_per_second(through_cohere, texts))
        titan_texts = texts[:128]
        runtime.invoke_model(
            modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "warm up"})
        )
        started = time.perf_counter()
        for text in titan_texts:
            runtime.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": text}))
        titan = len(titan_texts) / (time.perf_counter() - started)
    raw, ours = statistics.median(raw_rates), statistics.median(our_rates)
    ratios = sorted(o / r for o, r in zip(our_rates, raw_rates, strict=True))
    print(
        f"\nEmbeddings, all-MiniLM-L6-v2 int8, {COUNT} sentences, batch {BATCH}, {threads} threads, "
        f"{ROUNDS} alternating rounds, medians"
    )
    print(f"  raw onnxruntime + tokenizers (baseline)      {raw:8.1f} embeddings/s")
    print(f"  Outcrop invoke_model, Cohere Embed x{BATCH}        {ours:8.1f} embeddings/s")
    print(f"  ratio {ours / raw:.2f} (target >= 0.9); per round {ratios[0]:.2f}..{ratios[-1]:.2f}")
    print(f"  Outcrop invoke_model, Titan v2, 1 text/call  {titan:8.1f} embeddings/s")


if __name__ == "__main__":
    main()
