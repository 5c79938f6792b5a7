"""Recommendations from a trained solution version, for campaigns and batch inference jobs alike.

User-personalization scores are a softmax over every item, as Personalize's sum to 1 over the catalog;
ranking scores a softmax over the input list; related-items and popularity answers carry no score.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outcrop.personalize import filters
from outcrop.personalize.errors import InvalidInput
from outcrop.personalize.model import Model
from outcrop.personalize.store import PersonalizeStore, Resource, model_file

MAX_CACHED = 8


@dataclass(frozen=True)
class Ask:
    """One request: who or what to recommend for, how many, and through which filter."""

    user_id: str | None = None
    item_id: str | None = None
    num_results: int = 25
    filter: Resource | None = None
    filter_values: Mapping[str, str] | None = None


def model_path(root: Path, arn: str) -> Path:
    """A trained model's file: `...:eu-west-1:123:recommender/name` -> eu-west-1_123_recommender_name.npz"""
    return model_file(root, arn)


def remove_model(root: Path, arn: str) -> None:
    model_path(root, arn).unlink(missing_ok=True)


def datasets_of(store: PersonalizeStore, group_arn: str) -> dict[str, str]:
    """{datasetType: datasetArn} of a dataset group."""
    return {d.doc["datasetType"]: d.arn for d in store.list_of("dataset", group_arn)}


class Recommender:
    def __init__(self, store: PersonalizeStore, models: Path) -> None:
        self.store = store
        self.models = models
        self._cache: dict[tuple[str, float], Model] = {}
        self._catalogs: dict[
            tuple[str, int, str, float], tuple[dict[str, dict[str, Any]], dict[filters.Condition, np.ndarray]]
        ] = {}
        self._lock = threading.Lock()

    def model(self, arn: str, created: float) -> Model:
        """The trained model of a version or recommender, loaded once; keyed by creation time too, as a
        recommender deleted and made again under its name has the same ARN and a new model."""
        key = (arn, created)
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = Model.load(model_path(self.models, arn))
                if len(self._cache) >= MAX_CACHED:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = found
            return found

    def recommend(self, version: Resource, ask: Ask) -> list[tuple[str, float | None]]:
        model = self.model(version.arn, version.created)
        kind = version.doc["recipeType"]
        datasets = datasets_of(self.store, version.doc["datasetGroupArn"])
        history, events = self._history(version, datasets, ask.user_id, model)
        if kind == "RELATED_ITEMS":
            if not ask.item_id:
                raise InvalidInput("itemId is required for a related-items recipe.")
            index = model.item_index.get(ask.item_id)
            scores = model.item_scores([index] if index is not None else [])
            exclude = [index] if index is not None else []
            if version.doc.get("excludeSeen"):  # a use case that leaves out what the user has watched
                exclude += history
        else:
            if not ask.user_id:
                raise InvalidInput("userId is required for a user-personalization recipe.")
            scores = model.user_scores(ask.user_id, history)
            exclude = []
        mask = self._mask(version, model, ask, datasets, events)
        mask[exclude] = False
        order = [int(i) for i in np.argsort(-scores, kind="stable") if mask[i]][: ask.num_results]
        if kind == "RELATED_ITEMS" or version.doc["algorithm"] == "popularity":
            return [(model.items[i], None) for i in order]
        probabilities = _softmax(scores)
        return [(model.items[i], round(float(probabilities[i]), 7)) for i in order]

    def rank(self, version: Resource, ask: Ask, input_list: list[str]) -> list[tuple[str, float | None]]:
        model = self.model(version.arn, version.created)
        datasets = datasets_of(self.store, version.doc["datasetGroupArn"])
        history, events = self._history(version, datasets, ask.user_id, model)
        scores = model.user_scores(ask.user_id, history)
        mask = self._mask(version, model, ask, datasets, events)
        known = [(t, float(scores[model.item_index[t]])) for t in input_list if t in model.item_index]
        known = [(t, s) for t, s in known if mask[model.item_index[t]]]
        known.sort(key=lambda pair: -pair[1])
        unknown = [t for t in input_list if t not in model.item_index]  # no data: ranked last, unscored
        probabilities = _softmax(np.array([s for _, s in known])) if known else np.array([])
        ranked: list[tuple[str, float | None]] = [
            (t, round(float(p), 7)) for (t, _), p in zip(known, probabilities, strict=True)
        ]
        return ranked + [(t, None) for t in unknown]

    def _history(
        self, version: Resource, datasets: Mapping[str, str], user_id: str | None, model: Model
    ) -> tuple[list[int], dict[str, set[str]]]:
        """The user's interactions as item indexes (oldest first), and their event types per item."""
        if not user_id or "Interactions" not in datasets:
            return [], {}
        wanted = version.doc.get("eventType")
        rows = sorted(self.store.interactions(datasets["Interactions"], user_id), key=lambda r: r.timestamp)
        events: dict[str, set[str]] = {}
        history: list[int] = []
        for row in rows:
            events.setdefault(row.item_id, set()).add((row.event_type or "").lower())
            if wanted and (row.event_type or "").lower() != wanted.lower():
                continue
            index = model.item_index.get(row.item_id)
            if index is not None:
                history.append(index)
        return history, events

    def _mask(
        self,
        version: Resource,
        model: Model,
        ask: Ask,
        datasets: Mapping[str, str],
        events: dict[str, set[str]],
    ) -> np.ndarray:
        if ask.filter is None:
            return np.ones(len(model.items), dtype=bool)
        clauses = filters.parse(ask.filter.doc["filterExpression"], ask.filter.doc.get("itemFields"))
        fields, masks = self._catalog(datasets.get("Items"), version)
        current = (
            fields.get(ask.item_id, {})
            if ask.item_id and version.doc["recipeType"] == "RELATED_ITEMS"
            else None
        )
        context = filters.Context(model.items, model.item_index, fields, events, masks, current)
        return filters.allowed(clauses, context, dict(ask.filter_values or {}))

    def _catalog(
        self, dataset: str | None, version: Resource
    ) -> tuple[dict[str, dict[str, Any]], dict[filters.Condition, np.ndarray]]:
        """The Items rows and the item masks worked out from them, kept until the Items dataset changes."""
        if dataset is None:
            return {}, {}
        key = (dataset, self.store.entity_version(dataset), version.arn, version.created)
        with self._lock:
            found = self._catalogs.get(key)
        if found is None:
            found = (self.store.entities(dataset), {})
            with self._lock:
                if len(self._catalogs) >= MAX_CACHED:
                    self._catalogs.pop(next(iter(self._catalogs)))
                self._catalogs[key] = found
        return found


def _softmax(scores: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(scores), scores, -1e30)
    shifted = np.exp(finite - finite.max())
    result: np.ndarray = shifted / shifted.sum()
    return result
