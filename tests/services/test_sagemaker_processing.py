"""SageMaker processing jobs through boto3: the container's command runs over /opt/ml/processing/*.

The scripts name /opt/ml paths themselves, as processing scripts do, and are uploaded and wired the way the
SDK's SKLearnProcessor does it (a `code` input and ContainerEntrypoint ["python3", <its path>]).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

SPLIT = """
import glob, json, os, sys
rows = []
for path in sorted(glob.glob("/opt/ml/processing/input/data/**/*.csv", recursive=True)):
    rows += [line for line in open(path).read().splitlines() if line]
ratio = float(sys.argv[sys.argv.index("--train-ratio") + 1])
cut = int(len(rows) * ratio)
os.makedirs("/opt/ml/processing/output/train/part", exist_ok=True)
open("/opt/ml/processing/output/train/part/train.csv", "w").write("\\n".join(rows[:cut]) + "\\n")
open("/opt/ml/processing/output/test/test.csv", "w").write("\\n".join(rows[cut:]) + "\\n")
json.dump({"argv": sys.argv[1:], "mode": os.environ.get("MODE"), "cwd": os.getcwd(),
           "config": json.load(open("/opt/ml/config/processingjobconfig.json"))["ProcessingJobName"]},
          open("/opt/ml/processing/output/test/seen.json", "w"))
print(f"split {len(rows)} rows: {cut} train")
"""

FAIL = """
open("/opt/ml/output/message", "w").write("bad rows in input")
raise ValueError("row 3 has 2 columns, expected 3")
"""

SLEEP = """
import time
print("sleeping", flush=True)
time.sleep(60)
"""


class Processing:
    def __init__(self, client: Callable[..., Any]) -> None:
        self.sm = client("sagemaker")
        self.s3 = client("s3")
        self.logs = client("logs")
        self.bucket = f"sm-proc-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="raw/a.csv", Body=b"1,2,3\n4,5,6\n")
        self.s3.put_object(Bucket=self.bucket, Key="raw/more/b.csv", Body=b"7,8,9\n10,11,12\n")

    def request(self, script: str, **overrides: Any) -> dict[str, Any]:
        name = f"proc-{uuid.uuid4().hex[:10]}"
        self.s3.put_object(Bucket=self.bucket, Key=f"{name}/input/code/job.py", Body=script.encode())
        request: dict[str, Any] = {
            "ProcessingJobName": name,
            "ProcessingInputs": [
                {
                    "InputName": "input-1",
                    "S3Input": {
                        "S3Uri": f"s3://{self.bucket}/raw",
                        "LocalPath": "/opt/ml/processing/input/data",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                },
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{self.bucket}/{name}/input/code/job.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                },
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": name_,
                        "S3Output": {
                            "S3Uri": f"s3://{self.bucket}/{name}/output/{name_}",
                            "LocalPath": f"/opt/ml/processing/output/{name_}",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for name_ in ("train", "test")
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
            },
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
                "ContainerArguments": ["--train-ratio", "0.75"],
            },
            "Environment": {"MODE": "split"},
            "RoleArn": ROLE,
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        }
        request.update(overrides)
        return request

    def run(self, script: str, **overrides: Any) -> str:
        request = self.request(script, **overrides)
        self.sm.create_processing_job(**request)
        return str(request["ProcessingJobName"])

    def wait(self, name: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sm.describe_processing_job(ProcessingJobName=name)
            if described["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
                return described
            time.sleep(0.3)
        raise AssertionError(f"{name} did not finish in {timeout} s")

    def log_lines(self, name: str) -> list[str]:
        group = "/aws/sagemaker/ProcessingJobs"
        try:
            streams = self.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")
        except self.logs.exceptions.ResourceNotFoundException:  # nothing logged yet on a new server
            return []
        lines = []
        for stream in streams["logStreams"]:
            events = self.logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
            lines += [e["message"] for e in events]
        return lines

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


@pytest.fixture(scope="module")
def processing(server: RunningServer) -> Processing:
    return Processing(server.client)


def test_script_reads_inputs_and_writes_outputs_under_opt_ml_processing(processing: Processing) -> None:
    name = processing.run(SPLIT, Tags=[{"Key": "team", "Value": "ml"}])
    described = processing.wait(name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ProcessingStartTime"] >= described["CreationTime"]
    assert described["ProcessingEndTime"] >= described["ProcessingStartTime"]
    assert described["AppSpecification"]["ContainerArguments"] == ["--train-ratio", "0.75"]
    assert described["Environment"] == {"MODE": "split"}
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}

    train = processing.read(f"{name}/output/train/part/train.csv").decode().split()
    test = processing.read(f"{name}/output/test/test.csv").decode().split()
    assert train == ["1,2,3", "4,5,6", "7,8,9"] and test == ["10,11,12"]  # a.csv, then more/b.csv
    seen = json.loads(processing.read(f"{name}/output/test/seen.json"))
    assert seen == {"argv": ["--train-ratio", "0.75"], "mode": "split", "cwd": seen["cwd"], "config": name}
    assert any("split 4 rows: 3 train" in line for line in processing.log_lines(name))

    listed = processing.sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [(s["ProcessingJobName"], s["ProcessingJobStatus"]) for s in listed] == [(name, "Completed")]
    arn = described["ProcessingJobArn"]
    assert arn.endswith(f":processing-job/{name}")
    assert processing.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]


def test_failing_script_fails_the_job_with_its_error_and_exit_message(processing: Processing) -> None:
    name = processing.run(FAIL)
    described = processing.wait(name)
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: See job logs for more information")
    assert "ValueError: row 3 has 2 columns, expected 3" in described["FailureReason"]
    assert described["ExitMessage"] == "bad rows in input"
    failed = processing.sm.list_processing_jobs(NameContains=name, StatusEquals="Failed")
    assert failed["ProcessingJobSummaries"][0]["ExitMessage"] == "bad rows in input"
    assert any("ValueError: row 3" in line for line in processing.log_lines(name))


def test_stop_and_max_runtime_end_the_process(processing: Processing) -> None:
    stopped = processing.run(SLEEP)
    deadline = time.monotonic() + 60
    while not any("sleeping" in line for line in processing.log_lines(stopped)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    processing.sm.stop_processing_job(ProcessingJobName=stopped)
    timed_out = processing.run(SLEEP, StoppingCondition={"MaxRuntimeInSeconds": 2})
    started = time.monotonic()
    assert processing.wait(stopped, timeout=30)["ProcessingJobStatus"] == "Stopped"
    assert processing.wait(timed_out, timeout=30)["ProcessingJobStatus"] == "Stopped"
    assert time.monotonic() - started < 20
    error = error_of(processing.sm.stop_processing_job, ProcessingJobName=stopped)
    assert error["Code"] == "ValidationException" and "status Stopped" in error["Message"]


def test_bad_requests_are_refused(processing: Processing) -> None:
    sm = processing.sm
    outside = processing.request(SPLIT)
    outside["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/tmp/data"
    error = error_of(sm.create_processing_job, **outside)
    assert error["Code"] == "ValidationException" and "'input-1'" in error["Message"]
    pipe = processing.request(SPLIT)
    pipe["ProcessingInputs"][0]["S3Input"]["S3InputMode"] = "Pipe"
    assert "Pipe" in error_of(sm.create_processing_job, **pipe)["Message"]
    continuous = processing.request(SPLIT)
    continuous["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] = "Continuous"
    assert "Continuous" in error_of(sm.create_processing_job, **continuous)["Message"]
    duplicate = processing.request(SPLIT)
    duplicate["ProcessingInputs"][1]["InputName"] = "train"
    assert "train" in error_of(sm.create_processing_job, **duplicate)["Message"]
    error = error_of(sm.describe_processing_job, ProcessingJobName="no-such-job")
    assert (error["Code"], error["Status"]) == ("ResourceNotFound", 400)

    name = processing.run(SPLIT)
    again = processing.request(SPLIT, ProcessingJobName=name)
    assert error_of(sm.create_processing_job, **again)["Code"] == "ResourceInUse"
    processing.wait(name)


def test_running_job_ends_failed_after_a_restart(tmp_path: Path) -> None:
    own = RunningServer(tmp_path / "data").start()
    try:
        processing = Processing(own.client)
        name = processing.run(SLEEP)
        deadline = time.monotonic() + 60
        while not any("sleeping" in line for line in processing.log_lines(name)):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        own.restart()
        described = Processing(own.client).sm.describe_processing_job(ProcessingJobName=name)
        assert described["ProcessingJobStatus"] == "Failed"
        assert "Outcrop stopped while this processing job was running" in described["FailureReason"]
    finally:
        own.stop()
