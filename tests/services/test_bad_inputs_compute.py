"""Bad input to SageMaker (control plane and runtime), CloudWatch and Lambda, and the AWS-shaped refusals.

Unknown and duplicate names, junk model archives, damaged zips, calls out of order (invoking an endpoint
still Creating or already Failed), bad metric windows and tokens: each must answer the operation's modelled
error with a 4xx status and a readable message, and leave what is stored as it was.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.server import RunningServer
from tests.services.bad_inputs import bad_inputs_bucket, refused, unhandled_errors, unique, wait_for
from tests.services.test_sagemaker import IMAGE, ROLE, create_model_from

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


@pytest.fixture(scope="module", autouse=True)
def log_start(server: RunningServer) -> int:
    """Where the server log stood before this module's calls."""
    return server.log_path.stat().st_size


@pytest.fixture(scope="module")
def bucket(server: RunningServer) -> str:
    return bad_inputs_bucket(server)


# -- SageMaker control plane and runtime ---------------------------------------------------------------------


def _config(sm: Any, model: str, **extra: Any) -> str:
    name = unique("config")
    variant: dict[str, Any] = {
        "VariantName": "main",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], **extra)
    return name


def test_sagemaker_refuses_unknown_duplicate_and_inconsistent_resources(
    server: RunningServer, bucket: str
) -> None:
    sm = server.client("sagemaker")
    unchecked = server.client("sagemaker", parameter_validation=False)
    model = create_model_from(sm, f"s3://{bucket}/model/model.tar.gz")
    again = refused(
        sm.create_model,
        "ValidationException",
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
    )
    assert "already existing" in again["Message"]
    refused(
        unchecked.create_model,
        "ValidationException",
        ModelName=unique("m"),
        ExecutionRoleArn=ROLE,
        Containers=[],
    )
    refused(
        sm.create_model,
        "ValidationException",
        ModelName=unique("m"),
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"ModelPackageName": "no-such-package"},
    )
    variant: dict[str, Any] = {
        "VariantName": "main",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    unknown = refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=unique("c"),
        ProductionVariants=[{**variant, "ModelName": unique("nomodel")}],
    )
    assert "Could not find model" in unknown["Message"]
    refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=unique("c"),
        ProductionVariants=[{**variant, "ModelName": model}] * 2,
    )
    refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=unique("c"),
        ProductionVariants=[{**variant, "ModelName": model, "InitialVariantWeight": 0}],
    )
    config = _config(sm, model)
    refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=config,
        ProductionVariants=[{**variant, "ModelName": model}],
    )
    refused(
        sm.create_endpoint, "ValidationException", EndpointName=unique("e"), EndpointConfigName=unique("none")
    )
    for call, field in (
        (sm.describe_model, "ModelName"),
        (sm.delete_model, "ModelName"),
        (sm.describe_endpoint_config, "EndpointConfigName"),
        (sm.delete_endpoint_config, "EndpointConfigName"),
        (sm.describe_endpoint, "EndpointName"),
        (sm.delete_endpoint, "EndpointName"),
    ):
        missing: dict[str, Any] = {field: unique("never")}
        assert "Could not find" in refused(call, "ValidationException", **missing)["Message"]
    refused(sm.list_models, "ValidationException", NextToken="garbage")
    refused(sm.describe_training_job, "ResourceNotFound", TrainingJobName=unique("never"))
    refused(sm.stop_training_job, "ResourceNotFound", TrainingJobName=unique("never"))
    refused(sm.describe_model_package_group, "ValidationException", ModelPackageGroupName=unique("never"))
    refused(
        sm.add_tags,
        "ValidationException",
        ResourceArn=f"arn:aws:sagemaker:us-east-1:000000000000:model/{unique('never')}",
        Tags=[{"Key": "team", "Value": "a"}],
    )
    assert sm.describe_model(ModelName=model)["ModelName"] == model  # the refusals left it alone

    group = unique("group")
    sm.create_model_package_group(ModelPackageGroupName=group)
    refused(sm.create_model_package_group, "ValidationException", ModelPackageGroupName=group)
    sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    in_use = refused(sm.delete_model_package_group, "ConflictException", ModelPackageGroupName=group)
    assert "contains model packages" in in_use["Message"]
    assert sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupName"] == group


def test_sagemaker_calls_out_of_order_are_refused(server: RunningServer, bucket: str) -> None:
    sm = server.client("sagemaker")
    runtime = server.client("sagemaker-runtime")
    config = _config(sm, create_model_from(sm, f"s3://{bucket}/model/model.tar.gz"))
    endpoint = unique("early")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    if sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating":
        early = refused(
            runtime.invoke_endpoint, "ValidationError", EndpointName=endpoint, Body=b'{"values": [1]}'
        )
        assert endpoint in early["Message"]
        busy = refused(
            sm.update_endpoint, "ValidationException", EndpointName=endpoint, EndpointConfigName=config
        )
        assert "in-progress" in busy["Message"]
    refused(sm.create_endpoint, "ValidationException", EndpointName=endpoint, EndpointConfigName=config)
    sm.delete_endpoint(EndpointName=endpoint)

    broken = unique("broken")
    sm.create_endpoint(
        EndpointName=broken,
        EndpointConfigName=_config(sm, create_model_from(sm, f"s3://{bucket}/junk/model.tar.gz")),
    )
    described = wait_for(
        lambda: sm.describe_endpoint(EndpointName=broken), lambda d: d["EndpointStatus"] != "Creating"
    )
    assert described["EndpointStatus"] == "Failed"
    assert "tar.gz" in described["FailureReason"]
    refused(runtime.invoke_endpoint, "ValidationError", EndpointName=broken, Body=b'{"values": [1]}')
    sm.delete_endpoint(EndpointName=broken)

    for call in (runtime.invoke_endpoint, runtime.invoke_endpoint_with_response_stream):
        refused(call, "ValidationError", EndpointName=unique("never"), Body=b"{}")
    refused(
        runtime.invoke_endpoint_async,
        "ValidationError",
        EndpointName=unique("never"),
        InputLocation=f"s3://{bucket}/in.json",
    )
    refused(
        runtime.invoke_endpoint,
        "ValidationError",
        EndpointName=unique("never"),
        Body=b"{}",
        InferenceComponentName="component",
    )


def test_sagemaker_update_to_a_broken_config_rolls_back_and_keeps_serving(
    server: RunningServer, bucket: str
) -> None:
    sm = server.client("sagemaker")
    runtime = server.client("sagemaker-runtime")
    good = _config(sm, create_model_from(sm, f"s3://{bucket}/model/model.tar.gz"))
    broken = _config(sm, create_model_from(sm, f"s3://{bucket}/junk/model.tar.gz"))
    orphan_model = create_model_from(sm, f"s3://{bucket}/model/model.tar.gz")
    orphan = _config(sm, orphan_model)
    sm.delete_model(ModelName=orphan_model)
    refused(sm.create_endpoint, "ValidationException", EndpointName=unique("e"), EndpointConfigName=orphan)

    endpoint = unique("rollback")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=good)
    serving = wait_for(
        lambda: sm.describe_endpoint(EndpointName=endpoint), lambda d: d["EndpointStatus"] != "Creating"
    )
    assert serving["EndpointStatus"] == "InService", serving.get("FailureReason")
    refused(sm.update_endpoint, "ValidationException", EndpointName=endpoint, EndpointConfigName=orphan)
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=broken)
    after = wait_for(
        lambda: sm.describe_endpoint(EndpointName=endpoint), lambda d: d["EndpointStatus"] != "Updating"
    )
    assert after["EndpointStatus"] == "InService" and after["EndpointConfigName"] == good
    assert "rolled back" in after["FailureReason"]
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps({"values": [2]}), ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [2]}
    sm.delete_endpoint(EndpointName=endpoint)


# -- CloudWatch ----------------------------------------------------------------------------------------------

METRIC: dict[str, Any] = {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}


def test_cloudwatch_refuses_bad_windows_periods_tokens_and_query_ids(server: RunningServer) -> None:
    cloudwatch = server.client("cloudwatch")
    now = datetime.now(UTC)
    hour: dict[str, Any] = {"StartTime": now - timedelta(hours=1), "EndTime": now}
    refused(cloudwatch.get_metric_statistics, "MissingParameter", Period=60, **METRIC, **hour)
    refused(
        cloudwatch.get_metric_statistics,
        "InvalidParameterValue",
        Period=7,
        Statistics=["Sum"],
        **METRIC,
        **hour,
    )
    refused(
        cloudwatch.get_metric_statistics,
        "InvalidParameterValue",
        Period=60,
        Statistics=["Sum"],
        StartTime=now,
        EndTime=now - timedelta(hours=1),
        **METRIC,
    )
    too_many = refused(
        cloudwatch.get_metric_statistics,
        "InvalidParameterCombination",
        Period=60,
        Statistics=["Sum"],
        StartTime=now - timedelta(days=30),
        EndTime=now,
        **METRIC,
    )
    assert "43200" in too_many["Message"] and "1440" in too_many["Message"]
    day = cloudwatch.get_metric_statistics(
        Period=60, Statistics=["Sum"], StartTime=now - timedelta(days=1), EndTime=now, **METRIC
    )
    assert day["Datapoints"] == []  # exactly 1440 minutes is allowed

    def query(query_id: str, **stat: Any) -> dict[str, Any]:
        return {"Id": query_id, "MetricStat": {"Metric": METRIC, "Period": 60, "Stat": "Sum", **stat}}

    refused(
        cloudwatch.get_metric_data,
        "InvalidNextToken",
        MetricDataQueries=[query("calls")],
        NextToken="zz",
        **hour,
    )
    bad_id = refused(
        cloudwatch.get_metric_data, "InvalidParameterValue", MetricDataQueries=[query("Bad-Id")], **hour
    )
    assert "Bad-Id" in bad_id["Message"]
    twice = refused(
        cloudwatch.get_metric_data, "InvalidParameterValue", MetricDataQueries=[query("calls")] * 2, **hour
    )
    assert "calls" in twice["Message"]
    refused(
        cloudwatch.get_metric_data,
        "InvalidParameterValue",
        MetricDataQueries=[query("p", Stat="p99")],
        **hour,
    )
    refused(cloudwatch.list_metrics, "InvalidParameterValue", NextToken="zz")


# -- Lambda --------------------------------------------------------------------------------------------------


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _damaged_zip() -> bytes:
    """A zip whose directory reads fine but whose one member's compressed bytes are garbage."""
    package = bytearray(_zip({"app.py": HANDLER * 40}))
    for index in range(45, 60):
        package[index] ^= 0xFF
    return bytes(package)


def test_lambda_refuses_bad_packages_and_keeps_the_deployed_code(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = unique("fn")
    create: dict[str, Any] = {"Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler"}
    lam.create_function(FunctionName=name, Code={"ZipFile": _zip({"app.py": HANDLER})}, **create)
    refused(
        lam.create_function,
        "ResourceConflictException",
        409,
        FunctionName=name,
        Code={"ZipFile": b"x"},
        **create,
    )
    damaged = refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"ZipFile": _damaged_zip()},
        **create,
    )
    assert "unzip" in damaged["Message"]
    refused(
        lam.create_function, "InvalidParameterValueException", FunctionName=unique("fn"), Code={}, **create
    )
    refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"S3Bucket": unique("nobucket"), "S3Key": "code.zip"},
        **create,
    )
    refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"ZipFile": _zip({"app.py": HANDLER})},
        **{**create, "Runtime": "nodejs20.x"},
    )
    refused(
        lam.update_function_code, "InvalidParameterValueException", FunctionName=name, ZipFile=_damaged_zip()
    )
    refused(
        lam.update_function_code, "InvalidParameterValueException", FunctionName=name, ZipFile=b"not a zip"
    )
    refused(
        lam.update_function_configuration,
        "InvalidParameterValueException",
        FunctionName=name,
        Runtime="java21",
    )
    for change in (
        {"Handler": "handler"},
        {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
        {"Environment": {"Variables": {f"KEY_{n}": "v" * 100 for n in range(50)}}},
    ):
        refused(
            lam.update_function_configuration, "InvalidParameterValueException", FunctionName=name, **change
        )
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ok": True}  # the refused updates kept code and config
    assert lam.get_function_configuration(FunctionName=name)["Handler"] == "app.handler"

    empty = refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"ZipFile": _zip({})},
        **create,
    )
    assert "non-empty zip" in empty["Message"]
    reserved = refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"ZipFile": _zip({"app.py": HANDLER})},
        Environment={"Variables": {"AWS_ACCESS_KEY_ID": "AKIA", "COLOUR": "blue"}},
        **create,
    )
    assert "AWS_ACCESS_KEY_ID" in reserved["Message"] and "COLOUR" not in reserved["Message"]

    refused(lam.invoke, "InvalidRequestContentException", FunctionName=name, Payload=b"{not json")
    refused(
        lam.invoke, "InvalidRequestContentException", FunctionName=name, Payload=b"{}", ClientContext="!!!"
    )
    refused(lam.invoke, "ResourceNotFoundException", 404, FunctionName=name, Qualifier="prod")
    for call in (lam.invoke, lam.get_function, lam.delete_function, lam.invoke_with_response_stream):
        missing = refused(call, "ResourceNotFoundException", 404, FunctionName=unique("never"))
        assert "Function not found" in missing["Message"]


# -- the log -------------------------------------------------------------------------------------------------


def test_the_server_log_shows_no_unhandled_error(server: RunningServer, log_start: int) -> None:
    """Runs last: every refusal above was a modelled error, not an unhandled exception."""
    assert not unhandled_errors(server, log_start)
