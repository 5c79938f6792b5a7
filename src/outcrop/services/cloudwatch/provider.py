"""Amazon CloudWatch metrics, read-only: ListMetrics, GetMetricStatistics and GetMetricData.

The only metrics Outcrop publishes are SageMaker endpoint invocation metrics (namespace AWS/SageMaker,
dimensions EndpointName and VariantName), kept in memory in one-minute buckets for a day. Other namespaces
hold no metrics; PutMetricData, alarms and dashboards are not served. Percentiles (ExtendedStatistics,
p99 stats) and metric math are refused plainly, since the buckets keep no distributions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.sagemaker.hosting import EndpointHosting
from outcrop.services.sagemaker.serving.metrics import UNITS, Bucket

NAMESPACE = "AWS/SageMaker"
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PAGE = 500
MAX_DATAPOINTS = 1440  # CloudWatch's cap on the datapoints one GetMetricStatistics call may ask for
QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")


class InvalidParameterValue(ServiceError, service="cloudwatch"): ...


class InvalidParameterCombination(ServiceError, service="cloudwatch"): ...


class MissingParameter(ServiceError, service="cloudwatch"): ...


class InvalidNextToken(ServiceError, service="cloudwatch"): ...


# ListMetrics answers 500 metrics a page and models InvalidParameterValue for a bad token.
_METRIC_PAGES = Pager(InvalidParameterValue, "The NextToken is not valid.", default=PAGE, size=None)


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _dimensions(endpoint: str, variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def _statistic(bucket: Bucket, name: str) -> float:
    if name == "SampleCount":
        return float(bucket.count)
    if name == "Sum":
        return bucket.sum
    if name == "Average":
        return bucket.sum / bucket.count if bucket.count else 0.0
    if name == "Minimum":
        return bucket.minimum
    return bucket.maximum


def _merge(buckets: list[Bucket]) -> Bucket:
    merged = Bucket()
    for bucket in buckets:
        merged.sum += bucket.sum
        merged.count += bucket.count
        merged.minimum = min(merged.minimum, bucket.minimum)
        merged.maximum = max(merged.maximum, bucket.maximum)
    return merged


class CloudWatch(Service):
    service_name = "cloudwatch"

    def __init__(self, *, sagemaker_hosting: EndpointHosting) -> None:
        """The metrics are the ones the SageMaker endpoints' hosting records as it serves."""
        self.hosting = sagemaker_hosting

    def _series(self, ctx: RequestContext) -> list[tuple[str, str, str]]:
        """The series of the request's region's endpoints (the hosting seam keys them `region/account/`)."""
        return self.hosting.metrics.dimensions(f"{ctx.region}/{ctx.account_id}/")

    def list_metrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, name = params.get("Namespace"), params.get("MetricName")
        filters = params.get("Dimensions") or []
        metrics = []
        for endpoint, variant, metric in self._series(ctx):
            dims = _dimensions(endpoint, variant)
            values = {d["Name"]: d["Value"] for d in dims}
            if namespace not in (None, NAMESPACE) or name not in (None, metric):
                continue
            if any(
                f["Name"] not in values or f.get("Value") not in (None, values[f["Name"]]) for f in filters
            ):
                continue
            metrics.append({"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims})
        page, token = _METRIC_PAGES.page(metrics, params)
        return {"Metrics": page, "NextToken": token}

    def _buckets(
        self,
        ctx: RequestContext,
        namespace: str,
        metric: str,
        dimensions: list[dict[str, str]],
        window: tuple[float, float],
    ) -> list[tuple[int, Bucket]]:
        """The minute buckets of the request's region's endpoint that the dimensions name."""
        if namespace != NAMESPACE:
            return []
        values = {d["Name"]: d["Value"] for d in dimensions}
        if set(values) != {"EndpointName", "VariantName"}:
            return []  # CloudWatch matches the exact dimension set; SageMaker publishes these two
        return self.hosting.metric_series(
            values["EndpointName"], values["VariantName"], metric, *window, where=(ctx.account_id, ctx.region)
        )

    @staticmethod
    def _periods(buckets: list[tuple[int, Bucket]], start: float, period: int) -> list[tuple[float, Bucket]]:
        """Minute buckets rolled up into `period`-second buckets aligned on the start time."""
        grouped: dict[float, list[Bucket]] = {}
        for minute, bucket in buckets:
            slot = start + ((minute - start) // period) * period
            grouped.setdefault(slot, []).append(bucket)
        return [(slot, _merge(group)) for slot, group in sorted(grouped.items())]

    @staticmethod
    def _check_period(period: int) -> None:
        if period < 60 or period % 60:
            raise InvalidParameterValue(
                f"The parameter Period must be a multiple of 60 (Outcrop keeps one-minute data): {period}."
            )

    @staticmethod
    def _check_query_ids(ids: list[str]) -> None:
        for query_id in ids:
            if not QUERY_ID.fullmatch(query_id):
                raise InvalidParameterValue(
                    f"The query Id {query_id!r} is not valid: it must start with a lowercase letter and "
                    "hold only letters, digits and underscores."
                )
        repeated = sorted({query_id for query_id in ids if ids.count(query_id) > 1})
        if repeated:
            raise InvalidParameterValue(f"The query Ids must be unique; repeated: {', '.join(repeated)}.")

    def get_metric_statistics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        statistics = params.get("Statistics") or []
        if params.get("ExtendedStatistics"):
            raise InvalidParameterValue(
                "Outcrop keeps no percentile distributions: ExtendedStatistics are not served."
            )
        if not statistics:
            raise MissingParameter("Must specify either the Statistics or the ExtendedStatistics parameter.")
        start, end, period = _epoch(params["StartTime"]), _epoch(params["EndTime"]), int(params["Period"])
        if start >= end:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        self._check_period(period)
        requested = int((end - start + period - 1) // period)
        if requested > MAX_DATAPOINTS:
            raise InvalidParameterCombination(
                f"The request asks for up to {requested} datapoints; the limit is {MAX_DATAPOINTS}. "
                "Use a longer Period or a shorter time range."
            )
        metric = params["MetricName"]
        unit = UNITS.get(metric, "None")
        if params.get("Unit") not in (None, unit):
            return {"Label": metric, "Datapoints": []}
        buckets = self._buckets(
            ctx, params["Namespace"], metric, params.get("Dimensions") or [], (start, end)
        )
        datapoints = [
            {"Timestamp": datetime.fromtimestamp(slot, UTC), "Unit": unit}
            | {name: _statistic(bucket, name) for name in statistics}
            for slot, bucket in self._periods(buckets, start, period)
        ]
        return {"Label": metric, "Datapoints": datapoints}

    def get_metric_data(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
        if start >= end:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        if params.get("NextToken"):
            raise InvalidNextToken("The NextToken is not valid: every result fits in one page here.")
        self._check_query_ids([query["Id"] for query in params["MetricDataQueries"]])
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for query in params["MetricDataQueries"]:
            stat_query = query.get("MetricStat")
            if stat_query is None:
                raise InvalidParameterValue(
                    f"Query {query['Id']}: Outcrop evaluates MetricStat queries, not metric math expressions."
                )
            stat = stat_query["Stat"]
            if stat not in STATISTICS:
                raise InvalidParameterValue(
                    f"Query {query['Id']}: the statistic {stat} is not served (Outcrop keeps no percentiles)."
                )
            period = int(stat_query["Period"])
            self._check_period(period)
            metric = stat_query["Metric"]
            buckets = self._buckets(
                ctx,
                metric.get("Namespace", ""),
                metric.get("MetricName", ""),
                metric.get("Dimensions") or [],
                (start, end),
            )
            points = self._periods(buckets, start, period)
            if descending:
                points.reverse()
            if query.get("ReturnData", True):
                results.append(
                    {
                        "Id": query["Id"],
                        "Label": query.get("Label") or metric.get("MetricName", ""),
                        "Timestamps": [datetime.fromtimestamp(slot, UTC) for slot, _ in points],
                        "Values": [_statistic(bucket, stat) for _, bucket in points],
                        "StatusCode": "Complete",
                    }
                )
        return {"MetricDataResults": results, "Messages": []}
