"""Forecast: MASE and training time of Outcrop's AutoPredictor path against statsforecast called directly.

The M4 daily set is not packaged on the registries (datasetsforecast downloads it at run time), so the
data are generated: daily series with weekly seasonality, trend and noise. Both sides hold out the last
14 days, backtest AutoETS, AutoARIMA and SeasonalNaive on the 14 days before, keep the best per series,
and forecast the held-out days; MASE uses the weekly seasonal naive in-sample scale.

The machine is shared, so the two sides take turns series by series (see `run`), CPU seconds are reported
beside wall seconds, and so are the load averages before and after; `overhead_seconds` is Outcrop's time
outside the library's calls (a profile showed the two sides make the very same statsforecast calls).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
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


@contextmanager
def _library_clock(spent: list[float]) -> Iterator[None]:
    """Adds to `spent[0]` the seconds Outcrop's path spends inside statsforecast's `forecast` calls, so
    what is left of its time is Outcrop's own overhead (the two sides make the same library calls)."""
    original = models._estimator

    def timed(name: str, season: int) -> Any:
        estimator = original(name, season)
        inner = estimator.forecast

        def forecast(**kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(**kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        estimator.forecast = forecast
        return estimator

    models._estimator = timed
    try:
        yield
    finally:
        models._estimator = original


def run() -> dict[str, Any]:
    """Both sides on each series in turn, the side that goes first alternating, so a machine whose load
    changes during the run slows both alike; wall and CPU seconds are summed per side."""
    data = _data()
    train = {k: v[:-H] for k, v in data.items()}
    _direct({"warm": train["s0"]})  # imports and first calls out of the timing, for both sides
    _outcrop({"warm": train["s0"]})
    sides: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "statsforecast": _direct,
        "outcrop": _outcrop,
    }
    wall = dict.fromkeys(sides, 0.0)
    cpu = dict.fromkeys(sides, 0.0)
    made: dict[str, dict[str, Any]] = {name: {} for name in sides}
    in_library = [0.0]
    load_before = os.getloadavg()
    for i, key in enumerate(train):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for name in order:
            started, started_cpu = time.perf_counter(), time.process_time()
            with _library_clock(in_library) if name == "outcrop" else nullcontext():
                made[name].update(sides[name]({key: train[key]}))
            wall[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - started_cpu
    load_after = os.getloadavg()
    result: dict[str, Any] = {"series": SERIES, "length": LENGTH, "horizon": H}
    for name in sides:
        mase = float(np.mean([_mase(train[k], data[k][-H:], made[name][k]) for k in data]))
        result[name] = {
            "seconds": round(wall[name], 2),
            "cpu_seconds": round(cpu[name], 2),
            "mase": round(mase, 4),
        }
    result["outcrop"]["overhead_seconds"] = round(wall["outcrop"] - in_library[0], 4)
    result["throughput_ratio"] = round(wall["statsforecast"] / wall["outcrop"], 3)
    result["cpu_throughput_ratio"] = round(cpu["statsforecast"] / cpu["outcrop"], 3)
    result["load_average"] = {
        "before": [round(x, 2) for x in load_before],
        "after": [round(x, 2) for x in load_after],
    }
    return result


if __name__ == "__main__":
    started = time.perf_counter()
    import statsforecast.models  # noqa: F401

    print(f"first import of statsforecast: {time.perf_counter() - started:.1f} s")
    for key, value in run().items():
        print(f"{key}: {value}")
