"""Rerank and Retrieve's rerankingConfiguration through boto3, on the fake embedder and the real e5."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer
from tests.services.knowledge_bases import (
    VOLCANO,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
)

RERANK_ARN = "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"


@pytest.fixture(scope="module")
def kb_id(server: RunningServer) -> str:
    agent, s3 = server.client("bedrock-agent"), server.client("s3")
    kb = create_knowledge_base(agent)
    assert ingest(agent, kb, create_data_source(agent, kb, fill_bucket(s3)))["status"] == "COMPLETE"
    return kb


def configuration(arn: str = RERANK_ARN, count: int | None = None) -> dict[str, Any]:
    bedrock: dict[str, Any] = {"modelConfiguration": {"modelArn": arn}}
    if count is not None:
        bedrock["numberOfResults"] = count
    return {"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": bedrock}


def text_source(text: str) -> dict[str, Any]:
    return {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": text}}}


def test_rerank_orders_every_source(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-agent-runtime")
    texts = ["cats purr", VOLCANO, "bread needs flour"]
    response = runtime.rerank(
        queries=[{"type": "TEXT", "textQuery": {"text": VOLCANO}}],
        sources=[
            *(text_source(text) for text in texts),
            {"type": "INLINE", "inlineDocumentSource": {"type": "JSON", "jsonDocument": {"a": 1}}},
        ],
        rerankingConfiguration=configuration(),
    )
    results = response["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
    assert results[0]["index"] == 1  # the identical text is the most similar
    assert results[0]["document"]["textDocument"]["text"] == VOLCANO
    scores = [r["relevanceScore"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    top = runtime.rerank(
        queries=[{"type": "TEXT", "textQuery": {"text": VOLCANO}}],
        sources=[text_source(text) for text in texts],
        rerankingConfiguration=configuration("cohere.rerank-v3-5:0", count=1),
    )["results"]
    assert [r["index"] for r in top] == [1]


def test_rerank_rejects_unknown_models(client: Callable[..., Any], kb_id: str) -> None:
    runtime = client("bedrock-agent-runtime")
    unknown = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1"
    with pytest.raises(ClientError) as info:
        runtime.rerank(
            queries=[{"type": "TEXT", "textQuery": {"text": "x"}}],
            sources=[text_source("y")],
            rerankingConfiguration=configuration(unknown),
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as info:
        runtime.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": "x"},
            retrievalConfiguration={
                "vectorSearchConfiguration": {"rerankingConfiguration": rerank_config(unknown)}
            },
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "not supported" in info.value.response["Error"]["Message"]


def rerank_config(arn: str = RERANK_ARN, count: int | None = None) -> dict[str, Any]:
    bedrock: dict[str, Any] = {"modelConfiguration": {"modelArn": arn}}
    if count is not None:
        bedrock["numberOfRerankedResults"] = count
    return {"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": bedrock}


def test_retrieve_reranks_its_candidates(client: Callable[..., Any], kb_id: str) -> None:
    runtime = client("bedrock-agent-runtime")
    plain = runtime.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": VOLCANO},
        retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 5}},
    )["retrievalResults"]
    reranked = runtime.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": VOLCANO},
        retrievalConfiguration={
            "vectorSearchConfiguration": {
                "numberOfResults": 5,
                "rerankingConfiguration": rerank_config(count=2),
            }
        },
    )["retrievalResults"]
    assert len(reranked) == 2
    candidates = {r["content"]["text"] for r in plain}
    assert {r["content"]["text"] for r in reranked} <= candidates
    assert reranked[0]["location"]["s3Location"]["uri"].endswith("volcanoes.txt")
    assert reranked[0]["score"] >= reranked[1]["score"]


@pytest.mark.real
def test_real_reranker_puts_the_answering_passage_first(real_server: RunningServer) -> None:
    """multilingual-e5 on a question that shares few words with its answer, among unrelated passages."""
    passages = [
        "Cats sleep for most of the day and hunt at dusk.",
        "Rhyolite magma is sticky and traps gas, so the pressure builds until the mountain blows apart.",
        "The bakery sells sourdough bread made with rye flour.",
        "Income tax returns are due in April in the United States.",
    ]
    response = real_server.client("bedrock-agent-runtime").rerank(
        queries=[{"type": "TEXT", "textQuery": {"text": "Why do some volcanoes explode?"}}],
        sources=[text_source(text) for text in passages],
        rerankingConfiguration=configuration(),
    )
    order = [result["index"] for result in response["results"]]
    assert order[0] == 1, response["results"]
    scores = [result["relevanceScore"] for result in response["results"]]
    assert scores[0] > scores[-1]
