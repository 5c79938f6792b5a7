"""Amazon Forecast Query: one series of an ACTIVE forecast, picked by its dimensions, over a date range.

It reads the forecast service's store (the same SQLite file and data files under the data dir), and answers
only for a forecast of the request's account and region."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from outcrop.config import Settings
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.forecast.domains import type_name
from outcrop.services.forecast.store import ACTIVE, open_store, where


class InvalidInputException(ServiceError, service="forecastquery"): ...


class ResourceInUseException(ServiceError, service="forecastquery"): ...


class ResourceNotFoundException(ServiceError, service="forecastquery"): ...


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InvalidInputException(
            f"The {name} {value} is not valid: use the format yyyy-MM-dd'T'HH:mm:ss, e.g. 2015-01-01T08:00:00"
        ) from None


class ForecastQuery(Service):
    service_name: ClassVar[str] = "forecastquery"

    def __init__(self, *, settings: Settings, data_path: Callable[..., Path]) -> None:
        self.store = open_store(data_path, settings)

    def close(self) -> None:
        self.store.close()

    def query_forecast(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["ForecastArn"]
        forecast = self.store.get(arn, where=where(ctx))
        if forecast is None or forecast.kind != "forecast":
            raise ResourceNotFoundException(f"No forecast with the ARN {arn} exists")
        if forecast.status != ACTIVE:
            raise ResourceInUseException(f"The forecast {arn} is {forecast.status}, not ACTIVE")
        start, end = _date(params.get("StartDate"), "StartDate"), _date(params.get("EndDate"), "EndDate")
        if start and end and start > end:
            raise InvalidInputException("The StartDate must not be after the EndDate")
        data = self.store.get_data(arn)
        dims: list[str] = data["dimensions"]
        filters: dict[str, str] = params["Filters"]
        unknown = [k for k in filters if k not in dims]
        if unknown:
            raise InvalidInputException(
                f"The filter key {unknown[0]} is not a dimension of this forecast ({', '.join(dims)})"
            )
        missing = [d for d in dims if d not in filters]
        if missing:
            raise InvalidInputException(
                f"Filters must name one series: give a value for each of {', '.join(dims)} "
                f"(missing {missing[0]})"
            )
        key = json.dumps([filters[d] for d in dims])
        entry = data["series"].get(key)
        if entry is None:
            raise ResourceNotFoundException(
                "No forecast was found for " + ", ".join(f"{d} = {filters[d]}" for d in dims)
            )
        predictions: dict[str, list[dict[str, Any]]] = {}
        for forecast_type in forecast.body["ForecastTypes"]:
            points = []
            for stamp, value in zip(entry["timestamps"], entry["values"][forecast_type], strict=True):
                moment = datetime.fromisoformat(stamp)
                if (start and moment < start) or (end and moment > end):
                    continue
                points.append({"Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S"), "Value": value})
            predictions[type_name(forecast_type)] = points
        return {"Forecast": {"Predictions": predictions}}
