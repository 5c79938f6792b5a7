"""Training a solution version with `implicit`, and its offline metrics on a held-out split.

The split follows Personalize's: 10% of users (at random, seeded) are test users; the most recent 10% of
each test user's interactions are held out, and their older 90% are the input the model recommends from.
Unlike Personalize, the test users' input stays in the training matrix, so one fit serves both the metrics
and the campaign (a user's factors are recomputed from their newest interactions when they are served).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]

from outcrop.personalize.errors import InvalidInput
from outcrop.personalize.model import REGULARIZATION, Model
from outcrop.personalize.store import Interaction

MIN_INTERACTIONS = 1000  # Personalize's minimum for training a solution version
MIN_USERS = 25  # ... and users with at least two interactions each
CUTOFFS = (5, 10, 25)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trained:
    model: Model
    metrics: dict[str, float]
    fit_seconds: float
    fit_cpu_seconds: float  # the server process's CPU seconds during the fit, all threads


@dataclass(frozen=True)
class Split:
    train: list[Interaction]
    inputs: dict[str, list[str]]  # test user -> items of their older 90%, oldest first
    held_out: dict[str, set[str]]  # test user -> items of their newest 10%


def check_enough(interactions: Sequence[Interaction]) -> None:
    """InvalidInput (the version's failure reason) when there is too little data to train, as on AWS."""
    per_user: dict[str, int] = defaultdict(int)
    for row in interactions:
        per_user[row.user_id] += 1
    if len(interactions) < MIN_INTERACTIONS:
        raise InvalidInput(
            f"There are not enough interactions to train: {len(interactions)} found, at least "
            f"{MIN_INTERACTIONS} are required."
        )
    users = sum(1 for n in per_user.values() if n >= 2)
    if users < MIN_USERS:
        raise InvalidInput(
            f"There are not enough users to train: {users} users have two or more interactions, at least "
            f"{MIN_USERS} are required."
        )


def split(interactions: Sequence[Interaction], seed: int) -> Split:
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for row in interactions:
        by_user[row.user_id].append(row)
    users = sorted(u for u, rows in by_user.items() if len(rows) >= 2)
    rng = np.random.default_rng(seed)
    count = max(1, len(users) // 10)
    test = {users[i] for i in rng.choice(len(users), size=count, replace=False)}
    train: list[Interaction] = []
    inputs: dict[str, list[str]] = {}
    held_out: dict[str, set[str]] = {}
    for user, rows in by_user.items():
        if user not in test:
            train.extend(rows)
            continue
        ordered = sorted(rows, key=lambda r: r.timestamp)
        cut = len(ordered) - max(1, len(ordered) // 10)
        train.extend(ordered[:cut])
        inputs[user] = [r.item_id for r in ordered[:cut]]
        held_out[user] = {r.item_id for r in ordered[cut:]} - set(inputs[user])
    return Split(train, inputs, {u: items for u, items in held_out.items() if items})


def matrix(rows: Sequence[Interaction], users: list[str], items: list[str]) -> sp.csr_matrix:
    """The users x items confidence matrix: how many times each user interacted with each item."""
    user_index = {u: i for i, u in enumerate(users)}
    item_index = {t: i for i, t in enumerate(items)}
    r = np.fromiter((user_index[x.user_id] for x in rows), dtype=np.int32, count=len(rows))
    c = np.fromiter((item_index[x.item_id] for x in rows), dtype=np.int32, count=len(rows))
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (r, c)), shape=(len(users), len(items)), dtype=np.float32)


def fit(algorithm: str, user_items: sp.csr_matrix, params: dict[str, float], seed: int) -> dict[str, Any]:
    """The arrays of a model trained by the recipe's algorithm on `user_items`."""
    popularity = np.asarray(user_items.sum(axis=0)).ravel().astype(np.float32)
    arrays: dict[str, Any] = {"popularity": popularity}
    if algorithm == "popularity":
        return arrays
    # implicit's own threads do the work; BLAS's pool on top of them only slows it down. implicit is
    # imported first: a limit applies only to the BLAS libraries already loaded, and it loads scipy's.
    from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]
    from implicit.cpu.bpr import BayesianPersonalizedRanking  # type: ignore[import-untyped]
    from implicit.nearest_neighbours import CosineRecommender  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if algorithm in ("als", "als-similar"):
            als = AlternatingLeastSquares(
                factors=int(params["hidden_dimension"]),
                regularization=params["regularization"],
                iterations=int(params["training_iterations"]),
                random_state=seed,
            )
            als.fit(user_items, show_progress=False)
            arrays.update(user_factors=als.user_factors, item_factors=als.item_factors)
        elif algorithm == "bpr":
            bpr = BayesianPersonalizedRanking(
                factors=int(params["hidden_dimension"]),
                iterations=int(params["training_iterations"]),
                random_state=seed,
            )
            bpr.fit(user_items, show_progress=False)
            arrays.update(user_factors=bpr.user_factors, item_factors=bpr.item_factors)
        elif algorithm == "item-cosine":
            cosine = CosineRecommender(K=int(params["neighbours"]))
            cosine.fit(user_items, show_progress=False)
            similarity = sp.csr_matrix(cosine.similarity)
            arrays.update(
                sim_data=similarity.data, sim_indices=similarity.indices, sim_indptr=similarity.indptr
            )
        else:
            raise ValueError(f"unknown algorithm {algorithm}")
    return arrays


def train(
    algorithm: str,
    interactions: Sequence[Interaction],
    catalog: Sequence[str],
    params: dict[str, float],
    seed: int,
    item_features: Mapping[str, list[str]] | None = None,
) -> Trained:
    """Split, fit once, measure on the held-out part: the model the campaign serves and its metrics.
    `item_features` (aws-similar-items) are the items' categorical metadata, kept beside the factors."""
    check_enough(interactions)
    parts = split(interactions, seed)
    users = sorted({r.user_id for r in interactions})
    items = sorted({r.item_id for r in interactions} | set(catalog))
    user_items = matrix(parts.train, users, items)
    if algorithm in ("als", "als-similar"):
        params = {**params, "regularization": REGULARIZATION}
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        arrays = fit(algorithm, user_items, params, seed)
    except ModuleNotFoundError as exc:
        raise InvalidInput(
            f"Training needs the 'ml' extra ({exc.name} is missing): pip install 'outcrop[ml]'"
        ) from None
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    log.info("Personalize %s fit: %.3f s, %.3f CPU s, %d x %d", algorithm, seconds, cpu, *user_items.shape)
    if item_features:
        arrays.update(_metadata(items, item_features))
    model = Model(algorithm, users, items, arrays, params)
    metrics = evaluate(model, parts)
    # Metrics judge the model on what it could not see; the one it serves counts every event, as AWS's
    # popularity recipes and cold-start fallbacks do.
    every_event = matrix(interactions, users, items)
    arrays["popularity"] = np.asarray(every_event.sum(axis=0)).ravel().astype(np.float32)
    return Trained(model, metrics, seconds, cpu)


def _metadata(items: Sequence[str], features: Mapping[str, list[str]]) -> dict[str, np.ndarray]:
    """Items x metadata tokens, each row scaled to unit length: cosine similarity by a dot product."""
    vocabulary: dict[str, int] = {}
    rows, columns = [], []
    for row, item in enumerate(items):
        for token in features.get(item, ()):
            rows.append(row)
            columns.append(vocabulary.setdefault(token, len(vocabulary)))
    shape = (len(items), max(len(vocabulary), 1))
    table = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=shape)
    table.data = np.minimum(table.data, 1.0)
    norms = np.sqrt(np.asarray(table.multiply(table).sum(axis=1)).ravel())
    table = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ table, dtype=np.float32)
    return {
        "meta_data": table.data,
        "meta_indices": table.indices,
        "meta_indptr": table.indptr,
        "meta_shape": np.array(table.shape),
    }


def evaluate(model: Model, parts: Split) -> dict[str, float]:
    """precision@K, NDCG@K (K = 5, 10, 25), MRR@25 and catalog coverage, named as Personalize names them."""
    totals: dict[str, float] = defaultdict(float)
    recommended: set[int] = set()
    users = 0
    for user, inputs in parts.inputs.items():
        relevant = parts.held_out.get(user)
        if not relevant:
            continue
        users += 1
        seen = [model.item_index[i] for i in inputs if i in model.item_index]
        related = model.recipe_kind == "related"
        scores = model.item_scores(seen) if related else model.user_scores(user, seen, recalculate=False)
        scores[seen] = -np.inf  # recommend what they go on to do, not what they did
        depth = min(max(CUTOFFS), len(scores))  # a catalog smaller than the deepest cutoff is all ranked
        best = np.argpartition(-scores, depth - 1)[:depth]
        top = best[np.argsort(-scores[best], kind="stable")]
        top = top[np.isfinite(scores[top])]
        recommended.update(int(i) for i in top)
        hits = np.zeros(max(CUTOFFS), dtype=bool)
        hits[: len(top)] = [model.items[i] in relevant for i in top]
        for k in CUTOFFS:
            gains = hits[:k] / np.log2(np.arange(2, k + 2))
            ideal = (1.0 / np.log2(np.arange(2, min(k, len(relevant)) + 2))).sum()
            totals[f"precision_at_{k}"] += hits[:k].sum() / k
            totals[f"normalized_discounted_cumulative_gain_at_{k}"] += gains.sum() / ideal
        first = np.flatnonzero(hits)
        totals["mean_reciprocal_rank_at_25"] += 1.0 / (first[0] + 1) if len(first) else 0.0
    metrics = {name: round(value / max(users, 1), 4) for name, value in sorted(totals.items())}
    metrics["coverage"] = round(len(recommended) / max(len(model.items), 1), 4)
    return metrics
