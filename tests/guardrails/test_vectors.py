"""Guardrail vectors: a text's vector derived from its sentences', kept between evaluations (the earlier
turns of a conversation are not embedded again), and the guardrail session's int8 copy of the encoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from outcrop.guardrails.detectors import topics as topic_detector
from outcrop.guardrails.engine import Engine
from outcrop.guardrails.policies import build_policies
from outcrop.guardrails.types import GuardrailVersion, GuardText
from outcrop.guardrails.vectors import Embeddings, VectorCache
from tests.guardrails.test_latency_paths import CountingEmbedder, Inference, Models, VectorClassifier


def test_a_texts_vector_is_its_sentences_mean_weighted_by_length() -> None:
    embedder = CountingEmbedder()
    embeddings = Embeddings(embedder.embed, "m")
    text = "The train leaves at nine. Bring a coat!"
    embeddings.prefetch([], guarded=[text, "One sentence only."])
    assert embedder.calls == [["The train leaves at nine.", "Bring a coat!", "One sentence only."]]
    parts = np.asarray(embedder.embed(["The train leaves at nine.", "Bring a coat!"]))
    expected = (25 * parts[0] + 13 * parts[1]) / 38  # weighted by the sentences' lengths
    (whole,) = embeddings([text])
    assert np.allclose(whole, expected / np.linalg.norm(expected), atol=1e-6)
    assert len(embedder.calls) == 2  # the prefetch and the call above: none for `embeddings([text])`


def test_without_deriving_the_whole_text_is_embedded_too() -> None:
    embedder = CountingEmbedder()
    embeddings = Embeddings(embedder.embed, "m", derive_whole=False)
    embeddings.prefetch([], guarded=["The train leaves at nine. Bring a coat."])
    assert embedder.calls == [["The train leaves at nine. Bring a coat."]]


def test_the_cache_is_keyed_by_model_and_drops_the_least_recently_used() -> None:
    cache = VectorCache(size=2)
    one, two = np.ones(3, dtype=np.float32), np.zeros(3, dtype=np.float32)
    cache.put("a", {"x": one, "y": two})
    assert set(cache.get("a", ["x", "y", "z"])) == {"x", "y"} and cache.get("b", ["x"]) == {}
    cache.get("a", ["x"])  # x is now the most recently used
    cache.put("a", {"z": one})
    assert set(cache.get("a", ["x", "y", "z"])) == {"x", "z"} and len(cache) == 2


def _guardrail() -> GuardrailVersion:
    policies = build_policies(
        {
            "name": "turns",
            "topicPolicyConfig": {
                "topicsConfig": [{"name": "Betting", "definition": "Tips on sports bets.", "type": "DENY"}]
            },
            "contentPolicyConfig": {
                "filtersConfig": [{"type": "INSULTS", "inputStrength": "HIGH", "outputStrength": "HIGH"}]
            },
        }
    )
    return GuardrailVersion("abcdefabcdef", "arn", "DRAFT", "turns", "No.", "No.", policies)


def _conversation(embedder: CountingEmbedder, engine: Engine, turns: Sequence[str]) -> list[list[str]]:
    """Each turn's embedding calls when every earlier turn is screened again, as Converse does."""
    engine.evaluate(_guardrail(), "INPUT", [GuardText("Hello.")])  # background and anchors
    calls = []
    for count in range(1, len(turns) + 1):
        embedder.calls.clear()
        engine.evaluate(_guardrail(), "INPUT", [GuardText(turn) for turn in turns[:count]])
        calls.append([text for call in embedder.calls for text in call])
    return calls


TURNS = ["Where do the trains leave from? Platform two.", "Thanks, and the buses?", "Which one is quicker?"]


def test_earlier_turns_of_a_conversation_are_not_embedded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topic_detector, "_VECTORS", topic_detector._Vectors())
    embedder = CountingEmbedder()
    engine = Engine(inference=Inference(embedder), models=Models(VectorClassifier()))  # type: ignore[arg-type]
    calls = _conversation(embedder, engine, TURNS)
    assert calls == [["Where do the trains leave from?", "Platform two."], [TURNS[1]], [TURNS[2]]]


def test_without_the_cache_every_turn_is_embedded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topic_detector, "_VECTORS", topic_detector._Vectors())
    embedder = CountingEmbedder()
    engine = Engine(inference=Inference(embedder), models=Models(VectorClassifier()))  # type: ignore[arg-type]
    engine.vectors = None
    calls = _conversation(embedder, engine, TURNS)
    assert [len(call) for call in calls] == [2, 3, 4]


def test_an_unknown_quantization_is_refused(tmp_path: Path) -> None:
    from outcrop.backends import onnx_embed
    from outcrop.backends.base import BackendError
    from outcrop.backends.packaged import ModelFiles

    with pytest.raises(BackendError, match="int4"):  # refused before any file is looked for
        onnx_embed.load("m", {"quantize": "int4"}, ModelFiles(tmp_path))


@pytest.mark.real
def test_the_int8_copy_is_made_once_into_the_model_cache(tmp_path: Path) -> None:
    from outcrop.backends import onnx_embed
    from outcrop.backends.packaged import ModelFiles
    from outcrop.catalog import BUNDLED, load_catalog

    config = load_catalog(BUNDLED).local["all-minilm-l6-v2-guardrails"]
    files = ModelFiles(tmp_path)
    embedder = onnx_embed.load("own", config, files)
    (made,) = tmp_path.glob("onnx-int8/model-*.onnx")
    stamp = made.stat().st_mtime_ns
    again = onnx_embed.load("own", config, files)
    assert list(tmp_path.glob("onnx-int8/*")) == [made] and made.stat().st_mtime_ns == stamp
    texts = ["Is it a good time to buy shares of Apple?", "The stock room is behind the kitchen."]
    assert embedder.embed(texts) == again.embed(texts)
    plain = onnx_embed.load("plain", {k: v for k, v in config.items() if k != "quantize"}, files)
    cosines = (np.array(plain.embed(texts)) * np.array(embedder.embed(texts))).sum(axis=1)
    assert cosines.min() > 0.97, cosines


def test_detector_verdicts_are_kept_per_text_and_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topic_detector, "_VECTORS", topic_detector._Vectors())
    measured: list[tuple[str, str]] = []
    original = topic_detector.topic_margins

    def counting(
        embed: object, text: str, topics: list[dict[str, object]], model: object, recheck: object = None
    ) -> object:
        measured.append((text, str(topics[0]["name"])))
        return original(embed, text, topics, model, recheck)  # type: ignore[arg-type]

    monkeypatch.setattr(topic_detector, "topic_margins", counting)
    classifier = VectorClassifier()
    engine = Engine(inference=Inference(CountingEmbedder()), models=Models(classifier))  # type: ignore[arg-type]
    engine.evaluate(_guardrail(), "INPUT", [GuardText("Hello.")])
    seen = len(classifier.seen)
    engine.evaluate(_guardrail(), "INPUT", [GuardText("Hello."), GuardText("Thanks.")])
    assert classifier.seen[seen:] == [["Thanks."]]  # content probabilities of "Hello." were kept
    assert measured == [("Hello.", "Betting"), ("Thanks.", "Betting")]
    other = build_policies(
        {"name": "other", "topicPolicyConfig": {"topicsConfig": [{"name": "Cars", "definition": "Cars."}]}}
    )
    engine.evaluate(
        GuardrailVersion("abcdefabcdef", "arn", "2", "other", "No.", "No.", other),
        "INPUT",
        [GuardText("Hello.")],
    )
    assert measured[-1] == ("Hello.", "Cars")  # another topic list is measured again
    engine.verdicts = None
    engine.evaluate(_guardrail(), "INPUT", [GuardText("Thanks.")])
    assert classifier.seen[-1] == ["Thanks."] and measured[-1] == ("Thanks.", "Betting")
