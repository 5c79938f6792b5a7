"""SageMaker training: a training job through boto3 (create → Completed) vs the same script run by hand.

Both run tests/fixtures/sagemaker/pytorch/train.py on the same generated CSV with the same hyperparameters.
The baseline is `python train.py --epochs …` in a prepared folder with the SM_* variables set, which is what
the job runs in the end; the difference is what a job adds: the API, copying the channel and code out of the
S3 store, the child process, log streaming and packing and uploading model.tar.gz.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from common import ROOT, outcrop_server, report

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
SCRIPT_DIR = ROOT / "tests" / "fixtures" / "sagemaker" / "pytorch"
HYPERPARAMETERS = {"epochs": 5, "batch-size": 64, "learning-rate": 0.05}
ROWS = 5000
RUNS = 3


def data() -> bytes:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(ROWS, 8))
    labels = features @ rng.normal(size=8) + 0.5
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return buffer.getvalue().encode()


def source_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(SCRIPT_DIR / "train.py", arcname="train.py")
    return buffer.getvalue()


def through_outcrop(client: Any, csv: bytes) -> list[float]:
    sm, s3 = client("sagemaker"), client("s3")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/train.csv", Body=csv)
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=source_tarball())
    times = []
    for _ in range(RUNS):
        name = f"bench-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
            },
            RoleArn="arn:aws:iam::000000000000:role/Bench",
            HyperParameters={
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/sourcedir.tar.gz"),
                **{k: json.dumps(v) for k, v in HYPERPARAMETERS.items()},
            },
            InputDataConfig=[
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data"}
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        while True:
            status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
            if status != "InProgress":
                break
            time.sleep(0.05)
        times.append(time.perf_counter() - started)
        if status != "Completed":
            raise SystemExit(f"the benchmark job ended {status}")
    return times


def by_hand(csv: bytes) -> list[float]:
    times = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for folder in ("data", "model", "output"):
                (root / folder).mkdir()
            (root / "data" / "train.csv").write_bytes(csv)
            env = {
                **os.environ,
                "SM_CHANNEL_TRAINING": str(root / "data"),
                "SM_MODEL_DIR": str(root / "model"),
                "SM_OUTPUT_DATA_DIR": str(root / "output"),
                "PYTHONUNBUFFERED": "1",
            }
            args = [part for k, v in sorted(HYPERPARAMETERS.items()) for part in (f"--{k}", str(v))]
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-u", str(SCRIPT_DIR / "train.py"), *args],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    csv = data()
    baseline = by_hand(csv)
    with outcrop_server(fake_models=True) as server:
        jobs = through_outcrop(server.client, csv)
    ours, theirs = statistics.median(jobs), statistics.median(baseline)
    report(
        f"SageMaker training: PyTorch, {ROWS} rows, {HYPERPARAMETERS['epochs']} epochs, median of {RUNS}",
        [
            ("", "Outcrop job (boto3)", "script by hand"),
            ("wall time (s)", f"{ours:.2f}", f"{theirs:.2f}"),
            ("overhead", f"{ours - theirs:+.2f} s ({ours / theirs:.2f}x)", ""),
        ],
    )
    print("Figures are noisy: 2 cores shared with other work.")


if __name__ == "__main__":
    main()
