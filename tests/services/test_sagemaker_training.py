"""SageMaker training jobs through boto3: the user's script runs for real, as the SDK packs it."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310"


def tarball(folder: Path, extra: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, arcname=path.name)
        for name, text in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


class Jobs:
    """Creates script-mode training jobs the way the SageMaker SDK's framework estimators do."""

    def __init__(self, client: Callable[..., Any]) -> None:
        self.sm = client("sagemaker")
        self.s3 = client("s3")
        self.logs = client("logs")
        self.bucket = f"sm-train-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="data/train/part-1.csv", Body=b"1,2\n3,4\n")
        self.s3.put_object(Bucket=self.bucket, Key="data/train/nested/part-2.csv", Body=b"5,6\n")

    def create(
        self,
        folder: str = "probe",
        hyperparameters: dict[str, Any] | None = None,
        extra_files: dict[str, str] | None = None,
        **overrides: Any,
    ) -> str:
        name = f"job-{uuid.uuid4().hex[:10]}"
        key = f"{name}/source/sourcedir.tar.gz"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=tarball(FIXTURES / folder, extra_files))
        hps = {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{self.bucket}/{key}"),
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(name),
            "sagemaker_region": json.dumps("us-east-1"),
            **{k: json.dumps(v) for k, v in (hyperparameters or {}).items()},
        }
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": {"TrainingImage": PYTORCH_IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": hps,
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{self.bucket}/data/train",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            **overrides,
        }
        self.sm.create_training_job(**request)
        return name

    def wait(self, name: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sm.describe_training_job(TrainingJobName=name)
            if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                return described
            time.sleep(0.3)
        raise AssertionError(f"{name} did not finish in {timeout} s")

    def wait_for_line(self, name: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in "\n".join(self.log_lines(name)):
                return
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared in the logs of {name}")

    def output(self, name: str, archive: str) -> dict[str, bytes]:
        body = self.s3.get_object(Bucket=self.bucket, Key=f"output/{name}/output/{archive}")["Body"].read()
        return untar(body)

    def log_lines(self, name: str) -> list[str]:
        group = "/aws/sagemaker/TrainingJobs"
        try:
            streams = self.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        lines = []
        for stream in streams["logStreams"]:
            events = self.logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
            lines += [e["message"] for e in events]
        return lines


@pytest.fixture(scope="module")
def jobs(server: RunningServer) -> Jobs:
    return Jobs(server.client)


def test_script_mode_job_runs_with_sagemaker_environment(jobs: Jobs) -> None:
    name = jobs.create(
        hyperparameters={
            "epochs": 2,
            "batch-size": 32,
            "learning-rate": 0.001,
            "tags": ["a", "b"],
            "opts": {"b": 2, "a": 1},
        },
        AlgorithmSpecification={
            "TrainingImage": PYTORCH_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
                {"Name": "train:accuracy", "Regex": r"accuracy=([0-9.]+)"},
            ],
        },
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t["StatusMessage"] for t in described["SecondaryStatusTransitions"])
    model_uri = f"s3://{jobs.bucket}/output/{name}/output/model.tar.gz"
    assert described["ModelArtifacts"] == {"S3ModelArtifacts": model_uri}
    assert described["TrainingStartTime"] >= described["CreationTime"]
    assert described["TrainingEndTime"] >= described["TrainingStartTime"]
    assert described["TrainingTimeInSeconds"] >= 1
    assert described["ResourceConfig"]["InstanceType"] == "ml.p3.2xlarge"
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics == {"train:loss": pytest.approx(0.333), "train:accuracy": pytest.approx(0.7)}

    assert jobs.output(name, "model.tar.gz") == {"model.txt": b"a model\n"}
    seen = json.loads(jobs.output(name, "output.tar.gz")["seen.json"])
    assert seen["argv"] == [
        "--batch-size",
        "32",
        "--epochs",
        "2",
        "--learning-rate",
        "0.001",
        "--opts",
        "a=1,b=2",
        "--tags",
        "['a', 'b']",
    ]
    assert seen["aws_endpoint"] == jobs.sm.meta.endpoint_url
    env = seen["env"]
    assert json.loads(env["SM_HPS"]) == {
        "epochs": 2,
        "batch-size": 32,
        "learning-rate": 0.001,
        "tags": ["a", "b"],
        "opts": {"b": 2, "a": 1},
    }
    assert env["SM_HP_EPOCHS"] == "2" and env["SM_HP_LEARNING_RATE"] == "0.001"
    assert json.loads(env["SM_CHANNELS"]) == ["training"]
    assert env["SM_CHANNEL_TRAINING"].endswith("/input/data/training")
    assert env["SM_MODEL_DIR"].endswith("/model") and env["SM_OUTPUT_DATA_DIR"].endswith("/output/data")
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_GPUS"] == "0" and 1 <= int(env["SM_NUM_CPUS"]) <= 8
    assert env["SM_USER_ENTRY_POINT"] == "train.py" and env["SM_MODULE_NAME"] == "train"
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == name and training_env["hyperparameters"]["epochs"] == 2
    assert sorted(seen["files"]) == [
        "config/hyperparameters.json",
        "config/inputdataconfig.json",
        "config/resourceconfig.json",
        "data/training/nested/part-2.csv",
        "data/training/part-1.csv",
    ]

    lines = jobs.log_lines(name)
    assert any("Invoking script with the following command" in line for line in lines)
    assert "probe done" in lines
    tags = jobs.sm.list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "ml"}]
    listed = jobs.sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [(j["TrainingJobName"], j["TrainingJobStatus"]) for j in listed] == [(name, "Completed")]


def test_crashing_script_fails_with_its_last_error_line(jobs: Jobs) -> None:
    name = jobs.create("failing")
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["SecondaryStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:")
    assert "ValueError: the training data has no 'label' column" in reason
    assert "ExitCode 1" in reason
    assert any("Traceback" in line for line in jobs.log_lines(name))


def test_stop_training_job(jobs: Jobs) -> None:
    name = jobs.create(hyperparameters={"sleep": 60})
    jobs.wait_for_line(name, "probe started")
    jobs.sm.stop_training_job(TrainingJobName=name)
    assert jobs.sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    described = jobs.wait(name, timeout=30)
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "Stopped"
    assert "Stopping" in [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert "model.txt" in jobs.output(name, "model.tar.gz")
    error = error_of(jobs.sm.stop_training_job, TrainingJobName=name)
    assert error["Code"] == "ValidationException" and "status Stopped" in error["Message"]


def test_jobs_beyond_local_capacity_wait_in_starting(jobs: Jobs) -> None:
    slots = max(2, os.cpu_count() or 1)
    names = [jobs.create(hyperparameters={"sleep": 60}) for _ in range(slots + 1)]
    try:
        deadline = time.monotonic() + 60
        waiting: list[str] = []
        while time.monotonic() < deadline and not waiting:
            for name in names:
                described = jobs.sm.describe_training_job(TrainingJobName=name)
                messages = [t["StatusMessage"] for t in described["SecondaryStatusTransitions"]]
                if any("Waiting for local capacity" in m for m in messages):
                    waiting.append(name)
            time.sleep(0.3)
        assert len(waiting) == 1
        assert jobs.sm.describe_training_job(TrainingJobName=waiting[0])["SecondaryStatus"] == "Starting"
    finally:
        for name in names:
            jobs.sm.stop_training_job(TrainingJobName=name)
    assert {jobs.wait(name, timeout=30)["TrainingJobStatus"] for name in names} == {"Stopped"}


def test_max_runtime_stops_the_job(jobs: Jobs) -> None:
    name = jobs.create(hyperparameters={"sleep": 60}, StoppingCondition={"MaxRuntimeInSeconds": 2})
    described = jobs.wait(name, timeout=60)
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_requirements_txt_installs_into_a_job_virtualenv(jobs: Jobs) -> None:
    # tblib is already installed beside the server, so pip resolves it offline; the script runs in the venv.
    name = jobs.create(extra_files={"requirements.txt": "tblib\n"})
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    seen = json.loads(jobs.output(name, "output.tar.gz")["seen.json"])
    assert seen["executable"].endswith(f"{name}/venv/bin/python")
    assert any("requirements.txt" in line for line in jobs.log_lines(name))


def test_missing_input_data_fails_as_a_client_error(jobs: Jobs) -> None:
    channel = {
        "ChannelName": "training",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{jobs.bucket}/nothing-here"}
        },
    }
    name = jobs.create(InputDataConfig=[channel])
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: Data download failed")


def test_job_without_entry_point_fails_with_a_reason(jobs: Jobs) -> None:
    name = f"job-{uuid.uuid4().hex[:10]}"
    jobs.sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": PYTORCH_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{jobs.bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert "sagemaker_program" in described["FailureReason"]


def test_training_job_errors(jobs: Jobs) -> None:
    name = jobs.create()
    error = error_of(
        jobs.sm.create_training_job,
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": PYTORCH_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{jobs.bucket}/output"},
    )
    assert error["Code"] == "ResourceInUse" and error["Status"] == 400
    missing = error_of(jobs.sm.describe_training_job, TrainingJobName="no-such-job")
    assert missing["Code"] == "ResourceNotFound" and missing["Message"] == "Requested resource not found."
    assert error_of(jobs.sm.stop_training_job, TrainingJobName="no-such-job")["Code"] == "ResourceNotFound"
    bad = error_of(
        jobs.sm.create_training_job,
        TrainingJobName="not_valid!",
        AlgorithmSpecification={"TrainingImage": PYTORCH_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{jobs.bucket}/output"},
    )
    assert bad["Code"] == "ValidationException" and "at 'trainingJobName'" in bad["Message"]
    jobs.wait(name)


def test_list_training_jobs_pages_and_filters(jobs: Jobs) -> None:
    names = [jobs.create() for _ in range(3)]
    for name in names:
        jobs.wait(name)
    marker = names[0][:6]
    first = jobs.sm.list_training_jobs(MaxResults=2, SortBy="Name", SortOrder="Ascending")
    assert len(first["TrainingJobSummaries"]) == 2 and "NextToken" in first
    everything = []
    paginator = jobs.sm.get_paginator("list_training_jobs")
    for page in paginator.paginate(
        SortBy="CreationTime", SortOrder="Ascending", PaginationConfig={"PageSize": 2}
    ):
        everything += [j["TrainingJobName"] for j in page["TrainingJobSummaries"]]
    assert everything[-3:] == names
    completed = jobs.sm.list_training_jobs(StatusEquals="Completed", MaxResults=100)["TrainingJobSummaries"]
    assert set(names) <= {j["TrainingJobName"] for j in completed}
    assert marker.startswith("job-")


def test_running_job_ends_failed_after_a_restart(tmp_path: Path) -> None:
    own = RunningServer(tmp_path / "data").start()
    try:
        jobs = Jobs(own.client)
        name = jobs.create(hyperparameters={"sleep": 120})
        jobs.wait_for_line(name, "probe started")
        own.restart()
        jobs = Jobs(own.client)
        described = jobs.sm.describe_training_job(TrainingJobName=name)
        assert described["TrainingJobStatus"] == "Failed"
        assert "Outcrop stopped while this training job was running" in described["FailureReason"]
    finally:
        own.stop()


XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def builtin_job(jobs: Jobs, hyperparameters: dict[str, str]) -> str:
    rows = [f"{2 * x + 1},{x}" for x in range(-20, 20)]
    jobs.s3.put_object(Bucket=jobs.bucket, Key="builtin/train/data.csv", Body="\n".join(rows).encode())
    jobs.s3.put_object(
        Bucket=jobs.bucket, Key="builtin/validation/data.csv", Body="\n".join(rows[::4]).encode()
    )
    name = f"xgb-{uuid.uuid4().hex[:10]}"

    def channel(channel_name: str) -> dict[str, Any]:
        uri = f"s3://{jobs.bucket}/builtin/{channel_name}"
        return {
            "ChannelName": channel_name,
            "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
        }

    jobs.sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters=hyperparameters,
        InputDataConfig=[channel("train"), channel("validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{jobs.bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    return name


def test_builtin_xgboost_algorithm_without_a_script(jobs: Jobs) -> None:
    name = builtin_job(jobs, {"num_round": "8", "objective": "reg:squarederror", "max_depth": "3"})
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = {m["MetricName"] for m in described["FinalMetricDataList"]}
    assert metrics == {"train:rmse", "validation:rmse"}
    assert "xgboost-model" in jobs.output(name, "model.tar.gz")
    assert any("validation-rmse" in line for line in jobs.log_lines(name))


def test_builtin_xgboost_algorithm_needs_num_round(jobs: Jobs) -> None:
    described = jobs.wait(builtin_job(jobs, {"objective": "reg:squarederror"}))
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == "ClientError: Missing required hyperparameter: num_round"
