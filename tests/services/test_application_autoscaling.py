"""application-autoscaling through boto3: a SageMaker variant's instance count follows the load a generator
puts on it (target tracking on SageMakerVariantInvocationsPerInstance), within the target's min and max, as
DescribeEndpoint's CurrentInstanceCount shows; UpdateEndpointWeightsAndCapacities sets it by hand."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.errors import error_of
from tests.sagemaker_hosting.archives import scaler_archive
from tests.server import RunningServer

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def deploy(server: RunningServer) -> str:
    sm, s3 = server.client("sagemaker"), server.client("s3")
    bucket, name = f"scale-{uuid.uuid4().hex[:8]}", f"scaled-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=scaler_archive(2))
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    return name


def count_of(sm: Any, endpoint: str) -> int:
    return int(sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]["CurrentInstanceCount"])


def wait_for(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def endpoint(server: RunningServer) -> str:
    return deploy(server)


def test_the_variant_follows_the_load_within_min_and_max(server: RunningServer, endpoint: str) -> None:
    scaling, sm, runtime = (
        server.client("application-autoscaling"),
        server.client("sagemaker"),
        server.client("sagemaker-runtime"),
    )
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=3,
    )
    scaling.put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,  # invocations per instance per minute
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 0,
            "ScaleInCooldown": 0,
        },
    )
    assert count_of(sm, endpoint) == 1
    stop = threading.Event()

    def load() -> None:  # about 10 calls a second: 600 a minute, ten instances' worth at 60 each
        while not stop.is_set():
            runtime.invoke_endpoint(
                EndpointName=endpoint, Body=json.dumps({"values": [1, 2]}), ContentType="application/json"
            )
            time.sleep(0.1)

    generator = threading.Thread(target=load, daemon=True)
    generator.start()
    try:
        wait_for(lambda: count_of(sm, endpoint) == 3, timeout=60)  # capped at MaxCapacity
    finally:
        stop.set()
        generator.join()
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps({"values": [1, 2]}), ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [2, 4]}  # the new fleet serves
    wait_for(lambda: count_of(sm, endpoint) == 1, timeout=90)  # no load: back to MinCapacity

    def activities() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = scaling.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=resource
        )["ScalingActivities"]
        return found

    # the scaler records an activity just after the change it made: wait for it, not for the count alone
    wait_for(lambda: activities()[0]["Description"] == "Setting desired instance count to 1.", timeout=30)
    descriptions = [a["Description"] for a in activities()]
    assert "Setting desired instance count to 3." in descriptions
    assert descriptions[0] == "Setting desired instance count to 1."
    assert all(a["StatusCode"] == "Successful" for a in activities())
    assert "invocations" in activities()[0]["Cause"]

    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)[
        "ScalingPolicies"
    ]
    assert [p["PolicyName"] for p in policies] == ["invocations"]
    scaling.delete_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
    )
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])[
        "ScalableTargets"
    ]
    assert targets[0]["MinCapacity"] == 1 and targets[0]["MaxCapacity"] == 3
    scaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION
    )
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == [] or all(
        t["ResourceId"] != resource
        for t in scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    )


def test_update_endpoint_weights_and_capacities_sets_the_count(server: RunningServer, endpoint: str) -> None:
    sm, runtime = server.client("sagemaker"), server.client("sagemaker-runtime")
    sm.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    wait_for(lambda: sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService", timeout=60)
    assert count_of(sm, endpoint) == 2
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps({"values": [1, 2]}), ContentType="application/json"
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    bad = error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 0}],
    )
    assert bad["Code"] == "ValidationException"


def test_registering_outside_the_range_scales_at_once_and_bad_input(
    server: RunningServer, endpoint: str
) -> None:
    scaling, sm = server.client("application-autoscaling"), server.client("sagemaker")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    before = count_of(sm, endpoint)
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        MinCapacity=before + 1,
        MaxCapacity=4,
    )
    assert count_of(sm, endpoint) == before + 1
    scaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION
    )
    cases = [
        (
            scaling.register_scalable_target,
            {
                "ServiceNamespace": "ecs",
                "ResourceId": "service/x/y",
                "ScalableDimension": "ecs:service:DesiredCount",
                "MinCapacity": 1,
                "MaxCapacity": 2,
            },
            "ValidationException",
        ),
        (
            scaling.register_scalable_target,
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": "endpoint/nope/variant/AllTraffic",
                "ScalableDimension": DIMENSION,
                "MinCapacity": 1,
                "MaxCapacity": 2,
            },
            "ValidationException",
        ),
        (
            scaling.register_scalable_target,
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": resource,
                "ScalableDimension": DIMENSION,
                "MinCapacity": 3,
                "MaxCapacity": 2,
            },
            "ValidationException",
        ),
        (
            scaling.put_scaling_policy,
            {
                "PolicyName": "p",
                "ServiceNamespace": "sagemaker",
                "ResourceId": resource,
                "ScalableDimension": DIMENSION,
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 5.0,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                },
            },
            "ObjectNotFoundException",
        ),
        (
            scaling.deregister_scalable_target,
            {"ServiceNamespace": "sagemaker", "ResourceId": resource, "ScalableDimension": DIMENSION},
            "ObjectNotFoundException",
        ),
    ]
    for call, params, code in cases:
        error = error_of(call, **params)
        assert error["Code"] == code and error["Status"] == 400, (params, error)
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=4,
    )
    step = error_of(
        scaling.put_scaling_policy,
        PolicyName="steps",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        PolicyType="StepScaling",
    )
    assert step["Code"] == "ValidationException" and "StepScaling" in step["Message"]
    scaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION
    )
