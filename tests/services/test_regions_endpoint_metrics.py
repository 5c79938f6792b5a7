"""CloudWatch's endpoint metrics and Application Auto Scaling find a SageMaker endpoint in the request's
region: the same endpoint name in eu-west-1 and us-east-1 has its own invocation counts and its own
instance count, each seen and scaled from its region only."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.errors import error_of
from tests.sagemaker_hosting.archives import scaler_archive
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, regional, regional_bucket
from tests.services.test_application_autoscaling import count_of, wait_for

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def _deploy(server: RunningServer, region: str, name: str) -> Any:
    bucket = regional_bucket(server, region, "metrics-region", **{"model.tar.gz": scaler_archive(2)})
    sm = regional(server, "sagemaker", region)
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"},
    )
    variant = {"VariantName": "main", "ModelName": name, "InitialInstanceCount": 1}
    sm.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return sm


def _invocations(server: RunningServer, region: str, name: str) -> float:
    now = time.time()
    stats = regional(server, "cloudwatch", region).get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "main"}],
        StartTime=now - 600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in stats["Datapoints"])


def test_metrics_and_scaling_of_a_name_used_in_two_regions(server: RunningServer) -> None:
    name = f"twice-{uuid.uuid4().hex[:8]}"
    clients = {region: _deploy(server, region, name) for region in (HOME, AWAY)}
    for client in clients.values():
        client.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    calls = {HOME: 3, AWAY: 1}  # AWAY is the server's default region, which a by-name lookup found first
    for region, count in calls.items():
        runtime = regional(server, "sagemaker-runtime", region)
        for _ in range(count):
            runtime.invoke_endpoint(
                EndpointName=name, Body=json.dumps({"values": [1]}), ContentType="application/json"
            )
    for region, count in calls.items():
        assert _invocations(server, region, name) == count
        listed = regional(server, "cloudwatch", region).list_metrics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[{"Name": "EndpointName", "Value": name}],
        )["Metrics"]
        assert len(listed) == 1
    assert (
        regional(server, "cloudwatch", "ap-south-1").list_metrics(
            Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": name}]
        )["Metrics"]
        == []
    )

    # a target registered in eu-west-1 scales eu-west-1's variant; us-east-1's keeps its one instance
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{name}/variant/main",
        "ScalableDimension": DIMENSION,
    }
    scaling = regional(server, "application-autoscaling", HOME)
    scaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=3)
    wait_for(lambda: count_of(clients[HOME], name) == 2, timeout=60)
    assert count_of(clients[AWAY], name) == 1
    activities = scaling.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"]
    assert [a["StatusCode"] for a in activities if a["ResourceId"] == target["ResourceId"]] == ["Successful"]
    # one target per resource ID on this server: the other region's is refused by name, not overwritten
    taken = error_of(
        regional(server, "application-autoscaling", AWAY).register_scalable_target,
        **target,
        MinCapacity=1,
        MaxCapacity=2,
    )
    assert taken["Code"] == "ValidationException" and HOME in taken["Message"]
    scaling.deregister_scalable_target(**target)
    for client in clients.values():
        client.delete_endpoint(EndpointName=name)
        client.delete_endpoint_config(EndpointConfigName=name)
        client.delete_model(ModelName=name)
