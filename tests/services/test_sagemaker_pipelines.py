"""SageMaker Pipelines through boto3: definitions as the SDK writes them, run for real (training on the probe
script, models, the registry, conditions, Lambda), with data flowing through step properties."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker_training import FIXTURES, PYTORCH_IMAGE, ROLE, tarball

LAMBDA = """
def handler(event, context):
    return {"verdict": "good" if float(event["accuracy"]) >= 0.6 else "poor", "echo": event["model"]}
"""


class Pipelines:
    def __init__(self, server: RunningServer) -> None:
        self.sm = server.client("sagemaker")
        self.s3 = server.client("s3")
        self.bucket = f"pipe-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="data/train/part-1.csv", Body=b"1,2\n3,4\n")
        self.s3.put_object(Bucket=self.bucket, Key="code/sourcedir.tar.gz", Body=tarball(FIXTURES / "probe"))

    def training(self, name: str, sleep: float = 0, **extra: Any) -> dict[str, Any]:
        return {
            "Name": name,
            "Type": "Training",
            "Arguments": {
                "AlgorithmSpecification": {
                    "TrainingImage": PYTORCH_IMAGE,
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"}],
                },
                "RoleArn": ROLE,
                "HyperParameters": {
                    "sagemaker_program": json.dumps("train.py"),
                    "sagemaker_submit_directory": json.dumps(f"s3://{self.bucket}/code/sourcedir.tar.gz"),
                    "sleep": json.dumps(sleep),
                },
                "InputDataConfig": [
                    {
                        "ChannelName": "training",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": f"s3://{self.bucket}/data/train",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/output"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            },
            **extra,
        }

    def create(self, steps: list[dict[str, Any]], parameters: list[dict[str, Any]] | None = None) -> str:
        name = f"pipe-{uuid.uuid4().hex[:8]}"
        definition = {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": steps}
        self.sm.create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps(definition),
            RoleArn=ROLE,
            ClientRequestToken=uuid.uuid4().hex,
        )
        return name

    def run(self, name: str, timeout: float = 120, **params: Any) -> tuple[str, dict[str, Any]]:
        arn = self.sm.start_pipeline_execution(
            PipelineName=name, ClientRequestToken=uuid.uuid4().hex, **params
        )["PipelineExecutionArn"]
        return arn, self.wait(arn, timeout)

    def wait(self, arn: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
                return described
            time.sleep(0.2)
        raise AssertionError(f"execution {arn} did not finish in {timeout} s")

    def steps(self, arn: str) -> dict[str, dict[str, Any]]:
        listed = self.sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
        return {s["StepName"]: s for s in listed}


@pytest.fixture(scope="module")
def pipes(server: RunningServer) -> Pipelines:
    return Pipelines(server)


def test_train_condition_model_register_lambda_flow(server: RunningServer, pipes: Pipelines) -> None:
    lam = server.client("lambda")
    function = f"judge-{uuid.uuid4().hex[:6]}"
    from tests.services.test_lambda_deploy import _zip

    lam.create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _zip({"app.py": LAMBDA})},
    )
    group = f"grp-{uuid.uuid4().hex[:6]}"
    accuracy = {"Get": "Steps.Train.FinalMetricDataList['accuracy'].Value"}
    model_data = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    container = {"Image": PYTORCH_IMAGE, "ModelDataUrl": model_data}
    steps = [
        pipes.training("Train"),
        {
            "Name": "Good",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "GreaterThanOrEqualTo",
                        "LeftValue": accuracy,
                        "RightValue": {"Get": "Parameters.Floor"},
                    }
                ],
                "IfSteps": [
                    {
                        "Name": "Model",
                        "Type": "Model",
                        "Arguments": {"ExecutionRoleArn": ROLE, "PrimaryContainer": container},
                    },
                    {
                        "Name": "Register",
                        "Type": "RegisterModel",
                        "Arguments": {
                            "ModelPackageGroupName": group,
                            "InferenceSpecification": {
                                "Containers": [container],
                                "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"],
                            },
                            "ModelApprovalStatus": {"Get": "Parameters.Approval"},
                        },
                    },
                    {
                        "Name": "Judge",
                        "Type": "Lambda",
                        "FunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
                        "Arguments": {"accuracy": accuracy, "model": {"Get": "Steps.Model.ModelName"}},
                        "OutputParameters": [{"OutputName": "verdict", "OutputType": "String"}],
                    },
                ],
                "ElseSteps": [
                    {
                        "Name": "TooLow",
                        "Type": "Fail",
                        "Arguments": {
                            "ErrorMessage": {
                                "Std:Join": {
                                    "On": " ",
                                    "Values": ["accuracy below", {"Get": "Parameters.Floor"}],
                                }
                            }
                        },
                    }
                ],
            },
        },
    ]
    parameters = [
        {"Name": "Floor", "Type": "Float", "DefaultValue": 0.6},
        {"Name": "Approval", "Type": "String", "DefaultValue": "Approved"},
    ]
    name = pipes.create(steps, parameters)
    arn, described = pipes.run(name)
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    steps_run = pipes.steps(arn)
    assert set(steps_run) == {"Train", "Good", "Model", "Register", "Judge"}
    assert steps_run["Good"]["Metadata"]["Condition"]["Outcome"] == "True"
    judge = steps_run["Judge"]["Metadata"]["Lambda"]
    assert judge["OutputParameters"] == [{"Name": "verdict", "Value": "good"}]
    job = steps_run["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    trained = pipes.sm.describe_training_job(TrainingJobName=job)
    assert trained["TrainingJobStatus"] == "Completed"
    model = pipes.sm.describe_model(
        ModelName=steps_run["Model"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    )
    assert model["PrimaryContainer"]["ModelDataUrl"] == trained["ModelArtifacts"]["S3ModelArtifacts"]
    package = pipes.sm.describe_model_package(
        ModelPackageName=steps_run["Register"]["Metadata"]["RegisterModel"]["Arn"]
    )
    assert package["ModelApprovalStatus"] == "Approved" and package["ModelPackageGroupName"] == group

    # A higher floor takes the else branch: the Fail step fails the execution with its message.
    arn2, described2 = pipes.run(name, PipelineParameters=[{"Name": "Floor", "Value": "0.95"}])
    assert described2["PipelineExecutionStatus"] == "Failed"
    assert described2["FailureReason"] == "accuracy below 0.95"
    steps2 = pipes.steps(arn2)
    assert steps2["TooLow"]["StepStatus"] == "Failed" and "Model" not in steps2
    assert steps2["TooLow"]["Metadata"]["Fail"]["ErrorMessage"] == "accuracy below 0.95"
    definition = pipes.sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn2)
    assert json.loads(definition["PipelineDefinition"])["Steps"][0]["Name"] == "Train"
    listed = pipes.sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in listed] == [arn2, arn]


def test_independent_steps_run_in_parallel_and_cache(pipes: Pipelines) -> None:
    cache = {"CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"}}
    name = pipes.create([pipes.training("A", sleep=2, **cache), pipes.training("B", sleep=2)])
    started = time.monotonic()
    arn, described = pipes.run(name)
    took = time.monotonic() - started
    assert described["PipelineExecutionStatus"] == "Succeeded"
    first = pipes.steps(arn)
    overlap = min(first["A"]["EndTime"], first["B"]["EndTime"]) - max(
        first["A"]["StartTime"], first["B"]["StartTime"]
    )
    assert overlap.total_seconds() > 1, (first, took)
    arn2, _ = pipes.run(name)
    second = pipes.steps(arn2)
    assert second["A"]["CacheHitResult"]["SourcePipelineExecutionArn"] == arn
    assert second["A"]["Metadata"] == first["A"]["Metadata"]
    assert "CacheHitResult" not in second["B"]


def test_stop_and_retry(pipes: Pipelines) -> None:
    name = pipes.create([pipes.training("Slow", sleep=30)])
    arn = pipes.sm.start_pipeline_execution(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)[
        "PipelineExecutionArn"
    ]
    deadline = time.monotonic() + 30
    while "TrainingJob" not in pipes.steps(arn).get("Slow", {}).get("Metadata", {}):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    pipes.sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    assert pipes.wait(arn)["PipelineExecutionStatus"] == "Stopped"
    assert pipes.steps(arn)["Slow"]["StepStatus"] == "Stopped"
    stopped = error_of(
        pipes.sm.stop_pipeline_execution, PipelineExecutionArn=arn, ClientRequestToken="x" * 32
    )
    assert stopped["Code"] == "ConflictException"
    pipes.sm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    assert (
        pipes.sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        == "Executing"
    )
    pipes.sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    pipes.wait(arn)
    assert pipes.steps(arn)["Slow"]["AttemptCount"] == 2


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ([{"Name": "X", "Type": "Teleport", "Arguments": {}}], ["Step X", "Teleport"]),
        (
            [{"Name": "F", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.Nowhere.Foo"}}}],
            ["Step F", "Nowhere"],
        ),
        (
            [{"Name": "F", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Parameters.Missing"}}}],
            ["Step F", "Parameters.Missing"],
        ),
        (
            [
                {"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["B"]},
                {"Name": "B", "Type": "Fail", "Arguments": {}, "DependsOn": ["A"]},
            ],
            ["cycle"],
        ),
        (
            [{"Name": "T", "Type": "Training", "Arguments": {"RoleArn": ROLE}}],
            ["Step T", "AlgorithmSpecification"],
        ),
        ([{"Name": "A", "Type": "Fail"}, {"Name": "A", "Type": "Fail"}], ["Step A", "unique"]),
    ],
)
def test_bad_definitions_are_refused_with_the_step_named(
    pipes: Pipelines, steps: list[Any], words: list[str]
) -> None:
    error = error_of(
        pipes.sm.create_pipeline,
        PipelineName=f"bad-{uuid.uuid4().hex[:6]}",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": steps}),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    assert error["Code"] == "ValidationException" and error["Status"] == 400
    assert all(w in error["Message"] for w in words), error["Message"]


def test_pipeline_crud_and_errors(pipes: Pipelines) -> None:
    fail = [{"Name": "F", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}]
    name = pipes.create(fail, [{"Name": "N", "Type": "Integer", "DefaultValue": 1}])
    described = pipes.sm.describe_pipeline(PipelineName=name)
    assert (
        described["PipelineStatus"] == "Active"
        and json.loads(described["PipelineDefinition"])["Steps"] == fail
    )
    updated = pipes.sm.update_pipeline(PipelineName=name, PipelineDescription="second")
    assert updated["PipelineVersionId"] == 2
    assert name in [
        p["PipelineName"] for p in pipes.sm.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]
    ]
    bad = error_of(
        pipes.sm.start_pipeline_execution,
        PipelineName=name,
        ClientRequestToken=uuid.uuid4().hex,
        PipelineParameters=[{"Name": "N", "Value": "three"}],
    )
    assert bad["Code"] == "ValidationException" and "Integer" in bad["Message"]
    unknown = error_of(pipes.sm.describe_pipeline, PipelineName="nope-nope")
    assert unknown["Code"] == "ResourceNotFound"
    gone = error_of(
        pipes.sm.describe_pipeline_execution,
        PipelineExecutionArn=f"arn:aws:sagemaker:us-east-1:000000000000:pipeline/{name}/execution/zzzzzzzzzzzz",
    )
    assert gone["Code"] == "ResourceNotFound"
    pipes.sm.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)
    assert error_of(pipes.sm.describe_pipeline, PipelineName=name)["Code"] == "ResourceNotFound"


def test_an_execution_survives_a_restart(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data").start()
    try:
        pipes = Pipelines(server)
        wait_step = {
            "Name": "After",
            "Type": "Fail",
            "Arguments": {"ErrorMessage": "reached"},
            "DependsOn": ["Slow"],
        }
        name = pipes.create([pipes.training("Slow", sleep=60), wait_step])
        arn = pipes.sm.start_pipeline_execution(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)[
            "PipelineExecutionArn"
        ]
        deadline = time.monotonic() + 30
        while "TrainingJob" not in pipes.steps(arn).get("Slow", {}).get("Metadata", {}):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        server.stop()
        server.start()
        pipes.sm = server.client("sagemaker")
        described = pipes.wait(arn, timeout=60)
        assert described["PipelineExecutionStatus"] == "Failed"
        slow = pipes.steps(arn)["Slow"]
        assert slow["StepStatus"] == "Failed" and "Outcrop stopped" in slow["FailureReason"]
        assert "After" not in pipes.steps(arn)
    finally:
        server.stop()
