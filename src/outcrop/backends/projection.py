"""Resizing embedding vectors to the size an API promises (Titan v2: 256/512/1024, Titan v1: 1536, ...).

A local model has one native size, so we map its vectors through a fixed orthonormal projection drawn
from a seeded generator: the same (native, target) pair gives the same matrix in every process.
Growing the size uses a matrix with orthonormal rows, so inner products (and cosine scores) are kept
exactly; shrinking uses orthonormal columns, a random subspace that keeps them approximately.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

# Part of the on-disk contract: stored vectors were made with this seed, so it never changes.
_PROJECTION_SEED = 0x0C7C_0F5E


@lru_cache(maxsize=16)
def projection_matrix(native: int, target: int) -> npt.NDArray[np.float64]:
    """The (native, target) matrix; orthonormal rows when growing, orthonormal columns when shrinking."""
    if native <= 0 or target <= 0:
        raise ValueError(f"dimensions must be positive, got {native} -> {target}")
    if native == target:
        return np.eye(native)
    larger, smaller = max(native, target), min(native, target)
    generator = np.random.default_rng([_PROJECTION_SEED, native, target])
    gaussian = generator.standard_normal((larger, smaller))
    basis, triangle = np.linalg.qr(gaussian)
    # QR's column signs depend on the LAPACK build; pin them so the matrix is reproducible.
    basis = basis * np.sign(np.diag(triangle))
    matrix = basis if native > target else basis.T
    matrix.setflags(write=False)
    return matrix


def resize(
    vectors: Sequence[Sequence[float]], dimensions: int, *, normalize: bool = True
) -> list[list[float]]:
    """Map vectors of their native size to `dimensions`, unit-length afterwards when `normalize`."""
    if not vectors:
        return []
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError("resize expects a list of equally long vectors")
    projected = array @ projection_matrix(array.shape[1], dimensions)
    if normalize:
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        projected = projected / np.where(norms == 0.0, 1.0, norms)
    rows: list[list[float]] = projected.astype(np.float32).tolist()
    return rows
