"""Sentence embeddings with onnxruntime: a BERT-style encoder, mean-pooled over the attention mask.

This is how sentence-transformers' all-MiniLM-L6-v2 makes its vectors, so an int8 ONNX export scores
like the PyTorch model without PyTorch. Tokenizing uses the model's own `tokenizer.json`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from outcrop.backends.base import BackendError
from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256


class OnnxEmbedder:
    """An ONNX encoder plus its tokenizer; thread-safe (onnxruntime sessions may run concurrently)."""

    def __init__(
        self,
        model_id: str,
        model_path: Path,
        tokenizer_path: Path,
        *,
        max_length: int = 256,
        batch_size: int = 32,
        n_threads: int | None = None,
    ) -> None:
        onnxruntime = import_optional("onnxruntime", "pip install onnxruntime")
        tokenizers = import_optional("tokenizers", "pip install tokenizers")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = n_threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self._session: Any = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {entry.name for entry in self._session.get_inputs()}
        width = self._session.get_outputs()[0].shape[-1]
        if not isinstance(width, int):
            raise BackendError(f"{model_path} does not declare its embedding width")
        self.model_id = model_id
        self.dimensions = width
        self._batch_size = batch_size
        self._counter: Any = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer: Any = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_length)
        padding = self._counter.padding or {}
        self._tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]")
        )

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` before truncation, special tokens included."""
        return len(self._counter.encode(text).ids)

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        return self.embed_counted(texts, normalize=normalize)[0]

    def embed_counted(
        self, texts: Sequence[str], *, normalize: bool = True
    ) -> tuple[list[list[float]], list[int]]:
        """Vectors and each text's token count from one tokenization: the attention mask counts a text
        that fits; only a truncated one is tokenized again, whole (Bedrock reports input tokens)."""
        vectors: list[list[float]] = []
        counts: list[int] = []
        for start in range(0, len(texts), self._batch_size):
            batch = texts[start : start + self._batch_size]
            pooled, encodings = self._embed_batch(batch)
            if normalize:
                norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                pooled = pooled / np.maximum(norms, 1e-12)
            vectors.extend(pooled.tolist())
            counts.extend(
                self.count_tokens(text) if encoding.overflowing else sum(encoding.attention_mask)
                for text, encoding in zip(batch, encodings, strict=True)
            )
        return vectors, counts

    def _embed_batch(self, texts: Sequence[str]) -> tuple[np.ndarray[Any, np.dtype[np.float32]], list[Any]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        attention_mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.array([encoding.type_ids for encoding in encodings], dtype=np.int64)
        hidden: np.ndarray[Any, np.dtype[np.float32]] = self._session.run(None, feeds)[0]
        mask = attention_mask[:, :, None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        pooled: np.ndarray[Any, np.dtype[np.float32]] = summed / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled, encodings


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> OnnxEmbedder:
    """The registry's loader: the model and tokenizer from installed packages (or paths), digest checked."""
    model_path = files.packaged(config, "model")
    verify_sha256(model_path, config.get("sha256"))
    return OnnxEmbedder(
        name,
        model_path,
        files.packaged(config, "tokenizer"),
        max_length=int(config.get("max_length", 256)),
        batch_size=int(config.get("batch_size", 32)),
        n_threads=int(config["n_threads"]) if config.get("n_threads") else None,
    )
