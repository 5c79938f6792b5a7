"""Vector stores at scale: LanceDB (embedded default) vs pgvector (bundled PostgreSQL), each measured against
exact numpy search in the same run.

For each store: load time (upserts of 2,000 chunks, index builds included, store defaults), then p50/p99
latency and recall@10 of semantic search, unfiltered and with a 10%-selective metadata filter, and the
latency of keyword and hybrid search. Data: 384-d vectors around 1,000 cluster centres (as sentence
embeddings cluster by topic), normalised; queries are fresh points from the same clusters.

    python bench/bench_vector_stores.py             # 100k chunks: about 9 minutes on 2 busy cores
    python bench/bench_vector_stores.py --million   # 1M chunks: ~40 min for LanceDB, ~90 for pgvector
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from outcrop.storage.vectors import Filter, Hit, StoredChunk, VectorStore, parse_filter

DIM = 384
CLUSTERS = 1_000
BATCH = 2_000
K = 10
BUCKETS = 10  # metadata "bucket" = i % 10, so filtering on one bucket keeps 10% of the chunks
VOCABULARY = 20_000


@dataclass
class Data:
    vectors: np.ndarray  # (n, DIM) float32, unit length
    buckets: np.ndarray  # (n,) int
    texts: list[str]
    queries: np.ndarray  # (q, DIM)
    query_texts: list[str]


def make_data(rows: int, queries: int, seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)

    def points(count: int) -> tuple[np.ndarray, np.ndarray]:
        cluster = rng.integers(0, CLUSTERS, size=count)
        out = centres[cluster] + rng.normal(scale=0.6, size=(count, DIM)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True), cluster

    vectors, clusters = points(rows)
    query_vectors, query_clusters = points(queries)
    # each cluster owns a slice of a Zipf-ish vocabulary, so keyword search has topics to find
    words = rng.zipf(1.3, size=(rows, 12)) % 200

    def text(cluster: int, row: np.ndarray) -> str:
        return " ".join(f"w{(cluster * 20 + int(w)) % VOCABULARY}" for w in row)

    texts = [text(int(c), row) for c, row in zip(clusters, words, strict=True)]
    query_words = rng.zipf(1.3, size=(queries, 4)) % 200
    query_texts = [text(int(c), row) for c, row in zip(query_clusters, query_words, strict=True)]
    return Data(vectors, np.arange(rows) % BUCKETS, texts, query_vectors, query_texts)


def exact_top_k(data: Data, mask: np.ndarray | None = None) -> list[set[int]]:
    truth: list[set[int]] = []
    candidates = np.arange(len(data.vectors)) if mask is None else np.flatnonzero(mask)
    subset = data.vectors[candidates]
    for start in range(0, len(data.queries), 256):
        scores = data.queries[start : start + 256] @ subset.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        truth.extend({int(candidates[i]) for i in row} for row in top)
    return truth


def load(store: VectorStore, data: Data) -> float:
    started = time.perf_counter()
    for start in range(0, len(data.vectors), BATCH):
        store.upsert(
            [
                StoredChunk(
                    chunk_id=str(i),
                    document_id=f"doc{i // 8}",
                    vector=data.vectors[i].tolist(),
                    text=data.texts[i],
                    metadata={"bucket": int(data.buckets[i])},
                )
                for i in range(start, min(start + BATCH, len(data.vectors)))
            ]
        )
    return time.perf_counter() - started


def timed(run: Callable[[int], list[Hit]], count: int) -> tuple[list[float], list[list[Hit]]]:
    latencies, results = [], []
    for i in range(count):
        started = time.perf_counter()
        results.append(run(i))
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, results


def recall(results: Sequence[list[Hit]], truth: Sequence[set[int]]) -> float:
    found = sum(
        len({int(hit.chunk_id) for hit in hits} & expected)
        for hits, expected in zip(results, truth, strict=False)
    )
    return found / (K * len(truth))


def percentiles(latencies: list[float]) -> str:
    return f"{np.percentile(latencies, 50):6.1f} / {np.percentile(latencies, 99):6.1f}"


def measure(
    name: str, store: VectorStore, data: Data, truth: list[set[int]], filtered: list[set[int]]
) -> dict[str, str]:
    print(f"==> {name}: loading {len(data.vectors):,} chunks", flush=True)
    seconds = load(store, data)
    print(f"    loaded in {seconds:.0f} s; querying", flush=True)
    queries = [q.tolist() for q in data.queries]
    bucket: Filter = parse_filter({"equals": {"key": "bucket", "value": 3}})
    for i in range(min(20, len(queries))):  # warm caches, as a serving process would be
        store.search(queries[i], K)
    plain, plain_hits = timed(lambda i: store.search(queries[i], K), len(queries))
    narrow, narrow_hits = timed(lambda i: store.search(queries[i], K, bucket), len(queries))
    keyword, _ = timed(lambda i: store.keyword_search(data.query_texts[i], K), len(queries))
    hybrid, _ = timed(lambda i: store.hybrid_search(queries[i], data.query_texts[i], K), len(queries))
    return {
        "store": name,
        "load s": f"{seconds:.0f}",
        "p50 / p99 ms": percentiles(plain),
        "recall@10": f"{recall(plain_hits, truth):.3f}",
        "filtered p50 / p99": percentiles(narrow),
        "filtered recall": f"{recall(narrow_hits, filtered):.3f}",
        "keyword p50 / p99": percentiles(keyword),
        "hybrid p50 / p99": percentiles(hybrid),
    }


@contextmanager
def lance_store(root: Path) -> Iterator[VectorStore]:
    from outcrop.storage.vectors.lance import LanceVectorStore

    store = LanceVectorStore(root / "lance", "bench", DIM)
    yield store
    store.close()


@contextmanager
def pgvector_store(root: Path) -> Iterator[VectorStore]:
    from outcrop.storage.vectors.pgserver import EmbeddedPostgres
    from outcrop.storage.vectors.pgvector import PgVectorStore

    with EmbeddedPostgres(root / "pgdata") as server:
        store = PgVectorStore(server.uri, "bench", DIM)
        yield store
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--million", action="store_true", help="1M chunks instead of 100k (over 2 hours)")
    parser.add_argument("--rows", type=int, help="any other number of chunks")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--stores", default="lance,pgvector")
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.million else 100_000)
    started = time.perf_counter()
    if rows >= 500_000:
        # Loading dominates: 5-9 ms a row for pgvector (HNSW inserts), LanceDB's index rebuilds and optimizes.
        print(f"{rows:,} chunks: expect about 40 minutes for LanceDB and 90 for pgvector on 2 cores")
    data = make_data(rows, args.queries)
    truth = exact_top_k(data)
    filtered = exact_top_k(data, data.buckets == 3)
    print(
        f"{rows:,} chunks of {DIM}-d clustered vectors, {args.queries:,} queries; truth: exact numpy top-{K}"
    )
    stores = {"lance": lance_store, "pgvector": pgvector_store}
    table = []
    for name in args.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp, stores[name](Path(tmp)) as store:
            table.append(measure(name, store, data, truth, filtered))
    columns = list(table[0])
    widths = [max(len(column), *(len(row[column]) for row in table)) for column in columns]
    print()
    print(" | ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
    print("-+-".join("-" * width for width in widths))
    for row in table:
        print(" | ".join(row[column].ljust(width) for column, width in zip(columns, widths, strict=True)))
    print(f"\nwhole run: {(time.perf_counter() - started) / 60:.1f} minutes (latencies in ms, one thread)")


if __name__ == "__main__":
    main()
