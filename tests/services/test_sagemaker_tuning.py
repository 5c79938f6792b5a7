"""Hyperparameter tuning jobs through boto3: real training jobs chosen by optuna (Bayesian, Random) or a grid,
judged by the objective the metric definitions read from their logs, with the median early-stopping rule."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker_training import FIXTURES, PYTORCH_IMAGE, ROLE, tarball

# Prints an accuracy curve shaped by the `quality` hyperparameter, one epoch at a time.
CURVE = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float, default=0.5)
parser.add_argument("--pause", type=float, default=0.0)
args, _ = parser.parse_known_args()
for epoch in range(1, 11):
    print(f"epoch {epoch} accuracy={args.quality * epoch / 10:.4f}", flush=True)
    time.sleep(args.pause)
"""


class Tuning:
    def __init__(self, server: RunningServer, scripts: dict[str, str] | None = None) -> None:
        self.sm = server.client("sagemaker")
        s3 = server.client("s3")
        self.bucket = f"tune-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="data/train/part-1.csv", Body=b"1,2\n")
        s3.put_object(
            Bucket=self.bucket,
            Key="code/sourcedir.tar.gz",
            Body=tarball(FIXTURES / "probe", {"curve.py": CURVE, **(scripts or {})}),
        )

    def request(self, ranges: dict[str, Any], strategy: str = "Random", **config: Any) -> dict[str, Any]:
        return {
            "HyperParameterTuningJobName": f"t-{uuid.uuid4().hex[:10]}",
            "HyperParameterTuningJobConfig": {
                "Strategy": strategy,
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
                "ParameterRanges": ranges,
                **config,
            },
            "TrainingJobDefinition": {
                "StaticHyperParameters": {
                    "sagemaker_program": json.dumps("curve.py"),
                    "sagemaker_submit_directory": json.dumps(f"s3://{self.bucket}/code/sourcedir.tar.gz"),
                },
                "AlgorithmSpecification": {
                    "TrainingImage": PYTORCH_IMAGE,
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"}],
                },
                "RoleArn": ROLE,
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": f"s3://{self.bucket}/data/train",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/output"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
                "StoppingCondition": {"MaxRuntimeInSeconds": 300},
            },
        }

    def run(self, request: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
        self.sm.create_hyper_parameter_tuning_job(**request)
        return self.wait(request["HyperParameterTuningJobName"], timeout)

    def wait(self, name: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sm.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            )
            if described["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
                return described
            time.sleep(0.3)
        raise AssertionError(f"tuning job {name} did not finish")

    def jobs(self, name: str, **params: Any) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, **params
        )["TrainingJobSummaries"]
        return listed


@pytest.fixture(scope="module")
def tuning(server: RunningServer) -> Tuning:
    return Tuning(server)


def test_random_search_finds_the_best_job(tuning: Tuning) -> None:
    ranges = {"ContinuousParameterRanges": [{"Name": "quality", "MinValue": "0.1", "MaxValue": "0.9"}]}
    request = tuning.request(ranges, "Random", RandomSeed=7)
    described = tuning.run(request)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    jobs = tuning.jobs(request["HyperParameterTuningJobName"], SortBy="FinalObjectiveMetricValue")
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs]
    assert values == sorted(values, reverse=True) and len(values) == 3
    for job in jobs:  # the objective is the last accuracy the script printed: quality * 10 / 10
        quality = float(job["TunedHyperParameters"]["quality"])
        assert 0.1 <= quality <= 0.9
        assert job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(quality, abs=1e-4)
    assert described["BestTrainingJob"]["TrainingJobName"] == jobs[0]["TrainingJobName"]
    training = tuning.sm.describe_training_job(TrainingJobName=jobs[0]["TrainingJobName"])
    assert training["HyperParameters"]["quality"] == jobs[0]["TunedHyperParameters"]["quality"]


def test_bayesian_search_samples_logarithmic_and_integer_ranges(tuning: Tuning) -> None:
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "quality", "MinValue": "0.01", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "5"}],
    }
    request = tuning.request(ranges, "Bayesian", RandomSeed=3)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": 4,
        "MaxParallelTrainingJobs": 2,
    }
    described = tuning.run(request)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    jobs = tuning.jobs(request["HyperParameterTuningJobName"])
    assert len(jobs) == 4
    for job in jobs:
        assert 0.01 <= float(job["TunedHyperParameters"]["quality"]) <= 1
        assert job["TunedHyperParameters"]["epochs"] in {"1", "2", "3", "4", "5"}
    listed = tuning.sm.list_hyper_parameter_tuning_jobs(NameContains=request["HyperParameterTuningJobName"])
    assert listed["HyperParameterTuningJobSummaries"][0]["Strategy"] == "Bayesian"


def test_grid_with_early_stopping_stops_the_poor_job(tuning: Tuning) -> None:
    values = ["0.9", "0.8", "0.85", "0.05"]
    request = tuning.request(
        {"CategoricalParameterRanges": [{"Name": "quality", "Values": values}]},
        "Grid",
        TrainingJobEarlyStoppingType="Auto",
    )
    request["HyperParameterTuningJobConfig"]["ResourceLimits"] = {"MaxParallelTrainingJobs": 1}
    request["TrainingJobDefinition"]["StaticHyperParameters"]["pause"] = "0.6"
    described = tuning.run(request, timeout=240)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    jobs = {
        j["TunedHyperParameters"]["quality"]: j for j in tuning.jobs(request["HyperParameterTuningJobName"])
    }
    assert sorted(jobs) == sorted(values)  # each grid point once
    assert jobs["0.05"]["TrainingJobStatus"] == "Stopped"
    assert all(jobs[v]["TrainingJobStatus"] == "Completed" for v in values[:3])
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"quality": "0.9"}


def test_stop_a_tuning_job(tuning: Tuning) -> None:
    request = tuning.request(
        {"CategoricalParameterRanges": [{"Name": "quality", "Values": ["0.5", "0.6"]}]}, "Grid"
    )
    request["TrainingJobDefinition"]["StaticHyperParameters"]["pause"] = "5"
    name = request["HyperParameterTuningJobName"]
    tuning.sm.create_hyper_parameter_tuning_job(**request)
    time.sleep(1.5)
    tuning.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    deadline = time.monotonic() + 60
    while (
        tuning.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
            "HyperParameterTuningJobStatus"
        ]
        != "Stopped"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert all(j["TrainingJobStatus"] == "Stopped" for j in tuning.jobs(name))
    again = error_of(tuning.sm.stop_hyper_parameter_tuning_job, HyperParameterTuningJobName=name)
    assert again["Code"] == "ValidationException"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda r: r["HyperParameterTuningJobConfig"].update(Strategy="Hyperband"), ["Hyperband"]),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                ParameterRanges={
                    "ContinuousParameterRanges": [{"Name": "q", "MinValue": "2", "MaxValue": "1"}]
                }
            ),
            ["MinValue", "q"],
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                ParameterRanges={
                    "ContinuousParameterRanges": [
                        {"Name": "q", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
                    ]
                }
            ),
            ["logarithmic", "q"],
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"].update(
                MetricName="loss"
            ),
            ["loss", "MetricDefinitions"],
        ),
        (lambda r: r["HyperParameterTuningJobConfig"].update(Strategy="Grid"), ["Grid", "categorical"]),
        (
            lambda r: r["TrainingJobDefinition"]["StaticHyperParameters"].update(quality="1"),
            ["quality", "static"],
        ),
    ],
)
def test_bad_requests_are_refused(tuning: Tuning, change: Any, words: list[str]) -> None:
    request = tuning.request(
        {"ContinuousParameterRanges": [{"Name": "quality", "MinValue": "0.1", "MaxValue": "1"}]}
    )
    change(request)
    error = error_of(tuning.sm.create_hyper_parameter_tuning_job, **request)
    assert error["Code"] == "ValidationException" and error["Status"] == 400
    assert all(w in error["Message"] for w in words), error["Message"]


def test_unknown_tuning_job(tuning: Tuning) -> None:
    error = error_of(tuning.sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName="missing")
    assert error["Code"] == "ResourceNotFound"
