"""Benches 1 and 4: generation through boto3 `converse_stream` against plain llama.cpp, in the same run.

1. One stream: decode tokens/s and time to first token through boto3 → HTTP → event stream → Outcrop's
   batching llama.cpp backend, against `llama_cpp.Llama.create_completion(stream=True)` on the same GGUF,
   threads, flash attention and chat-rendered prompt (target: ratio >= 0.95).
2. Aggregate tokens/s of 4 concurrent boto3 streaming clients against one client (target >= 1.5x).
Rounds are interleaved so both sides see the same background load; the best round of each is reported.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT, outcrop_server
from decode_throughput import TOPICS, Throughput, best, load_raw_llama, raw_llama_cpp, run_concurrently

MODELS = {  # Bedrock id in the bundled catalog -> the GGUF that serves it
    "anthropic.claude-3-haiku-20240307-v1:0": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "anthropic.claude-3-sonnet-20240229-v1:0": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
}


@dataclass
class StreamRun:
    tokens: int
    ttft: float


def converse_stream(runtime: Any, model_id: str, index: int, max_tokens: int) -> StreamRun:
    started = time.perf_counter()
    response = runtime.converse_stream(
        modelId=model_id,
        messages=[
            {
                "role": "user",
                "content": [{"text": f"Write a long story about {TOPICS[index % len(TOPICS)]}."}],
            }
        ],
        inferenceConfig={"maxTokens": max_tokens, "temperature": 0.0},
    )
    first: float | None = None
    tokens = 0
    for event in response["stream"]:
        if "contentBlockDelta" in event and first is None:
            first = time.perf_counter() - started
        if "metadata" in event:
            tokens = event["metadata"]["usage"]["outputTokens"]
    return StreamRun(tokens, first or time.perf_counter() - started)


def through_boto3(clients: list[Any], model_id: str, max_tokens: int) -> Throughput:
    runs: list[StreamRun] = []
    barrier = threading.Barrier(len(clients))

    def run(index: int) -> None:
        barrier.wait()
        runs.append(converse_stream(clients[index], model_id, index, max_tokens))

    elapsed = run_concurrently(run, len(clients))
    return Throughput(
        "outcrop boto3 converse_stream",
        len(clients),
        sum(r.tokens for r in runs),
        elapsed,
        sum(r.ttft for r in runs) / len(runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model-id", default="anthropic.claude-3-haiku-20240307-v1:0", choices=sorted(MODELS)
    )
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=4)
    arguments = parser.parse_args()
    threads = os.cpu_count() or 1
    gguf = Path(os.environ.get("OUTCROP_MODEL_DIR", ROOT / "data" / "models")) / MODELS[arguments.model_id]
    with outcrop_server(fake_models=False) as server:
        clients = [server.client("bedrock-runtime") for _ in range(arguments.streams)]
        converse_stream(clients[0], arguments.model_id, 0, 4)  # loads the model (and assembles the GGUF)
        llm = load_raw_llama(gguf, threads)
        raw_llama_cpp(llm, 4)
        raw_runs, single_runs, several_runs = [], [], []
        for _ in range(arguments.rounds):
            raw_runs.append(raw_llama_cpp(llm, arguments.max_tokens))
            single_runs.append(through_boto3(clients[:1], arguments.model_id, arguments.max_tokens))
            several_runs.append(through_boto3(clients, arguments.model_id, arguments.max_tokens))
        llm.close()
    raw, single, several = best(raw_runs), best(single_runs), best(several_runs)
    print(f"\nGeneration, {gguf.name}, {threads} threads, max_tokens={arguments.max_tokens}, same run")
    for label, runs in (
        ("raw", raw_runs),
        ("1 stream", single_runs),
        (f"{arguments.streams} streams", several_runs),
    ):
        print(
            f"  {best(runs).line()}   rounds: {', '.join(f'{r.tokens_per_s:.1f}' for r in runs)}  [{label}]"
        )
    print(
        f"  bench 1: boto3 converse_stream / raw llama.cpp = {single.tokens_per_s / raw.tokens_per_s:.2f} "
        f"tokens/s (target >= 0.95); time to first token {single.ttft_s * 1000:.0f} ms"
        f" vs {raw.ttft_s * 1000:.0f} ms raw"
    )
    print(
        f"  bench 4: {arguments.streams} concurrent clients / 1 client = "
        f"{several.tokens_per_s / single.tokens_per_s:.2f}x aggregate tokens/s (target >= 1.5x)"
    )


if __name__ == "__main__":
    main()
