"""SageMaker batch transform through boto3: a model's handlers over S3 input files, `<input>.out` back.

The scaler model (JSON in, `{"scaled": [...]}` out, with its own handlers) and a scikit-learn classifier on
the default handlers (CSV rows in, one label per row out) are the archives the endpoint tests serve.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.errors import error_of
from tests.sagemaker_hosting.archives import classifier_data, scaler_archive, sklearn_archive, tar_gz
from tests.server import RunningServer

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
TORCH = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


class Transform:
    def __init__(self, client: Callable[..., Any]) -> None:
        self.sm = client("sagemaker")
        self.s3 = client("s3")
        self.logs = client("logs")
        self.bucket = f"sm-transform-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="models/scaler.tar.gz", Body=scaler_archive(3))
        self.s3.put_object(Bucket=self.bucket, Key="models/sklearn.tar.gz", Body=sklearn_archive())
        self.scaler = self.model(TORCH, "models/scaler.tar.gz")
        self.classifier = self.model(SKLEARN, "models/sklearn.tar.gz")

    def model(self, image: str, key: str) -> str:
        name = f"model-{uuid.uuid4().hex[:8]}"
        self.sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{self.bucket}/{key}"},
            ExecutionRoleArn=ROLE,
        )
        return name

    def request(self, model: str, prefix: str, **overrides: Any) -> dict[str, Any]:
        name = f"transform-{uuid.uuid4().hex[:10]}"
        request: dict[str, Any] = {
            "TransformJobName": name,
            "ModelName": model,
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{self.bucket}/{prefix}"}
                },
                "ContentType": "application/json",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": f"s3://{self.bucket}/out/{name}", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        }
        request.update(overrides)
        return request

    def run(self, model: str, prefix: str, **overrides: Any) -> str:
        request = self.request(model, prefix, **overrides)
        self.sm.create_transform_job(**request)
        return str(request["TransformJobName"])

    def wait(self, name: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sm.describe_transform_job(TransformJobName=name)
            if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                return described
            time.sleep(0.3)
        raise AssertionError(f"{name} did not finish in {timeout} s")

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in listed)


@pytest.fixture(scope="module")
def transform(server: RunningServer) -> Transform:
    made = Transform(server.client)
    lines = [json.dumps({"values": [i, i + 1]}) for i in range(6)]
    made.s3.put_object(Bucket=made.bucket, Key="json/a.jsonl", Body="\n".join(lines[:4]) + "\n")
    made.s3.put_object(Bucket=made.bucket, Key="json/sub/b.jsonl", Body="\n".join(lines[4:]))
    made.s3.put_object(Bucket=made.bucket, Key="bad/c.jsonl", Body=b'{"values": [1]}\n{"fail": true}\n')
    features, _ = classifier_data(rows=500, seed=7)
    rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in features) + "\n"
    made.s3.put_object(Bucket=made.bucket, Key="csv/rows.csv", Body=rows.encode())
    return made


def test_single_record_line_split_writes_one_answer_per_line(transform: Transform) -> None:
    name = transform.run(
        transform.scaler,
        "json",
        BatchStrategy="SingleRecord",
        MaxConcurrentTransforms=2,
        Environment={"EXTRA": "1"},
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    described = transform.wait(name)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformEndTime"] >= described["TransformStartTime"] >= described["CreationTime"]
    assert described["TransformInput"]["CompressionType"] == "None"
    assert described["BatchStrategy"] == "SingleRecord" and described["MaxConcurrentTransforms"] == 2
    assert transform.keys(f"out/{name}/") == [f"out/{name}/a.jsonl.out", f"out/{name}/sub/b.jsonl.out"]
    first = transform.read(f"out/{name}/a.jsonl.out").decode().splitlines()
    assert [json.loads(line)["scaled"] for line in first] == [[3 * i, 3 * (i + 1)] for i in range(4)]
    second = transform.read(f"out/{name}/sub/b.jsonl.out").decode().splitlines()
    assert [json.loads(line)["scaled"] for line in second] == [[12, 15], [15, 18]]

    listed = transform.sm.list_transform_jobs(NameContains=name, StatusEquals="Completed")
    assert [s["TransformJobName"] for s in listed["TransformJobSummaries"]] == [name]
    streams = transform.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert streams  # the workers' lines ("scaler loaded with factor 3")


def test_multi_record_packs_csv_rows_within_the_payload_limit(transform: Transform) -> None:
    csv_input = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{transform.bucket}/csv/"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    }
    name = transform.run(
        transform.classifier,
        "csv",
        TransformInput=csv_input,
        TransformOutput={
            "S3OutputPath": f"s3://{transform.bucket}/lines",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
    )
    described = transform.wait(name)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    labels = np.loadtxt(transform.read("lines/rows.csv.out").decode().splitlines())
    features, _ = classifier_data(rows=500, seed=7)
    assert labels.shape == (500,)
    assert (labels == (features.sum(axis=1) > 0)).mean() > 0.95

    whole = transform.run(
        transform.classifier,
        "csv",
        TransformInput={**csv_input, "SplitType": "None"},
        TransformOutput={"S3OutputPath": f"s3://{transform.bucket}/whole", "Accept": "text/csv"},
    )
    assert transform.wait(whole)["TransformJobStatus"] == "Completed"
    assert np.array_equal(np.loadtxt(transform.read("whole/rows.csv.out").decode().splitlines()), labels)


def test_a_record_the_model_fails_on_fails_the_job(transform: Transform) -> None:
    name = transform.run(transform.scaler, "bad", BatchStrategy="SingleRecord")
    described = transform.wait(name)
    assert described["TransformJobStatus"] == "Failed"
    assert "the scaler was asked to fail" in described["FailureReason"]
    assert transform.keys(f"out/{name}/") == []


def test_payload_over_the_limit_fails_and_bad_requests_are_refused(transform: Transform) -> None:
    big = "x" * (1024 * 1024 + 10)
    transform.s3.put_object(Bucket=transform.bucket, Key="big/one.txt", Body=big.encode())
    name = transform.run(transform.scaler, "big", MaxPayloadInMB=1)
    described = transform.wait(name)
    assert described["TransformJobStatus"] == "Failed" and "MaxPayloadInMB" in described["FailureReason"]

    sm = transform.sm
    record_io = transform.request(transform.scaler, "json")
    record_io["TransformInput"]["SplitType"] = "RecordIO"
    assert "RecordIO" in error_of(sm.create_transform_job, **record_io)["Message"]
    heavy = transform.request(transform.scaler, "json", MaxPayloadInMB=30, MaxConcurrentTransforms=4)
    assert "100 MB" in error_of(sm.create_transform_job, **heavy)["Message"]
    joined = transform.request(transform.scaler, "json", DataProcessing={"JoinSource": "Input"})
    assert "JoinSource" in error_of(sm.create_transform_job, **joined)["Message"]
    missing = transform.request("no-such-model", "json")
    error = error_of(sm.create_transform_job, **missing)
    assert error["Code"] == "ValidationException" and "no-such-model" in error["Message"]
    error = error_of(sm.describe_transform_job, TransformJobName="no-such-job")
    assert error["Code"] == "ResourceNotFound"
    again = transform.request(transform.scaler, "json", TransformJobName=name)
    assert error_of(sm.create_transform_job, **again)["Code"] == "ResourceInUse"
    error = error_of(sm.stop_transform_job, TransformJobName=name)
    assert error["Code"] == "ValidationException" and "status Failed" in error["Message"]


def test_multi_record_batches_split_at_the_payload_limit() -> None:
    from outcrop.services.sagemaker.transform_records import assemble, batches, output_key, records

    rows = records(b"a" * 400_000 + b"\n" + b"b" * 400_000 + b"\n\n" + b"c" * 400_000, "Line")
    assert [len(r) for r in rows] == [400_001, 400_001, 400_000]
    packed = list(batches(rows, "MultiRecord", 1, "s3://b/k"))
    assert [len(b) for b in packed] == [800_002, 400_000]
    assert list(batches(rows, "SingleRecord", 1, "s3://b/k")) == rows
    assert assemble([b"1", b"2\n"], "Line") == b"1\n2\n" and assemble([b"1", b"2"], "None") == b"12"
    assert output_key("out/", "in/sub/x.csv", "in") == "out/sub/x.csv.out"
    assert output_key("out", "in/x.csv", "in/x.csv") == "out/x.csv.out"


SLOW = b"""
import time


def model_fn(model_dir):
    return None


def predict_fn(data, model):
    time.sleep(0.5)
    return data
"""


def test_stop_ends_a_running_job(transform: Transform) -> None:
    transform.s3.put_object(
        Bucket=transform.bucket, Key="models/slow.tar.gz", Body=tar_gz({"code/inference.py": SLOW})
    )
    slow = transform.model(TORCH, "models/slow.tar.gz")
    transform.s3.put_object(Bucket=transform.bucket, Key="many/rows.jsonl", Body=b"[1]\n" * 200)
    name = transform.run(slow, "many", BatchStrategy="SingleRecord")
    time.sleep(3)
    transform.sm.stop_transform_job(TransformJobName=name)
    described = transform.wait(name, timeout=30)
    assert described["TransformJobStatus"] == "Stopped"
    assert transform.keys(f"out/{name}/") == []
