"""The Reranker contract: every rerank runtime (the fake and the real bi-encoder) passes these."""

from __future__ import annotations

import pytest

from outcrop.backends.base import Reranker
from outcrop.backends.biencoder_rerank import fake_reranker
from outcrop.backends.registry import ModelRegistry

from .conftest import REAL_MODELS, model_dir

PASSAGES = [
    "The stock market closed higher on Friday after strong earnings.",
    "Volcanoes explode when gas-rich magma rises and the pressure is released suddenly.",
    "A recipe for bread needs flour, water, salt and yeast.",
]


@pytest.fixture(params=["fake", pytest.param("bi-encoder-rerank", marks=pytest.mark.real)])
def reranker(request: pytest.FixtureRequest) -> Reranker:
    if request.param == "fake":
        return fake_reranker("fake-rerank", {})
    e5 = {**REAL_MODELS["e5-small"], "runtime": "bi-encoder-rerank", "kind": "rerank"}
    e5.pop("dimensions")
    return ModelRegistry({"e5-rerank": e5}, model_dir()).reranker("e5-rerank")


def test_one_score_in_the_unit_interval_per_passage(reranker: Reranker) -> None:
    scores = reranker.rerank("Why do volcanoes explode?", PASSAGES)
    assert len(scores) == len(PASSAGES)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert reranker.rerank("anything", []) == []


def test_the_passage_that_answers_scores_highest(reranker: Reranker) -> None:
    scores = reranker.rerank("Why do volcanoes explode with magma?", PASSAGES)
    assert max(range(len(scores)), key=scores.__getitem__) == 1


def test_scores_do_not_depend_on_the_other_passages(reranker: Reranker) -> None:
    alone = reranker.rerank("bread recipe flour", [PASSAGES[2]])
    together = reranker.rerank("bread recipe flour", PASSAGES)
    assert alone[0] == pytest.approx(together[2], abs=1e-5)
