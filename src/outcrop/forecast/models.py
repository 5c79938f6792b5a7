"""Statistical forecasting with statsforecast, backtests, and the accuracy metrics Amazon Forecast reports.

A predictor is trained by backtesting: each window holds out `horizon` points before the series' end,
each candidate model forecasts them from what came before, and the metrics compare. AutoPredictor keeps,
per series, the candidate with the best optimization metric (as AWS's AutoPredictor chooses per series);
a legacy predictor uses the one algorithm it names, or with AutoML the one that is best over all series.
Quantiles come from the model's Gaussian prediction intervals: q < 0.5 is the lower bound of the
(1 - 2q) interval, q > 0.5 the upper bound of the (2q - 1) one, and 0.5 the point forecast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]
ALGORITHMS = ("ETS", "ARIMA", "SeasonalNaive")  # the names after `algorithm/` in an AlgorithmArn
AUTO_CANDIDATES = ALGORITHMS
MIN_TRAIN = 4  # points a model needs before a backtest window


class ModelError(Exception):
    """A model could not fit or forecast this series."""


def _estimator(name: str, season: int) -> Any:
    """The statsforecast model for an algorithm name (imported on first use: it takes seconds)."""
    try:
        from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive
    except ImportError as exc:  # pragma: no cover - the ml extra is part of every install
        raise ModelError("statsforecast is not installed: pip install 'outcrop[ml]'") from exc
    if name == "ETS":
        return AutoETS(season_length=season)
    if name == "ARIMA":
        return AutoARIMA(season_length=season)
    if name == "SeasonalNaive":
        return SeasonalNaive(season_length=season)
    raise ModelError(f"unknown algorithm {name}")


def quantile_key(forecast_type: str) -> float | None:
    """0.1 for '0.1', None for 'mean'."""
    return None if forecast_type == "mean" else float(forecast_type)


def predict(name: str, y: Array, horizon: int, season: int, types: Sequence[str]) -> dict[str, Array]:
    """Each forecast type's values for the `horizon` points after `y`."""
    season = season if season > 1 and len(y) >= 2 * season else 1
    levels = sorted({_level(q) for t in types if (q := quantile_key(t)) not in (None, 0.5)})
    try:
        raw = _estimator(name, season).forecast(y=np.asarray(y, dtype=float), h=horizon, level=levels or None)
    except Exception as exc:  # statsforecast raises plain ValueErrors/LinAlgErrors on degenerate input
        raise ModelError(f"{name} could not fit the series: {exc}") from exc
    mean = np.asarray(raw["mean"], dtype=float)
    if not np.all(np.isfinite(mean)):
        raise ModelError(f"{name} gave a non-finite forecast")
    out: dict[str, Array] = {}
    for forecast_type in types:
        q = quantile_key(forecast_type)
        if q is None or q == 0.5:
            out[forecast_type] = mean
        else:
            side = "lo" if q < 0.5 else "hi"
            values = np.asarray(raw[f"{side}-{_level(q)}"], dtype=float)
            out[forecast_type] = np.where(np.isfinite(values), values, mean)
    return out


def _level(q: float) -> int | float:
    """The prediction-interval level (percent) whose bound is quantile q; an int where whole, since
    statsforecast names its columns after the level as given (`lo-80`, `lo-98.5`)."""
    level = round(abs(2 * q - 1) * 100, 6)
    return int(level) if level.is_integer() else level


# -- metrics ----------------------------------------------------------------------------------------------


@dataclass
class Scored:
    """One series in one test window: its history, the held-out actuals and each type's forecast."""

    history: Array
    actual: Array
    forecasts: dict[str, Array]


def metrics(scored: Sequence[Scored], types: Sequence[str], season: int) -> dict[str, Any]:
    """Forecast's `Metrics` structure over the series of one window (wQL per quantile, error metrics
    per forecast type, RMSE of the mean forecast)."""
    actual = np.concatenate([s.actual for s in scored])
    total = float(np.abs(actual).sum()) or 1.0
    losses = []
    for forecast_type in types:
        q = quantile_key(forecast_type)
        if q is None:
            continue
        pred = np.concatenate([s.forecasts[forecast_type] for s in scored])
        loss = 2 * float(np.sum(q * np.maximum(actual - pred, 0) + (1 - q) * np.maximum(pred - actual, 0)))
        losses.append({"Quantile": q, "LossValue": loss / total})
    errors = [_errors(scored, t, season, total) for t in types]
    point = "mean" if "mean" in types else min(types, key=lambda t: abs((quantile_key(t) or 0.5) - 0.5))
    out: dict[str, Any] = {
        "RMSE": next(e["RMSE"] for e in errors if e["ForecastType"] == point),
        "WeightedQuantileLosses": losses,
        "ErrorMetrics": errors,
    }
    if losses:
        out["AverageWeightedQuantileLoss"] = float(np.mean([loss["LossValue"] for loss in losses]))
    return out


def _errors(scored: Sequence[Scored], forecast_type: str, season: int, total: float) -> dict[str, Any]:
    abs_err = [np.abs(s.actual - s.forecasts[forecast_type]) for s in scored]
    squared = np.concatenate([e**2 for e in abs_err])
    mapes, mases = [], []
    for s, err in zip(scored, abs_err, strict=True):
        nonzero = s.actual != 0
        if nonzero.any():
            mapes.append(float(np.mean(err[nonzero] / np.abs(s.actual[nonzero]))))
        scale = _mase_scale(s.history, season)
        if scale > 0:
            mases.append(float(np.mean(err)) / scale)
    return {
        "ForecastType": forecast_type,
        "WAPE": float(np.concatenate(abs_err).sum()) / total,
        "RMSE": math.sqrt(float(squared.mean())),
        "MASE": float(np.mean(mases)) if mases else 0.0,
        "MAPE": float(np.mean(mapes)) if mapes else 0.0,
    }


def _mase_scale(history: Array, season: int) -> float:
    """Mean absolute seasonal difference of the history (the seasonal naive in-sample error)."""
    m = season if len(history) > season else 1
    if len(history) <= m:
        return 0.0
    return float(np.mean(np.abs(history[m:] - history[:-m])))


def score(metric: Mapping[str, Any], optimization: str) -> float:
    """The number an optimization metric minimizes in a `metrics` result."""
    if optimization == "AverageWeightedQuantileLoss" and "AverageWeightedQuantileLoss" in metric:
        return float(metric["AverageWeightedQuantileLoss"])
    key = "WAPE" if optimization == "AverageWeightedQuantileLoss" else optimization
    errors = metric["ErrorMetrics"]
    chosen = next((e for e in errors if e["ForecastType"] == "mean"), errors[0])
    return float(chosen[key])


# -- training ---------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a predictor trains: the horizon, backtest windows, forecast types and candidate algorithms."""

    horizon: int
    season: int
    types: list[str]
    candidates: list[str]
    windows: int = 1
    offset: int = 0  # 0: the horizon
    optimization: str = "AverageWeightedQuantileLoss"
    per_series: bool = True  # AutoPredictor: the best candidate per series; else one for all


@dataclass
class Trained:
    """The chosen algorithm per series, the backtest windows (as indexes into each series' end),
    the accuracy of what was chosen per window (and of each candidate, for a legacy AutoML run), and the
    chosen algorithm's backtest of each series per window (None where the series was too short)."""

    choices: dict[str, str]
    windows: list[int]
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    backtests: dict[str, list[Scored | None]] = field(default_factory=dict)


def window_ends(length: int, plan: Plan) -> list[int]:
    """How many points before a series' end each backtest window starts (latest window first)."""
    offset = plan.offset or plan.horizon
    return [
        offset + k * plan.horizon
        for k in range(plan.windows)
        if length - offset - k * plan.horizon >= MIN_TRAIN
    ]


def train(
    series: Mapping[str, Array], plan: Plan, progress: Callable[[str], None] = lambda _: None
) -> Trained:
    """Backtest every candidate on every series, choose, and score the choice per window."""
    if plan.windows < 1:
        raise ModelError("at least one backtest window is needed")
    longest = max(len(y) for y in series.values())
    backs = window_ends(longest, plan)
    if len(backs) < plan.windows:
        raise ModelError(
            f"the longest series has {longest} points, too few for {plan.windows} backtest window(s) of "
            f"{plan.horizon} points with {MIN_TRAIN} points of history before each"
        )
    tested: dict[str, dict[str, list[Scored | None]]] = {}  # key -> algorithm -> per window
    for done, (key, y) in enumerate(series.items()):
        tested[key] = {name: [_backtest(name, y, back, plan) for back in backs] for name in plan.candidates}
        if (done + 1) % 10 == 0 or done + 1 == len(series):
            progress(f"backtested {done + 1} of {len(series)} series")
    choices = _choose(tested, plan, backs)
    trained = Trained(choices=choices, windows=backs)
    trained.backtests = {key: list(tested[key][name]) for key, name in choices.items()}
    if not plan.per_series and len(plan.candidates) > 1:
        for name in plan.candidates:
            trained.results[name] = _window_metrics(tested, dict.fromkeys(series, name), plan, backs)
    else:
        label = "AutoPredictor" if plan.per_series else plan.candidates[0]
        trained.results[label] = _window_metrics(tested, choices, plan, backs)
    return trained


def _backtest(name: str, y: Array, back: int, plan: Plan) -> Scored | None:
    if len(y) - back < MIN_TRAIN:
        return None
    history, actual = y[: len(y) - back], y[len(y) - back : len(y) - back + plan.horizon]
    try:
        forecasts = predict(name, history, plan.horizon, plan.season, plan.types)
    except ModelError:
        return None
    return Scored(history, actual, {t: v[: len(actual)] for t, v in forecasts.items()})


def _choose(
    tested: Mapping[str, Mapping[str, list[Scored | None]]], plan: Plan, backs: list[int]
) -> dict[str, str]:
    def total(scored: list[Scored]) -> float:
        return score(metrics(scored, plan.types, plan.season), plan.optimization) if scored else math.inf

    if plan.per_series:
        choices = {}
        for key, by_name in tested.items():
            ranked = [(total([s for s in by_name[n] if s]), i, n) for i, n in enumerate(plan.candidates)]
            choices[key] = min(ranked)[2]
        return choices
    overall = [
        (total([s for by_name in tested.values() for s in by_name[n] if s]), i, n)
        for i, n in enumerate(plan.candidates)
    ]
    best = min(overall)[2]
    return dict.fromkeys(tested, best)


def _window_metrics(
    tested: Mapping[str, Mapping[str, list[Scored | None]]],
    choices: Mapping[str, str],
    plan: Plan,
    backs: list[int],
) -> list[dict[str, Any]]:
    out = []
    for w, back in enumerate(backs):
        scored = [s for key, name in choices.items() if (s := tested[key][name][w]) is not None]
        if scored:
            out.append(
                {"back": back, "items": len(scored), "metrics": metrics(scored, plan.types, plan.season)}
            )
    return out


def forecast_all(
    series: Mapping[str, Array], choices: Mapping[str, str], plan: Plan
) -> dict[str, dict[str, list[float]]]:
    """Each series' forecast types over the horizon after its end, by the algorithm chosen for it (the
    next candidate where that one cannot fit the whole series)."""
    out: dict[str, dict[str, list[float]]] = {}
    for key, y in series.items():
        order = [choices.get(key, plan.candidates[0]), *plan.candidates, "SeasonalNaive"]
        for name in dict.fromkeys(order):
            try:
                values = predict(name, y, plan.horizon, plan.season, plan.types)
            except ModelError:
                continue
            out[key] = {t: [float(v) for v in arr] for t, arr in values.items()}
            break
        else:
            raise ModelError(f"no model could forecast the series {key}")
    return out
