"""A predictor's backtests kept per item, and their export (CreatePredictorBacktestExportJob) as CSV.

Training keeps, for each series and window, what the chosen algorithm forecast for the held-out points, the
actual values and the item's accuracy there; the export writes them into the two folders the service
writes, `forecasted-values/` and `accuracy-metrics-values/`, one `<job>_<time>_part0.csv` file each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from outcrop.forecast import models
from outcrop.forecast.series import Series, future
from outcrop.services.forecast.domains import type_name


def kept(
    series: Mapping[str, Series], dims: list[str], trained: models.Trained, plan: models.Plan, frequency: str
) -> dict[str, Any]:
    """The predictor data's `backtests`: the dimension names and, per series key, one entry per window."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, windows in trained.backtests.items():
        s = series[key]
        stamps = [s.start, *future(s.start, len(s.values) - 1, frequency)]
        entries = []
        for back, scored in zip(trained.windows, windows, strict=True):
            if scored is None:
                continue
            first = len(s.values) - back
            held = stamps[first : first + len(scored.actual)]
            end = future(held[-1], 1, frequency)[0]
            entries.append(
                {
                    "start": held[0].isoformat(),
                    "end": end.isoformat(),
                    "timestamps": [t.isoformat() for t in held],
                    "actual": [float(v) for v in scored.actual],
                    "forecasts": {t: [float(v) for v in scored.forecasts[t]] for t in plan.types},
                    "metrics": models.metrics([scored], plan.types, plan.season),
                }
            )
        out[key] = entries
    return {"dimensions": dims, "series": out}


def csv_files(backtests: Mapping[str, Any], types: list[str]) -> dict[str, str]:
    """The export's two CSV texts by folder name."""
    dims: list[str] = backtests["dimensions"]
    quantiles = [t for t in types if t != "mean"]
    point_type = "mean" if "mean" in types else min(types, key=lambda t: abs(float(t) - 0.5))  # as metrics()
    window = ["backtestwindow_start_time", "backtestwindow_end_time"]
    values = [",".join([*dims, "timestamp", "target_value", *window, *(type_name(t) for t in types)])]
    accuracy = [
        ",".join(
            [
                *dims,
                "backtest_window",
                *window,
                *(f"wQL[{t}]" for t in quantiles),
                "WAPE",
                "RMSE",
                "MASE",
                "MAPE",
            ]
        )
    ]
    for key, entries in backtests["series"].items():
        item = [csv_cell(v) for v in json.loads(key)]
        for entry in entries:
            bounds = [entry["start"], entry["end"]]
            for i, stamp in enumerate(entry["timestamps"]):
                predicted = [f"{entry['forecasts'][t][i]:.6g}" for t in types]
                values.append(",".join([*item, stamp, f"{entry['actual'][i]:.6g}", *bounds, *predicted]))
            metric = entry["metrics"]
            losses = {str(loss["Quantile"]): loss["LossValue"] for loss in metric["WeightedQuantileLosses"]}
            point = next(e for e in metric["ErrorMetrics"] if e["ForecastType"] == point_type)
            scores = [losses[str(float(t))] for t in quantiles] + [
                point[m] for m in ("WAPE", "RMSE", "MASE", "MAPE")
            ]
            accuracy.append(",".join([*item, "Computed", *bounds, *(f"{v:.6g}" for v in scores)]))
    return {
        "forecasted-values": "\n".join(values) + "\n",
        "accuracy-metrics-values": "\n".join(accuracy) + "\n",
    }


def csv_cell(value: str) -> str:
    """A CSV field, quoted where it holds a comma, a quote or a line break."""
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value
