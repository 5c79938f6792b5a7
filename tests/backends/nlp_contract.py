"""The text-analysis and translation contracts: every runtime of each kind (its fake, spaCy, presidio,
VADER, langid, profanity-check, apertium) passes these by providing the fixture its class names."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from outcrop.backends.base import BackendError
from outcrop.backends.nlp.protocols import (
    LanguageIdentifier,
    PiiDetector,
    SentimentAnalyzer,
    Span,
    TextAnalyzer,
    Token,
    ToxicityClassifier,
    Translator,
)

T = TypeVar("T")

_UD = "ADJ ADP ADV AUX CCONJ CONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X SPACE"
UD_TAGS = frozenset(_UD.split(" "))
# Per language: a sentence, and the names in it that an entity recogniser must find.
NAMED = {
    "en": (
        "Angela Merkel visited Microsoft in Seattle on 3 May 2019.",
        ["Angela Merkel", "Microsoft", "Seattle"],
    ),
    "fr": ("Emmanuel Macron est né à Amiens et il habite à Paris.", ["Emmanuel Macron", "Amiens", "Paris"]),
}
KNOWN_PII = (
    "Hello, my name is Maria Garcia and you can reach me at maria.garcia@example.com "
    "or on 212-555-0199 any weekday."
)
POSITIVE = "I absolutely love this phone, the camera is wonderful and the battery lasts forever!"
NEGATIVE = "This was the worst hotel I have ever stayed in. Dirty, rude staff, horrible food."
NEUTRAL = "The train leaves from platform four at nine o'clock."
_TAG = re.compile(r"<[^>]*>")


def concurrently(work: Callable[[str], T], inputs: list[str]) -> list[T]:
    """`work` on every input from as many threads at once, started together."""
    start = threading.Barrier(len(inputs))

    def run(item: str) -> T:
        start.wait(timeout=60)
        return work(item)

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(run, inputs))


class TextAnalyzerContract:
    """Subclass and provide an `analyzer` fixture (a TextAnalyzer of a language in NAMED)."""

    def test_is_a_text_analyzer_of_one_language(self, analyzer: TextAnalyzer) -> None:
        assert isinstance(analyzer, TextAnalyzer)
        assert analyzer.model_id and analyzer.language in NAMED

    def test_offsets_point_at_their_text(self, analyzer: TextAnalyzer) -> None:
        text = NAMED[analyzer.language][0] + " ¡Olé!"
        analysis = analyzer.analyze(text)
        items: list[Span | Token] = [*analysis.entities, *analysis.noun_chunks, *analysis.tokens]
        for item in items:
            assert text[item.start : item.end] == item.text
            assert 0.0 < item.score <= 1.0
        starts = [token.start for token in analysis.tokens]
        assert starts == sorted(starts) and all(token.text.strip() for token in analysis.tokens)
        assert {token.pos for token in analysis.tokens} <= UD_TAGS

    def test_the_names_of_a_plain_sentence_are_entities(self, analyzer: TextAnalyzer) -> None:
        text, names = NAMED[analyzer.language]
        found = {entity.text for entity in analyzer.analyze(text).entities}
        assert set(names) <= found, found

    def test_empty_text_has_nothing(self, analyzer: TextAnalyzer) -> None:
        analysis = analyzer.analyze("")
        assert (analysis.entities, analysis.noun_chunks, analysis.tokens) == ([], [], [])

    def test_concurrent_calls_get_their_own_answers(self, analyzer: TextAnalyzer) -> None:
        texts = [f"{NAMED[analyzer.language][0]} {number}" for number in range(6)]
        alone = [analyzer.analyze(text) for text in texts]
        assert concurrently(analyzer.analyze, texts) == alone


class PiiDetectorContract:
    """Subclass and provide a `detector` fixture."""

    def test_is_a_pii_detector_of_english(self, detector: PiiDetector) -> None:
        assert isinstance(detector, PiiDetector)
        assert detector.model_id and "en" in detector.languages

    def test_finds_the_email_and_phone_at_their_offsets(self, detector: PiiDetector) -> None:
        findings = detector.detect(KNOWN_PII, "en")
        spans = {f.entity_type: KNOWN_PII[f.start : f.end] for f in findings}
        assert spans["EMAIL_ADDRESS"] == "maria.garcia@example.com"
        assert spans["PHONE_NUMBER"] == "212-555-0199"
        assert all(0.0 < f.score <= 1.0 for f in findings)
        ordered = sorted(findings, key=lambda f: f.start)
        assert findings == ordered
        assert all(a.end <= b.start for a, b in itertools.pairwise(ordered))

    def test_plain_text_has_no_personal_data(self, detector: PiiDetector) -> None:
        assert detector.detect("The sky is blue and grass is green.", "en") == []


class SentimentContract:
    """Subclass and provide a `sentiment` fixture."""

    def test_is_a_sentiment_analyzer_of_english(self, sentiment: SentimentAnalyzer) -> None:
        assert isinstance(sentiment, SentimentAnalyzer)
        assert sentiment.model_id and "en" in sentiment.languages

    def test_clear_texts_get_the_sign_they_deserve(self, sentiment: SentimentAnalyzer) -> None:
        assert sentiment.polarity(POSITIVE).compound > 0.3
        assert sentiment.polarity(NEGATIVE).compound < -0.3
        assert abs(sentiment.polarity(NEUTRAL).compound) < 0.3

    def test_clear_texts_get_their_class_and_scores_that_sum_to_one(
        self, sentiment: SentimentAnalyzer
    ) -> None:
        for text, expected in ((POSITIVE, "POSITIVE"), (NEGATIVE, "NEGATIVE"), (NEUTRAL, "NEUTRAL")):
            label, scores = sentiment.classify(text)
            assert label == expected
            assert set(scores) == {"Positive", "Negative", "Neutral", "Mixed"}
            assert sum(scores.values()) == pytest.approx(1.0) and min(scores.values()) >= 0.0
            assert max(scores, key=lambda name: scores[name]).upper() == label

    def test_shares_sum_to_one(self, sentiment: SentimentAnalyzer) -> None:
        for text in (POSITIVE, NEGATIVE, NEUTRAL, "é" * 20):
            p = sentiment.polarity(text)
            assert p.positive + p.neutral + p.negative == pytest.approx(1.0, abs=0.01)
            assert min(p.positive, p.neutral, p.negative) >= 0.0 and -1.0 <= p.compound <= 1.0


class LanguageIdentifierContract:
    """Subclass and provide an `identifier` fixture."""

    def test_is_a_language_identifier(self, identifier: LanguageIdentifier) -> None:
        assert isinstance(identifier, LanguageIdentifier)
        assert identifier.model_id

    def test_english_is_ranked_first_with_confidence(self, identifier: LanguageIdentifier) -> None:
        ranked = identifier.rank("The weather is lovely and we are going to the beach tomorrow.")
        assert ranked[0][0] == "en" and ranked[0][1] > 0.5
        probabilities = [probability for _code, probability in ranked]
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probabilities) and sum(probabilities) <= 1.0 + 1e-6

    def test_top_limits_the_list(self, identifier: LanguageIdentifier) -> None:
        assert len(identifier.rank("Bonjour tout le monde", top=1)) == 1
        assert len(identifier.rank("Bonjour tout le monde", top=3)) <= 3

    def test_text_without_letters_is_not_identified_with_confidence(
        self, identifier: LanguageIdentifier
    ) -> None:
        assert identifier.rank("12345 !!! 678", top=1)[0][1] < 0.5


class ToxicityContract:
    """Subclass and provide a `classifier` fixture."""

    def test_is_a_toxicity_classifier_of_english(self, classifier: ToxicityClassifier) -> None:
        assert isinstance(classifier, ToxicityClassifier)
        assert classifier.model_id and "en" in classifier.languages

    def test_offensive_text_scores_high_and_polite_text_low(self, classifier: ToxicityClassifier) -> None:
        polite, rude = classifier.scores(
            ["Thank you, that was a lovely evening.", "Shut up, you stupid fucking idiot."]
        )
        assert polite < 0.2 < 0.8 < rude
        assert classifier.scores([]) == []


class TranslatorContract:
    """Subclass and provide a `translator` fixture that serves English to Spanish."""

    def test_is_a_translator_with_its_pairs(self, translator: Translator) -> None:
        assert isinstance(translator, Translator)
        assert translator.model_id and isinstance(translator.keeps_placeholders, bool)
        pairs = translator.pairs()
        assert ("en", "es") in pairs
        assert all(len(s) == 2 and len(t) == 2 and s != t for s, t in pairs)

    def test_text_is_translated_with_its_outer_whitespace(self, translator: Translator) -> None:
        answer = translator.translate("  The dog is eating in the garden.\n", ("en", "es"))
        assert answer.startswith("  ") and answer.endswith("\n") and not answer.startswith("   ")
        assert answer.strip() and answer.strip() != "The dog is eating in the garden."

    def test_html_keeps_its_tags_in_order(self, translator: Translator) -> None:
        page = '<p class="a">The <b>dog</b> &amp; the cat.</p>\n<p>Yes</p>'
        answer = translator.translate(page, ("en", "es"), "html")
        assert _TAG.findall(answer) == _TAG.findall(page)
        assert "&amp;" in answer

    def test_placeholders_pass_through_when_promised(self, translator: Translator) -> None:
        if not translator.keeps_placeholders:
            pytest.skip("this translator does not promise to keep placeholder words")
        assert "Zqxb" in translator.translate("The Zqxb sleeps on the table.", ("en", "es"))

    def test_an_unserved_pair_is_a_backend_error(self, translator: Translator) -> None:
        with pytest.raises(BackendError):
            translator.translate("Hello", ("en", "ja"))

    def test_concurrent_calls_get_their_own_answers(self, translator: Translator) -> None:
        texts = [f"The cat number {number} sleeps." for number in range(6)]
        alone = [translator.translate(text, ("en", "es")) for text in texts]
        assert concurrently(lambda text: translator.translate(text, ("en", "es")), texts) == alone
