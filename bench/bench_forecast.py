"""Forecast: MASE and training time of Outcrop's AutoPredictor path against statsforecast called directly.

The M4 daily set is not packaged on the registries (datasetsforecast downloads it at run time), so the
data are generated: daily series with weekly seasonality, trend and noise. Both sides hold out the last
14 days, backtest AutoETS, AutoARIMA and SeasonalNaive on the 14 days before, keep the best per series,
and forecast the held-out days; MASE uses the weekly seasonal naive in-sample scale.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from outcrop.forecast import models

H, SEASON, SERIES, LENGTH = 14, 7, 24, 140


def _data() -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(2024)
    out = {}
    for i in range(SERIES):
        x = np.arange(LENGTH)
        weekly = rng.uniform(2, 10) * np.sin(2 * np.pi * (x + rng.integers(7)) / 7)
        out[f"s{i}"] = 50 + rng.uniform(-0.1, 0.2) * x + weekly + rng.normal(0, rng.uniform(0.5, 3), LENGTH)
    return out


def _mase(train: np.ndarray[Any, Any], actual: np.ndarray[Any, Any], pred: np.ndarray[Any, Any]) -> float:
    scale = float(np.mean(np.abs(train[SEASON:] - train[:-SEASON])))
    return float(np.mean(np.abs(actual - pred))) / scale


def _outcrop(train: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    plan = models.Plan(horizon=H, season=SEASON, types=["mean"], candidates=list(models.AUTO_CANDIDATES))
    trained = models.train(train, plan)
    made = models.forecast_all(train, trained.choices, plan)
    return {k: np.asarray(v["mean"]) for k, v in made.items()}


def _direct(train: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

    out = {}
    for key, y in train.items():
        history, check = y[:-H], y[-H:]
        makers = [
            lambda: AutoETS(season_length=SEASON),
            lambda: AutoARIMA(season_length=SEASON),
            lambda: SeasonalNaive(season_length=SEASON),
        ]
        errors = [float(np.mean(np.abs(m().forecast(y=history, h=H)["mean"] - check))) for m in makers]
        best = makers[int(np.argmin(errors))]
        out[key] = np.asarray(best().forecast(y=y, h=H)["mean"])
    return out


def run() -> dict[str, Any]:
    data = _data()
    train = {k: v[:-H] for k, v in data.items()}
    _direct({"warm": train["s0"]})  # imports and first calls out of the timing, for both sides
    result: dict[str, Any] = {"series": SERIES, "length": LENGTH, "horizon": H}
    for name, fn in (("statsforecast", _direct), ("outcrop", _outcrop)):
        started = time.perf_counter()
        made = fn(train)
        seconds = time.perf_counter() - started
        mase = float(np.mean([_mase(train[k], data[k][-H:], made[k]) for k in data]))
        result[name] = {"seconds": round(seconds, 2), "mase": round(mase, 4)}
    result["throughput_ratio"] = round(result["statsforecast"]["seconds"] / result["outcrop"]["seconds"], 3)
    return result


if __name__ == "__main__":
    started = time.perf_counter()
    import statsforecast.models  # noqa: F401

    print(f"first import of statsforecast: {time.perf_counter() - started:.1f} s")
    for key, value in run().items():
        print(f"{key}: {value}")
