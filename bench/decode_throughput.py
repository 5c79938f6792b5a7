"""Decode throughput on one GGUF: plain llama-cpp-python vs Outcrop's batching llama.cpp backend.

Both sides use the same model file, threads, flash attention and chat-formatted prompts. The baseline is
`Llama(...).create_completion(stream=True)`, one request at a time; Outcrop is measured with 1 stream and
with N concurrent streams (aggregate tokens/s). Run: `.venv/bin/python bench/decode_throughput.py`.
The functions are importable so an end-to-end (boto3) measurement can reuse them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest, TextGenerator
from outcrop.backends.llamacpp import LlamaCppGenerator, LlamaSettings

DEFAULT_MODEL = (
    Path(__file__).resolve().parents[1] / "data" / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
)
TOPICS = ["a dragon who loves the sea", "a lighthouse keeper", "a robot learning to paint", "a lost city"]


@dataclass(frozen=True)
class Throughput:
    label: str
    streams: int
    tokens: int
    seconds: float
    ttft_s: float  # mean time to first token

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:<34} streams={self.streams}  tokens={self.tokens:4d}  "
            f"{self.tokens_per_s:7.1f} tok/s  ttft={self.ttft_s * 1000:6.0f} ms"
        )


def story_messages(index: int) -> list[ChatMessage]:
    return [ChatMessage("user", f"Write a long story about {TOPICS[index % len(TOPICS)]}.")]


def load_raw_llama(model: Path, n_threads: int, n_ctx: int = 4096) -> Any:
    """Plain llama-cpp-python with the same threads, flash attention and OpenMP wait policy as the backend."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from llama_cpp import Llama

    return Llama(
        str(model),
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        flash_attn=True,
        verbose=False,
    )


def raw_llama_cpp(llm: Any, max_tokens: int) -> Throughput:
    """One streamed `create_completion`, the prompt rendered by the GGUF's own chat template."""
    from outcrop.backends.chat_template import ChatTemplate

    prompt = ChatTemplate(str(llm.metadata["tokenizer.chat_template"])).render(story_messages(0))
    llm.reset()  # no prompt-prefix reuse from an earlier run: time-to-first-token includes the prompt
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    for _chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0, stream=True):
        first = first if first is not None else time.perf_counter() - started
        tokens += 1
    elapsed = time.perf_counter() - started
    return Throughput("raw llama-cpp-python", 1, tokens, elapsed, first or elapsed)


def backend_streams(generator: TextGenerator, streams: int, max_tokens: int) -> Throughput:
    """`streams` concurrent generations through a TextGenerator; aggregate tokens over wall time."""
    first_token: list[float] = []
    totals: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(streams)

    def run(index: int) -> None:
        request = GenerationRequest(story_messages(index), max_tokens=max_tokens, temperature=0)
        barrier.wait()
        started = time.perf_counter()
        seen_first = False
        for event in generator.stream(request, threading.Event()):
            if event.text and not seen_first:
                seen_first = True
                with lock:
                    first_token.append(time.perf_counter() - started)
            if event.done is not None:
                with lock:
                    totals.append(event.done.output_tokens)

    elapsed = run_concurrently(run, streams)
    return Throughput(
        "outcrop llama.cpp backend", streams, sum(totals), elapsed, statistics.mean(first_token)
    )


def run_concurrently(run: Callable[[int], None], count: int) -> float:
    """Wall seconds for `run(0)` … `run(count - 1)` in as many threads at once."""
    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def best(runs: list[Throughput]) -> Throughput:
    """The fastest of several rounds: on a shared machine, slower rounds measure the neighbours."""
    return max(runs, key=lambda run: run.tokens_per_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(f"model={arguments.model.name} threads={arguments.threads} max_tokens={arguments.max_tokens}")
    raw_runs: list[Throughput] = []
    single_runs: list[Throughput] = []
    several_runs: list[Throughput] = []
    settings = LlamaSettings(n_threads=arguments.threads, parallel=max(4, arguments.streams))
    llm = load_raw_llama(arguments.model, arguments.threads)
    generator = LlamaCppGenerator("bench", arguments.model, settings)
    try:
        raw_llama_cpp(llm, 4)  # warm-up
        backend_streams(generator, 1, 4)
        for _ in range(arguments.rounds):  # interleaved, so each side sees the same background load
            raw_runs.append(raw_llama_cpp(llm, arguments.max_tokens))
            single_runs.append(backend_streams(generator, 1, arguments.max_tokens))
            several_runs.append(backend_streams(generator, arguments.streams, arguments.max_tokens))
    finally:
        generator.close()
        llm.close()
    for runs in (raw_runs, single_runs, several_runs):
        print(best(runs).line(), " all rounds:", ", ".join(f"{run.tokens_per_s:.1f}" for run in runs))
    speed_up = best(several_runs).tokens_per_s / best(single_runs).tokens_per_s
    print(f"aggregate speed-up with {arguments.streams} streams: {speed_up:.2f}x (best rounds)")


if __name__ == "__main__":
    main()
