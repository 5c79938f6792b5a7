"""The text-analysis and translation contracts, run on the fakes and on the bundled catalog's real models."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from outcrop.backends.nlp import fakes
from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BUNDLED, load_catalog

from .conftest import model_dir
from .nlp_contract import (
    LanguageIdentifierContract,
    PiiDetectorContract,
    SentimentContract,
    TextAnalyzerContract,
    ToxicityContract,
    TranslatorContract,
)

NLP_KINDS = ("nlp", "pii", "sentiment", "language-id", "toxicity", "translation")
real = pytest.mark.real


@pytest.fixture(scope="session")
def nlp_registry() -> Iterator[ModelRegistry]:
    """The bundled catalog's text-analysis and translation models, real, each loaded once per session."""
    local = {n: t for n, t in load_catalog(BUNDLED).local.items() if t.get("kind") in NLP_KINDS}
    registry = ModelRegistry(local, model_dir())
    yield registry
    registry.close()


class TestFakeAnalyzer(TextAnalyzerContract):
    @pytest.fixture(params=["en", "fr"])
    def analyzer(self, request: pytest.FixtureRequest) -> Any:
        return fakes.fake_analyzer(f"fake-{request.param}", {"language": request.param})


@real
class TestSpacy(TextAnalyzerContract):
    @pytest.fixture(params=["spacy-en", "spacy-fr"])
    def analyzer(self, request: pytest.FixtureRequest, nlp_registry: ModelRegistry) -> Any:
        return nlp_registry.get(request.param, "nlp")


class TestFakePii(PiiDetectorContract):
    @pytest.fixture
    def detector(self) -> Any:
        return fakes.fake_pii("fake-pii", {})


@real
class TestPresidio(PiiDetectorContract):
    @pytest.fixture
    def detector(self, nlp_registry: ModelRegistry) -> Any:
        return nlp_registry.get("presidio-en", "pii")


class TestFakeSentiment(SentimentContract):
    @pytest.fixture
    def sentiment(self) -> Any:
        return fakes.fake_sentiment("fake-sentiment", {})


@real
class TestVader(SentimentContract):
    @pytest.fixture
    def sentiment(self, nlp_registry: ModelRegistry) -> Any:
        return nlp_registry.get("vader-en", "sentiment")


class TestFakeLanguageId(LanguageIdentifierContract):
    @pytest.fixture
    def identifier(self) -> Any:
        return fakes.fake_language_id("fake-langid", {})


@real
class TestLangid(LanguageIdentifierContract):
    @pytest.fixture
    def identifier(self, nlp_registry: ModelRegistry) -> Any:
        return nlp_registry.get("langid", "language-id")


class TestFakeToxicity(ToxicityContract):
    @pytest.fixture
    def classifier(self) -> Any:
        return fakes.fake_toxicity("fake-toxicity", {})


@real
class TestProfanityCheck(ToxicityContract):
    @pytest.fixture
    def classifier(self, nlp_registry: ModelRegistry) -> Any:
        return nlp_registry.get("profanity-check-en", "toxicity")


class TestFakeTranslator(TranslatorContract):
    @pytest.fixture
    def translator(self) -> Any:
        return fakes.fake_translator("fake-translator", {})


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")
class TestApertium(TranslatorContract):
    """apertium is a set of Debian programs whose pipelines start in about a second: fast enough for
    every run, as its tests were before."""

    @pytest.fixture
    def translator(self, nlp_registry: ModelRegistry) -> Any:
        return nlp_registry.get("apertium", "translation")
