"""Deterministic fakes of the text-analysis and translation kinds, for `--fake-models` servers and tests.

They follow each Protocol's contract with simple, predictable rules (word lists, regular expressions,
capitalised words), so a service answers at once and its answers can be worked out by hand.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from outcrop.backends.base import BackendUnavailable
from outcrop.backends.nlp import sentiment_rule
from outcrop.backends.nlp.pii import resolve_overlaps
from outcrop.backends.nlp.protocols import Analysis, Format, Pair, PiiFinding, Polarity, Span, Token

_WORD = re.compile("\\w+(?:['\u2019]\\w+)*|[^\\w\\s]")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w-])\+?\(?\d{2,4}\)?(?:[ .-]?\d{2,4}){2,4}(?![\w-])")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b")
_TAG = re.compile(r"(<[^>]*>)")
_LETTER = re.compile(r"[^\W\d_]")


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PRONOUNS = _wordset("i you he she it we they me him her us them")
_DETERMINERS = _wordset("a an the this that these those my your his its our their")
_ADPOSITIONS = _wordset("in on at of to from with by for about into over under")
_POSITIVE = _wordset(
    "love loved lovely great good wonderful happy excellent fantastic best amazing nice glad enjoy "
    "beautiful perfect like liked pleased awesome"
)
_NEGATIVE = _wordset(
    "hate hated bad worst terrible awful horrible dirty rude sad poor angry ugly broken disappointing "
    "disappointed boring annoying"
)
_OFFENSIVE = _wordset("fuck fucking shit idiot stupid bastard moron dumb crap damn asshole")
# The pairs the apertium packages named in catalog.toml install, so a fake server offers the same languages.
_PAIRS = "en-es es-en en-ca ca-en es-ca ca-es es-fr fr-es es-pt pt-es es-it it-es"
_SCORE = 0.9


def _words(text: str) -> list[str]:
    return [word.lower() for word in re.findall(r"\w+", text)]


def _opens_sentence(text: str, start: int) -> bool:
    before = start - 1
    while before >= 0 and text[before].isspace():
        before -= 1
    return before < 0 or text[before] in ".!?¡¿"


class FakeAnalyzer:
    """Tokens by a regular expression, tags by small word lists, entities from runs of capitalised words
    (a lone capitalised word opening a sentence is not one), noun chunks from a determiner and its noun."""

    def __init__(self, model_id: str, language: str) -> None:
        self.model_id = model_id
        self.language = language

    @staticmethod
    def _pos(word: str) -> str:
        lower = word.lower()
        if not word[0].isalnum():
            return "PUNCT"
        if word.isdigit():
            return "NUM"
        if lower in _PRONOUNS:
            return "PRON"
        if lower in _DETERMINERS:
            return "DET"
        if lower in _ADPOSITIONS:
            return "ADP"
        if word[0].isupper():
            return "PROPN"
        return "VERB" if lower.endswith(("ed", "ing", "s")) else "NOUN"

    def analyze(self, text: str) -> Analysis:
        tokens = [
            Token(m.group(), m.start(), m.end(), self._pos(m.group()), _SCORE) for m in _WORD.finditer(text)
        ]
        entities = []
        for match in _CAPITALISED_RUN.finditer(text):
            if _opens_sentence(text, match.start()) and " " not in match.group():
                continue
            entities.append(Span(match.group(), match.start(), match.end(), "MISC", _SCORE))
        entities += [
            Span(m.group(), m.start(), m.end(), "CARDINAL", _SCORE) for m in re.finditer(r"\d+", text)
        ]
        entities.sort(key=lambda span: span.start)
        chunks = [
            Span(text[det.start : noun.end], det.start, noun.end, "NP", _SCORE)
            for det, noun in itertools.pairwise(tokens)
            if det.pos == "DET" and noun.pos in ("NOUN", "PROPN")
        ]
        return Analysis(entities, chunks, tokens)


class FakePiiDetector:
    """E-mail addresses and phone numbers by regular expression, names as two or more capitalised words."""

    languages = ("en",)

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def detect(self, text: str, language: str) -> list[PiiFinding]:
        found = [PiiFinding("EMAIL_ADDRESS", m.start(), m.end(), 1.0) for m in _EMAIL.finditer(text)]
        found += [PiiFinding("PHONE_NUMBER", m.start(), m.end(), 0.75) for m in _PHONE.finditer(text)]
        found += [PiiFinding("PERSON", m.start(), m.end(), 0.85) for m in _NAME.finditer(text)]
        return resolve_overlaps(found)


class FakeSentiment:
    """Counts words of a positive and a negative list; the compound is squashed as VADER squashes its sum."""

    languages = ("en",)

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def polarity(self, text: str) -> Polarity:
        words = _words(text)
        positive = sum(word in _POSITIVE for word in words)
        negative = sum(word in _NEGATIVE for word in words)
        if not words:
            return Polarity(0.0, 1.0, 0.0, 0.0)
        total = 2.0 * (positive - negative)
        compound = total / math.sqrt(total * total + 15)
        share_pos, share_neg = positive / len(words), negative / len(words)
        return Polarity(share_pos, 1.0 - share_pos - share_neg, share_neg, compound)

    def classify(self, text: str) -> tuple[str, dict[str, float]]:
        return sentiment_rule.classify(text, self.polarity)


class FakeLanguageIdentifier:
    """Says English: surely for text with letters, barely for text without any."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def rank(self, text: str, top: int = 5) -> list[tuple[str, float]]:
        return [("en", 0.99 if _LETTER.search(text) else 0.2)][:top]


class FakeToxicity:
    """Each offensive word from a short list adds 0.45 to a base of 0.05, up to 1."""

    languages = ("en",)

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def scores(self, texts: Sequence[str]) -> list[float]:
        return [min(1.0, 0.05 + 0.45 * sum(word in _OFFENSIVE for word in _words(text))) for text in texts]


class FakeTranslator:
    """Tags each stretch of text with its pair ("[en-es] ..."), leaving HTML tags, outer whitespace and
    every word as they were."""

    keeps_placeholders = True

    def __init__(self, model_id: str, pairs: Sequence[str]) -> None:
        self.model_id = model_id
        self._pairs = frozenset((code.split("-")[0], code.split("-")[1]) for code in pairs)

    def pairs(self) -> frozenset[Pair]:
        return self._pairs

    def translate(self, text: str, pair: Pair, fmt: Format = "txt") -> str:
        if pair not in self._pairs:
            raise BackendUnavailable(f"the fake translator serves no pair {pair[0]}-{pair[1]}")
        label = f"[{pair[0]}-{pair[1]}] "

        def tag(piece: str) -> str:
            if not _LETTER.search(piece):
                return piece
            lead = piece[: len(piece) - len(piece.lstrip())]
            return lead + label + piece.lstrip()

        if fmt == "html":
            return "".join(part if _TAG.fullmatch(part) else tag(part) for part in _TAG.split(text))
        return tag(text)


def fake_analyzer(name: str, config: Mapping[str, Any]) -> FakeAnalyzer:
    return FakeAnalyzer(name, str(config.get("language", "en")))


def fake_pii(name: str, config: Mapping[str, Any]) -> FakePiiDetector:
    return FakePiiDetector(name)


def fake_sentiment(name: str, config: Mapping[str, Any]) -> FakeSentiment:
    return FakeSentiment(name)


def fake_language_id(name: str, config: Mapping[str, Any]) -> FakeLanguageIdentifier:
    return FakeLanguageIdentifier(name)


def fake_toxicity(name: str, config: Mapping[str, Any]) -> FakeToxicity:
    return FakeToxicity(name)


def fake_translator(name: str, config: Mapping[str, Any]) -> FakeTranslator:
    return FakeTranslator(name, list(config.get("fake_pairs", _PAIRS.split())))
