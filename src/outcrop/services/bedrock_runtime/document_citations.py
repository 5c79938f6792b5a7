"""Converse's citations on documents (`citations: {enabled: true}`): the answer's sentences attributed to the
passages of the documents they come from, with the attribution RetrieveAndGenerate uses (`rag.generate`).

A document is cut into its paragraphs; each answer sentence cites the paragraph whose words it shares most,
if it shares enough. Cited runs become `citationsContent` blocks, with the passage and where it stands: the
page range in a PDF, the character range otherwise. Uncited text stays in plain text blocks, so the blocks'
texts in order are the whole answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outcrop.rag.generate import attribute
from outcrop.services.bedrock_runtime.attachments import Document
from outcrop.storage.vectors import Hit

_PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")


@dataclass(frozen=True)
class _Passage:
    document_index: int
    document: Document
    start: int
    end: int  # exclusive

    @property
    def text(self) -> str:
        return self.document.parsed.text[self.start : self.end]

    def citation(self) -> dict[str, Any]:
        """Converse's Citation for this passage (a CitationsDelta has the same fields)."""
        parsed = self.document.parsed
        location: dict[str, Any]
        if parsed.page_offsets:
            first, last = parsed.page_at(self.start) or 1, parsed.page_at(max(self.start, self.end - 1)) or 1
            location = {"documentPage": {"documentIndex": self.document_index, "start": first, "end": last}}
        else:
            span = {"documentIndex": self.document_index, "start": self.start, "end": self.end}
            location = {"documentChar": span}
        return {"title": self.document.name, "sourceContent": [{"text": self.text}], "location": location}


def _passages(documents: Sequence[Document]) -> list[_Passage]:
    return [
        _Passage(index, document, match.start(), match.end())
        for index, document in enumerate(documents)
        if document.citations
        for match in _PARAGRAPH.finditer(document.parsed.text)
    ]


def cites(documents: Sequence[Document]) -> bool:
    return any(document.citations for document in documents)


def cited_content(answer: str, documents: Sequence[Document]) -> list[dict[str, Any]]:
    """The answer as Converse content blocks: text, and citationsContent for runs that a passage supports."""
    passages = _passages(documents)
    hits = [Hit(str(n), str(p.document_index), p.text, {}, None, 0.0) for n, p in enumerate(passages)]
    text, runs = attribute(answer, hits)
    blocks: list[dict[str, Any]] = []
    position = 0
    for run in runs:
        if text[position : run.start].strip():
            blocks.append({"text": text[position : run.start]})
        citations = [passages[index].citation() for index in run.sources]
        blocks.append({"citationsContent": {"content": [{"text": run.text}], "citations": citations}})
        position = run.end + 1
    if text[position:].strip() or not blocks:
        blocks.append({"text": text[position:]})
    return blocks


def citation_deltas(answer: str, documents: Sequence[Document]) -> list[dict[str, Any]]:
    """ConverseStream's citation deltas for a streamed answer, sent once its text is complete."""
    return [
        {"citation": citation}
        for block in cited_content(answer, documents)
        for citation in block.get("citationsContent", {}).get("citations", [])
    ]
