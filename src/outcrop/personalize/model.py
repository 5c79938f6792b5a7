"""A trained solution version: the library's arrays, saved to one .npz file, and scoring from them.

A user known to the model with no history in the request is scored from their trained factors; for ALS a
user's factors are recomputed from their current interactions (ALS's exact one-user step), so
events sent after training change that user's recommendations at once, as Personalize's do.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]

RELATED = ("als-similar", "item-cosine")
METADATA_WEIGHT = 0.3  # aws-similar-items: share of item metadata in the similarity, beside the factors
REGULARIZATION = 1.0  # ALS's; 0.01 (implicit's default) overfits small catalogs and gains nothing on large


class Model:
    def __init__(
        self,
        algorithm: str,
        users: list[str],
        items: list[str],
        arrays: dict[str, Any],
        params: dict[str, float],
    ) -> None:
        self.algorithm = algorithm
        self.users = users
        self.items = items
        self.arrays = arrays
        self.params = params
        self.user_index = {u: i for i, u in enumerate(users)}
        self.item_index = {t: i for i, t in enumerate(items)}

    @property
    def recipe_kind(self) -> str:
        return "related" if self.algorithm in RELATED else "user"

    def save(self, path: Path) -> None:
        """Write the model atomically: a crash leaves the old file or none, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"algorithm": self.algorithm, "params": self.params})
        partial = path.with_suffix(".partial.npz")
        with partial.open("wb") as out:
            np.savez(
                out,
                meta=np.array(meta),
                users=np.array(self.users, dtype=str),
                items=np.array(self.items, dtype=str),
                **self.arrays,
            )
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Model:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k not in ("meta", "users", "items")}
            return cls(
                meta["algorithm"], data["users"].tolist(), data["items"].tolist(), arrays, meta["params"]
            )

    @property
    def popularity(self) -> np.ndarray:
        values: np.ndarray = self.arrays["popularity"].astype(np.float64)
        return values

    def user_scores(self, user_id: str | None, history: list[int], recalculate: bool = True) -> np.ndarray:
        """A score per item for this user (higher is better), from `history` (item indexes, oldest first);
        `recalculate=False` keeps a known user's trained factors (what the metrics measure)."""
        if self.algorithm == "popularity":
            return self.popularity
        if self.algorithm in RELATED:
            return self.item_scores(history)
        known = self.user_index.get(user_id) if user_id is not None else None
        items = self.arrays["item_factors"]
        if self.algorithm == "als" and history and (recalculate or known is None):
            vector = self._recalculate(history)
        elif known is not None:
            vector = self.arrays["user_factors"][known]
        elif history:  # BPR has no one-user step: the mean of the items' factors stands for the user
            vector = items[history].mean(axis=0)
        else:
            return self.popularity
        scores: np.ndarray = (items @ vector).astype(np.float64)
        return scores

    def item_scores(self, history: list[int]) -> np.ndarray:
        """Similarity of every item to the most recent item of `history` (popularity without one)."""
        if not history:
            return self.popularity
        last = history[-1]
        if "sim_data" in self.arrays:
            row: np.ndarray = self._similarity[last].toarray().ravel().astype(np.float64)
            row[last] = 0.0
            return row
        if "item_factors" in self.arrays:
            normed = self._normed
            scores: np.ndarray = (normed @ normed[last]).astype(np.float64)
            if "meta_data" not in self.arrays:
                return scores
            meta = self._metadata
            alike = np.asarray((meta @ meta[last].T).todense()).ravel().astype(np.float64)
            if not normed[last].any():  # an item no one interacted with yet: its metadata alone
                return alike
            return (1 - METADATA_WEIGHT) * scores + METADATA_WEIGHT * alike
        return self.popularity

    @cached_property
    def _similarity(self) -> sp.csr_matrix:
        n = len(self.items)
        a = self.arrays
        return sp.csr_matrix((a["sim_data"], a["sim_indices"], a["sim_indptr"]), shape=(n, n))

    @cached_property
    def _metadata(self) -> sp.csr_matrix:
        a = self.arrays
        return sp.csr_matrix(
            (a["meta_data"], a["meta_indices"], a["meta_indptr"]), shape=tuple(a["meta_shape"])
        )

    @cached_property
    def _normed(self) -> np.ndarray:
        factors = self.arrays["item_factors"].astype(np.float64)
        norms = np.linalg.norm(factors, axis=1, keepdims=True)
        normed: np.ndarray = np.where(norms > 1e-9, factors / np.maximum(norms, 1e-12), 0.0)
        return normed

    @cached_property
    def _gram(self) -> np.ndarray:
        factors = self.arrays["item_factors"].astype(np.float64)
        gram: np.ndarray = factors.T @ factors
        return gram

    def _recalculate(self, history: list[int]) -> np.ndarray:
        """The user's factors that minimise ALS's loss given the items: the same closed-form step as
        implicit's `recalculate_user` (confidence = count; checked equal to it), with YtY kept."""
        counts = Counter(history)
        factors = self.arrays["item_factors"].astype(np.float64)
        size = factors.shape[1]
        a = self._gram + self.params.get("regularization", REGULARIZATION) * np.eye(size)
        b = np.zeros(size)
        for index, count in counts.items():
            y = factors[index]
            a += (count - 1.0) * np.outer(y, y)
            b += count * y
        vector: np.ndarray = np.linalg.solve(a, b)
        return vector
