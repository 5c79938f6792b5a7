"""The grounding detector (kind "grounding"): how well a source supports a claim, and how well an answer
addresses a query, each a score in [0, 1].

No NLI or cross-encoder weights ship in the package registries, so support is judged from evidence a small
embedding model and the words themselves can give, strictest where small chat models go wrong:
- key facts: a number, or a proper name (a capitalised word inside a sentence, a code such as "ZX-40"), that
  the claim states and the source does not contain caps the score low; a number must also stand among the
  same words as in the source ("weighs 400 kg" is not supported by "costs 400 euros");
- asked words: a word of the query that the claim repeats and the source lacks is a key fact too (a model
  that cannot answer restates the question's relation, "founded by", "the average depth", around a name or
  number from the sources);
- content words: the share of the claim's words (stemmed, stop words aside) the source contains, words of
  the query counting double;
- meaning: with an embedder, the best cosine between the claim and a source sentence, for paraphrase.

The runtime is configured with `embedding_model` (a catalog name); the detector never loads it itself: the
caller passes the inference path's routed embedder to each call (None for words only, as the fake does).
RetrieveAndGenerate checks its answers with it; Guardrails' contextual grounding uses the same scores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from outcrop.backends.base import Embedder
from outcrop.backends.packaged import ModelFiles

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z0-9]|[A-Za-z]|\d+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+(?:[.!?]+|$)")  # "1.2 ml" is no sentence end
_CODE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9-]+$")
_SMALL_NUMBERS = """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty"""
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_SMALL_NUMBERS.split())} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
}
_STOP_WORDS = """
a an the and or but if of to in on at by for with from into onto over under about as is are was were
be been being am do does did done has have had having it its it's this that these those there their
they them he she his her him we our us you your i me my what which who whom whose when where why how
than then so not no nor can could would should will shall may might must also very just only any
some all each every both either neither more most much many such same other another own up down out
off again further once here s t according based search results result source sources provided
information text context states stated say says said mentioned mention mentions number answer
question yes
"""
STOP = frozenset(_STOP_WORDS.split())
CLOCK = frozenset({"am", "pm", "o'clock", "noon", "midnight"})  # how a time is written, not what it counts
NUMBER_WINDOW = 3  # words either side of a number that tie it to what it measures
# past forms a suffix rule cannot undo, and words a question and its answer use for one thing (stems)
_IRREGULAR = {
    "fed": "feed",
    "sold": "sell",
    "built": "build",
    "made": "make",
    "held": "hold",
    "ran": "run",
    "took": "take",
    "gave": "give",
    "wrote": "write",
    "grew": "grow",
    "bought": "buy",
    "paid": "pay",
}
_EQUIVALENT = {
    "pric": "cost",
    "sell": "cost",
    "pay": "cost",
    "fee": "cost",
    "high": "tall",
    "height": "tall",
    "width": "wid",
    "acros": "wid",
    "length": "long",
    "inhabitant": "peopl",
    "resident": "peopl",
    "population": "peopl",
    "visitor": "visit",
    "launch": "start",
    "begun": "start",
    "began": "start",
    "begin": "start",
}
ASKED_WORDS_ARE_FACTS = True  # a word of the query the claim repeats must be in the source too
# ...except verbs that state no fact ("how long does it take": "it takes 4 minutes" from "in 4 minutes")
_LIGHT_VERBS = frozenset({"tak", "get"})  # stems: took is take
KEY_FACT_CAP = 0.15  # the most a claim with a number or name its source lacks can score
SEMANTIC_FLOOR, SEMANTIC_SPAN = 0.25, 0.55  # cosine 0.25 -> 0, 0.80 -> 1


@dataclass(frozen=True)
class GroundingScore:
    """A claim's grounding and what decided it: the content-word share, the best cosine (None without an
    embedder) and the key facts (numbers, names) the source lacks."""

    score: float
    coverage: float
    similarity: float | None
    missing: tuple[str, ...]


@runtime_checkable
class GroundingDetector(Protocol):
    """Scores claims against sources and answers against queries, in [0, 1]."""

    model_id: str
    embedding_model: str | None  # the catalog embedding model whose routed stand-in the caller passes

    def grounding(
        self, claims: Sequence[str], sources: Sequence[str], query: str = "", embedder: Embedder | None = None
    ) -> list[list[GroundingScore]]:
        """For each claim, its score against each source, in order."""
        ...

    def relevance(self, query: str, answer: str, embedder: Embedder | None = None) -> float: ...


def stem(word: str) -> str:
    """A crude English stem, enough to match "weighs"/"weigh", "batteries"/"battery", "cycles"/"cycle"."""
    word = word.lower().replace("'s", "").strip("'-")
    if word in STOP:  # "does" is no "doe": a stop word stays one
        return word
    word = _NUMBER_WORDS.get(word, _IRREGULAR.get(word, word))
    if not word.isalpha() or len(word) <= 3:
        return _EQUIVALENT.get(word, word)
    if word.endswith(("ies", "ied")):
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith(("ed", "ly")) and len(word) > 4:
        word = word[:-2]
    word = word[:-1] if word.endswith("e") and len(word) > 3 else word
    return _EQUIVALENT.get(word, word)


def tokens(text: str) -> list[str]:
    """Stems of every word and number, numbers without thousands separators."""
    return [stem(token.replace(",", "")) for token in _TOKEN.findall(text)]


def content(text: str) -> set[str]:
    return {token for token in tokens(text) if token not in STOP and (len(token) > 1 or token.isdigit())}


def sentences(text: str) -> list[str]:
    return [match.group(0).strip() for match in _SENTENCE.finditer(text) if match.group(0).strip()]


def key_facts(claim: str) -> tuple[list[str], list[str]]:
    """The claim's numbers and proper names (stems): capitalised words after a sentence's first, codes.
    (`score_claim` adds the words of the query the claim repeats.)"""
    numbers, names = [], []
    for sentence in sentences(claim):
        for position, token in enumerate(_TOKEN.findall(sentence)):
            stemmed = stem(token.replace(",", ""))
            if token[0].isdigit():  # written as digits: "one of the oldest" states no number
                if stemmed.strip("0"):  # the ":00" of "2:00" states nothing the hour did not
                    numbers.append(stemmed)
            elif _CODE.match(token) or (
                position > 0 and token[0].isupper() and stemmed not in STOP and stemmed not in CLOCK
            ):
                names.append(stemmed)
    return numbers, names


def _number_supported(number: str, claim_tokens: list[str], source_tokens: list[str]) -> bool:
    """The number is in the source, and where the claim puts words next to it, one of them stands next to
    it in the source too."""

    def near(sequence: list[str], index: int) -> set[str]:
        window = sequence[max(0, index - NUMBER_WINDOW) : index + NUMBER_WINDOW + 1]
        return {token for token in window if token not in STOP and token != number and not token.isdigit()}

    def after(sequence: list[str], index: int) -> set[str]:
        """The unit right after the number ("400 kg"), if any: a clock's "2 PM" or a following "on
        Saturdays" names no unit."""
        following = sequence[index + 1 : index + 2]
        return {t for t in following if t not in STOP and not t.isdigit() and len(t) > 1 and t not in CLOCK}

    spots = [i for i, token in enumerate(source_tokens) if token == number]
    if not spots:
        return False
    places = [i for i, token in enumerate(claim_tokens) if token == number]
    units = set().union(*(after(claim_tokens, i) for i in places))
    if units:  # what the number counts ("400 kg") must follow it in the source too
        return any(units & after(source_tokens, spot) for spot in spots)
    around = set().union(*(near(claim_tokens, i) for i in places))
    if not around:
        return True
    return any(around & near(source_tokens, spot) for spot in spots)


def score_claim(claim: str, source: str, query: str = "", similarity: float | None = None) -> GroundingScore:
    """One claim against one source (the whole scoring rule; `similarity` is the best cosine, if any)."""
    words = content(claim)
    source_words = set(tokens(source))
    asked = content(query)
    weights = {word: 2.0 if word in asked else 1.0 for word in words}
    total = sum(weights.values())
    coverage = sum(w for word, w in weights.items() if word in source_words) / total if total else 0.0
    numbers, names = key_facts(claim)
    claim_tokens, source_tokens = tokens(claim), tokens(source)
    missing = [n for n in numbers if not _number_supported(n, claim_tokens, source_tokens)]
    missing += [name for name in names if name not in source_words]
    if ASKED_WORDS_ARE_FACTS:  # the question's relation restated around a fact from elsewhere
        missing += sorted(word for word in words & asked - _LIGHT_VERBS if word not in source_words)
    if similarity is None:
        score = coverage
    else:
        meaning = min(1.0, max(0.0, (similarity - SEMANTIC_FLOOR) / SEMANTIC_SPAN))
        score = 0.6 * coverage + 0.4 * meaning
    if missing:
        score = min(score, KEY_FACT_CAP)
    return GroundingScore(round(score, 4), round(coverage, 4), similarity, tuple(dict.fromkeys(missing)))


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class EvidenceDetector:
    """Key facts, content words and (with an embedder) sentence similarity, as the module docstring says."""

    def __init__(self, model_id: str, embedding_model: str | None) -> None:
        self.model_id = model_id
        self.embedding_model = embedding_model

    def grounding(
        self, claims: Sequence[str], sources: Sequence[str], query: str = "", embedder: Embedder | None = None
    ) -> list[list[GroundingScore]]:
        best: list[list[float | None]] = [[None] * len(sources) for _ in claims]
        if embedder is not None and claims and sources:
            pieces = [sentences(source) or [source] for source in sources]
            flat = [piece for group in pieces for piece in group]
            vectors = embedder.embed([*claims, *flat])
            claim_vectors, piece_vectors = vectors[: len(claims)], vectors[len(claims) :]
            for c, claim_vector in enumerate(claim_vectors):
                offset = 0
                for s, group in enumerate(pieces):
                    span = piece_vectors[offset : offset + len(group)]
                    best[c][s] = max(_cosine(claim_vector, vector) for vector in span)
                    offset += len(group)
        return [
            [score_claim(claim, source, query, best[c][s]) for s, source in enumerate(sources)]
            for c, claim in enumerate(claims)
        ]

    def relevance(self, query: str, answer: str, embedder: Embedder | None = None) -> float:
        """The share of the query's content words the answer uses, blended with their cosine."""
        asked, said = content(query), content(answer)
        lexical = len(asked & said) / len(asked) if asked else 0.0
        if embedder is None:
            return round(lexical, 4)
        query_vector, answer_vector = embedder.embed([query, answer])
        meaning = min(1.0, max(0.0, (_cosine(query_vector, answer_vector) - SEMANTIC_FLOOR) / SEMANTIC_SPAN))
        return round(0.5 * lexical + 0.5 * meaning, 4)


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> EvidenceDetector:
    """Runtime "evidence": keys `embedding_model` (a catalog embedding model's name; omit for words only)."""
    embedding = config.get("embedding_model")
    return EvidenceDetector(name, str(embedding) if embedding else None)


def fake_detector(name: str, config: Mapping[str, Any]) -> EvidenceDetector:
    """The fake: the same rules on words alone (no embedder), so fast tests are deterministic."""
    return EvidenceDetector(name, None)
