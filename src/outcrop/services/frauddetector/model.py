"""The fraud model: event variables encoded as features, a gradient-boosted classifier (scikit-learn's
HistGradientBoostingClassifier), and scores 0..1000 tied to the false positive rate as AWS's are.

The score of an event is read off its probability's false positive rate on the held-out legitimate
events: FPR 10% scores 600 and FPR 2% scores 900 (AWS's documented points), interpolated in log(FPR)
between FPR 100% (0) and FPR 0.1% (1000). Validation holds out 15% of the events, as AWS does (by time
for TRANSACTION_FRAUD_INSIGHTS, stratified at random otherwise).
"""

from __future__ import annotations

import functools
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
IMPORTANCE_SAMPLE = 500  # held-out events the variable importance is measured on
THRESHOLDS = [float(t) for t in range(0, 1001, 10)]

Matrix = npt.NDArray[np.float64]
Indices = list[int] | npt.NDArray[np.intp]  # rows, by position


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
            if column.variable_type == "EMAIL_ADDRESS":  # the domain carries the signal; addresses are unique
                found.append((column.name + ".domain", column.name, True))
            else:
                found.append((column.name, column.name, column.data_type == "STRING"))
        return found

    def fit_transform(self, rows: list[dict[str, str]], fit_on: Indices) -> Matrix:
        """Learn the category codes from the rows at `fit_on`, and encode every row."""
        return self._encode(rows, fit_on)

    def transform(self, rows: list[dict[str, str]]) -> Matrix:
        return self._encode(rows, None)

    def _encode(self, rows: list[dict[str, str]], fit_on: Indices | None) -> Matrix:
        features = self.features()
        matrix = np.full((len(rows), len(features)), np.nan)
        types = {c.name: c.data_type for c in self.columns}
        nan = math.nan
        for j, (name, source, categorical) in enumerate(features):
            raws = _raws(name, rows)
            if categorical:
                matrix[:, j] = self._codes(name, raws, fit_on)
            elif types[source] in ("FLOAT", "INTEGER"):
                matrix[:, j] = _floats(raws)
            elif types[source] == "BOOLEAN":
                flags = {"true": 1.0, "false": 0.0}
                matrix[:, j] = [nan if raw is None else flags.get(raw.strip().lower(), nan) for raw in raws]
            else:
                matrix[:, j] = [nan if raw is None else _number(raw, types[source]) for raw in raws]
        return matrix

    def _codes(self, name: str, raws: list[str | None], fit_on: Indices | None) -> Matrix:
        """A categorical feature's codes (NaN where absent or unknown): each row's value is numbered in one
        pass, then counted and looked up once per distinct value, not per row."""
        index: dict[str | None, int] = {}
        number = index.setdefault
        inverse = np.array([number(raw, len(index)) for raw in raws], dtype=np.intp)
        distinct = list(index)
        if fit_on is not None:
            counts = np.bincount(inverse[fit_on], minlength=len(distinct)).tolist()
            seen = [k for k, n in enumerate(counts) if n and distinct[k] is not None]
            top = sorted(seen, key=lambda k: (-counts[k], distinct[k]))[:MAX_CATEGORIES]
            self.vocabularies[name] = {str(distinct[k]): code for code, k in enumerate(top)}
        get = self.vocabularies.get(name, {}).get
        code_of = np.array([math.nan if v is None else get(v, math.nan) for v in distinct], dtype=np.float64)
        codes: Matrix = code_of[inverse]
        return codes

    def categorical_mask(self) -> list[bool]:
        return [categorical for _, _, categorical in self.features()]


def _raws(name: str, rows: list[dict[str, str]]) -> list[str | None]:
    """One feature's raw values: the variable's (None when absent or empty), or its e-mail domain."""
    source, _, part = name.partition(".")
    values = [row.get(source) or None for row in rows]
    if part == "domain":
        return [v.rpartition("@")[2].lower() or None if v else None for v in values]
    return values


def _floats(raws: list[str | None]) -> Matrix:
    """Numbers from text, NaN where absent or not a number (numpy parses the common case in one pass)."""
    try:
        values: Matrix = np.array(["nan" if raw is None else raw for raw in raws], dtype=np.float64)
    except ValueError:
        values = np.array([math.nan if raw is None else _float(raw) for raw in raws], dtype=np.float64)
    values[np.isinf(values)] = math.nan  # "inf" parses, but no tree can split on it
    return values


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan


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
        return self.fraud_probability(self.encoder.transform(rows))

    def fraud_probability(self, matrix: Matrix) -> Matrix:
        """The estimator's fraud probabilities on one OpenMP thread: on a busy machine, a thread pool
        spinning for cores others hold made one event's prediction 0.5 s instead of 17 ms (measured)."""
        with _one_thread():
            result: Matrix = self.estimator.predict_proba(matrix)[:, 1]
        return result

    def scores(self, rows: list[dict[str, str]]) -> list[float]:
        return [float(s) for s in scores_of(self.probabilities(rows), self.legit_validation)]

    def explain(self, row: dict[str, str]) -> tuple[float, dict[str, float]]:
        """This event's score, and each variable's log-odds impact on it: its log-odds less the log-odds
        without it (the event and its variants scored in one call, the score read off the first)."""
        names = [c.name for c in self.encoder.columns]
        matrix = np.repeat(self.encoder.transform([row]), len(names) + 1, axis=0)
        features = self.encoder.features()
        for k, name in enumerate(names, start=1):
            for j, (_, source, _) in enumerate(features):
                if source == name:
                    matrix[k, j] = np.nan
        probabilities = self.fraud_probability(matrix)
        score = float(scores_of(probabilities[:1], self.legit_validation)[0])
        odds = _log_odds(probabilities)
        return score, {name: float(odds[0] - odds[k]) for k, name in enumerate(names, start=1)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(pickle.dumps(self))
        temporary.replace(path)

    @staticmethod
    def load(path: Path) -> FraudModel:
        model: FraudModel = pickle.loads(path.read_bytes())
        return model


@functools.cache
def _threadpools() -> Any:
    """The process's thread pools, found once (after scikit-learn's OpenMP is loaded, by a model)."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()


def _one_thread() -> Any:
    return _threadpools().limit(limits=1, user_api="openmp")


def _log_odds(p: Matrix) -> Matrix:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    result: Matrix = np.log(clipped / (1 - clipped))
    return result


def scores_of(probabilities: Matrix, legit: Matrix) -> Matrix:
    """0..1000 from the share of held-out legitimate events scoring at least each probability."""
    above = len(legit) - np.searchsorted(legit, probabilities, side="left")
    fpr = (above + 0.5) / (len(legit) + 1)
    result: Matrix = np.round(np.interp(np.log10(fpr), _ANCHOR_LOG_FPR, _ANCHOR_SCORE))
    return result


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
    from threadpoolctl import threadpool_limits

    # Limits apply only to thread pools already loaded: sklearn's OpenMP is, by the imports above.
    with threadpool_limits(1):  # small tabular data: one thread beats contending for busy cores
        return _train(columns, rows, labels, by_time, seed, HistGradientBoostingClassifier, roc_auc_score)


def _train(
    columns: list[Column],
    rows: list[dict[str, str]],
    labels: list[int],
    by_time: bool,
    seed: int,
    classifier: Any,
    roc_auc_score: Any,
) -> TrainingOutput:
    y = np.asarray(labels, dtype=np.int64)
    fraud, legit = int(y.sum()), int(len(y) - y.sum())
    if fraud < MIN_PER_CLASS or legit < MIN_PER_CLASS:
        raise TrainingFailed(
            f"Insufficient data: {fraud} fraud and {legit} legitimate events; "
            f"training needs at least {MIN_PER_CLASS} of each"
        )
    train_list, valid_list = split(y, by_time=by_time, seed=seed)
    train_at, valid_at = np.asarray(train_list, dtype=np.intp), np.asarray(valid_list, dtype=np.intp)
    if len(np.unique(y[valid_at])) < 2 or len(np.unique(y[train_at])) < 2:
        raise TrainingFailed(
            "Insufficient data: the held-out 15% of the events lacks a fraud or legitimate event"
        )
    encoder = Encoder(columns)
    x = encoder.fit_transform(rows, train_at)
    estimator = classifier(
        max_iter=200, categorical_features=encoder.categorical_mask() or None, random_state=seed
    )
    estimator.fit(x[train_at], y[train_at])
    p_valid = estimator.predict_proba(x[valid_at])[:, 1]
    y_valid = y[valid_at]
    model = FraudModel(encoder, estimator, np.sort(p_valid[y_valid == 0]))
    auc = float(roc_auc_score(y_valid, p_valid))
    scores = scores_of(p_valid, model.legit_validation)
    points = _points(scores, y_valid)
    importance = _importance(model, x[valid_at[:: max(1, len(valid_at) // IMPORTANCE_SAMPLE)]], columns)
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
    train_at, valid_at = [], []
    for label in (0, 1):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        k = max(1, round(len(members) * VALIDATION_SHARE))
        valid_at.append(members[:k])
        train_at.append(members[k:])
    return np.sort(np.concatenate(train_at)).tolist(), np.sort(np.concatenate(valid_at)).tolist()


def _points(scores: Matrix, y: npt.NDArray[np.int64]) -> list[dict[str, float]]:
    """TPR, FPR and precision of flagging the events that score at least each threshold."""
    flagged = scores[None, :] >= np.asarray(THRESHOLDS)[:, None]
    tp = (flagged & (y == 1)[None, :]).sum(axis=1)
    fp = (flagged & (y == 0)[None, :]).sum(axis=1)
    positives, negatives = max(int((y == 1).sum()), 1), max(int((y == 0).sum()), 1)
    return [
        {
            "fpr": round(int(f) / negatives, 4),
            "precision": round(int(t) / int(t + f), 4) if t + f else 1.0,
            "tpr": round(int(t) / positives, 4),
            "threshold": threshold,
        }
        for threshold, t, f in zip(THRESHOLDS, tp, fp, strict=True)
    ]


def _importance(model: FraudModel, x_valid: Matrix, columns: list[Column]) -> list[dict[str, Any]]:
    """Mean absolute change in log-odds over the held-out events when a variable is taken away
    (every variant of the events scored in one call: a call's fixed cost dwarfs these few rows)."""
    features = model.encoder.features()
    variants = [x_valid]
    for column in columns:
        without = x_valid.copy()
        for j, (_, source, _) in enumerate(features):
            if source == column.name:
                without[:, j] = np.nan
        variants.append(without)
    odds = _log_odds(model.estimator.predict_proba(np.vstack(variants))[:, 1]).reshape(len(variants), -1)
    found = [
        {
            "variableName": column.name,
            "variableType": column.variable_type or column.data_type,
            "variableImportance": round(float(np.abs(odds[0] - odds[k]).mean()), 4),
        }
        for k, column in enumerate(columns, start=1)
    ]
    return sorted(found, key=lambda m: -float(m["variableImportance"]))


def _auc_range(auc: float, positives: int, negatives: int) -> tuple[float, float]:
    """A 95% range for the AUC from its Hanley-McNeil standard error."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / max(1, positives * negatives)
    margin = 1.96 * math.sqrt(max(variance, 0.0))
    return round(max(0.0, auc - margin), 4), round(min(1.0, auc + margin), 4)
