"""The fraud model: event variables encoded as features, a gradient-boosted classifier (scikit-learn's
HistGradientBoostingClassifier), and scores 0..1000 tied to the false positive rate as AWS's are.

The score of an event is read off its probability's false positive rate on the held-out legitimate
events: FPR 10% scores 600 and FPR 2% scores 900 (AWS's documented points), interpolated in log(FPR)
between FPR 100% (0) and FPR 0.1% (1000). Validation holds out 15% of the events, as AWS does (by time
for TRANSACTION_FRAUD_INSIGHTS, stratified at random otherwise).
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_CATEGORIES = 254  # HistGradientBoosting's limit on a categorical feature (255 with missing)
VALIDATION_SHARE = 0.15
MIN_PER_CLASS = 20  # Outcrop's floor: fewer events of a class cannot train or validate a model
_ANCHOR_LOG_FPR = [math.log10(0.001), math.log10(0.02), math.log10(0.1), 0.0]
_ANCHOR_SCORE = [1000.0, 900.0, 600.0, 0.0]
THRESHOLDS = [float(t) for t in range(0, 1001, 10)]

Matrix = npt.NDArray[np.float64]


class TrainingFailed(Exception):
    """The data cannot train a model; the message is the data validation error shown to the caller."""


@dataclass(frozen=True)
class Column:
    """One model variable: its name, data type (STRING, INTEGER, FLOAT, BOOLEAN, DATETIME), variable type."""

    name: str
    data_type: str
    variable_type: str = ""


@dataclass
class Encoder:
    """Turns event variables (strings, as events carry them) into a feature row the model reads."""

    columns: list[Column]
    vocabularies: dict[str, dict[str, int]] = field(default_factory=dict)

    def features(self) -> list[tuple[str, str, bool]]:
        """(feature name, variable it comes from, categorical?) in column order."""
        found = []
        for column in self.columns:
            categorical = column.data_type == "STRING"
            found.append((column.name, column.name, categorical))
            if column.variable_type == "EMAIL_ADDRESS":
                found.append((column.name + ".domain", column.name, True))
        return found

    def fit(self, rows: list[dict[str, str]]) -> None:
        for name, _, categorical in self.features():
            if categorical:
                counts: dict[str, int] = {}
                for row in rows:
                    value = self._raw(name, row)
                    if value is not None:
                        counts[value] = counts.get(value, 0) + 1
                top = sorted(counts, key=lambda v: (-counts[v], v))[:MAX_CATEGORIES]
                self.vocabularies[name] = {value: code for code, value in enumerate(top)}

    def transform(self, rows: list[dict[str, str]]) -> Matrix:
        features = self.features()
        matrix = np.full((len(rows), len(features)), np.nan)
        types = {c.name: c.data_type for c in self.columns}
        for j, (name, source, categorical) in enumerate(features):
            vocabulary = self.vocabularies.get(name, {})
            for i, row in enumerate(rows):
                raw = self._raw(name, row)
                if raw is None:
                    continue
                if categorical:
                    matrix[i, j] = vocabulary.get(raw, np.nan)
                else:
                    matrix[i, j] = _number(raw, types[source])
        return matrix

    def categorical_mask(self) -> list[bool]:
        return [categorical for _, _, categorical in self.features()]

    @staticmethod
    def _raw(name: str, row: dict[str, str]) -> str | None:
        source, _, part = name.partition(".")
        value = row.get(source)
        if value is None or value == "":
            return None
        if part == "domain":
            return value.rpartition("@")[2].lower() or None
        return value


def _number(raw: str, data_type: str) -> float:
    try:
        if data_type == "BOOLEAN":
            return {"true": 1.0, "false": 0.0}.get(raw.strip().lower(), math.nan)
        if data_type == "DATETIME":
            return float(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp())
        return float(raw)
    except ValueError:
        return math.nan


@dataclass
class FraudModel:
    """A trained model with what scoring needs: the encoder and the held-out legitimate probabilities."""

    encoder: Encoder
    estimator: Any
    legit_validation: Matrix  # sorted probabilities of the held-out legitimate events

    def probabilities(self, rows: list[dict[str, str]]) -> Matrix:
        result: Matrix = self.estimator.predict_proba(self.encoder.transform(rows))[:, 1]
        return result

    def scores(self, rows: list[dict[str, str]]) -> list[float]:
        return [score_of(p, self.legit_validation) for p in self.probabilities(rows)]

    def impacts(self, row: dict[str, str]) -> dict[str, float]:
        """Each variable's log-odds impact on this event: its log-odds less the log-odds without it."""
        names = [c.name for c in self.encoder.columns]
        matrix = np.repeat(self.encoder.transform([row]), len(names) + 1, axis=0)
        features = self.encoder.features()
        for k, name in enumerate(names, start=1):
            for j, (_, source, _) in enumerate(features):
                if source == name:
                    matrix[k, j] = np.nan
        odds = _log_odds(self.estimator.predict_proba(matrix)[:, 1])
        return {name: float(odds[0] - odds[k]) for k, name in enumerate(names, start=1)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(pickle.dumps(self))
        temporary.replace(path)

    @staticmethod
    def load(path: Path) -> FraudModel:
        model: FraudModel = pickle.loads(path.read_bytes())
        return model


def _log_odds(p: Matrix) -> Matrix:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    result: Matrix = np.log(clipped / (1 - clipped))
    return result


def score_of(probability: float, legit: Matrix) -> float:
    """0..1000 from the share of held-out legitimate events scoring at least this probability."""
    above = len(legit) - int(np.searchsorted(legit, probability, side="left"))
    fpr = (above + 0.5) / (len(legit) + 1)
    return float(round(np.interp(math.log10(fpr), _ANCHOR_LOG_FPR, _ANCHOR_SCORE)))


@dataclass(frozen=True)
class TrainingOutput:
    model: FraudModel
    metrics: dict[str, Any]  # trainingMetrics: auc, metricDataPoints
    importance: list[dict[str, Any]]  # logOddsMetrics
    uncertainty: tuple[float, float]
    counts: tuple[int, int]  # (fraud, legit) events used


def train(
    columns: list[Column], rows: list[dict[str, str]], labels: list[int], *, by_time: bool, seed: int = 0
) -> TrainingOutput:
    """Fit on 85% of the events, measure on the other 15%. Rows are in time order when `by_time`."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    y = np.asarray(labels, dtype=np.int64)
    fraud, legit = int(y.sum()), int(len(y) - y.sum())
    if fraud < MIN_PER_CLASS or legit < MIN_PER_CLASS:
        raise TrainingFailed(
            f"Insufficient data: {fraud} fraud and {legit} legitimate events; "
            f"training needs at least {MIN_PER_CLASS} of each"
        )
    train_at, valid_at = split(y, by_time=by_time, seed=seed)
    if len(set(y[valid_at].tolist())) < 2 or len(set(y[train_at].tolist())) < 2:
        raise TrainingFailed(
            "Insufficient data: the held-out 15% of the events lacks a fraud or legitimate event"
        )
    encoder = Encoder(columns)
    encoder.fit([rows[i] for i in train_at])
    x = encoder.transform(rows)
    estimator = HistGradientBoostingClassifier(
        max_iter=200, categorical_features=encoder.categorical_mask() or None, random_state=seed
    )
    estimator.fit(x[train_at], y[train_at])
    p_valid = estimator.predict_proba(x[valid_at])[:, 1]
    y_valid = y[valid_at]
    model = FraudModel(encoder, estimator, np.sort(p_valid[y_valid == 0]))
    auc = float(roc_auc_score(y_valid, p_valid))
    scores = np.asarray([score_of(p, model.legit_validation) for p in p_valid])
    points = [_point(t, scores, y_valid) for t in THRESHOLDS]
    importance = _importance(model, x[valid_at], columns)
    return TrainingOutput(
        model,
        {"auc": round(auc, 4), "metricDataPoints": points},
        importance,
        _auc_range(auc, int(y_valid.sum()), int(len(y_valid) - y_valid.sum())),
        (fraud, legit),
    )


def split(y: npt.NDArray[np.int64], *, by_time: bool, seed: int) -> tuple[list[int], list[int]]:
    """Indices to train on and to validate on."""
    n = len(y)
    if by_time:
        cut = n - max(1, round(n * VALIDATION_SHARE))
        return list(range(cut)), list(range(cut, n))
    rng = np.random.default_rng(seed)
    train_at: list[int] = []
    valid_at: list[int] = []
    for label in (0, 1):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        k = max(1, round(len(members) * VALIDATION_SHARE))
        valid_at += members[:k].tolist()
        train_at += members[k:].tolist()
    return sorted(train_at), sorted(valid_at)


def _point(threshold: float, scores: Matrix, y: npt.NDArray[np.int64]) -> dict[str, float]:
    flagged = scores >= threshold
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    return {
        "fpr": round(fp / negatives, 4) if negatives else 0.0,
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "tpr": round(tp / positives, 4) if positives else 0.0,
        "threshold": threshold,
    }


def _importance(model: FraudModel, x_valid: Matrix, columns: list[Column]) -> list[dict[str, Any]]:
    """Mean absolute change in log-odds over the held-out events when a variable is taken away."""
    base = _log_odds(model.estimator.predict_proba(x_valid)[:, 1])
    features = model.encoder.features()
    found = []
    for column in columns:
        without = x_valid.copy()
        for j, (_, source, _) in enumerate(features):
            if source == column.name:
                without[:, j] = np.nan
        change = np.abs(base - _log_odds(model.estimator.predict_proba(without)[:, 1]))
        found.append(
            {
                "variableName": column.name,
                "variableType": column.variable_type or column.data_type,
                "variableImportance": round(float(change.mean()), 4),
            }
        )
    return sorted(found, key=lambda m: -float(m["variableImportance"]))


def _auc_range(auc: float, positives: int, negatives: int) -> tuple[float, float]:
    """A 95% range for the AUC from its Hanley-McNeil standard error."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / max(1, positives * negatives)
    margin = 1.96 * math.sqrt(max(variance, 0.0))
    return round(max(0.0, auc - margin), 4), round(min(1.0, auc + margin), 4)
