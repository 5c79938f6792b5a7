"""SageMaker Pipelines: a pipeline's wall time vs the same steps run by hand in sequence through boto3, and
the orchestration time the pipeline adds per step.

The steps: two training jobs (the probe script, sleeping a second), a model and a model package from the
first, and a condition on its accuracy metric. By hand, a client creates each job, polls it to the end
(every 0.1 s, as the pipeline polls), then makes the next call. Two graphs: `chain`, where each step depends
on the one before (the pipeline can only add time), and `fan-out`, where the two trainings are independent
(the pipeline runs them side by side). Per step, the orchestration time is the delay from the moment a step
could start (its dependencies ended, or the execution was created) to its start, plus for a job step the delay
from the job's end to the step's end. Rounds alternate pipeline and by hand.
"""

from __future__ import annotations

import io
import json
import statistics
import tarfile
import time
import uuid
from datetime import datetime
from typing import Any

from common import ROOT, outcrop_server, report

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
ROLE = "arn:aws:iam::000000000000:role/Bench"
PROBE = ROOT / "tests" / "fixtures" / "sagemaker" / "probe" / "train.py"
ROUNDS = 3
POLL_S = 0.1


def _tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(PROBE, arcname="train.py")
    return buffer.getvalue()


def _training(bucket: str, name: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"}],
        },
        "RoleArn": ROLE,
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/sourcedir.tar.gz"),
            "sleep": "1",
        },
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if name:
        request["TrainingJobName"] = name
    return request


def _definition(bucket: str, group: str, *, chain: bool) -> str:
    container = {"Image": IMAGE, "ModelDataUrl": {"Get": "Steps.TrainA.ModelArtifacts.S3ModelArtifacts"}}
    accuracy = {"Get": "Steps.TrainA.FinalMetricDataList['accuracy'].Value"}
    steps = [
        {"Name": "TrainA", "Type": "Training", "Arguments": _training(bucket)},
        {
            "Name": "TrainB",
            "Type": "Training",
            "Arguments": _training(bucket),
            **({"DependsOn": ["TrainA"]} if chain else {}),
        },
        {
            "Name": "Model",
            "Type": "Model",
            "Arguments": {"ExecutionRoleArn": ROLE, "PrimaryContainer": container},
            "DependsOn": ["TrainB"],
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
            },
            "DependsOn": ["Model"],
        },
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": accuracy, "RightValue": 0.5}],
                "IfSteps": [],
                "ElseSteps": [],
            },
            "DependsOn": ["Register"],
        },
    ]
    return json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps})


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def by_hand(sm: Any, bucket: str, group: str) -> float:
    started = time.perf_counter()
    jobs = []
    for _ in range(2):
        name = f"hand-{uuid.uuid4().hex[:10]}"
        sm.create_training_job(**_training(bucket, name))
        while sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] not in (
            "Completed",
            "Failed",
        ):
            time.sleep(POLL_S)
        jobs.append(name)
    described = sm.describe_training_job(TrainingJobName=jobs[0])
    container = {"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]}
    model = f"hand-{uuid.uuid4().hex[:10]}"
    sm.create_model(ModelName=model, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    sm.describe_model(ModelName=model)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.describe_model_package(ModelPackageName=arn)
    accuracy = next(m["Value"] for m in described["FinalMetricDataList"] if m["MetricName"] == "accuracy")
    assert accuracy >= 0.5
    return time.perf_counter() - started


def through_pipeline(sm: Any, pipeline: str) -> tuple[float, list[float]]:
    """Wall time, and each step's orchestration delay."""
    started = time.perf_counter()
    arn = sm.start_pipeline_execution(PipelineName=pipeline, ClientRequestToken=uuid.uuid4().hex)[
        "PipelineExecutionArn"
    ]
    while True:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] != "Executing":
            break
        time.sleep(POLL_S)
    wall = time.perf_counter() - started
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    }
    definition = json.loads(
        sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)["PipelineDefinition"]
    )
    created = _seconds(described["CreationTime"])
    delays = []
    for raw in definition["Steps"]:
        step = steps[raw["Name"]]
        depends = raw.get("DependsOn", [])
        ready = max([_seconds(steps[d]["EndTime"]) for d in depends], default=created)
        delay = _seconds(step["StartTime"]) - ready
        job = step["Metadata"].get("TrainingJob")
        if job:
            ended = sm.describe_training_job(TrainingJobName=job["Arn"].rsplit("/", 1)[1])["TrainingEndTime"]
            delay += _seconds(step["EndTime"]) - _seconds(ended)
        delays.append(delay)
    return wall, delays


def main() -> None:
    with outcrop_server(fake_models=True) as server:
        sm, s3 = server.client("sagemaker"), server.client("s3")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="data/train.csv", Body=b"1,2\n3,4\n")
        s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=_tarball())
        group = f"bench-{uuid.uuid4().hex[:6]}"
        sm.create_model_package_group(ModelPackageGroupName=group)
        pipelines = {}
        for shape in ("chain", "fan-out"):
            name = f"bench-{shape}-{uuid.uuid4().hex[:6]}"
            sm.create_pipeline(
                PipelineName=name,
                PipelineDefinition=_definition(bucket, group, chain=shape == "chain"),
                RoleArn=ROLE,
                ClientRequestToken=uuid.uuid4().hex,
            )
            pipelines[shape] = name
        by_hand(sm, bucket, group)  # warm: imports in the job's Python, the first process start
        hand: list[float] = []
        walls: dict[str, list[float]] = {"chain": [], "fan-out": []}
        delays: list[float] = []
        for _ in range(ROUNDS):
            for shape, name in pipelines.items():
                wall, step_delays = through_pipeline(sm, name)
                walls[shape].append(wall)
                delays.extend(step_delays)
            hand.append(by_hand(sm, bucket, group))
    baseline = statistics.median(hand)
    rows = [("by hand, in sequence (median s)", f"{baseline:.2f}", "")]
    for shape, values in walls.items():
        median = statistics.median(values)
        rows.append((f"pipeline, {shape} (median s)", f"{median:.2f}", f"ratio {median / baseline:.2f}"))
    rows.append(
        (
            "orchestration per step (s)",
            f"mean {statistics.mean(delays):.3f}",
            f"max {max(delays):.3f}",
        )
    )
    report(f"SageMaker Pipelines: 5 steps (2 training jobs), {ROUNDS} rounds", rows)


if __name__ == "__main__":
    main()
