"""SageMaker's resources live in the account and region that made them: models, endpoint configurations,
endpoints (and InvokeEndpoint), training, tuning and processing jobs (and their logs), tags by ARN; their
names are unique per account and region, as on AWS."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from tests.errors import error_of
from tests.sagemaker_hosting.archives import scaler_archive
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, arn_region, regional
from tests.services.test_sagemaker_processing import SPLIT, Processing
from tests.services.test_sagemaker_training import Jobs
from tests.services.test_sagemaker_transform import Transform
from tests.services.test_sagemaker_tuning import Tuning

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"


def test_a_training_job_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    # its bucket is us-east-1's (S3 names are global); the job and its logs are eu-west-1's
    jobs = Jobs(lambda service: regional(server, service, AWAY if service == "s3" else HOME))
    name = jobs.create()
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert arn_region(described["TrainingJobArn"]) == HOME
    assert jobs.log_lines(name)  # its logs are in eu-west-1's /aws/sagemaker/TrainingJobs

    away = regional(server, "sagemaker", AWAY)
    assert error_of(away.describe_training_job, TrainingJobName=name)["Code"] == "ResourceNotFound"
    assert error_of(away.stop_training_job, TrainingJobName=name)["Code"] == "ResourceNotFound"
    assert name not in [
        j["TrainingJobName"] for j in away.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    ]
    assert name in [
        j["TrainingJobName"] for j in jobs.sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    ]
    away_logs = regional(server, "logs", AWAY)
    with contextlib.suppress(away_logs.exceptions.ResourceNotFoundException):
        streams = away_logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
        )["logStreams"]
        assert streams == []


def test_models_configs_and_endpoints_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "sagemaker", HOME), regional(server, "sagemaker", AWAY)
    suffix = uuid.uuid4().hex[:8]
    model, endpoint = f"regional-model-{suffix}", f"regional-endpoint-{suffix}"
    bucket = f"regional-sm-{suffix}"
    s3 = regional(server, "s3", HOME)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME})
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=scaler_archive(3))
    arn = home.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"},
        Tags=[{"Key": "team", "Value": "eu"}],
    )["ModelArn"]
    assert arn_region(arn) == HOME
    assert home.describe_model(ModelName=model)["ModelArn"] == arn
    assert error_of(away.describe_model, ModelName=model)["Code"] == "ValidationException"
    assert model not in [m["ModelName"] for m in away.list_models(MaxResults=100)["Models"]]
    assert error_of(away.list_tags, ResourceArn=arn)["Code"] == "ValidationException"
    assert error_of(away.add_tags, ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])["Code"] == (
        "ValidationException"
    )
    assert home.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "eu"}]

    variant = {
        "VariantName": "main",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    # a configuration in us-east-1 cannot name eu-west-1's model
    assert (
        error_of(away.create_endpoint_config, EndpointConfigName=endpoint, ProductionVariants=[variant])[
            "Code"
        ]
        == "ValidationException"
    )
    config_arn = home.create_endpoint_config(EndpointConfigName=endpoint, ProductionVariants=[variant])[
        "EndpointConfigArn"
    ]
    assert arn_region(config_arn) == HOME
    assert (
        error_of(away.describe_endpoint_config, EndpointConfigName=endpoint)["Code"] == "ValidationException"
    )
    home.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    with contextlib.suppress(WaiterError):
        home.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    described: dict[str, Any] = home.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert arn_region(described["EndpointArn"]) == HOME
    assert error_of(away.describe_endpoint, EndpointName=endpoint)["Code"] == "ValidationException"
    assert endpoint not in [e["EndpointName"] for e in away.list_endpoints(MaxResults=100)["Endpoints"]]
    assert error_of(away.delete_endpoint, EndpointName=endpoint)["Code"] == "ValidationException"

    # InvokeEndpoint answers in the endpoint's region only
    body = json.dumps({"values": [2]})
    answer = regional(server, "sagemaker-runtime", HOME).invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [6]}
    refused = error_of(
        regional(server, "sagemaker-runtime", AWAY).invoke_endpoint,
        EndpointName=endpoint,
        Body=body,
        ContentType="application/json",
    )
    assert refused["Code"] == "ValidationError"
    assert refused["Message"] == f"Endpoint {endpoint} of account 000000000000 not found."
    # the endpoint's workers log to eu-west-1's group
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    assert regional(server, "logs", HOME).describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert regional(server, "logs", AWAY).describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []

    # its variant scales from eu-west-1 only
    resource = f"endpoint/{endpoint}/variant/main"
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource,
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling_home = regional(server, "application-autoscaling", HOME)
    scaling_away = regional(server, "application-autoscaling", AWAY)
    refused = error_of(scaling_away.register_scalable_target, **target, MinCapacity=1, MaxCapacity=2)
    assert refused["Code"] == "ValidationException"
    target_arn = scaling_home.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)[
        "ScalableTargetARN"
    ]
    assert arn_region(target_arn) == HOME
    listed = scaling_home.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
    assert [t["ScalableTargetARN"] for t in listed["ScalableTargets"]] == [target_arn]
    hidden = scaling_away.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
    assert hidden["ScalableTargets"] == []
    assert error_of(scaling_away.deregister_scalable_target, **target)["Code"] == "ObjectNotFoundException"
    scaling_home.deregister_scalable_target(**target)

    home.delete_endpoint(EndpointName=endpoint)
    home.delete_endpoint_config(EndpointConfigName=endpoint)
    home.delete_model(ModelName=model)


def test_models_and_endpoint_configs_are_named_per_region(server: RunningServer) -> None:
    # the same names in eu-west-1 and us-east-1 are two resources, each seen, changed and deleted in its own
    home, away = regional(server, "sagemaker", HOME), regional(server, "sagemaker", AWAY)
    suffix = uuid.uuid4().hex[:8]
    name = f"same-name-{suffix}"
    arns = {}
    for client, region in ((home, HOME), (away, AWAY)):
        arns[region] = client.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://models-{region}/model.tar.gz"},
            Tags=[{"Key": "region", "Value": region}],
        )["ModelArn"]
        assert arn_region(arns[region]) == region
    assert arns[HOME] != arns[AWAY]
    for client, region in ((home, HOME), (away, AWAY)):
        described = client.describe_model(ModelName=name)
        assert described["ModelArn"] == arns[region]
        assert described["PrimaryContainer"]["ModelDataUrl"] == f"s3://models-{region}/model.tar.gz"
        assert client.list_tags(ResourceArn=arns[region])["Tags"] == [{"Key": "region", "Value": region}]
        assert [m["ModelArn"] for m in client.list_models(NameContains=name)["Models"]] == [arns[region]]
    again = error_of(
        home.create_model, ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    assert again["Code"] == "ValidationException" and arns[HOME] in again["Message"]

    variant = {
        "VariantName": "main",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    configs = {
        region: client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])[
            "EndpointConfigArn"
        ]
        for client, region in ((home, HOME), (away, AWAY))
    }
    assert arn_region(configs[HOME]) == HOME and arn_region(configs[AWAY]) == AWAY
    assert away.describe_endpoint_config(EndpointConfigName=name)["EndpointConfigArn"] == configs[AWAY]

    # deleting eu-west-1's leaves us-east-1's
    home.delete_endpoint_config(EndpointConfigName=name)
    home.delete_model(ModelName=name)
    assert error_of(home.describe_model, ModelName=name)["Code"] == "ValidationException"
    assert error_of(home.describe_endpoint_config, EndpointConfigName=name)["Code"] == "ValidationException"
    assert away.describe_model(ModelName=name)["ModelArn"] == arns[AWAY]
    assert away.describe_endpoint_config(EndpointConfigName=name)["EndpointConfigArn"] == configs[AWAY]
    away.delete_endpoint_config(EndpointConfigName=name)
    away.delete_model(ModelName=name)
    assert error_of(away.describe_model, ModelName=name)["Code"] == "ValidationException"


def test_training_jobs_are_named_per_region(server: RunningServer) -> None:
    # the same job name trains in eu-west-1 and in us-east-1: two jobs, each with its own folder and logs
    name = f"same-job-{uuid.uuid4().hex[:8]}"
    jobs = {
        region: Jobs(
            lambda service, region=region: regional(server, service, AWAY if service == "s3" else region)
        )
        for region in (HOME, AWAY)
    }
    for region in (HOME, AWAY):
        jobs[region].create(TrainingJobName=name)
    for region in (HOME, AWAY):
        described = jobs[region].wait(name)
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
        assert arn_region(described["TrainingJobArn"]) == region
        artifacts = described["ModelArtifacts"]["S3ModelArtifacts"]
        assert artifacts == f"s3://{jobs[region].bucket}/output/{name}/output/model.tar.gz"
        assert jobs[region].log_lines(name)
        listed = jobs[region].sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
        assert [j["TrainingJobArn"] for j in listed] == [described["TrainingJobArn"]]
    again = error_of(jobs[HOME].create, TrainingJobName=name)
    assert again["Code"] == "ResourceInUse"


class _Regional:
    """A server whose clients speak to one region (S3 stays us-east-1's: bucket names are global)."""

    def __init__(self, server: RunningServer, region: str) -> None:
        self.server, self.region = server, region

    def client(self, service: str) -> Any:
        return regional(self.server, service, AWAY if service == "s3" else self.region)


def test_tuning_jobs_are_named_per_region(server: RunningServer) -> None:
    name = f"same-tuning-{uuid.uuid4().hex[:8]}"
    tunings = {region: Tuning(_Regional(server, region)) for region in (HOME, AWAY)}  # type: ignore[arg-type]
    requests = {}
    for region, quality in ((HOME, "0.3"), (AWAY, "0.7")):
        request = tunings[region].request(
            {"CategoricalParameterRanges": [{"Name": "quality", "Values": [quality]}]}, "Grid"
        )
        request["HyperParameterTuningJobName"] = name
        requests[region] = request
        tunings[region].sm.create_hyper_parameter_tuning_job(**request)
    for region, quality in ((HOME, 0.3), (AWAY, 0.7)):
        described = tunings[region].wait(name)
        assert described["HyperParameterTuningJobStatus"] == "Completed", described
        assert arn_region(described["HyperParameterTuningJobArn"]) == region
        best = described["BestTrainingJob"]
        assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(quality)
        assert arn_region(best["TrainingJobArn"]) == region


def _wait_in_service(client: Any, name: str) -> dict[str, Any]:
    with contextlib.suppress(WaiterError):
        client.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    described: dict[str, Any] = client.describe_endpoint(EndpointName=name)
    return described


def test_endpoints_are_named_per_region(server: RunningServer) -> None:
    # the same endpoint name in eu-west-1 and us-east-1: two endpoints with their own models and workers,
    # each invoked, described, deleted and logged in its own region
    name = f"same-endpoint-{uuid.uuid4().hex[:8]}"
    bucket = f"same-endpoint-{uuid.uuid4().hex[:8]}"
    s3 = regional(server, "s3", AWAY)
    s3.create_bucket(Bucket=bucket)
    factors = {HOME: 3, AWAY: 5}
    clients = {region: regional(server, "sagemaker", region) for region in (HOME, AWAY)}
    for region, client in clients.items():
        s3.put_object(Bucket=bucket, Key=f"{region}/model.tar.gz", Body=scaler_archive(factors[region]))
        client.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/{region}/model.tar.gz"},
        )
        variant = {"VariantName": "main", "ModelName": name, "InitialInstanceCount": 1}
        client.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
        )
        client.create_endpoint(EndpointName=name, EndpointConfigName=name)
    again = error_of(clients[HOME].create_endpoint, EndpointName=name, EndpointConfigName=name)
    assert (
        again["Code"] == "ValidationException"
        and "Cannot create already existing endpoint" in again["Message"]
    )
    arns = {}
    for region, client in clients.items():
        described = _wait_in_service(client, name)
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        arns[region] = described["EndpointArn"]
        assert arn_region(arns[region]) == region
        listed = client.list_endpoints(NameContains=name)["Endpoints"]
        assert [e["EndpointArn"] for e in listed] == [arns[region]]

    body = json.dumps({"values": [2]})

    def invoke(region: str) -> Any:
        answer = regional(server, "sagemaker-runtime", region).invoke_endpoint(
            EndpointName=name, Body=body, ContentType="application/json"
        )
        return json.loads(answer["Body"].read())

    assert invoke(HOME) == {"scaled": [6]}  # eu-west-1's model multiplies by 3
    assert invoke(AWAY) == {"scaled": [10]}  # us-east-1's by 5
    for region in (HOME, AWAY):  # each region's workers log to that region's group
        logs = regional(server, "logs", region)
        assert logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["logStreams"]

    # deleting eu-west-1's leaves us-east-1's serving
    clients[HOME].delete_endpoint(EndpointName=name)
    clients[HOME].get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    refused = error_of(
        regional(server, "sagemaker-runtime", HOME).invoke_endpoint,
        EndpointName=name,
        Body=body,
        ContentType="application/json",
    )
    assert refused["Code"] == "ValidationError"
    assert invoke(AWAY) == {"scaled": [10]}
    assert clients[AWAY].describe_endpoint(EndpointName=name)["EndpointArn"] == arns[AWAY]
    clients[AWAY].delete_endpoint(EndpointName=name)
    for client in clients.values():
        client.delete_endpoint_config(EndpointConfigName=name)
        client.delete_model(ModelName=name)


def test_processing_jobs_are_named_per_region(server: RunningServer) -> None:
    # the same processing job name runs in eu-west-1 and us-east-1: two jobs with their own outputs and logs
    name = f"same-proc-{uuid.uuid4().hex[:8]}"
    runs = {region: Processing(_Regional(server, region).client) for region in (HOME, AWAY)}
    outputs = {}
    for region, processing in runs.items():
        request = processing.request(SPLIT, ProcessingJobName=name, Environment={"MODE": region})
        outputs[region] = request["ProcessingOutputConfig"]["Outputs"][1]["S3Output"]["S3Uri"]
        processing.sm.create_processing_job(**request)
    again = error_of(runs[HOME].sm.create_processing_job, **runs[HOME].request(SPLIT, ProcessingJobName=name))
    assert again["Code"] == "ResourceInUse"
    for region, processing in runs.items():
        described = processing.wait(name)
        assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
        assert arn_region(described["ProcessingJobArn"]) == region
        key = outputs[region].split(f"s3://{processing.bucket}/", 1)[1] + "/seen.json"
        seen = json.loads(processing.s3.get_object(Bucket=processing.bucket, Key=key)["Body"].read())
        assert seen["mode"] == region and seen["config"] == name
        assert processing.log_lines(name)
        listed = processing.sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
        assert [j["ProcessingJobArn"] for j in listed] == [described["ProcessingJobArn"]]


def test_transform_jobs_are_named_per_region(server: RunningServer) -> None:
    # the same transform job name runs in eu-west-1 and us-east-1, each over its region's model of its inputs
    name = f"same-transform-{uuid.uuid4().hex[:8]}"
    runs = {region: Transform(_Regional(server, region).client) for region in (HOME, AWAY)}
    for region, transform in runs.items():
        first = {HOME: 1, AWAY: 10}[region]
        transform.s3.put_object(
            Bucket=transform.bucket, Key="in/a.jsonl", Body=json.dumps({"values": [first]})
        )
        request = transform.request(transform.scaler, "in", TransformJobName=name)
        request["TransformOutput"]["S3OutputPath"] = f"s3://{transform.bucket}/out"
        transform.sm.create_transform_job(**request)
    again = runs[HOME].request(runs[HOME].scaler, "in", TransformJobName=name)
    assert error_of(runs[HOME].sm.create_transform_job, **again)["Code"] == "ResourceInUse"
    for region, transform in runs.items():
        described = transform.wait(name)
        assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
        assert arn_region(described["TransformJobArn"]) == region
        answer = json.loads(transform.read("out/a.jsonl.out"))
        assert answer == {"scaled": [{HOME: 3, AWAY: 30}[region]]}
        listed = transform.sm.list_transform_jobs(NameContains=name)["TransformJobSummaries"]
        assert [j["TransformJobArn"] for j in listed] == [described["TransformJobArn"]]


def test_pipelines_and_model_package_groups_are_named_per_region(server: RunningServer) -> None:
    # the same pipeline and model package group names in eu-west-1 and us-east-1: each region's own
    # definition, executions, versions (both start at 1) and deletion
    name = f"same-pipe-{uuid.uuid4().hex[:8]}"
    clients = {region: regional(server, "sagemaker", region) for region in (HOME, AWAY)}
    spec = {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://models/model.tar.gz"}]}
    packages = {}
    for region, client in clients.items():
        fail = [{"Name": "F", "Type": "Fail", "Arguments": {"ErrorMessage": f"stopped in {region}"}}]
        definition = {"Version": "2020-12-01", "Parameters": [], "Steps": fail}
        arn = client.create_pipeline(
            PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE
        )["PipelineArn"]
        assert arn_region(arn) == region
        group = client.create_model_package_group(ModelPackageGroupName=name)["ModelPackageGroupArn"]
        assert arn_region(group) == region
        package = client.create_model_package(ModelPackageGroupName=name, InferenceSpecification=spec)
        assert package["ModelPackageArn"].endswith(f":model-package/{name}/1")
        assert arn_region(package["ModelPackageArn"]) == region
        packages[region] = package["ModelPackageArn"]
    for region, client in clients.items():
        described = client.describe_pipeline(PipelineName=name)
        assert json.loads(described["PipelineDefinition"])["Steps"][0]["Arguments"]["ErrorMessage"] == (
            f"stopped in {region}"
        )
        execution = client.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
        assert arn_region(execution) == region
        listed = client.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
        assert [e["PipelineExecutionArn"] for e in listed] == [execution]
        versions = client.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]
        assert [p["ModelPackageArn"] for p in versions] == [packages[region]]

    # deleting eu-west-1's group (after its package) and pipeline leaves us-east-1's
    home, away = clients[HOME], clients[AWAY]
    home.delete_model_package(ModelPackageName=packages[HOME])
    home.delete_model_package_group(ModelPackageGroupName=name)
    assert error_of(home.describe_model_package_group, ModelPackageGroupName=name)["Code"] == (
        "ValidationException"
    )
    assert away.describe_model_package_group(ModelPackageGroupName=name)["ModelPackageGroupName"] == name
    for client in clients.values():  # each region's execution ends Failed on its Fail step
        execution = client.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"][0]
        arn = execution["PipelineExecutionArn"]
        deadline = time.monotonic() + 60
        while client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] in (
            "Executing",
            "Stopping",
        ):
            assert time.monotonic() < deadline, f"{arn} did not end"
            time.sleep(0.3)
    home.delete_pipeline(PipelineName=name)
    assert away.describe_pipeline(PipelineName=name)["PipelineName"] == name
    assert [p["PipelineName"] for p in away.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]] == [
        name
    ]
