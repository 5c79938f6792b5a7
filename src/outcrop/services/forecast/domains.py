"""Forecast's dataset domains: the fields each domain requires, and the names of its item and target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DATASET_TYPES = ("TARGET_TIME_SERIES", "RELATED_TIME_SERIES", "ITEM_METADATA")
FREQUENCY_ORDER = ("1min", "5min", "10min", "15min", "30min", "H", "D", "W", "M", "Y")
ALGORITHM_PREFIX = "arn:aws:forecast:::algorithm/"
LEGACY_ALGORITHMS = ("ETS", "ARIMA")  # AWS's other algorithms are neural or Prophet: not served
UNSERVED_ALGORITHMS = ("NPTS", "Prophet", "CNN-QR", "Deep_AR_Plus")


@dataclass(frozen=True)
class Domain:
    item: str
    target: str
    target_type: str = "float"


DOMAINS = {
    "CUSTOM": Domain("item_id", "target_value"),
    "RETAIL": Domain("item_id", "demand"),
    "INVENTORY_PLANNING": Domain("item_id", "demand"),
    "EC2_CAPACITY": Domain("instance_type", "number_of_instances", "integer"),
    "WORK_FORCE": Domain("workforce_type", "workforce_demand"),
    "WEB_TRAFFIC": Domain("item_id", "value"),
    "METRICS": Domain("metric_name", "metric_value"),
}


def required_fields(domain: str, dataset_type: str) -> list[tuple[str, tuple[str, ...]]]:
    """(field, allowed types) that a dataset of this domain and type must declare."""
    spec = DOMAINS[domain]
    if dataset_type == "ITEM_METADATA":
        return [(spec.item, ("string",))]
    fields: list[tuple[str, tuple[str, ...]]] = [(spec.item, ("string",)), ("timestamp", ("timestamp",))]
    if dataset_type == "TARGET_TIME_SERIES":
        fields.append((spec.target, ("float", "integer")))
    return fields


def schema_problem(domain: str, dataset_type: str, attributes: Sequence[tuple[str, str]]) -> str | None:
    """Why a schema does not fit its domain and type, in Forecast's terms, or None."""
    if not attributes:
        return "The schema must list at least one attribute"
    names = [name for name, _ in attributes]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        return f"The attribute {duplicate} appears more than once in the schema"
    types = dict(attributes)
    for name, allowed in required_fields(domain, dataset_type):
        if name not in types:
            return (
                f"The schema of a {dataset_type} dataset in the {domain} domain must include the field "
                f"{name} of type {' or '.join(allowed)}"
            )
        if types[name] not in allowed:
            return f"The field {name} must be of type {' or '.join(allowed)}, not {types[name]}"
    stamps = [n for n, t in attributes if t == "timestamp"]
    if dataset_type == "ITEM_METADATA" and stamps:
        return "An ITEM_METADATA dataset cannot have a timestamp attribute"
    if len(stamps) > 1:
        return "A dataset can have only one timestamp attribute"
    return None


def coarser_or_equal(forecast: str, data: str) -> bool:
    """Whether a forecast frequency is the data's frequency or coarser (Forecast cannot go finer)."""
    return FREQUENCY_ORDER.index(forecast) >= FREQUENCY_ORDER.index(data)


def type_name(forecast_type: str) -> str:
    """The column and prediction name of a forecast type: p10 for 0.1, mean for mean."""
    return forecast_type if forecast_type == "mean" else f"p{round(float(forecast_type) * 100)}"


def forecast_types_problem(types: Sequence[str]) -> str | None:
    """Forecast types are `mean` or quantiles 0.01..0.99 in steps of 0.01, at most five, no repeats."""
    if not types:
        return "ForecastTypes must name at least one forecast type"
    if len(types) > 5:
        return "You can specify up to 5 forecast types"
    if len(set(types)) != len(types):
        return "ForecastTypes must not repeat a forecast type"
    for value in types:
        if value == "mean":
            continue
        try:
            q = float(value)
        except ValueError:
            return f"The forecast type {value} is not valid: use mean or a quantile from 0.01 to 0.99"
        if not 0.01 <= q <= 0.99 or abs(q * 100 - round(q * 100)) > 1e-9:
            return f"The forecast type {value} is not valid: use mean or a quantile from 0.01 to 0.99"
    return None
