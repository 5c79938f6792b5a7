"""SageMaker's control plane through boto3: models, endpoint configs, endpoints, the model registry, tags.

Endpoints deploy through the hosting seam for real (worker processes running a tiny inference script), so
the statuses seen here are the ones the SDK's waiters see.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
ARN = "arn:aws:sagemaker:us-east-1:000000000000"


def scaler_archive(factor: int) -> bytes:
    """A model.tar.gz as the SDK repacks one with its inference script: the model file plus code/."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (
            ("factor.json", json.dumps({"factor": factor}).encode()),
            ("code/inference.py", (FIXTURES / "inference" / "inference.py").read_bytes()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def sm(server: RunningServer) -> Any:
    return server.client("sagemaker")


@pytest.fixture(scope="module")
def bucket(server: RunningServer) -> str:
    s3 = server.client("s3")
    name = unique("sm-models")
    s3.create_bucket(Bucket=name)
    for factor in (1, 2):
        s3.put_object(Bucket=name, Key=f"scaler/{factor}/model.tar.gz", Body=scaler_archive(factor))
    return name


def create_model(sm: Any, bucket: str, factor: int = 1, **container: Any) -> str:
    return create_model_from(sm, f"s3://{bucket}/scaler/{factor}/model.tar.gz", **container)


def create_model_from(sm: Any, model_data_url: str, **container: Any) -> str:
    """A model of the test image serving `inference.py` from the archive at `model_data_url`."""
    name = unique("model")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": model_data_url,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            **container,
        },
    )
    return name


def wait_status(sm: Any, endpoint: str, *, leaving: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] not in leaving:
            return described
        time.sleep(0.3)
    raise AssertionError(f"{endpoint} stayed in {leaving}")


def test_model_lifecycle_and_errors(sm: Any, bucket: str) -> None:
    name = create_model(sm, bucket)
    described = sm.describe_model(ModelName=name)
    assert described["ModelArn"] == f"{ARN}:model/{name}"
    assert described["PrimaryContainer"]["ModelDataUrl"] == f"s3://{bucket}/scaler/1/model.tar.gz"
    assert described["ExecutionRoleArn"] == ROLE
    again = error_of(
        sm.create_model, ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    assert again["Code"] == "ValidationException" and again["Status"] == 400
    assert again["Message"] == f'Cannot create already existing model "{ARN}:model/{name}".'
    assert name in [m["ModelName"] for m in sm.list_models(NameContains=name)["Models"]]
    sm.delete_model(ModelName=name)
    gone = error_of(sm.describe_model, ModelName=name)
    assert gone["Code"] == "ValidationException"
    assert gone["Message"] == f'Could not find model "{ARN}:model/{name}".'
    assert error_of(sm.delete_model, ModelName=name)["Code"] == "ValidationException"
    no_container = error_of(sm.create_model, ModelName=unique("model"), ExecutionRoleArn=ROLE)
    assert no_container["Code"] == "ValidationException"


def test_endpoint_config_needs_existing_models(sm: Any, bucket: str) -> None:
    missing = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=unique("config"),
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": "no-such-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    assert missing["Code"] == "ValidationException" and "Could not find model" in missing["Message"]
    model = create_model(sm, bucket)
    config = unique("config")
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {"VariantName": "A", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
        Tags=[{"Key": "stage", "Value": "test"}],
    )
    described = sm.describe_endpoint_config(EndpointConfigName=config)
    assert described["EndpointConfigArn"] == f"{ARN}:endpoint-config/{config}"
    assert described["ProductionVariants"][0]["InitialVariantWeight"] == 1.0
    assert sm.list_tags(ResourceArn=described["EndpointConfigArn"])["Tags"] == [
        {"Key": "stage", "Value": "test"}
    ]
    assert [
        c["EndpointConfigName"] for c in sm.list_endpoint_configs(NameContains=config)["EndpointConfigs"]
    ] == [config]
    sm.delete_endpoint_config(EndpointConfigName=config)
    gone = error_of(sm.describe_endpoint_config, EndpointConfigName=config)
    assert gone["Message"] == f'Could not find endpoint configuration "{ARN}:endpoint-config/{config}".'


def test_endpoint_serves_updates_weights_and_is_deleted(server: RunningServer, sm: Any, bucket: str) -> None:
    one, two = create_model(sm, bucket, 1), create_model(sm, bucket, 2)
    config = unique("config")
    variants = [
        {
            "VariantName": "One",
            "ModelName": one,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 3.0,
        },
        {
            "VariantName": "Two",
            "ModelName": two,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1.0,
        },
    ]
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=variants)
    endpoint = unique("endpoint")
    arn = sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)["EndpointArn"]
    assert arn == f"{ARN}:endpoint/{endpoint}"
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] in ("Creating", "InService")
    described = wait_status(sm, endpoint, leaving=("Creating",))
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    weights = {
        v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"]) for v in described["ProductionVariants"]
    }
    assert weights == {"One": (3.0, 3.0), "Two": (1.0, 1.0)}
    assert described["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE

    runtime = server.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=json.dumps({"values": [1, 2]}),
        ContentType="application/json",
        TargetVariant="Two",
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [2, 4]}

    sm.update_endpoint_weights_and_capacities(
        EndpointName=endpoint, DesiredWeightsAndCapacities=[{"VariantName": "One", "DesiredWeight": 0.0}]
    )
    described = wait_status(sm, endpoint, leaving=("Updating",))
    assert described["EndpointStatus"] == "InService"
    weights = {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}
    assert weights == {"One": 0.0, "Two": 1.0}
    for _ in range(5):
        routed = runtime.invoke_endpoint(
            EndpointName=endpoint, Body=json.dumps({"values": [1]}), ContentType="application/json"
        )
        assert routed["InvokedProductionVariant"] == "Two"

    unknown = error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "Nope", "DesiredWeight": 1.0}],
    )
    assert unknown["Code"] == "ValidationException" and "Nope" in unknown["Message"]
    listed = sm.list_endpoints(NameContains=endpoint, StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [endpoint]
    again = error_of(sm.create_endpoint, EndpointName=endpoint, EndpointConfigName=config)
    assert again["Message"] == f'Cannot create already existing endpoint "{arn}".'

    sm.delete_endpoint(EndpointName=endpoint)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            sm.describe_endpoint(EndpointName=endpoint)
        except sm.exceptions.ClientError as exc:
            assert exc.response["Error"]["Message"] == f'Could not find endpoint "{arn}".'
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the endpoint was never deleted")


def test_update_endpoint_moves_to_a_new_config(server: RunningServer, sm: Any, bucket: str) -> None:
    first, second = unique("config"), unique("config")
    for config, factor in ((first, 1), (second, 2)):
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": create_model(sm, bucket, factor),
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    endpoint = unique("endpoint")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=first)
    busy = error_of(sm.update_endpoint, EndpointName=endpoint, EndpointConfigName=second)
    assert busy["Code"] == "ValidationException" and "Cannot update in-progress endpoint" in busy["Message"]
    assert wait_status(sm, endpoint, leaving=("Creating",))["EndpointStatus"] == "InService"
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=second)
    described = wait_status(sm, endpoint, leaving=("Updating",))
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == second
    runtime = server.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps({"values": [5]}), ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [10]}
    sm.delete_endpoint(EndpointName=endpoint)


def test_multi_model_container_mode_reaches_the_endpoint(server: RunningServer, sm: Any, bucket: str) -> None:
    model = unique("model")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "Mode": "MultiModel", "ModelDataUrl": f"s3://{bucket}/scaler/"},
    )
    assert sm.describe_model(ModelName=model)["PrimaryContainer"]["Mode"] == "MultiModel"
    config = unique("config")
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    endpoint = unique("endpoint")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    assert wait_status(sm, endpoint, leaving=("Creating",))["EndpointStatus"] == "InService"
    runtime = server.client("sagemaker-runtime")
    for factor in (1, 2):
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint,
            TargetModel=f"{factor}/model.tar.gz",
            Body=json.dumps({"values": [3]}),
            ContentType="application/json",
        )
        assert json.loads(answer["Body"].read()) == {"scaled": [3 * factor]}
    sm.delete_endpoint(EndpointName=endpoint)


def test_endpoint_with_missing_model_data_fails_with_a_reason(sm: Any, bucket: str) -> None:
    model = unique("model")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/no/such/model.tar.gz"},
    )
    config = unique("config")
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    endpoint = unique("endpoint")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    described = wait_status(sm, endpoint, leaving=("Creating",))
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"]
    missing = error_of(
        sm.create_endpoint, EndpointName=unique("endpoint"), EndpointConfigName="no-such-config"
    )
    assert "Could not find endpoint configuration" in missing["Message"]
    sm.delete_endpoint(EndpointName=endpoint)


def test_model_registry_versions_and_approval(sm: Any, bucket: str) -> None:
    group = unique("group")
    group_arn = sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription="scalers"
    )["ModelPackageGroupArn"]
    assert group_arn == f"{ARN}:model-package-group/{group}"
    described = sm.describe_model_package_group(ModelPackageGroupName=group)
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert described["ModelPackageGroupDescription"] == "scalers"
    spec = {
        "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/scaler/1/model.tar.gz"}],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    arns = [
        sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)["ModelPackageArn"]
        for _ in range(2)
    ]
    assert arns == [f"{ARN}:model-package/{group}/1", f"{ARN}:model-package/{group}/2"]
    first = sm.describe_model_package(ModelPackageName=arns[0])
    assert first["ModelPackageVersion"] == 1 and first["ModelPackageGroupName"] == group
    assert first["ModelApprovalStatus"] == "PendingManualApproval"
    assert first["ModelPackageStatus"] == "Completed"
    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved", ApprovalDescription="ok")
    second = sm.describe_model_package(ModelPackageName=arns[1])
    assert second["ModelApprovalStatus"] == "Approved" and second["ApprovalDescription"] == "ok"
    approved = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [arns[1]]
    ascending = sm.list_model_packages(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Ascending"
    )
    assert [p["ModelPackageVersion"] for p in ascending["ModelPackageSummaryList"]] == [1, 2]
    assert group in [
        g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    ]

    model = unique("model")
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arns[1]})
    assert sm.describe_model(ModelName=model)["PrimaryContainer"]["ModelPackageName"] == arns[1]

    conflict = error_of(sm.delete_model_package_group, ModelPackageGroupName=group)
    assert conflict["Code"] == "ConflictException"
    for arn in arns:
        sm.delete_model_package(ModelPackageName=arn)
    sm.delete_model_package_group(ModelPackageGroupName=group)
    gone = error_of(sm.describe_model_package_group, ModelPackageGroupName=group)
    assert gone["Code"] == "ValidationException" and "does not exist" in gone["Message"]
    assert error_of(sm.describe_model_package, ModelPackageName=arns[0])["Code"] == "ValidationException"
    assert (
        error_of(sm.create_model_package, ModelPackageGroupName=group, InferenceSpecification=spec)["Code"]
        == "ValidationException"
    )


def test_tags_add_list_delete(sm: Any, bucket: str) -> None:
    name = create_model(sm, bucket)
    arn = f"{ARN}:model/{name}"
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}, {"Key": "cost", "Value": "1"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "data"},
        {"Key": "cost", "Value": "1"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "cost", "Value": "1"}]
    missing = error_of(sm.list_tags, ResourceArn=f"{ARN}:model/no-such-model")
    assert missing["Code"] == "ValidationException"


def test_lists_page_with_next_token(sm: Any, bucket: str) -> None:
    marker = uuid.uuid4().hex[:6]
    names = []
    for index in range(3):
        name = f"page-{marker}-{index}"
        sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        names.append(name)
    first = sm.list_models(NameContains=marker, MaxResults=2, SortBy="Name", SortOrder="Ascending")
    second = sm.list_models(
        NameContains=marker, MaxResults=2, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"]
    )
    assert [m["ModelName"] for m in first["Models"] + second["Models"]] == names
    assert "NextToken" not in second
    assert error_of(sm.list_models, NextToken="garbage!")["Code"] == "ValidationException"


def test_registry_and_endpoints_survive_a_restart(tmp_path: Path) -> None:
    own = RunningServer(tmp_path / "data").start()
    package_spec = {
        "Containers": [{"Image": IMAGE}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    try:
        sm = own.client("sagemaker")
        own.client("s3").create_bucket(Bucket="kept-models")
        own.client("s3").put_object(Bucket="kept-models", Key="scaler.tar.gz", Body=scaler_archive(3))
        sm.create_model(
            ModelName="kept",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://kept-models/scaler.tar.gz"},
            Tags=[{"Key": "k", "Value": "v"}],
        )
        sm.create_endpoint_config(
            EndpointConfigName="kept-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "kept",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName="kept-endpoint", EndpointConfigName="kept-config")
        assert wait_status(sm, "kept-endpoint", leaving=("Creating",))["EndpointStatus"] == "InService"
        sm.create_model_package_group(ModelPackageGroupName="kept-group")
        sm.create_model_package(ModelPackageGroupName="kept-group", InferenceSpecification=package_spec)

        # An endpoint still Creating when the server stops is deployed again by the next one.
        sm.create_endpoint(EndpointName="kept-creating", EndpointConfigName="kept-config")
        own.restart()
        sm = own.client("sagemaker")
        assert wait_status(sm, "kept-creating", leaving=("Creating",))["EndpointStatus"] == "InService"
        assert sm.describe_model(ModelName="kept")["PrimaryContainer"]["Image"] == IMAGE
        assert sm.list_tags(ResourceArn=f"{ARN}:model/kept")["Tags"] == [{"Key": "k", "Value": "v"}]
        assert sm.describe_endpoint(EndpointName="kept-endpoint")["EndpointStatus"] == "InService"
        answer = own.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="kept-endpoint", Body=json.dumps({"values": [2]}), ContentType="application/json"
        )
        assert json.loads(answer["Body"].read()) == {"scaled": [6]}
        created = sm.create_model_package(
            ModelPackageGroupName="kept-group", InferenceSpecification=package_spec
        )
        assert created["ModelPackageArn"].endswith("/kept-group/2")
    finally:
        own.stop()
