from __future__ import annotations

import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest

from outcrop.backends.projection import projection_matrix, resize


def unit_rows(count: int, size: int) -> npt.NDArray[np.float64]:
    rows = np.random.default_rng(7).standard_normal((count, size))
    normalised: npt.NDArray[np.float64] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


@pytest.mark.parametrize("target", [384, 512, 1024, 1536])
def test_growing_keeps_inner_products_exactly(target: int) -> None:
    vectors = unit_rows(20, 384)
    resized = np.array(resize(vectors.tolist(), target, normalize=False))
    assert resized.shape == (20, target)
    assert np.allclose(resized @ resized.T, vectors @ vectors.T, atol=1e-5)


def test_shrinking_keeps_inner_products_roughly() -> None:
    vectors = unit_rows(50, 1024)
    resized = np.array(resize(vectors.tolist(), 256))
    assert np.allclose(np.linalg.norm(resized, axis=1), 1.0, atol=1e-5)
    original, shrunk = vectors @ vectors.T, resized @ resized.T
    # Random subspace: scores spread around the originals; their correlation stays clear.
    assert np.corrcoef(original.ravel(), shrunk.ravel())[0, 1] > 0.5


def test_same_matrix_in_another_process() -> None:
    code = (
        "from outcrop.backends.projection import projection_matrix as p; "
        "print(repr(float(p(384, 1024).sum())))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(other) == float(projection_matrix(384, 1024).sum())


def test_edge_cases() -> None:
    assert resize([], 256) == []
    assert np.array_equal(projection_matrix(8, 8), np.eye(8))
    with pytest.raises(ValueError):
        projection_matrix(0, 4)
