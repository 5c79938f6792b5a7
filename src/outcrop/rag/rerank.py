"""Reranking, for Bedrock's `Rerank` operation and Retrieve's `rerankingConfiguration`.

No cross-encoder weights are available to this server, so Bedrock's reranking model ids are served by a second
bi-encoder: the candidates are re-scored by cosine similarity under multilingual-e5-small, which was trained
apart from the all-MiniLM-L6-v2 that produced the first-stage ranking. Scores are mapped to [0, 1]. In
Retrieve, where the candidates come ranked, the two orders are fused (see `rerank_hits`). It is slow on CPU:
about 1.3 (query, passage) pairs/s on 2 busy cores.

It does not improve HYBRID retrieval (bench/bench_rerankers.py, Cranfield, HYBRID top 20, first 50 queries:
nDCG@10 0.407 in retrieval order, 0.403 fused, 0.383 alone; E5's "passage: " prefix on the documents did no
better, 0.393 fused). Neither did the chat models judging relevance: Qwen2.5-Coder-0.5B's yes/no log-odds
scored 0.324 alone and 0.499 fused against 0.539 on the first 10 queries, at 87 s a query. It is kept because
the Rerank operation needs some real model, and this one at least orders clearly related passages first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from outcrop.backends.base import Reranker
from outcrop.storage.vectors import Hit
from outcrop.storage.vectors.fusion import RRF_K

RERANKING_MODELS = ("amazon.rerank-v1:0", "cohere.rerank-v3-5:0")
LOCAL_RERANKER = "e5-reranker"  # the catalog's local rerank model that serves every reranking id


class RerankError(ValueError):
    """An invalid reranking request (the service answers ValidationException with the message)."""


@dataclass(frozen=True)
class MetadataSelection:
    """Which metadata fields the reranker reads beside a chunk's text (Bedrock's metadataConfiguration):
    all of them (`include` None) or the named ones, less `exclude`."""

    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()

    def text(self, metadata: Mapping[str, Any]) -> str:
        """The chosen fields as `name: value` lines, in name order, for the reranker to read."""
        lines = []
        for name in sorted(metadata):
            if name in self.exclude or (self.include is not None and name not in self.include):
                continue
            value = metadata[name]
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            lines.append(f"{name}: {shown}")
        return "\n".join(lines)


@dataclass(frozen=True)
class RerankSettings:
    model_id: str
    number_of_results: int | None = None  # None: as many as were given
    metadata: MetadataSelection | None = None  # None: the reranker reads the text only


def reranking_model(model_arn: str) -> str:
    """The Bedrock reranking model id in `model_arn` (an ARN or a bare id); RerankError when unsupported."""
    model_id = model_arn.rsplit("/", 1)[-1] if model_arn.startswith("arn:") else model_arn
    if model_id not in RERANKING_MODELS:
        raise RerankError(
            f"The reranking model {model_arn} is not supported; use one of {', '.join(RERANKING_MODELS)}."
        )
    return model_id


def retrieve_settings(configuration: Mapping[str, Any] | None) -> RerankSettings | None:
    """Read `vectorSearchConfiguration.rerankingConfiguration` (None when absent)."""
    if not configuration:
        return None
    if configuration.get("type") != "BEDROCK_RERANKING_MODEL":
        raise RerankError("rerankingConfiguration.type must be BEDROCK_RERANKING_MODEL")
    bedrock = configuration.get("bedrockRerankingConfiguration") or {}
    arn = (bedrock.get("modelConfiguration") or {}).get("modelArn", "")
    selection = metadata_selection(bedrock.get("metadataConfiguration"))
    return RerankSettings(reranking_model(arn), bedrock.get("numberOfRerankedResults"), selection)


def metadata_selection(configuration: Mapping[str, Any] | None) -> MetadataSelection | None:
    """Read `metadataConfiguration`: ALL fields, or SELECTIVE with fieldsToInclude or fieldsToExclude."""
    if not configuration:
        return None
    mode = configuration.get("selectionMode")
    if mode == "ALL":
        return MetadataSelection()
    selective = configuration.get("selectiveModeConfiguration") or {}
    if mode != "SELECTIVE" or len(selective) != 1:
        raise RerankError(
            "metadataConfiguration needs selectionMode ALL, or SELECTIVE with exactly one of "
            "selectiveModeConfiguration.fieldsToInclude and fieldsToExclude"
        )
    names = {field["fieldName"] for field in next(iter(selective.values()))}
    if "fieldsToInclude" in selective:
        return MetadataSelection(include=frozenset(names))
    return MetadataSelection(exclude=frozenset(names))


def source_text(source: Mapping[str, Any]) -> str:
    """The text of a Rerank `sources` entry: a TEXT document's text or a JSON document serialised."""
    document = source.get("inlineDocumentSource") or {}
    if document.get("type") == "JSON":
        if "jsonDocument" not in document:
            raise RerankError("A JSON source needs inlineDocumentSource.jsonDocument")
        return json.dumps(document["jsonDocument"], sort_keys=True)
    text = (document.get("textDocument") or {}).get("text")
    if not isinstance(text, str) or not text:
        raise RerankError("A TEXT source needs inlineDocumentSource.textDocument.text")
    return text


def rerank(reranker: Reranker, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
    """(index into `texts`, relevance in [0, 1]) per text, most relevant first; ties keep input order."""
    if not texts:
        return []
    scores = reranker.rerank(query, texts)
    order = sorted(range(len(texts)), key=lambda index: -scores[index])
    return [(index, scores[index]) for index in order]


def rerank_hits(
    reranker: Reranker,
    query: str,
    hits: Sequence[Hit],
    count: int | None,
    metadata: MetadataSelection | None = None,
) -> list[Hit]:
    """`hits` reranked, the first `count` (all when None). The reranker's order is fused with the retrieval
    order by reciprocal rank (scaled to (0, 1]), which costs less than e5's order alone (see the module
    docstring for the figures).
    With a metadata selection, the reranker reads the chosen metadata fields after each text."""
    texts = [hit.parent_text or hit.text for hit in hits]
    if metadata is not None:
        texts = [
            f"{text}\n{metadata.text(hit.metadata)}".rstrip() for text, hit in zip(texts, hits, strict=True)
        ]
    ranked = rerank(reranker, query, texts)
    fused = [1.0 / (RRF_K + 1 + index) for index in range(len(hits))]  # the retrieval order
    for position, (index, _) in enumerate(ranked):
        fused[index] += 1.0 / (RRF_K + 1 + position)
    best = 2.0 / (RRF_K + 1)
    order = sorted(range(len(hits)), key=lambda index: -fused[index])
    return [replace(hits[index], score=fused[index] / best) for index in order[: count or len(hits)]]
