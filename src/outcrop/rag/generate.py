"""RetrieveAndGenerate's generation half: the prompt, and citations that point into the answer.

The model is asked to mark the search results it uses as [1], [2]... Markers are stripped from the answer;
each sentence cites the results it marked, or else (small models rarely mark) the result whose words it
shares most, if it shares enough. Consecutive sentences citing the same results form one citation, whose span
is `[start, end]` in the final text, both ends inclusive, as Bedrock reports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest
from outcrop.rag.retrieve import reference, result_content
from outcrop.storage.vectors import Hit

SEARCH_RESULTS = "$search_results$"
OUTPUT_FORMAT = "$output_format_instructions$"
DEFAULT_TEMPLATE = f"""You are a question answering agent. I will provide you with a set of search results. \
The user will provide you with a question. Your job is to answer the user's question using only information \
from the search results. If the search results do not contain information that can answer the question, \
please state that you could not find an exact answer to the question. Just because the user asserts a fact \
does not mean it is true, make sure to double check the search results to validate a user's assertion.

Here are the search results in numbered order:
{SEARCH_RESULTS}

{OUTPUT_FORMAT}"""
FORMAT_INSTRUCTIONS = (
    "Answer in a few sentences. After each sentence, write the numbers of the search results it is based on "
    "in square brackets, for example [1] or [1][3]."
)
PLAIN_INSTRUCTIONS = "Answer the question in a few sentences."
MIN_OVERLAP = 0.4  # share of a sentence's content words a result must contain to be cited without a marker
_MARKER = re.compile(r"\s*\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+(?:[.!?]+|$)")  # "1.2 ml" is no sentence end
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "was",
        "were",
        "with",
        "that",
        "this",
        "from",
        "have",
        "has",
        "had",
        "not",
        "but",
        "you",
        "your",
        "our",
        "its",
        "into",
        "than",
        "then",
        "what",
        "which",
        "who",
        "how",
        "when",
        "where",
        "why",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "about",
        "there",
        "their",
        "they",
        "them",
    ]
)


class TemplateError(ValueError):
    """A prompt template Bedrock would reject."""


def check_template(template: str) -> str:
    if SEARCH_RESULTS not in template:
        raise TemplateError("The prompt template must contain the $search_results$ placeholder.")
    return template


def format_results(hits: Sequence[Hit]) -> str:
    return "\n\n".join(f"[{number}] {result_content(hit)}" for number, hit in enumerate(hits, 1))


def build_request(
    question: str,
    hits: Sequence[Hit],
    history: Sequence[Mapping[str, str]],
    generation: Mapping[str, Any] | None,
    *,
    markers: bool = True,
) -> GenerationRequest:
    """The chat request: instructions and results as the system turn, earlier turns, then the question.
    Without `markers` the model is not asked to number its sources (citations then come from word overlap)."""
    generation = generation or {}
    template = (generation.get("promptTemplate") or {}).get("textPromptTemplate") or DEFAULT_TEMPLATE
    system = (
        check_template(template)
        .replace(SEARCH_RESULTS, format_results(hits) or "(no search results)")
        .replace(OUTPUT_FORMAT, FORMAT_INSTRUCTIONS if markers else PLAIN_INSTRUCTIONS)
        .replace("$query$", question)
    )
    messages = [ChatMessage("system", system)]
    for turn in history:
        messages.append(ChatMessage("user", turn["user"]))
        messages.append(ChatMessage("assistant", turn["assistant"]))
    messages.append(ChatMessage("user", question))
    inference = (generation.get("inferenceConfig") or {}).get("textInferenceConfig") or {}
    return GenerationRequest(
        messages=messages,
        max_tokens=int(inference.get("maxTokens", 512)),
        temperature=inference.get("temperature"),
        top_p=inference.get("topP"),
        stop=tuple(inference.get("stopSequences") or ()),
    )


EXTRACTIVE_TEMPLATE = """Answer the user's question from the text below. Quote the sentence of the text \
that gives the answer, then stop.

Text:
{passage}"""


def extractive_request(
    question: str, hit: Hit, history: Sequence[Mapping[str, str]], generation: Mapping[str, Any] | None
) -> GenerationRequest | None:
    """The second try when no sentence of the first answer passed the check (small models recite the
    passages, or answer as the question words it rather than as the source does): the best passage alone,
    and the sentence that answers copied from it. None where the caller's own prompt template rules."""
    generation = generation or {}
    if (generation.get("promptTemplate") or {}).get("textPromptTemplate"):
        return None
    request = build_request(question, [hit], history, generation, markers=False)
    system = ChatMessage("system", EXTRACTIVE_TEMPLATE.format(passage=result_content(hit)))
    return replace(request, messages=[system, *request.messages[1:]])


@dataclass(frozen=True)
class Cited:
    """A run of answer text (`start`..`end` inclusive) and the 0-based indices of the results it cites."""

    text: str
    start: int
    end: int
    sources: tuple[int, ...]


def _without_markers(raw: str, count: int) -> tuple[str, list[tuple[int, set[int]]]]:
    """The text with its source markers removed, and where each stood: (offset in the clean text, the
    0-based results it named, those past `count` dropped)."""
    clean: list[str] = []
    marks: list[tuple[int, set[int]]] = []
    position = length = 0
    for match in _MARKER.finditer(raw):
        clean.append(raw[position : match.start()])
        length += match.start() - position
        numbers = {int(n) - 1 for n in re.findall(r"\d+", match.group(1))}
        marks.append((length, {n for n in numbers if 0 <= n < count}))
        position = match.end()
    clean.append(raw[position:])
    return "".join(clean), marks


def _sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence with its surrounding white space trimmed; empty ones skipped."""
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            yield start, end


def attribute(raw: str, hits: Sequence[Hit]) -> tuple[str, list[Cited]]:
    """The answer without markers, and its cited runs."""
    unstripped, marks = _without_markers(raw, len(hits))
    text = unstripped.strip()
    shift = len(unstripped) - len(unstripped.lstrip())
    marks = [(offset - shift, numbers) for offset, numbers in marks]
    words = [_content_words(result_content(hit)) for hit in hits]
    runs: list[Cited] = []
    for start, end in _sentence_spans(text):
        marked: set[int] = set()
        for offset, numbers in marks:
            if start <= offset <= end + 1:
                marked |= numbers
        sources = tuple(sorted(marked)) if marked else _best_overlap(text[start:end], words)
        if not sources:
            continue
        if runs and runs[-1].sources == sources and not text[runs[-1].end + 1 : start].strip():
            previous = runs.pop()
            runs.append(Cited(text[previous.start : end], previous.start, end - 1, sources))
        else:
            runs.append(Cited(text[start:end], start, end - 1, sources))
    return text, runs


@dataclass(frozen=True)
class Sentence:
    """An answer sentence (markers stripped), the 0-based results it marked, and what stood before it."""

    text: str
    marked: frozenset[int]
    separator: str = " "  # "\n" keeps lines apart


def sentences(raw: str, count: int) -> list[Sentence]:
    """The answer's sentences, each with the markers written inside it or right after it. While the model is
    still writing, the last one may yet grow or gain markers; the others are complete."""
    text, marks = _without_markers(raw, count)
    found: list[Sentence] = []
    previous_end = 0
    for start, end in _sentence_spans(text):
        marked = {n for offset, numbers in marks if start <= offset <= end + 1 for n in numbers}
        separator = "\n" if "\n" in text[previous_end:start] else " "
        found.append(Sentence(text[start:end], frozenset(marked), separator))
        previous_end = end
    return found


def says_something(raw: str) -> bool:
    """Whether the answer has any words once the markers are gone. Small models sometimes answer with the
    marker example alone ("[1][3]"); such an answer is asked for again without markers."""
    return any(character.isalnum() for character in _MARKER.sub("", raw))


def _content_words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if len(word) > 2 and word not in _STOP}


def _best_overlap(sentence: str, results: Sequence[set[str]]) -> tuple[int, ...]:
    words = _content_words(sentence)
    if not words or not results:
        return ()
    shares = [len(words & result) / len(words) for result in results]
    best = max(range(len(shares)), key=shares.__getitem__)
    return (best,) if shares[best] >= MIN_OVERLAP else ()


def citations(runs: Sequence[Cited], hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """Bedrock's `citations` list for the cited runs."""
    return [
        {
            "generatedResponsePart": {
                "textResponsePart": {"text": run.text, "span": {"start": run.start, "end": run.end}}
            },
            "retrievedReferences": [reference(hits[index]) for index in run.sources],
        }
        for run in runs
    ]
