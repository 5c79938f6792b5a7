"""Endpoint invocation metrics read through boto3 `cloudwatch` (namespace AWS/SageMaker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker_runtime import served  # noqa: F401 - the shared endpoints fixture

DIMENSIONS = [{"Name": "EndpointName", "Value": "ab"}, {"Name": "VariantName", "Value": "A"}]


@pytest.fixture(scope="module")
def invoked(served: RunningServer) -> RunningServer:  # noqa: F811
    runtime = served.client("sagemaker-runtime")
    for _ in range(5):
        runtime.invoke_endpoint(EndpointName="ab", Body=b'{"values": [1]}', TargetVariant="A")
    with pytest.raises(Exception, match="ModelError"):
        runtime.invoke_endpoint(EndpointName="ab", Body=b'{"values": [1], "fail": true}', TargetVariant="A")
    return served


def window() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"StartTime": now - timedelta(hours=1), "EndTime": now + timedelta(minutes=5)}


def test_list_metrics_names_endpoint_variants(invoked: RunningServer) -> None:
    cloudwatch = invoked.client("cloudwatch")
    metrics = cloudwatch.list_metrics(Namespace="AWS/SageMaker", MetricName="Invocations")["Metrics"]
    assert {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": DIMENSIONS} in metrics
    filtered = cloudwatch.list_metrics(Dimensions=[{"Name": "VariantName", "Value": "A"}])["Metrics"]
    assert {m["MetricName"] for m in filtered} >= {"Invocations", "Invocation5XXErrors", "ModelLatency"}
    assert cloudwatch.list_metrics(Namespace="AWS/EC2")["Metrics"] == []


def test_get_metric_statistics_counts_invocations_errors_and_latency(invoked: RunningServer) -> None:
    cloudwatch = invoked.client("cloudwatch")

    def total(metric: str, statistic: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=DIMENSIONS,
            Period=3600 * 2,
            Statistics=[statistic],
            **window(),
        )["Datapoints"]
        return sum(p[statistic] for p in points)

    assert total("Invocations") >= 6
    assert total("Invocation5XXErrors") >= 1
    assert total("ModelLatency", "Average") > 0
    latency = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMENSIONS,
        Period=60,
        Statistics=["Maximum"],
        **window(),
    )["Datapoints"]
    assert latency and latency[0]["Unit"] == "Microseconds"


def test_get_metric_data_and_refusals(invoked: RunningServer) -> None:
    cloudwatch = invoked.client("cloudwatch")
    metric = {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": DIMENSIONS}
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "calls", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
        **window(),
    )["MetricDataResults"][0]
    assert result["Id"] == "calls" and result["StatusCode"] == "Complete" and sum(result["Values"]) >= 6
    error = error_of(
        cloudwatch.get_metric_statistics,
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=DIMENSIONS,
        Period=90,
        Statistics=["Sum"],
        **window(),
    )
    assert error["Code"] == "InvalidParameterValue" and error["Status"] == 400
    error = error_of(
        cloudwatch.get_metric_data,
        MetricDataQueries=[{"Id": "math", "Expression": "SUM(METRICS())"}],
        **window(),
    )
    assert error["Code"] == "InvalidParameterValue" and "metric math" in error["Message"]
