"""The Hyperband tuning strategy through boto3: each objective value a training job prints is one epoch
reported to optuna's HyperbandPruner; the jobs it drops, and those that go past MaxResource, are stopped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker_tuning import Tuning

# One accuracy line an epoch, for --epochs epochs: quality * epoch / epochs, so every job's curve keeps the
# same order at every epoch and ends at its quality.
EPOCHS = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float)
parser.add_argument("--epochs", type=int)
parser.add_argument("--pause", type=float, default=0.0)
args, _ = parser.parse_known_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch} accuracy={args.quality * epoch / args.epochs:.4f}", flush=True)
    time.sleep(args.pause)
"""


class Hyperband(Tuning):
    def __init__(self, server: RunningServer) -> None:
        super().__init__(server, {"epochs.py": EPOCHS})

    def hyperband(self, jobs: int, epochs: int, seed: int, **strategy: int) -> dict[str, Any]:
        ranges = {"ContinuousParameterRanges": [{"Name": "quality", "MinValue": "0.1", "MaxValue": "0.9"}]}
        request = self.request(ranges, "Hyperband", RandomSeed=seed)
        config = request["HyperParameterTuningJobConfig"]
        config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 1}
        if strategy:
            config["StrategyConfig"] = {"HyperbandStrategyConfig": strategy}
        static = request["TrainingJobDefinition"]["StaticHyperParameters"]
        # 0.7 s an epoch: a job dropped at epoch 3 has seconds left to be stopped in
        static.update(sagemaker_program=json.dumps("epochs.py"), epochs=str(epochs), pause="0.7")
        return request


@pytest.fixture(scope="module")
def tuning(server: RunningServer) -> Hyperband:
    return Hyperband(server)


def _counters(jobs: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    statuses = [j["TrainingJobStatus"] for j in jobs]
    objectives = [j["ObjectiveStatus"] for j in jobs]
    training = {
        "Completed": statuses.count("Completed"),
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": statuses.count("Failed"),
        "Stopped": statuses.count("Stopped"),
    }
    objective = {k: objectives.count(k) for k in ("Succeeded", "Pending", "Failed")}
    return training, objective


def test_hyperband_stops_the_job_that_falls_behind_at_a_rung(tuning: Hyperband) -> None:
    # MaxResource is inferred from the static `epochs` (9): brackets of rungs at epochs 1, 3 and 9. With
    # RandomSeed 6 the fifth job (quality ~0.14) meets a rung behind a better job of its bracket.
    request = tuning.hyperband(jobs=5, epochs=9, seed=6)
    described = tuning.run(request, timeout=300)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    assert described["HyperParameterTuningJobConfig"]["Strategy"] == "Hyperband"
    jobs = tuning.jobs(request["HyperParameterTuningJobName"])
    assert len(jobs) == 5
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    completed = [j for j in jobs if j["TrainingJobStatus"] == "Completed"]
    assert stopped and len(stopped) + len(completed) == 5
    for job in jobs:
        quality = float(job["TunedHyperParameters"]["quality"])
        value = job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert job["ObjectiveStatus"] == "Succeeded"
        if job["TrainingJobStatus"] == "Completed":  # all 9 epochs: the objective is the quality
            assert value == pytest.approx(quality, abs=1e-4)
        else:  # stopped before its last epoch: the last value it printed
            assert value < quality - 0.05
    training, objective = _counters(jobs)
    assert described["TrainingJobStatusCounters"] == training
    assert described["ObjectiveStatusCounters"] == objective
    best = max(jobs, key=lambda j: float(j["TunedHyperParameters"]["quality"]))
    assert best["TrainingJobStatus"] == "Completed"  # the best at every rung is never dropped
    assert described["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    training_job = tuning.sm.describe_training_job(TrainingJobName=stopped[0]["TrainingJobName"])
    assert training_job["TrainingJobStatus"] == "Stopped"
    assert training_job["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")


def test_a_job_past_max_resource_is_stopped(tuning: Hyperband) -> None:
    # the scripts train 9 epochs, but MaxResource is 2: each job is stopped once it goes past 2 epochs
    request = tuning.hyperband(jobs=2, epochs=9, seed=1, MinResource=1, MaxResource=2)
    described = tuning.run(request, timeout=180)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    jobs = tuning.jobs(request["HyperParameterTuningJobName"])
    assert [j["TrainingJobStatus"] for j in jobs] == ["Stopped", "Stopped"]
    for job in jobs:
        quality = float(job["TunedHyperParameters"]["quality"])
        value = job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert quality * 2 / 9 - 1e-4 <= value < quality - 0.05
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 2
    assert described["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 2}
    }


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c, s: s.pop("epochs"), ["MaxResource", "epochs"]),
        (lambda c, s: c.update(TrainingJobEarlyStoppingType="Auto"), ["TrainingJobEarlyStoppingType", "Off"]),
        (
            lambda c, s: c.update(StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 20001}}),
            ["MaxResource", "20000"],
        ),
        (
            lambda c, s: c.update(
                StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 5, "MaxResource": 4}}
            ),
            ["MinResource", "MaxResource"],
        ),
        (
            lambda c, s: c.update(Strategy="Random", StrategyConfig={"HyperbandStrategyConfig": {}}),
            ["StrategyConfig", "Hyperband"],
        ),
    ],
)
def test_hyperband_requests_it_cannot_honour_are_refused(
    tuning: Hyperband, change: Any, words: list[str]
) -> None:
    request = tuning.hyperband(jobs=2, epochs=9, seed=1)
    change(
        request["HyperParameterTuningJobConfig"], request["TrainingJobDefinition"]["StaticHyperParameters"]
    )
    error = error_of(tuning.sm.create_hyper_parameter_tuning_job, **request)
    assert error["Code"] == "ValidationException" and error["Status"] == 400
    assert all(w in error["Message"] for w in words), error["Message"]
