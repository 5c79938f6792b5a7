"""Bedrock's chunking strategies (FIXED_SIZE, HIERARCHICAL, SEMANTIC, NONE) over a parsed document's text.

Chunks are measured with the embedding model's own tokenizer (a `TokenCounter`), so a chunk never overflows
the model that embeds it. Text is cut only between words, preferring paragraph, then line and sentence, then
clause boundaries; every chunk carries its character offsets, so `text[chunk.start:chunk.end] == chunk.text`.
The same input always gives the same chunks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

TokenCounter = Callable[[str], int]
Embedder = Callable[[list[str]], list[list[float]]]

DEFAULT_MAX_TOKENS = 300  # Bedrock's default chunking: FIXED_SIZE, 300 tokens, 20% overlap
DEFAULT_OVERLAP_PERCENTAGE = 20
_PARAGRAPH, _LINE, _CLAUSE, _WORD, _INSIDE = 4, 3, 2, 1, 0
_ABBREVIATIONS = {
    "e.g.",
    "i.e.",
    "mr.",
    "mrs.",
    "ms.",
    "dr.",
    "prof.",
    "st.",
    "vs.",
    "fig.",
    "no.",
    "cf.",
    "al.",
}
_SENTENCE_END = re.compile("[.!?\u2026][\"')\\]\u201d\u2019]*$")


class ChunkingConfigError(ValueError):
    """A chunkingConfiguration Bedrock would reject; the message says which field and why."""


@dataclass(frozen=True)
class ParentChunk:
    """The larger hierarchical chunk that a child is searched by and answered with."""

    id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A span of the document text; `parent` is set for HIERARCHICAL children only."""

    text: str
    start: int
    end: int
    parent: ParentChunk | None = None

    @property
    def parent_id(self) -> str | None:
        return self.parent.id if self.parent else None

    @property
    def parent_text(self) -> str | None:
        return self.parent.text if self.parent else None


def whitespace_tokens(text: str) -> int:
    """A tokenizer-free counter (one token per whitespace-separated word), for tests and offline use."""
    return len(text.split())


class _Words:
    """The text cut into words with token costs and the strength of the boundary after each word."""

    def __init__(self, text: str, count: TokenCounter, max_tokens: int) -> None:
        self.text = text
        self.count = count
        self.overhead = count("")  # special tokens a tokenizer adds to every input ([CLS], [SEP], ...)
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.costs: list[int] = []
        self.breaks: list[int] = []
        cache: dict[str, int] = {}
        matches = list(re.finditer(r"\S+", text))
        for n, match in enumerate(matches):
            word = match.group()
            cost = cache.get(word)
            if cost is None:
                cost = cache[word] = max(1, count(word) - self.overhead)  # a word is never free
            if cost > max_tokens:
                self._add_split_word(match.start(), word, max_tokens)
            else:
                self._add(match.start(), match.end(), cost, _WORD)
            following = matches[n + 1] if n + 1 < len(matches) else None
            self.breaks[-1] = _boundary(text, word, match.end(), following)
        self.cumulative = [0]
        for cost in self.costs:
            self.cumulative.append(self.cumulative[-1] + cost)

    def _add(self, start: int, end: int, cost: int, strength: int) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.costs.append(cost)
        self.breaks.append(strength)

    def _add_split_word(self, start: int, word: str, max_tokens: int) -> None:
        """A single 'word' longer than a chunk (a URL, a base64 blob) is the one thing cut inside."""
        offset = 0
        while offset < len(word):
            low, high = offset + 1, len(word)
            while low < high:  # the longest piece that still fits
                middle = (low + high + 1) // 2
                if self.count(word[offset:middle]) - self.overhead <= max_tokens:
                    low = middle
                else:
                    high = middle - 1
            cost = max(1, self.count(word[offset:low]) - self.overhead)
            self._add(start + offset, start + low, cost, _INSIDE)
            offset = low

    def __len__(self) -> int:
        return len(self.starts)

    def span(self, first: int, stop: int) -> tuple[int, int]:
        return self.starts[first], self.ends[stop - 1]

    def tokens(self, first: int, stop: int) -> int:
        return self.cumulative[stop] - self.cumulative[first]

    def fits(self, first: int, stop: int, max_tokens: int) -> bool:
        """The real count of the joined text, which can differ from the sum of word counts."""
        start, end = self.span(first, stop)
        return self.count(self.text[start:end]) - self.overhead <= max_tokens

    def pack(self, first: int, stop: int, max_tokens: int, overlap_tokens: int = 0) -> list[tuple[int, int]]:
        """Word ranges of at most `max_tokens`, each ending on the strongest boundary in its second half."""
        ranges: list[tuple[int, int]] = []
        begin = first
        while begin < stop:
            end = begin
            while end < stop and self.tokens(begin, end + 1) <= max_tokens:
                end += 1
            end = max(end, begin + 1)
            if end < stop:
                end = self._best_break(begin, end, max_tokens)
            while end > begin + 1 and not self.fits(begin, end, max_tokens):
                end -= 1
            ranges.append((begin, end))
            if end >= stop:
                break
            following = end
            while following - 1 > begin and self.tokens(following - 1, end) <= overlap_tokens:
                following -= 1
            begin = following
        return ranges

    def _best_break(self, begin: int, end: int, max_tokens: int) -> int:
        best, best_strength = end, -1
        for candidate in range(end, begin, -1):
            if candidate < end and self.tokens(begin, candidate) < max_tokens / 2:
                break
            strength = self.breaks[candidate - 1]
            if strength > best_strength:
                best, best_strength = candidate, strength
        return best

    def sentences(self) -> list[tuple[int, int]]:
        """Word ranges ending at sentence, line or paragraph boundaries."""
        ranges, begin = [], 0
        for n, strength in enumerate(self.breaks):
            if strength >= _LINE or n == len(self) - 1:
                ranges.append((begin, n + 1))
                begin = n + 1
        return ranges

    def chunk(self, first: int, stop: int, parent: ParentChunk | None = None) -> Chunk:
        start, end = self.span(first, stop)
        return Chunk(self.text[start:end], start, end, parent)


def _boundary(text: str, word: str, end: int, following: re.Match[str] | None) -> int:
    if following is None:
        return _PARAGRAPH
    gap = text[end : following.start()]
    newlines = gap.count("\n")
    if newlines >= 2:
        return _PARAGRAPH
    if newlines == 1:
        return _LINE
    if _SENTENCE_END.search(word) and word.lower() not in _ABBREVIATIONS:
        initial = len(word) == 2 and word[0].isupper()  # "J. Smith"
        if not initial and not following.group()[0].islower():
            return _LINE
    if word[-1] in ",;:)\u2014\u2013":
        return _CLAUSE
    return _WORD


def chunk_fixed_size(
    text: str,
    count_tokens: TokenCounter,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_percentage: int = DEFAULT_OVERLAP_PERCENTAGE,
) -> list[Chunk]:
    """FIXED_SIZE: chunks of at most `max_tokens`, overlapping the previous by `overlap_percentage`%."""
    _check_range("fixedSizeChunkingConfiguration.maxTokens", max_tokens, 1, 8192)
    _check_range("fixedSizeChunkingConfiguration.overlapPercentage", overlap_percentage, 1, 99)
    words = _Words(text, count_tokens, max_tokens)
    overlap = max_tokens * overlap_percentage // 100
    return [words.chunk(a, b) for a, b in words.pack(0, len(words), max_tokens, overlap)]


def chunk_hierarchical(
    text: str,
    count_tokens: TokenCounter,
    parent_max_tokens: int = 1500,
    child_max_tokens: int = 300,
    overlap_tokens: int = 60,
) -> list[Chunk]:
    """HIERARCHICAL: children (what is embedded and searched) inside parents (what a result returns).

    Parents tile the text without overlap, so every child has exactly one parent and a result never returns
    the same passage twice; `overlap_tokens` applies between consecutive children of one parent.
    """
    _check_range("levelConfigurations[0].maxTokens", parent_max_tokens, 1, 8192)
    _check_range("levelConfigurations[1].maxTokens", child_max_tokens, 1, parent_max_tokens)
    _check_range("overlapTokens", overlap_tokens, 1, max(1, child_max_tokens - 1))
    words = _Words(text, count_tokens, child_max_tokens)
    chunks: list[Chunk] = []
    for first, stop in words.pack(0, len(words), parent_max_tokens):
        start, end = words.span(first, stop)
        key = f"{start}:{end}:{text[start:end]}".encode()
        parent = ParentChunk(hashlib.sha256(key).hexdigest()[:16], text[start:end], start, end)
        children = words.pack(first, stop, child_max_tokens, overlap_tokens)
        chunks.extend(words.chunk(a, b, parent) for a, b in children)
    return chunks


def chunk_semantic(
    text: str,
    count_tokens: TokenCounter,
    embed: Embedder,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    buffer_size: int = 0,
    breakpoint_percentile_threshold: int = 95,
) -> list[Chunk]:
    """SEMANTIC: break between sentences where the meaning shifts most, then cap each piece at `max_tokens`.

    Each sentence is embedded together with `buffer_size` neighbours on either side; a break falls after a
    sentence whose group is further (cosine distance) from the next group than the given percentile of all
    such distances.
    """
    _check_range("semanticChunkingConfiguration.maxTokens", max_tokens, 1, 8192)
    _check_range("semanticChunkingConfiguration.bufferSize", buffer_size, 0, 1)
    _check_range(
        "semanticChunkingConfiguration.breakpointPercentileThreshold", breakpoint_percentile_threshold, 50, 99
    )
    words = _Words(text, count_tokens, max_tokens)
    sentences = words.sentences()
    segments = sentences[:1]
    if len(sentences) > 1:
        groups = []
        for n in range(len(sentences)):
            first = sentences[max(0, n - buffer_size)][0]
            stop = sentences[min(len(sentences) - 1, n + buffer_size)][1]
            start, end = words.span(first, stop)
            groups.append(text[start:end])
        vectors = np.asarray(embed(groups), dtype=np.float64)
        if vectors.ndim != 2 or len(vectors) != len(groups):
            raise ValueError(
                f"the embedder returned {len(vectors)} vectors for {len(groups)} sentence groups"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms == 0, 1.0, norms)
        distances = 1.0 - np.sum(unit[:-1] * unit[1:], axis=1)
        threshold = float(np.percentile(distances, breakpoint_percentile_threshold))
        segments, begin = [], 0
        for n, distance in enumerate(distances):
            if distance > threshold:
                segments.append((sentences[begin][0], sentences[n][1]))
                begin = n + 1
        segments.append((sentences[begin][0], sentences[-1][1]))
    chunks: list[Chunk] = []
    for first, stop in segments:
        chunks.extend(words.chunk(a, b) for a, b in words.pack(first, stop, max_tokens))
    return chunks


def chunk_none(text: str) -> list[Chunk]:
    """NONE: the whole document is one chunk (the embedding model truncates what it cannot read)."""
    stripped = text.strip()
    if not stripped:
        return []
    start = len(text) - len(text.lstrip())
    return [Chunk(stripped, start, start + len(stripped))]


def chunk_text(
    text: str,
    configuration: Mapping[str, Any] | None,
    count_tokens: TokenCounter,
    embed: Embedder | None = None,
) -> list[Chunk]:
    """Chunk by a Bedrock `chunkingConfiguration` dict; None means Bedrock's default (FIXED_SIZE 300, 20%)."""
    if not configuration:
        return chunk_fixed_size(text, count_tokens)
    strategy = configuration.get("chunkingStrategy")
    if strategy == "NONE":
        return chunk_none(text)
    if strategy == "FIXED_SIZE":
        fixed = _section(configuration, "fixedSizeChunkingConfiguration")
        return chunk_fixed_size(
            text, count_tokens, _int(fixed, "maxTokens"), _int(fixed, "overlapPercentage")
        )
    if strategy == "HIERARCHICAL":
        hierarchical = _section(configuration, "hierarchicalChunkingConfiguration")
        levels = hierarchical.get("levelConfigurations")
        if (
            not isinstance(levels, list)
            or len(levels) != 2
            or not all(isinstance(x, Mapping) for x in levels)
        ):
            raise ChunkingConfigError("levelConfigurations must hold exactly two levels: parent, then child")
        return chunk_hierarchical(
            text,
            count_tokens,
            _int(levels[0], "maxTokens"),
            _int(levels[1], "maxTokens"),
            _int(hierarchical, "overlapTokens"),
        )
    if strategy == "SEMANTIC":
        semantic = _section(configuration, "semanticChunkingConfiguration")
        if embed is None:
            raise ChunkingConfigError("SEMANTIC chunking needs the knowledge base's embedding model")
        return chunk_semantic(
            text,
            count_tokens,
            embed,
            _int(semantic, "maxTokens"),
            _int(semantic, "bufferSize"),
            _int(semantic, "breakpointPercentileThreshold"),
        )
    raise ChunkingConfigError(
        f"chunkingStrategy {strategy!r} is not one of FIXED_SIZE, HIERARCHICAL, SEMANTIC, NONE"
    )


def _section(configuration: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = configuration.get(key)
    if not isinstance(section, Mapping):
        raise ChunkingConfigError(f"{configuration.get('chunkingStrategy')} chunking needs {key}")
    return section


def _int(section: Mapping[str, Any], key: str) -> int:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChunkingConfigError(f"{key} must be an integer, got {value!r}")
    return value


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ChunkingConfigError(f"{name} must be between {low} and {high}, got {value}")
