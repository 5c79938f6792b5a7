"""Endpoints end to end through boto3: CreateModel, CreateEndpointConfig, CreateEndpoint, InvokeEndpoint.

Uses the control plane (`sagemaker`) as a user does, with archives holding the fixture inference scripts.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.sagemaker_hosting.archives import scaler_archive
from tests.server import RunningServer

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"


@pytest.fixture(scope="module")
def bucket(server: RunningServer) -> Iterator[str]:
    """A bucket for the archives; the endpoints the tests leave are deleted after them (workers and all)."""
    name = f"endpoints-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=name)
    yield name
    sagemaker = server.client("sagemaker")
    for endpoint in ("broken-endpoint", "fragile", "many"):
        with contextlib.suppress(ClientError):
            sagemaker.delete_endpoint(EndpointName=endpoint)


def create_model(server: RunningServer, bucket: str, name: str, archive: bytes, **container: Any) -> None:
    server.client("s3").put_object(Bucket=bucket, Key=f"{name}/model.tar.gz", Body=archive)
    server.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/{name}/model.tar.gz", **container},
    )


def create_endpoint(
    server: RunningServer, name: str, variants: list[tuple[str, str, float]]
) -> dict[str, Any]:
    """Create the config and the endpoint, wait for it to settle, and describe it."""
    sagemaker = server.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, model, weight in variants
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with contextlib.suppress(WaiterError):  # a Failed endpoint ends the waiter: the description tells why
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
    return described


def invoke(server: RunningServer, endpoint: str, payload: object, **kw: Any) -> tuple[Any, str]:
    response = server.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps(payload), ContentType="application/json", **kw
    )
    return json.loads(response["Body"].read()), response["InvokedProductionVariant"]


def test_ab_endpoint_splits_by_weight_pins_variants_and_reweights_live(
    server: RunningServer, bucket: str
) -> None:
    create_model(server, bucket, "scale-by-one", scaler_archive(1))
    create_model(server, bucket, "scale-by-two", scaler_archive(2))
    described = create_endpoint(
        server, "ab-test", [("Current", "scale-by-one", 0.7), ("Challenger", "scale-by-two", 0.3)]
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    counts = {"Current": 0, "Challenger": 0}
    for _ in range(1000):
        body, variant = invoke(server, "ab-test", {"values": [1]})
        counts[variant] += 1
        assert body == {"scaled": [1 if variant == "Current" else 2]}
    assert abs(counts["Current"] / 1000 - 0.7) <= 0.05, counts

    assert {invoke(server, "ab-test", {"values": [1]}, TargetVariant="Challenger")[1] for _ in range(10)} == {
        "Challenger"
    }

    # The console's status page reads the per-variant counts from the health report.
    shown = httpx.get(f"{server.endpoint}/_outcrop/health").json()["sagemaker_endpoints"]["ab-test"]
    assert shown["Current"]["Invocations"] + shown["Challenger"]["Invocations"] >= 1010
    assert shown["Challenger"]["Invocations"] >= 10 and shown["Current"]["ModelLatencyAverageMs"] > 0

    sagemaker = server.client("sagemaker")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="ab-test",
        DesiredWeightsAndCapacities=[
            {"VariantName": "Current", "DesiredWeight": 0},
            {"VariantName": "Challenger", "DesiredWeight": 1},
        ],
    )
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="ab-test", WaiterConfig={"Delay": 1})
    assert {invoke(server, "ab-test", {"values": [1]})[1] for _ in range(20)} == {"Challenger"}

    sagemaker.delete_endpoint(EndpointName="ab-test")
    with pytest.raises(ClientError) as gone:
        for _ in range(100):  # deletion finishes in the background
            invoke(server, "ab-test", {"values": [1]})
    assert gone.value.response["Error"]["Code"] == "ValidationError"


def test_failing_model_fn_fails_the_endpoint(server: RunningServer, bucket: str) -> None:
    create_model(server, bucket, "broken", scaler_archive(1, "broken_model_fn.py"))
    described = create_endpoint(server, "broken-endpoint", [("AllTraffic", "broken", 1.0)])
    assert described["EndpointStatus"] == "Failed"
    assert "weights.bin is missing from the model archive" in described["FailureReason"]
    with pytest.raises(ClientError) as error:
        invoke(server, "broken-endpoint", {"values": [1]})
    assert error.value.response["Error"]["Code"] == "ValidationError"


def test_raising_predict_fn_is_a_model_error_and_the_endpoint_serves_on(
    server: RunningServer, bucket: str
) -> None:
    create_model(server, bucket, "fragile", scaler_archive(3))
    assert (
        create_endpoint(server, "fragile", [("AllTraffic", "fragile", 1.0)])["EndpointStatus"] == "InService"
    )
    with pytest.raises(ClientError) as error:
        invoke(server, "fragile", {"values": [1], "fail": True})
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert error.value.response["OriginalStatusCode"] == 500
    assert invoke(server, "fragile", {"values": [1]}) == ({"scaled": [3]}, "AllTraffic")


def test_multi_model_endpoint_serves_target_models(server: RunningServer, bucket: str) -> None:
    s3 = server.client("s3")
    for factor in (4, 5):
        s3.put_object(Bucket=bucket, Key=f"mme/x{factor}.tar.gz", Body=scaler_archive(factor))
    server.client("sagemaker").create_model(
        ModelName="many",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/mme/", "Mode": "MultiModel"},
    )
    assert create_endpoint(server, "many", [("AllTraffic", "many", 1.0)])["EndpointStatus"] == "InService"
    assert invoke(server, "many", {"values": [1]}, TargetModel="x5.tar.gz")[0] == {"scaled": [5]}
    assert invoke(server, "many", {"values": [1]}, TargetModel="x4.tar.gz")[0] == {"scaled": [4]}
