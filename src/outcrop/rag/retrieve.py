"""Retrieve: embed the query with the knowledge base's model and search its store, Bedrock's way.

SEMANTIC is the default search (what Bedrock does for most stores); HYBRID fuses vector and keyword results.
Results carry the parent chunk for hierarchical chunking, the S3 location, the chunk's metadata (including
Bedrock's `x-amz-bedrock-kb-*` attributes) and a score in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import Embedder
from outcrop.inference import Caller, Inference
from outcrop.protocol.errors import ValidationException
from outcrop.rag.ingest import SOURCE_URI
from outcrop.rag.kbstore import KnowledgeBase
from outcrop.rag.rerank import RerankError, RerankSettings, retrieve_settings
from outcrop.storage.vectors import Filter, Hit, VectorStore, parse_filter


def knowledge_base_embedder(inference: Inference, caller: Caller, kb: KnowledgeBase) -> Embedder:
    """The knowledge base's embedding model, through the inference path (ingestion and Retrieve share it)."""
    arn = kb.body["knowledgeBaseConfiguration"]["vectorKnowledgeBaseConfiguration"]["embeddingModelArn"]
    model = inference.find(arn)
    if model is None or model.kind != "embedding":
        raise ValidationException(f"The embedding model {arn} is no longer in this server's catalog.")
    return inference.embedder(caller, model)


DEFAULT_RESULTS = 5
MAX_RESULTS = 100
SEARCH_TYPES = ("SEMANTIC", "HYBRID")


class RetrievalError(ValueError):
    """The request cannot be served as given (the service answers ValidationException with the message)."""


@dataclass(frozen=True)
class SearchSettings:
    number_of_results: int = DEFAULT_RESULTS
    search_type: str = "SEMANTIC"
    filter: Filter | None = None
    rerank: RerankSettings | None = None


def search_settings(configuration: Mapping[str, Any] | None) -> SearchSettings:
    """Read `retrievalConfiguration.vectorSearchConfiguration`; RetrievalError when a part is invalid."""
    vector = (configuration or {}).get("vectorSearchConfiguration") or {}
    count = vector.get("numberOfResults", DEFAULT_RESULTS)
    if not isinstance(count, int) or not 1 <= count <= MAX_RESULTS:
        raise RetrievalError(f"numberOfResults must be between 1 and {MAX_RESULTS}, got {count!r}")
    search_type = vector.get("overrideSearchType") or "SEMANTIC"
    if search_type not in SEARCH_TYPES:
        raise RetrievalError(f"overrideSearchType must be SEMANTIC or HYBRID, got {search_type!r}")
    if vector.get("implicitFilterConfiguration"):
        raise RetrievalError("implicitFilterConfiguration is not supported yet")
    try:
        rerank = retrieve_settings(vector.get("rerankingConfiguration"))
    except RerankError as error:
        raise RetrievalError(str(error)) from error
    raw = vector.get("filter")
    try:
        parsed = parse_filter(raw, "retrievalConfiguration.vectorSearchConfiguration.filter") if raw else None
    except ValueError as error:
        raise RetrievalError(str(error)) from error
    return SearchSettings(count, search_type, parsed, rerank)


def search(store: VectorStore, embedder: Embedder, query: str, settings: SearchSettings) -> list[Hit]:
    """The best chunks for `query`, best first."""
    if not query.strip():
        raise RetrievalError("retrievalQuery.text must not be empty")
    vector = embedder.embed([query], normalize=True)[0]
    if settings.search_type == "HYBRID":
        return store.hybrid_search(vector, query, settings.number_of_results, settings.filter)
    return store.search(vector, settings.number_of_results, settings.filter)


def result_content(hit: Hit) -> str:
    """What a result shows: the parent chunk under hierarchical chunking, else the chunk itself."""
    return hit.parent_text or hit.text


def reference(hit: Hit) -> dict[str, Any]:
    """A hit as Bedrock's RetrievedReference / KnowledgeBaseRetrievalResult (without the score)."""
    uri = hit.metadata.get(SOURCE_URI)
    location: dict[str, Any]
    if isinstance(uri, str) and uri.startswith(("http://", "https://")):  # a crawled page
        location = {"type": "WEB", "webLocation": {"url": uri}}
    elif isinstance(uri, str) and not uri.startswith("s3://"):  # a CUSTOM document, named by its id
        location = {"type": "CUSTOM", "customDocumentLocation": {"id": uri}}
    else:
        location = {"type": "S3", "s3Location": {"uri": uri}} if isinstance(uri, str) else {"type": "S3"}
    return {
        "content": {"text": result_content(hit), "type": "TEXT"},
        "location": location,
        "metadata": {key: _plain(value) for key, value in hit.metadata.items()},
    }


def retrieval_result(hit: Hit) -> dict[str, Any]:
    return {**reference(hit), "score": hit.score}


def _plain(value: Any) -> Any:
    """Whole numbers as ints, as Bedrock returns the numbers of metadata files."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
