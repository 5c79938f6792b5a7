"""Sentence vectors for the denied topics and content filters: one evaluation's, and those kept between
evaluations.

A guarded text of several sentences is scored whole and sentence by sentence (`content.units_of`). Its
sentences are embedded (one call, batched), and the whole text's vector is their mean weighted by length,
normalised, instead of a second pass of the encoder over the same tokens: the encoder's time grows with the
tokens it reads, so embedding a 950-character text whole and by sentences cost twice what the sentences
alone cost. A text of one sentence is embedded as it is.

A multi-turn Converse sends every earlier turn again, and a guardrail screens them all; `VectorCache` keeps
unit vectors by (embedding model, SHA-256 of the text), least recently used dropped first, so an unchanged
earlier turn costs a dictionary lookup instead of the encoder. The engine keeps detectors' verdicts on a
text the same way (`LruCache`: PII entities, content probabilities, topic similarities, each under a
namespace naming the detector and the configuration it read).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from outcrop.guardrails.detectors.content import sentences

Embed = Callable[[Sequence[str]], list[list[float]]]
Vector = np.ndarray[Any, np.dtype[np.float32]]
T = TypeVar("T")
CACHED_VECTORS = 8192  # about 1.5 KB each at 384 dimensions: 12 MB


class LruCache(Generic[T]):
    """A bounded LRU of values by (namespace, SHA-256 of a text); thread-safe. A namespace names what the
    value depends on besides the text (the embedding model; a detector and its configuration)."""

    def __init__(self, size: int = CACHED_VECTORS) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._values: OrderedDict[tuple[str, bytes], T] = OrderedDict()

    @staticmethod
    def key(namespace: str, text: str) -> tuple[str, bytes]:
        return namespace, hashlib.sha256(text.encode()).digest()

    def get(self, namespace: str, texts: Iterable[str]) -> dict[str, T]:
        """The cached values of those `texts` the cache holds."""
        found: dict[str, T] = {}
        with self._lock:
            for text in texts:
                key = self.key(namespace, text)
                if key in self._values:
                    self._values.move_to_end(key)
                    found[text] = self._values[key]
        return found

    def put(self, namespace: str, values: dict[str, T]) -> None:
        with self._lock:
            for text, value in values.items():
                key = self.key(namespace, text)
                self._values[key] = value
                self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def one(self, namespace: str, text: str, compute: Callable[[], T]) -> T:
        """The cached value of `text`, computed and kept if the cache lacks it (values are shared: callers
        must not change them)."""
        found = self.get(namespace, [text])
        if text in found:
            return found[text]
        value = compute()
        self.put(namespace, {text: value})
        return value

    def __len__(self) -> int:
        return len(self._values)


class VectorCache(LruCache[Vector]):
    """Unit vectors by (embedding model id, text)."""


class Embeddings:
    """One evaluation's vectors of one embedding model: each text embedded once, the texts wanted in one
    call, cached ones not at all. Callable as the detectors' `embed`."""

    def __init__(
        self,
        embed: Embed,
        model: str,
        cache: VectorCache | None = None,
        *,
        derive_whole: bool = True,
    ) -> None:
        self._embed = embed
        self.model = model
        self._cache = cache
        self._derive_whole = derive_whole
        self._known: dict[str, Vector] = {}

    def prefetch(self, texts: Sequence[str], *, guarded: Sequence[str] = ()) -> None:
        """Have vectors for `texts` and for `guarded` texts, whose multi-sentence ones are derived from their
        sentences' vectors (`derive_whole`) rather than embedded whole."""
        derived: dict[str, list[str]] = {}
        wanted = list(texts)
        for text in guarded:
            parts = sentences(text) if self._derive_whole else []
            if len(parts) > 1:
                derived[text] = parts
                wanted.extend(parts)
            else:
                wanted.append(text)
        missing = [text for text in dict.fromkeys(wanted) if text not in self._known]
        if self._cache is not None and missing:
            self._known.update(self._cache.get(self.model, missing))
            missing = [text for text in missing if text not in self._known]
        if missing:
            fresh = {
                text: np.asarray(vector, dtype=np.float32)
                for text, vector in zip(missing, self._embed(missing), strict=True)
            }
            self._known.update(fresh)
            if self._cache is not None:
                self._cache.put(self.model, fresh)
        for text, parts in derived.items():
            if text not in self._known:
                self._known[text] = _mean(
                    [self._known[part] for part in parts], [len(part) for part in parts]
                )

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        self.prefetch(texts)
        found: list[list[float]] = np.stack([self._known[text] for text in texts]).tolist()
        return found


def _mean(vectors: Sequence[Vector], weights: Sequence[int]) -> Vector:
    """The unit vector along the weighted mean of `vectors`."""
    mean = np.average(np.stack(vectors), axis=0, weights=np.asarray(weights, dtype=np.float32))
    unit: Vector = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return unit
