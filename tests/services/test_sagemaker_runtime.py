"""sagemaker-runtime through boto3 against a running server.

The endpoints are deployed in-process into the server's data dir before it starts, so these tests do not
depend on the control plane: the server brings saved endpoints back on their first invocation (which is
itself what a restart must do). tests/compat/test_sagemaker_sdk_serving.py deploys through CreateEndpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from outcrop.app import App
from outcrop.config import Settings
from outcrop.services.sagemaker.serving.spec import VariantSpec
from tests.errors import error_of
from tests.sagemaker_hosting.archives import scaler_archive
from tests.server import RunningServer

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"


def _deploy(data_dir: Path) -> None:
    app = App(Settings(data_dir=data_dir))
    app.objects.create_bucket("models", "us-east-1")
    for factor in (1, 2):
        app.objects.put_object("models", f"ab/{factor}.tar.gz", scaler_archive(factor))
        app.objects.put_object("models", f"mme/m{factor}.tar.gz", scaler_archive(factor * 10))
    hosting = app.sagemaker_hosting

    def spec(name: str, url: str, **kw: Any) -> VariantSpec:
        return VariantSpec(variant_name=name, model_name=name, image=IMAGE, model_data_url=url, **kw)

    hosting.deploy(
        "ab",
        [
            spec("A", "s3://models/ab/1.tar.gz", initial_weight=1),
            spec("B", "s3://models/ab/2.tar.gz", initial_weight=1),
        ],
    )
    hosting.deploy("mme", [spec("AllTraffic", "s3://models/mme/", multi_model=True)])
    app.objects.put_object("models", "echo/model.tar.gz", scaler_archive(1, "echo_context.py"))
    hosting.deploy("echo", [spec("AllTraffic", "s3://models/echo/model.tar.gz")])
    outputs = {"S3OutputPath": "s3://models/async-out/", "S3FailurePath": "s3://models/async-failed/"}
    hosting.deploy(
        "queued", [spec("AllTraffic", "s3://models/ab/2.tar.gz")], async_inference={"OutputConfig": outputs}
    )
    hosting.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("sagemaker-runtime") / "data"
    _deploy(data_dir)
    server = RunningServer(data_dir).start()
    yield server
    server.stop()


def model_error(call: Any, **kwargs: Any) -> dict[str, Any]:
    """A ModelError's fields: botocore puts the modelled members beside Error, not inside it."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response: dict[str, Any] = info.value.response
    return {**response["Error"], **{k: v for k, v in response.items() if k != "Error"}}


def invoke(runtime: Any, endpoint: str, payload: object, **kw: Any) -> tuple[Any, dict[str, Any]]:
    response = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps(payload), ContentType="application/json", **kw
    )
    return json.loads(response["Body"].read()), response


def test_invoke_names_the_variant_and_content_type(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    body, response = invoke(runtime, "ab", {"values": [1, 2]}, TargetVariant="B", Accept="application/json")
    assert body == {"scaled": [2, 4]}
    assert response["InvokedProductionVariant"] == "B"
    assert response["ContentType"] == "application/json"
    seen = {invoke(runtime, "ab", {"values": [1]})[1]["InvokedProductionVariant"] for _ in range(40)}
    assert seen == {"A", "B"}


def test_concurrent_callers_queue_for_one_instance(served: RunningServer) -> None:
    def caller(index: int) -> list[Any]:
        runtime = served.client("sagemaker-runtime")
        return [invoke(runtime, "ab", {"values": [index, n]}, TargetVariant="B")[0] for n in range(10)]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(caller, range(8)))
    assert answers == [[{"scaled": [2 * i, 2 * n]} for n in range(10)] for i in range(8)]


def test_unknown_endpoint_and_variant_are_validation_errors(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    error = error_of(runtime.invoke_endpoint, EndpointName="nope", Body=b"{}")
    assert error["Code"] == "ValidationError" and error["Status"] == 400
    assert error["Message"] == "Endpoint nope of account 000000000000 not found."
    error = error_of(runtime.invoke_endpoint, EndpointName="ab", Body=b"{}", TargetVariant="C")
    assert error["Code"] == "ValidationError" and "not a production variant" in error["Message"]


def test_model_error_carries_the_original_answer_and_the_endpoint_serves_on(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    error = model_error(
        runtime.invoke_endpoint, EndpointName="ab", Body=b'{"values": [1], "fail": true}', TargetVariant="A"
    )
    assert error["Code"] == "ModelError" and error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "RuntimeError: the scaler was asked to fail" in error["OriginalMessage"]
    assert error["Message"].startswith("Received server error (500) from primary with message")
    assert (
        error["LogStreamArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/ab"
    )
    assert invoke(runtime, "ab", {"values": [3]}, TargetVariant="A")[0] == {"scaled": [3]}

    logs = served.client("logs")
    deadline = time.monotonic() + 10
    while True:  # the worker's output reaches CloudWatch Logs a moment after the answer
        events = logs.filter_log_events(
            logGroupName="/aws/sagemaker/Endpoints/ab", filterPattern='"asked to fail"'
        )["events"]
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert events and events[0]["logStreamName"].startswith("A/i-")


def test_response_stream_sends_one_payload_part_per_yield(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName="ab", Body=b'{"values": [1, 2, 3], "stream": true}', TargetVariant="B"
    )
    assert response["InvokedProductionVariant"] == "B"
    assert response["ContentType"] == "application/json"
    parts = [json.loads(event["PayloadPart"]["Bytes"]) for event in response["Body"]]
    assert [p["scaled"]["value"] for p in parts] == [2, 4, 6]


def test_response_stream_errors(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    before = model_error(
        runtime.invoke_endpoint_with_response_stream,
        EndpointName="ab",
        Body=b'{"values": [1], "fail": true}',
    )
    assert before["Code"] == "ModelError" and before["OriginalStatusCode"] == 500
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName="ab", Body=b'{"values": [1, 2, 3], "stream": true, "fail_at": 1}', TargetVariant="A"
    )
    received = []
    with pytest.raises(EventStreamError) as mid_stream:
        for event in response["Body"]:
            received.append(json.loads(event["PayloadPart"]["Bytes"]))
    assert [p["scaled"]["value"] for p in received] == [1]
    assert mid_stream.value.response["Error"]["Code"] == "ModelStreamError"
    assert "value 1 cannot be scaled" in mid_stream.value.response["Error"]["Message"]
    assert invoke(runtime, "ab", {"values": [5]}, TargetVariant="A")[0] == {"scaled": [5]}


def test_custom_attributes_both_ways_and_the_sdks_predict_stream(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName="echo", Body=b"{}", ContentType="application/json", CustomAttributes="req-9"
    )
    assert response["CustomAttributes"] == "trace=req-9"
    assert json.loads(response["Body"].read())["custom_attributes"] == "req-9"

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    import sagemaker  # type: ignore[import-untyped]
    from sagemaker.iterators import LineIterator  # type: ignore[import-untyped]
    from sagemaker.predictor import Predictor  # type: ignore[import-untyped]

    session = sagemaker.Session(
        boto_session=boto3.Session(region_name="us-east-1"),
        sagemaker_client=served.client("sagemaker"),
        sagemaker_runtime_client=runtime,
        default_bucket="unused",
    )
    predictor = Predictor("echo", sagemaker_session=session)
    lines = list(predictor.predict_stream(b'{"lines": 3}', iterator=LineIterator))
    assert [line.decode().strip() for line in lines] == ["line 0", "line 1", "line 2"]


def wait_for_object(s3: Any, location: str) -> bytes:
    bucket, key = location[5:].split("/", 1)
    deadline = time.monotonic() + 30
    while True:
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_invoke_endpoint_async_writes_answers_and_failures_to_s3(served: RunningServer) -> None:
    runtime, s3 = served.client("sagemaker-runtime"), served.client("s3")
    s3.put_object(Bucket="models", Key="async-in/ok.json", Body=b'{"values": [2]}')
    s3.put_object(Bucket="models", Key="async-in/bad.json", Body=b'{"values": [2], "fail": true}')
    ok = runtime.invoke_endpoint_async(
        EndpointName="queued", InputLocation="s3://models/async-in/ok.json", ContentType="application/json"
    )
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert ok["OutputLocation"] == f"s3://models/async-out/{ok['InferenceId']}.out"
    assert ok["FailureLocation"] == f"s3://models/async-failed/{ok['InferenceId']}-error.out"
    assert json.loads(wait_for_object(s3, ok["OutputLocation"])) == {"scaled": [4]}

    bad = runtime.invoke_endpoint_async(
        EndpointName="queued", InputLocation="s3://models/async-in/bad.json", InferenceId="bad-1"
    )
    assert bad["InferenceId"] == "bad-1"
    assert b"the scaler was asked to fail" in wait_for_object(s3, bad["FailureLocation"])
    missing = runtime.invoke_endpoint_async(EndpointName="queued", InputLocation="s3://models/async-in/nope")
    assert b"Failed to download input data" in wait_for_object(s3, missing["FailureLocation"])

    error = error_of(runtime.invoke_endpoint_async, EndpointName="ab", InputLocation="s3://models/x")
    assert error["Code"] == "ValidationError" and "asynchronous inference" in error["Message"]


def test_multi_model_target_model(served: RunningServer) -> None:
    runtime = served.client("sagemaker-runtime")
    assert invoke(runtime, "mme", {"values": [1]}, TargetModel="m2.tar.gz")[0] == {"scaled": [20]}
    assert invoke(runtime, "mme", {"values": [1]}, TargetModel="m1.tar.gz")[0] == {"scaled": [10]}
    error = error_of(runtime.invoke_endpoint, EndpointName="mme", Body=b"{}", TargetModel="m9.tar.gz")
    assert error["Code"] == "ValidationError" and "Failed to download model data" in error["Message"]
    error = error_of(runtime.invoke_endpoint, EndpointName="ab", Body=b"{}", TargetModel="m1.tar.gz")
    assert error["Code"] == "ValidationError" and "not a multi-model endpoint" in error["Message"]


# -- metrics, read through boto3 `cloudwatch` (namespace AWS/SageMaker) as dashboards read them --------

DIMENSIONS = [{"Name": "EndpointName", "Value": "ab"}, {"Name": "VariantName", "Value": "A"}]


@pytest.fixture(scope="module")
def invoked(served: RunningServer) -> RunningServer:
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
