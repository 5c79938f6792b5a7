"""Bench: Knowledge Bases retrieval quality and ingestion speed on the Cranfield collection, through boto3.

A real-model server; a knowledge base on Titan Embeddings v1 (served by all-MiniLM-L6-v2); the 1,400 Cranfield
abstracts as one S3 object each, ingested with NONE chunking (one chunk per document, so the figures compare
with the published per-document ones); the 225 queries through `retrieve` (numberOfResults 100), SEMANTIC and
HYBRID. nDCG@10 and recall@100 with binary relevance. Ingestion chunks/s end to end (start_ingestion_job to
COMPLETE) is set beside raw onnxruntime throughput of the same model on the same texts, in the same run.

Data: /work/shared/data/cranfield (or --data). Queries match the judgments by position, not by <num>.
Run: `.venv/bin/python bench/bench_knowledge_bases.py [--queries N] [--rerank N]`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import outcrop_server
from embed_throughput import embeddings_per_second, model_files, raw_onnxruntime

DATA = Path("/work/shared/data/cranfield")
EMBEDDING_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1"
ACCOUNT = "123456789012"
PUBLISHED = {"SEMANTIC": "0.400 (MiniLM dense)", "HYBRID": "0.439 (RRF BM25 + dense)"}
BUCKET_PREFIX = "docs/"


def load_documents(data: Path) -> dict[str, str]:
    """docno -> the abstract's text (which begins with its title)."""
    raw = (data / "cran.all.1400.xml").read_text()
    documents: dict[str, str] = {}
    for block in re.findall(r"<doc>(.*?)</doc>", raw, re.S):
        docno = re.search(r"<docno>\s*(\d+)\s*</docno>", block)
        text = re.search(r"<text>(.*?)</text>", block, re.S)
        title = re.search(r"<title>(.*?)</title>", block, re.S)
        assert docno is not None
        body = (text.group(1) if text else "").strip() or (title.group(1) if title else "").strip()
        documents[docno.group(1)] = " ".join(body.split()) or "empty"
    return documents


def load_queries(data: Path) -> list[str]:
    raw = (data / "cran.qry.xml").read_text()
    return [" ".join(title.split()) for title in re.findall(r"<title>(.*?)</title>", raw, re.S)]


def load_judgments(data: Path) -> dict[int, set[str]]:
    """Query position (1-based) -> relevant docnos (any positive grade counts)."""
    relevant: dict[int, set[str]] = {}
    for line in (data / "cranqrel.trec.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and int(parts[3]) > 0:
            relevant.setdefault(int(parts[0]), set()).add(parts[2])
    return relevant


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    gain = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int = 100) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def docno(result: dict[str, Any]) -> str:
    uri = result["location"]["s3Location"]["uri"]
    return str(uri.rsplit("/", 1)[-1].removesuffix(".txt"))


def evaluate(
    rank: Callable[[str], list[str]], queries: Sequence[str], judgments: dict[int, set[str]]
) -> tuple[float, float, float]:
    """Mean nDCG@10, mean recall@100 and queries/s over the judged queries."""
    ndcgs: list[float] = []
    recalls: list[float] = []
    started = time.perf_counter()
    for position, query in enumerate(queries, start=1):
        relevant = judgments.get(position)
        if not relevant:
            continue
        ranked = rank(query)
        ndcgs.append(ndcg_at(ranked, relevant))
        recalls.append(recall_at(ranked, relevant))
    elapsed = time.perf_counter() - started
    return sum(ndcgs) / len(ndcgs), sum(recalls) / len(recalls), len(queries) / elapsed


def create_knowledge_base(agent: Any, s3: Any, documents: dict[str, str]) -> tuple[str, str]:
    bucket = f"cranfield-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for number, text in documents.items():
        s3.put_object(Bucket=bucket, Key=f"{BUCKET_PREFIX}{number}.txt", Body=text.encode())
    kb_id = agent.create_knowledge_base(
        name="cranfield",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/AmazonBedrockExecutionRoleForKnowledgeBase_bench",
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING_ARN},
        },
        storageConfiguration={
            "type": "OPENSEARCH_SERVERLESS",
            "opensearchServerlessConfiguration": {
                "collectionArn": f"arn:aws:aoss:us-east-1:{ACCOUNT}:collection/bench",
                "vectorIndexName": "bench-index",
                "fieldMapping": {"vectorField": "v", "textField": "t", "metadataField": "m"},
            },
        },
    )["knowledgeBase"]["knowledgeBaseId"]
    ds_id = agent.create_data_source(
        knowledgeBaseId=kb_id,
        name="cranfield-s3",
        dataSourceConfiguration={
            "type": "S3",
            "s3Configuration": {"bucketArn": f"arn:aws:s3:::{bucket}", "inclusionPrefixes": [BUCKET_PREFIX]},
        },
        vectorIngestionConfiguration={"chunkingConfiguration": {"chunkingStrategy": "NONE"}},
    )["dataSource"]["dataSourceId"]
    return kb_id, ds_id


def ingest(agent: Any, kb_id: str, ds_id: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    job_id = agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"][
        "ingestionJobId"
    ]
    while True:
        job: dict[str, Any] = agent.get_ingestion_job(
            knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id
        )["ingestionJob"]
        if job["status"] not in ("STARTING", "IN_PROGRESS", "STOPPING"):
            return job, time.perf_counter() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--queries", type=int, default=225, help="the first N queries only")
    parser.add_argument("--rerank", type=int, default=0, help="also rerank the top N of HYBRID (0: off)")
    parser.add_argument("--rerank-queries", type=int, default=50)
    parser.add_argument("--rerank-model", default="amazon.rerank-v1:0")
    arguments = parser.parse_args()
    documents = load_documents(arguments.data)
    queries = load_queries(arguments.data)[: arguments.queries]
    judgments = load_judgments(arguments.data)
    assert len(documents) == 1400 and len(load_queries(arguments.data)) == 225, "unexpected collection"
    threads = os.cpu_count() or 1
    model, tokenizer = model_files()
    texts = list(documents.values())
    raw = embeddings_per_second(raw_onnxruntime(model, tokenizer, threads), texts)
    rows: list[tuple[str, str, str, str]] = []
    with outcrop_server(fake_models=False) as server:
        agent, runtime, s3 = (
            server.client(name) for name in ("bedrock-agent", "bedrock-agent-runtime", "s3")
        )
        kb_id, ds_id = create_knowledge_base(agent, s3, documents)
        job, seconds = ingest(agent, kb_id, ds_id)
        stats = job.get("statistics", {})
        assert job["status"] == "COMPLETE", job
        assert stats.get("numberOfNewDocumentsIndexed") == len(documents), stats
        chunks_per_second = len(documents) / seconds

        def ranker(search_type: str) -> Callable[[str], list[str]]:
            def rank(query: str) -> list[str]:
                configuration = {"numberOfResults": 100, "overrideSearchType": search_type}
                response = runtime.retrieve(
                    knowledgeBaseId=kb_id,
                    retrievalQuery={"text": query},
                    retrievalConfiguration={"vectorSearchConfiguration": configuration},
                )
                return [docno(result) for result in response["retrievalResults"]]

            return rank

        for search_type in ("SEMANTIC", "HYBRID"):
            ndcg, recall, qps = evaluate(ranker(search_type), queries, judgments)
            rows.append(
                (search_type, f"{ndcg:.3f}", f"{recall:.3f}", f"{qps:.1f} q/s  ref {PUBLISHED[search_type]}")
            )
        if arguments.rerank:
            rows += rerank_rows(runtime, kb_id, queries, judgments, arguments)
    print(f"\nKnowledge Bases, Cranfield ({len(documents)} docs, {len(queries)} queries), boto3 retrieve")
    print(f"  {'mode':<28} {'nDCG@10':>8} {'R@100':>8}  notes")
    for name, ndcg_text, recall_text, note in rows:
        print(f"  {name:<28} {ndcg_text:>8} {recall_text:>8}  {note}")
    print(
        f"\nIngestion, NONE chunking, {len(documents)} S3 objects, {threads} threads: "
        f"{chunks_per_second:.1f} chunks/s end to end vs {raw:.1f} embeddings/s raw onnxruntime "
        f"(same model and texts, batch 32) = {chunks_per_second / raw:.2f}x; job took {seconds:.1f} s"
    )


def rerank_rows(
    runtime: Any, kb_id: str, queries: Sequence[str], judgments: dict[int, set[str]], arguments: Any
) -> list[tuple[str, str, str, str]]:
    """HYBRID top N in fused order vs the same N reranked, on the first --rerank-queries queries."""
    top = arguments.rerank
    subset = queries[: arguments.rerank_queries]
    model_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{arguments.rerank_model}"

    def plain(query: str) -> list[str]:
        response = runtime.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": query},
            retrievalConfiguration={
                "vectorSearchConfiguration": {"numberOfResults": top, "overrideSearchType": "HYBRID"}
            },
        )
        return [docno(result) for result in response["retrievalResults"]]

    def reranked(query: str) -> list[str]:
        configuration = {
            "numberOfResults": top,
            "overrideSearchType": "HYBRID",
            "rerankingConfiguration": {
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": {
                    "numberOfRerankedResults": top,
                    "modelConfiguration": {"modelArn": model_arn},
                },
            },
        }
        response = runtime.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": query},
            retrievalConfiguration={"vectorSearchConfiguration": configuration},
        )
        return [docno(result) for result in response["retrievalResults"]]

    rows = []
    for name, rank in ((f"HYBRID top {top}", plain), (f"  reranked ({arguments.rerank_model})", reranked)):
        ndcg, _, qps = evaluate(rank, subset, judgments)
        rows.append((name, f"{ndcg:.3f}", "-", f"{qps:.2f} q/s, first {len(subset)} queries"))
    return rows


if __name__ == "__main__":
    main()
