"""The text-analysis and translation model kinds, as Protocols, and the plain results they answer in.

Each kind is served by one runtime module here (spaCy, presidio, VADER, langid, profanity-check, apertium)
and by a deterministic fake (`fakes.py`), loaded once per server by the model registry. Nothing here knows
about AWS: offsets are Python string indices (code points) into the text given, languages are ISO 639-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Format = Literal["txt", "html"]
Pair = tuple[str, str]  # (source, target), ISO 639-1


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int
    label: str
    score: float


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    pos: str  # Universal Dependencies tag (NOUN, VERB, PUNCT, ...)
    score: float


@dataclass(frozen=True)
class Analysis:
    entities: list[Span]
    noun_chunks: list[Span]
    tokens: list[Token]


@dataclass(frozen=True)
class PiiFinding:
    entity_type: str  # presidio's names: PERSON, EMAIL_ADDRESS, PHONE_NUMBER, ...
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Polarity:
    """Shares of positive/neutral/negative wording (summing to 1) and a compound score in [-1, 1]."""

    positive: float
    neutral: float
    negative: float
    compound: float


@runtime_checkable
class TextAnalyzer(Protocol):
    """Kind "nlp": named entities, noun chunks and part-of-speech tokens of one language's text."""

    model_id: str
    language: str

    def analyze(self, text: str) -> Analysis: ...


@runtime_checkable
class PiiDetector(Protocol):
    """Kind "pii": personal data found in a text, overlaps already resolved, in text order."""

    model_id: str
    languages: tuple[str, ...]

    def detect(self, text: str, language: str) -> list[PiiFinding]: ...


@runtime_checkable
class SentimentAnalyzer(Protocol):
    """Kind "sentiment": how positive, negative or neutral the wording of a text is."""

    model_id: str
    languages: tuple[str, ...]

    def polarity(self, text: str) -> Polarity: ...

    def classify(self, text: str) -> tuple[str, dict[str, float]]:
        """POSITIVE, NEGATIVE, NEUTRAL or MIXED, and the scores Positive/Negative/Neutral/Mixed summing
        to 1 whose largest is that label."""
        ...


@runtime_checkable
class LanguageIdentifier(Protocol):
    """Kind "language-id": (language, probability) pairs, most likely first, probabilities summing to <= 1."""

    model_id: str

    def rank(self, text: str, top: int = 5) -> list[tuple[str, float]]: ...


@runtime_checkable
class ToxicityClassifier(Protocol):
    """Kind "toxicity": one probability per text that it is offensive."""

    model_id: str
    languages: tuple[str, ...]

    def scores(self, texts: Sequence[str]) -> list[float]: ...


@runtime_checkable
class Translator(Protocol):
    """Kind "translation": the language pairs it serves, and translating plain text or HTML between them.

    HTML keeps its tags, in order; plain text keeps its outer whitespace. `keeps_placeholders` says that an
    unknown made-up word (a terminology placeholder) comes out exactly as it went in.
    """

    model_id: str
    keeps_placeholders: bool

    def pairs(self) -> frozenset[Pair]: ...

    def translate(self, text: str, pair: Pair, fmt: Format = "txt") -> str: ...
