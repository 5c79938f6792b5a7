"""RetrieveAndGenerate's answer check: each sentence is kept only where a retrieved passage supports it, cites
only the passages that do, and an answer with nothing supported and relevant becomes Bedrock's fallback text.

One `AnswerCheck` serves both forms of the operation. It takes the answer sentence by sentence as the model
completes them and keeps the supported ones, so a stream can send each as soon as it passes; the whole answer
becomes the fallback when the model says the sources do not answer before any sentence was kept (the model
is then stopped), or when it ends with none kept. A stream says nothing the full answer would not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from outcrop.backends.base import Embedder
from outcrop.backends.grounding import GroundingDetector
from outcrop.rag.answers import answers
from outcrop.rag.generate import Cited, Sentence
from outcrop.rag.retrieve import result_content
from outcrop.storage.vectors import Hit

# What Bedrock answers when a knowledge base cannot answer the question.
FALLBACK = "Sorry, I am unable to assist you with this request."
GROUNDING_THRESHOLD = 0.55  # a passage supports a sentence from this score on
_REFUSAL = re.compile(  # what the model says about the sources, not about the thing asked ("does not have")
    r"\b(?:(?:could|can|did|do|does|was|were|is|are)\s*(?:n['\u2019]?t|not)\s+"
    r"(?:find|found|contain|include|mention|provide|specify|state|say|know|answer|listed|stated|mentioned|"
    r"provided|specified)|no (?:information|mention|details?|answer|specific)|"
    r"not (?:mentioned|specified|provided|stated|given|listed)|unable to (?:find|answer|determine|assist)|"
    r"i don['\u2019]?t know|^\W*not found)\b",  # "NOT FOUND": the extractive second try's refusal
    re.IGNORECASE,
)


_META = re.compile(  # a sentence about where the answer is, not an answer: "This information is found in [1]"
    r"^(?:this|that|it|the (?:above )?(?:information|answer|fact|detail)s?)\b[^.]*\b(?:found|given|"
    r"stated|mentioned|provided|based|taken|located)\b[^.]*\b(?:search results?|results?|sources?|context|"
    r"documents?)",
    re.IGNORECASE,
)


def is_meta(sentence: str) -> bool:
    return bool(_META.search(sentence))


def is_refusal(sentence: str) -> bool:
    """Whether the sentence says the sources do not answer (the model's own 'I could not find')."""
    return bool(_REFUSAL.search(sentence))


@dataclass
class AnswerCheck:
    """The incremental check of one answer (see the module docstring)."""

    detector: GroundingDetector
    embedder: Embedder | None
    question: str
    hits: Sequence[Hit]
    kept: list[tuple[Sentence, tuple[int, ...]]] = field(default_factory=list)
    refused: bool = False

    @property
    def committed(self) -> bool:
        """A sentence was kept: the answer stands, and what is kept is final."""
        return bool(self.kept)

    @property
    def settled(self) -> bool:
        """Nothing the model writes next can change the answer: it was refused before anything was kept."""
        return self.refused

    def reopen(self) -> bool:
        """Ready the check for a second try at the answer; False when one would change nothing (a sentence
        was already kept)."""
        if self.committed:
            return False
        self.refused = False
        return True

    def add(self, sentence: Sentence) -> list[tuple[Sentence, tuple[int, ...]]]:
        """Check one completed sentence; returns it with its sources if it is kept (to send now)."""
        if self.refused:
            return []
        if is_meta(sentence.text):
            return []  # dropped without a word: it says nothing the sources could support
        if is_refusal(sentence.text):
            self.refused = not self.kept  # after a kept sentence, only this sentence is dropped
            return []
        sources = self.supporting(sentence)
        if not sources:
            return []
        if not self.kept and not answers(self.question, sentence.text, [self.passage(i) for i in sources]):
            return []  # true, but (before the answer has begun) no answer to the question
        self.kept.append((sentence, sources))
        return [(sentence, sources)]

    def passage(self, index: int) -> str:
        return result_content(self.hits[index])

    def supporting(self, sentence: Sentence) -> tuple[int, ...]:
        """The passages that support the sentence: the ones it marked that do, else the best one that does."""
        if not self.hits:
            return ()
        passages = [result_content(hit) for hit in self.hits]
        (scores,) = self.detector.grounding([sentence.text], passages, self.question, self.embedder)
        good = [index for index, score in enumerate(scores) if score.score >= GROUNDING_THRESHOLD]
        if not good:
            return ()
        marked = tuple(index for index in good if index in sentence.marked)
        return marked or (max(good, key=lambda index: scores[index].score),)

    def answer(self) -> tuple[str, list[Cited]]:
        """The final text and its cited runs (after the last sentence was added)."""
        if self.refused or not self.committed:
            return FALLBACK, []
        return assemble(self.kept)


def assemble(parts: Sequence[tuple[Sentence, tuple[int, ...]]]) -> tuple[str, list[Cited]]:
    """Join kept sentences into the answer; consecutive sentences citing the same results form one run."""
    text = ""
    runs: list[Cited] = []
    for sentence, sources in parts:
        if text:
            text += sentence.separator
        start = len(text)
        text += sentence.text
        end = len(text) - 1
        if runs and runs[-1].sources == sources:
            previous = runs.pop()
            runs.append(Cited(text[previous.start : end + 1], previous.start, end, sources))
        else:
            runs.append(Cited(sentence.text, start, end, sources))
    return text, runs
