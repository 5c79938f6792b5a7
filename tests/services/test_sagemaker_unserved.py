"""SageMaker members Outcrop cannot honour are refused by name (their defaults accepted); those it can are
honoured: UpdateEndpoint's variant property retention, CreateModelPackage/UpdateModelPackage ClientToken
idempotency, and list filters that match nothing here (warm pools, AWS-managed pipelines, shared groups)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker import IMAGE, ROLE, bucket, create_model, sm, unique, wait_status

__all__ = ["bucket", "sm"]  # module fixtures shared with test_sagemaker

VARIANT = {"VariantName": "AllTraffic", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENDPOINT_CONFIG_REFUSALS: list[tuple[str, Any]] = [
    (
        "ExplainerConfig",
        {"ClarifyExplainerConfig": {"ShapConfig": {"ShapBaselineConfig": {"MimeType": "text/csv"}}}},
    ),
    ("ShadowProductionVariants", [{**VARIANT, "VariantName": "Shadow"}]),
    ("MetricsConfig", {"EnableEnhancedMetrics": True}),
    (
        "CrossRegionTrafficConfig",
        {"MaxInvocationsPerSecondPerInstance": 5, "MaxCrossRegionPercentPerEndpoint": 10},
    ),
    (
        "DataCaptureConfig",
        {
            "InitialSamplingPercentage": 50,
            "DestinationS3Uri": "s3://b/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    ),
    ("KmsKeyId", KEY),
]
TRAINING_REFUSALS: list[tuple[str, Any]] = [
    ("EnableManagedSpotTraining", True),
    ("CheckpointConfig", {"S3Uri": "s3://nowhere/checkpoints"}),
    ("VpcConfig", {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}),
    ("EnableNetworkIsolation", True),
    (
        "ProfilerRuleConfigurations",
        [{"RuleConfigurationName": "ProfilerReport", "RuleEvaluatorImage": IMAGE}],
    ),
    (
        "MlflowConfig",
        {"MlflowResourceArn": "arn:aws:sagemaker:us-east-1:000000000000:mlflow-tracking-server/t"},
    ),
    ("SessionChainingConfig", {"EnableSessionTagChaining": True}),
    (
        "ModelPackageConfig",
        {"ModelPackageGroupArn": "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/g"},
    ),
]


def _training(**extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": unique("train"),
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://nowhere/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        **extra,
    }


@pytest.mark.parametrize(
    ("member", "value"), ENDPOINT_CONFIG_REFUSALS, ids=[m for m, _ in ENDPOINT_CONFIG_REFUSALS]
)
def test_endpoint_config_refuses_what_it_cannot_honour(sm: Any, bucket: str, member: str, value: Any) -> None:
    name = unique("config")
    variants = [{**VARIANT, "ModelName": create_model(sm, bucket)}]
    if member == "ShadowProductionVariants":
        value = [{**value[0], "ModelName": variants[0]["ModelName"]}]
    error = error_of(
        sm.create_endpoint_config, EndpointConfigName=name, ProductionVariants=variants, **{member: value}
    )
    assert error["Code"] == "ValidationException" and f"does not serve {member}" in error["Message"]
    assert error_of(sm.describe_endpoint_config, EndpointConfigName=name)["Code"] == "ValidationException"


def test_endpoint_config_accepts_defaults(sm: Any, bucket: str) -> None:
    name = unique("config")
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{**VARIANT, "ModelName": create_model(sm, bucket)}],
        DataCaptureConfig={
            "EnableCapture": False,
            "InitialSamplingPercentage": 0,
            "DestinationS3Uri": "s3://b/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
        MetricsConfig={"EnableEnhancedMetrics": False},
    )
    assert sm.describe_endpoint_config(EndpointConfigName=name)["EndpointConfigName"] == name


@pytest.mark.parametrize(("member", "value"), TRAINING_REFUSALS, ids=[m for m, _ in TRAINING_REFUSALS])
def test_training_job_refuses_what_it_cannot_honour(sm: Any, member: str, value: Any) -> None:
    request = _training(**{member: value})
    error = error_of(sm.create_training_job, **request)
    assert error["Code"] == "ValidationException" and f"does not serve {member}" in error["Message"]
    assert error_of(sm.describe_training_job, TrainingJobName=request["TrainingJobName"])["Status"] == 400


def test_training_job_accepts_defaults(sm: Any) -> None:
    request = _training(
        EnableManagedSpotTraining=False,
        EnableNetworkIsolation=False,
        ProfilerRuleConfigurations=[],
        SessionChainingConfig={"EnableSessionTagChaining": False},
    )
    sm.create_training_job(**request)
    described = sm.describe_training_job(TrainingJobName=request["TrainingJobName"])
    assert described["EnableManagedSpotTraining"] is False and described["EnableNetworkIsolation"] is False


def test_registry_and_pipelines_refuse_what_they_cannot_honour(sm: Any) -> None:
    group = unique("group")
    error = error_of(
        sm.create_model_package_group,
        ModelPackageGroupName=group,
        ManagedConfiguration={"ManagedStorageType": "Restricted"},
    )
    assert error["Code"] == "ValidationException" and "ManagedConfiguration" in error["Message"]
    sm.create_model_package_group(ModelPackageGroupName=group)
    spec = {
        "Containers": [{"Image": IMAGE}],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    error = error_of(
        sm.create_model_package,
        ModelPackageGroupName=group,
        InferenceSpecification=spec,
        ManagedStorageType="Restricted",
    )
    assert error["Code"] == "ValidationException" and "ManagedStorageType" in error["Message"]
    definition = json.dumps({"Version": "2020-12-01", "Steps": []})
    name = unique("pipeline")
    error = error_of(
        sm.create_pipeline,
        PipelineName=name,
        PipelineDefinition=definition,
        RoleArn=ROLE,
        PipelineVersionAliases=["prod"],
    )
    assert error["Code"] == "ValidationException" and "PipelineVersionAliases" in error["Message"]
    sm.create_pipeline(PipelineName=name, PipelineDefinition=definition, RoleArn=ROLE)
    error = error_of(
        sm.update_pipeline, PipelineName=name, PipelineDefinition=definition, PipelineVersionAliases=["prod"]
    )
    assert error["Code"] == "ValidationException" and "PipelineVersionAliases" in error["Message"]
    sm.delete_pipeline(PipelineName=name)


def test_model_package_client_tokens_are_idempotent(sm: Any) -> None:
    group = unique("group")
    sm.create_model_package_group(ModelPackageGroupName=group)
    spec = {
        "Containers": [{"Image": IMAGE}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    token = unique("token")
    first = sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=spec, ClientToken=token
    )
    again = sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=spec, ClientToken=token
    )
    assert again["ModelPackageArn"] == first["ModelPackageArn"] and first["ModelPackageArn"].endswith("/1")
    other = error_of(
        sm.create_model_package,
        ModelPackageGroupName=group,
        InferenceSpecification=spec,
        ModelPackageDescription="another",
        ClientToken=token,
    )
    assert other["Code"] == "ConflictException"
    listed = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert len(listed) == 1
    described = sm.describe_model_package(ModelPackageName=first["ModelPackageArn"])
    assert not [k for k in described if k.startswith("_")]
    extra = [{"Name": "extra", "Containers": [{"Image": IMAGE}]}]
    update_token = unique("update")
    for _ in range(2):
        sm.update_model_package(
            ModelPackageArn=first["ModelPackageArn"],
            AdditionalInferenceSpecificationsToAdd=extra,
            ClientToken=update_token,
        )
    described = sm.describe_model_package(ModelPackageName=first["ModelPackageArn"])
    assert [s["Name"] for s in described["AdditionalInferenceSpecifications"]] == ["extra"]  # applied once


def test_list_filters_that_match_nothing_here(sm: Any) -> None:
    group = unique("group")
    sm.create_model_package_group(ModelPackageGroupName=group)
    same = sm.list_model_package_groups(NameContains=group, CrossAccountFilterOption="SameAccount")
    assert [g["ModelPackageGroupName"] for g in same["ModelPackageGroupSummaryList"]] == [group]
    shared = sm.list_model_package_groups(NameContains=group, CrossAccountFilterOption="CrossAccount")
    assert shared["ModelPackageGroupSummaryList"] == []
    name = unique("pipeline")
    sm.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}), RoleArn=ROLE
    )
    mine = sm.list_pipelines(PipelineNamePrefix=name, ManagedBy="CUSTOMER")["PipelineSummaries"]
    assert [p["PipelineName"] for p in mine] == [name]
    assert sm.list_pipelines(PipelineNamePrefix=name, ManagedBy="AWS")["PipelineSummaries"] == []
    sm.delete_pipeline(PipelineName=name)
    assert sm.list_training_jobs(WarmPoolStatusEquals="Available")["TrainingJobSummaries"] == []


def test_update_endpoint_retains_variant_properties_when_asked(
    server: RunningServer, sm: Any, bucket: str
) -> None:
    one, two = create_model(sm, bucket, 1), create_model(sm, bucket, 2)
    configs = [unique("config") for _ in range(2)]
    for config in configs:
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {**VARIANT, "VariantName": "One", "ModelName": one, "InitialVariantWeight": 1.0},
                {**VARIANT, "VariantName": "Two", "ModelName": two, "InitialVariantWeight": 1.0},
            ],
        )
    endpoint = unique("endpoint")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=configs[0])
    assert wait_status(sm, endpoint, leaving=("Creating",))["EndpointStatus"] == "InService"
    sm.update_endpoint_weights_and_capacities(
        EndpointName=endpoint, DesiredWeightsAndCapacities=[{"VariantName": "One", "DesiredWeight": 0.0}]
    )
    assert wait_status(sm, endpoint, leaving=("Updating",))["EndpointStatus"] == "InService"

    def weights() -> dict[str, float]:
        described = wait_status(sm, endpoint, leaving=("Updating",))
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        return {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}

    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=configs[1], RetainAllVariantProperties=True)
    assert weights() == {"One": 0.0, "Two": 1.0}
    runtime = server.client("sagemaker-runtime")
    for _ in range(4):  # the kept weight routes: variant One gets no traffic
        routed = runtime.invoke_endpoint(
            EndpointName=endpoint, Body=json.dumps({"values": [1]}), ContentType="application/json"
        )
        assert routed["InvokedProductionVariant"] == "Two"
    sm.update_endpoint(
        EndpointName=endpoint,
        EndpointConfigName=configs[0],
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    assert weights() == {"One": 1.0, "Two": 1.0}
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=configs[1])
    assert weights() == {"One": 1.0, "Two": 1.0}
    sm.delete_endpoint(EndpointName=endpoint)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("VpcConfig", {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}),
        ("EnableNetworkIsolation", True),
    ],
)
def test_create_model_refuses_what_it_cannot_honour(sm: Any, bucket: str, member: str, value: Any) -> None:
    name = unique("model")
    container = {"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/scaler/1/model.tar.gz"}
    error = error_of(
        sm.create_model, ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container, **{member: value}
    )
    assert error["Code"] == "ValidationException" and f"does not serve {member}" in error["Message"]
    sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container, EnableNetworkIsolation=False
    )
