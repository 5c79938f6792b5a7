"""Predictor requests (CreateAutoPredictor, legacy CreatePredictor) checked and turned into a training plan,
and a trained predictor's accuracy as GetAccuracyMetrics reports it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from outcrop.forecast.models import ALGORITHMS
from outcrop.forecast.series import FREQUENCIES, check_fill
from outcrop.protocol.errors import ServiceError
from outcrop.services.forecast.domains import (
    ALGORITHM_PREFIX,
    DOMAINS,
    LEGACY_ALGORITHMS,
    UNSERVED_ALGORITHMS,
    coarser_or_equal,
    forecast_types_problem,
)
from outcrop.services.forecast.store import Resource

DEFAULT_TYPES = ["0.1", "0.5", "0.9"]
MAX_HORIZON = 500


def auto_request(
    params: dict[str, Any], group: Resource, target: Resource | None, invalid: Callable[[str], ServiceError]
) -> dict[str, Any]:
    """The body of an AutoPredictor: what to train, from CreateAutoPredictor's parameters."""
    for unserved, what in (
        ("ExplainPredictor", "explainability"),
        ("MonitorConfig", "predictor monitoring"),
        ("EncryptionConfig", "encryption with your KMS key"),
        ("TimeAlignmentBoundary", "time alignment boundaries"),
    ):
        if params.get(unserved):
            raise invalid(f"{what[0].upper() + what[1:]} ({unserved}) is not supported by this server")
    config = params["DataConfig"]
    if config.get("AdditionalDatasets"):
        raise invalid("AdditionalDatasets (holidays, weather) are not supported by this server")
    if params.get("ForecastHorizon") is None:
        raise invalid("ForecastHorizon is required")
    if not params.get("ForecastFrequency"):
        raise invalid("ForecastFrequency is required")
    body = _common(params, group, target, invalid)
    body.update(
        IsAutoPredictor=True,
        Candidates=list(ALGORITHMS),
        DataConfig=config,
        Filling=_filling(config.get("AttributeConfigs") or [], target, invalid),
    )
    return body


def legacy_request(
    params: dict[str, Any], group: Resource, target: Resource | None, invalid: Callable[[str], ServiceError]
) -> dict[str, Any]:
    """The body of a legacy predictor: one AlgorithmArn, or AutoML choosing among the served ones."""
    for unserved, what in (
        ("PerformHPO", "hyperparameter optimization"),
        ("HPOConfig", "hyperparameter optimization"),
        ("EncryptionConfig", "encryption with your KMS key"),
    ):
        if params.get(unserved):
            raise invalid(f"{what[0].upper() + what[1:]} ({unserved}) is not supported by this server")
    if params.get("AutoMLOverrideStrategy") == "LatencyOptimized":
        raise invalid(
            "AutoMLOverrideStrategy LatencyOptimized is not supported: AutoML here optimizes accuracy"
        )
    if params.get("TrainingParameters"):
        raise invalid("TrainingParameters are not supported: ETS and ARIMA choose their own parameters")
    if params["InputDataConfig"].get("SupplementaryFeatures"):
        raise invalid("SupplementaryFeatures (holidays) are not supported by this server")
    algorithm = params.get("AlgorithmArn")
    automl = bool(params.get("PerformAutoML"))
    if automl and algorithm:
        raise invalid("Specify either AlgorithmArn or PerformAutoML, not both")
    if not automl and not algorithm:
        raise invalid("Specify an AlgorithmArn, or set PerformAutoML to true")
    if algorithm:
        name = algorithm.removeprefix(ALGORITHM_PREFIX)
        if not algorithm.startswith(ALGORITHM_PREFIX) or name not in LEGACY_ALGORITHMS + UNSERVED_ALGORITHMS:
            raise invalid(f"The algorithm {algorithm} is not a valid Amazon Forecast algorithm")
        if name not in LEGACY_ALGORITHMS:
            raise invalid(
                f"The algorithm {name} is not supported by this server; use "
                + " or ".join(ALGORITHM_PREFIX + a for a in LEGACY_ALGORITHMS)
                + ", or CreateAutoPredictor"
            )
    featurization = params["FeaturizationConfig"]
    evaluation = params.get("EvaluationParameters") or {}
    merged = {
        **params,
        "ForecastFrequency": featurization["ForecastFrequency"],
        "ForecastDimensions": featurization.get("ForecastDimensions") or [],
    }
    body = _common(merged, group, target, invalid)
    windows = evaluation.get("NumberOfBacktestWindows", 1)
    offset = evaluation.get("BackTestWindowOffset", 0) or 0
    if not 1 <= windows <= 5:
        raise invalid("NumberOfBacktestWindows must be from 1 to 5")
    if offset and offset < body["ForecastHorizon"]:
        raise invalid("BackTestWindowOffset must be at least the ForecastHorizon")
    configs = [
        {"AttributeName": f["AttributeName"], "Transformations": _pipeline(f, invalid)}
        for f in featurization.get("Featurizations") or []
    ]
    body.update(
        IsAutoPredictor=False,
        AlgorithmArn=algorithm,
        PerformAutoML=automl,
        Candidates=[algorithm.removeprefix(ALGORITHM_PREFIX)] if algorithm else list(LEGACY_ALGORITHMS),
        Windows=windows,
        Offset=offset,
        Filling=_filling(configs, target, invalid),
        Request=params,
    )
    return body


def _common(
    params: dict[str, Any], group: Resource, target: Resource | None, invalid: Callable[[str], ServiceError]
) -> dict[str, Any]:
    if target is None:
        raise invalid(f"The dataset group {group.arn} has no TARGET_TIME_SERIES dataset")
    horizon = params["ForecastHorizon"]
    if not 1 <= horizon <= MAX_HORIZON:
        raise invalid(f"ForecastHorizon must be from 1 to {MAX_HORIZON}")
    frequency = params["ForecastFrequency"]
    if frequency not in FREQUENCIES:
        raise invalid(f"The forecast frequency {frequency} is not valid; use one of {', '.join(FREQUENCIES)}")
    data_frequency = target.body.get("DataFrequency", frequency)
    if not coarser_or_equal(frequency, data_frequency):
        raise invalid(
            f"The forecast frequency {frequency} is finer than the data frequency {data_frequency} of the "
            "target time series dataset"
        )
    types = params.get("ForecastTypes") or DEFAULT_TYPES
    problem = forecast_types_problem(types)
    if problem:
        raise invalid(problem)
    dims = params.get("ForecastDimensions") or []
    fields = {a["AttributeName"]: a["AttributeType"] for a in target.body["Schema"]["Attributes"]}
    domain = DOMAINS[target.body["Domain"]]
    for dim in dims:
        if fields.get(dim) != "string" or dim in (domain.item, "timestamp"):
            raise invalid(
                f"The forecast dimension {dim} must be a string field of the target dataset "
                f"besides {domain.item}"
            )
    return {
        "DatasetGroupArn": group.arn,
        "ForecastHorizon": horizon,
        "ForecastFrequency": frequency,
        "ForecastTypes": list(types),
        "ForecastDimensions": list(dims),
        "OptimizationMetric": params.get("OptimizationMetric") or "AverageWeightedQuantileLoss",
        "Tags": params.get("Tags") or [],
    }


def _pipeline(featurization: dict[str, Any], invalid: Callable[[str], ServiceError]) -> dict[str, str]:
    out: dict[str, str] = {}
    for step in featurization.get("FeaturizationPipeline") or []:
        out.update(step.get("FeaturizationMethodParameters") or {})
    return out


def _filling(
    configs: list[dict[str, Any]], target: Resource | None, invalid: Callable[[str], ServiceError]
) -> dict[str, str]:
    """The target's filling rules; transformations of other fields are refused (no model here uses them)."""
    assert target is not None
    domain = DOMAINS[target.body["Domain"]]
    filling: dict[str, str] = {}
    for config in configs:
        if config["AttributeName"] != domain.target:
            raise invalid(
                f"Transformations of {config['AttributeName']} are not supported: the statistical models "
                f"served here forecast {domain.target} from its own history"
            )
        transformations = dict(config.get("Transformations") or {})
        problem = check_fill(transformations)
        if problem:
            raise invalid(problem)
        filling.update(transformations)
    return filling


def accuracy(predictor: Resource, trained: dict[str, Any]) -> dict[str, Any]:
    """GetAccuracyMetrics' answer: per algorithm, a SUMMARY over the windows and each COMPUTED window."""
    results = []
    for name, windows in trained["results"].items():
        computed = [
            {
                "TestWindowStart": datetime.fromisoformat(w["start"]),
                "TestWindowEnd": datetime.fromisoformat(w["end"]),
                "ItemCount": w["items"],
                "EvaluationType": "COMPUTED",
                "Metrics": w["metrics"],
            }
            for w in windows
        ]
        summary = {"EvaluationType": "SUMMARY", "Metrics": _average([w["metrics"] for w in windows])}
        entry: dict[str, Any] = {"TestWindows": [summary, *computed]}
        if name != "AutoPredictor":
            entry["AlgorithmArn"] = ALGORITHM_PREFIX + name
        results.append(entry)
    out: dict[str, Any] = {
        "PredictorEvaluationResults": results,
        "IsAutoPredictor": bool(predictor.body.get("IsAutoPredictor")),
        "OptimizationMetric": predictor.body.get("OptimizationMetric") or "AverageWeightedQuantileLoss",
    }
    return out


def _average(windows: list[dict[str, Any]]) -> dict[str, Any]:
    if not windows:
        return {}

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    first = windows[0]
    out: dict[str, Any] = {
        "RMSE": mean([w["RMSE"] for w in windows]),
        "WeightedQuantileLosses": [
            {
                "Quantile": q["Quantile"],
                "LossValue": mean([w["WeightedQuantileLosses"][i]["LossValue"] for w in windows]),
            }
            for i, q in enumerate(first["WeightedQuantileLosses"])
        ],
        "ErrorMetrics": [
            {
                "ForecastType": e["ForecastType"],
                **{
                    k: mean([w["ErrorMetrics"][i][k] for w in windows])
                    for k in ("WAPE", "RMSE", "MASE", "MAPE")
                },
            }
            for i, e in enumerate(first["ErrorMetrics"])
        ],
    }
    if "AverageWeightedQuantileLoss" in first:
        out["AverageWeightedQuantileLoss"] = mean([w["AverageWeightedQuantileLoss"] for w in windows])
    return out
