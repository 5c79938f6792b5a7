"""Personalize: a solution version trained through boto3 vs implicit's ALS called directly, same data.

No public implicit-feedback set ships as a package on the registries, so the data is generated with a
known structure: users each favour one of 30 item clusters (80% of their picks, by Zipf popularity), the
rest follow global popularity. Both sides train on the same split (Personalize's: the newest 10% of 10% of
users held out, seeded by the version's ARN) with the same ALS settings. Quality: NDCG@10 on the held-out
items, Outcrop's from GetSolutionMetrics, the baseline's from `implicit.evaluation.ndcg_at_k` (its own
code). Speed: the ALS fit (Outcrop's trainingHours) and the whole version, create to ACTIVE, against the
library's fit. The machine is shared, so the sides take turns, each going first in half the rounds, and
CPU seconds are reported beside wall seconds (the server's from its log: its process's CPU during the
fit), with the load averages before and after; the ratios are of the sums over the rounds.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
import warnings
import zlib
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]

from common import ROOT, outcrop_server, report

sys.path.insert(0, str(ROOT / "src"))

from outcrop.personalize.model import REGULARIZATION
from outcrop.personalize.store import Interaction
from outcrop.personalize.training import matrix, split

USERS, ITEMS, CLUSTERS = 3000, 1500, 30
FACTORS, ITERATIONS = 64, 15
RUNS = 6  # even: each side goes first in half the rounds
ROLE = "arn:aws:iam::000000000000:role/Bench"
SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


def generate(seed: int = 0) -> list[Interaction]:
    rng = np.random.default_rng(seed)
    cluster_of = rng.integers(0, CLUSTERS, size=ITEMS)
    popularity = 1.0 / np.arange(1, ITEMS + 1) ** 0.8
    rng.shuffle(popularity)
    members = [np.flatnonzero(cluster_of == c) for c in range(CLUSTERS)]
    overall = popularity / popularity.sum()
    rows, clock = [], 1_700_000_000
    for user in range(USERS):
        local = members[int(rng.integers(CLUSTERS))]
        weights = popularity[local] / popularity[local].sum()
        for _ in range(int(rng.integers(10, 80))):
            clock += int(rng.integers(1, 30))
            item = rng.choice(local, p=weights) if rng.random() < 0.8 else rng.choice(ITEMS, p=overall)
            rows.append(Interaction(f"u{user}", f"i{item}", clock, None, None))
    return rows


def to_csv(rows: list[Interaction]) -> bytes:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP", *(f"{r.user_id},{r.item_id},{r.timestamp}" for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def library(rows: list[Interaction], seed: int) -> tuple[float, float, float]:
    """implicit's ALS fit on the same split, under the same BLAS limit as the server's fit (implicit's
    own threads at their default, all cores, on both sides): (fit seconds, fit CPU seconds, NDCG@10 by
    implicit.evaluation)."""
    from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]
    from implicit.evaluation import ndcg_at_k  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    parts = split(rows, seed)
    users = sorted({r.user_id for r in rows})
    items = sorted({r.item_id for r in rows})
    train = matrix(parts.train, users, items)
    index = {u: i for i, u in enumerate(users)}
    item_index = {t: i for i, t in enumerate(items)}
    held = [(index[u], item_index[t]) for u, found in parts.held_out.items() for t in found]
    test = sp.csr_matrix(
        (np.ones(len(held), dtype=np.float32), ([u for u, _ in held], [t for _, t in held])),
        shape=train.shape,
    )
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AlternatingLeastSquares(
            factors=FACTORS, regularization=REGULARIZATION, iterations=ITERATIONS, random_state=seed
        )
        started, started_cpu = time.perf_counter(), time.process_time()
        model.fit(train, show_progress=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        ndcg = ndcg_at_k(model, train, test, K=10, show_progress=False)
    return seconds, cpu, float(ndcg)


FIT_LOG = re.compile(r"Personalize als fit: ([\d.]+) s, ([\d.]+) CPU s")


def server_fit_cpu(log: str, count: int) -> list[float]:
    """The CPU seconds of the server's fits, from its log (its process's CPU during each fit)."""
    return [float(cpu) for _, cpu in FIT_LOG.findall(log)][-count:]


def wait(describe: Any, every: float = 0.05) -> dict[str, Any]:
    while True:
        found: dict[str, Any] = describe()
        if found["status"] in ("ACTIVE", "CREATE FAILED"):
            return found
        time.sleep(every)


def run() -> dict[str, Any]:
    rows = generate()
    figures: dict[str, Any] = {"interactions": len(rows), "users": USERS, "items": ITEMS}
    with outcrop_server(fake_models=True) as server:
        p, s3, runtime = (
            server.client("personalize"),
            server.client("s3"),
            server.client("personalize-runtime"),
        )
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="interactions.csv", Body=to_csv(rows))
        group = p.create_dataset_group(name="bench")["datasetGroupArn"]
        schema = p.create_schema(name="bench", schema=json.dumps(SCHEMA))["schemaArn"]
        dataset = p.create_dataset(
            name="bench", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
        )
        started = time.perf_counter()
        job = p.create_dataset_import_job(
            jobName="bench",
            datasetArn=dataset["datasetArn"],
            dataSource={"dataLocation": "s3://bench/interactions.csv"},
            roleArn=ROLE,
        )["datasetImportJobArn"]
        wait(lambda: p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        figures["import_seconds"] = round(time.perf_counter() - started, 2)
        solution = p.create_solution(
            name="bench",
            datasetGroupArn=group,
            recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
            solutionConfig={
                "algorithmHyperParameters": {
                    "hidden_dimension": str(FACTORS),
                    "training_iterations": str(ITERATIONS),
                }
            },
        )["solutionArn"]
        ours_fit, ours_total, theirs_fit, theirs_cpu = [], [], [], []
        ours_ndcg: dict[str, float] = {}  # by version, whose ARN seeds the split
        theirs_ndcg: dict[str, float] = {}  # by the version whose split the library trained on
        version = ""

        def outcrop_side() -> None:
            nonlocal version
            started = time.perf_counter()
            arn = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
            # polled every 0.5 s: a busier poll takes CPU from the training it waits for
            found = wait(
                lambda a=arn: p.describe_solution_version(solutionVersionArn=a)["solutionVersion"], 0.5
            )
            version = arn
            ours_total.append(time.perf_counter() - started)
            if found["status"] != "ACTIVE":
                raise SystemExit(f"training failed: {found.get('failureReason')}")
            ours_fit.append(found["trainingHours"] * 3600)
            metrics = p.get_solution_metrics(solutionVersionArn=version)["metrics"]
            ours_ndcg[version] = metrics["normalized_discounted_cumulative_gain_at_10"]

        def library_side() -> None:
            # the split of the newest version (seeded by its ARN): the same data as the round's version
            # when Outcrop went first, the previous version's (another 10% of users) when it goes second;
            # quality is compared split by split, on the splits both sides trained on
            seconds, cpu, ndcg = library(rows, zlib.crc32(version.encode()))
            theirs_fit.append(seconds)
            theirs_cpu.append(cpu)
            theirs_ndcg[version] = ndcg

        outcrop_side()  # a first version out of the timing: imports and first calls on both sides
        library_side()
        for kept in (ours_fit, ours_total, theirs_fit, theirs_cpu):
            kept.clear()  # the warm-up's quality is kept: it does not depend on timing
        load_before = os.getloadavg()
        for i in range(RUNS):
            for side in (outcrop_side, library_side) if i % 2 == 0 else (library_side, outcrop_side):
                side()
        load_after = os.getloadavg()
        ours_cpu = server_fit_cpu(server.log_path.read_text(), RUNS)
        campaign = p.create_campaign(name="bench", solutionVersionArn=version)["campaignArn"]
        wait(lambda: p.describe_campaign(campaignArn=campaign)["campaign"])
        latencies = []
        for user in range(200):
            started = time.perf_counter()
            runtime.get_recommendations(campaignArn=campaign, userId=f"u{user}", numResults=10)
            latencies.append((time.perf_counter() - started) * 1000)
    fit, total, base = (
        statistics.median(ours_fit),
        statistics.median(ours_total),
        statistics.median(theirs_fit),
    )
    fit_cpu, base_cpu = statistics.median(ours_cpu), statistics.median(theirs_cpu)
    paired = [v for v in ours_ndcg if v in theirs_ndcg]  # quality compared on the same splits only
    figures.update(
        outcrop_fit_seconds=round(fit, 2),
        outcrop_fit_cpu_seconds=round(fit_cpu, 2),
        outcrop_version_seconds=round(total, 2),
        library_fit_seconds=round(base, 2),
        library_fit_cpu_seconds=round(base_cpu, 2),
        fit_throughput_ratio=round(sum(theirs_fit) / sum(ours_fit), 3),
        fit_cpu_throughput_ratio=round(sum(theirs_cpu) / sum(ours_cpu), 3),
        version_throughput_ratio=round(base / total, 3),
        load_average={
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
        outcrop_ndcg_at_10=round(statistics.mean(ours_ndcg[v] for v in paired), 4),
        library_ndcg_at_10=round(statistics.mean(theirs_ndcg[v] for v in paired), 4),
        ndcg_splits=len(paired),
        outcrop_fit_runs=[round(x, 2) for x in ours_fit],
        library_fit_runs=[round(x, 2) for x in theirs_fit],
        outcrop_fit_cpu_runs=[round(x, 2) for x in ours_cpu],
        library_fit_cpu_runs=[round(x, 2) for x in theirs_cpu],
        get_recommendations_p50_ms=round(statistics.median(latencies), 2),
        get_recommendations_p99_ms=round(float(np.percentile(latencies, 99)), 2),
    )
    report(
        f"Personalize aws-user-personalization (ALS {FACTORS} factors, {ITERATIONS} iterations), "
        f"{len(rows)} interactions, medians of {RUNS} rounds taking turns, NDCG on shared splits",
        [
            ("", "Outcrop (boto3)", "implicit direct"),
            ("ALS fit (s)", f"{fit:.2f}", f"{base:.2f}"),
            ("ALS fit CPU (s)", f"{fit_cpu:.2f}", f"{base_cpu:.2f}"),
            ("create to ACTIVE (s)", f"{total:.2f}", ""),
            ("throughput ratio (fit, wall / CPU)", f"{figures['fit_throughput_ratio']:.3f}", ""),
            ("", f"{figures['fit_cpu_throughput_ratio']:.3f}", ""),
            (
                "NDCG@10 held out",
                f"{figures['outcrop_ndcg_at_10']:.4f}",
                f"{figures['library_ndcg_at_10']:.4f}",
            ),
            (
                "GetRecommendations p50/p99 (ms)",
                f"{figures['get_recommendations_p50_ms']}/{figures['get_recommendations_p99_ms']}",
                "",
            ),
        ],
    )
    print("Figures are noisy: 2 cores shared with other work.")
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
