"""The SageMaker Python SDK 2.x's `HyperparameterTuner` with the Hyperband strategy, unchanged: its
StrategyConfig reaches the server, the jobs Hyperband drops end Stopped, and the analytics read them back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from sagemaker.pytorch import PyTorch
from sagemaker.tuner import (
    ContinuousParameter,
    HyperbandStrategyConfig,
    HyperparameterTuner,
    StrategyConfig,
)

from tests.compat.sagemaker_sdk import sdk_session
from tests.server import RunningServer
from tests.services.test_sagemaker_tuning_hyperband import EPOCHS

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[Any]:
    with sdk_session(server, "sagemaker-hyperband") as made:
        yield made


def test_hyperparameter_tuner_with_hyperband(session: Any, tmp_path: Path) -> None:
    (tmp_path / "epochs.py").write_text(EPOCHS)
    train = session.upload_string_as_file_body("1,2\n", session.default_bucket(), "hyperband/train/data.csv")
    estimator = PyTorch(
        entry_point="epochs.py",
        source_dir=str(tmp_path),
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        framework_version="2.1",
        py_version="py310",
        hyperparameters={"epochs": 9, "pause": 0.7},
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="accuracy",
        hyperparameter_ranges={"quality": ContinuousParameter(0.1, 0.9)},
        metric_definitions=[{"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"}],
        max_jobs=5,
        max_parallel_jobs=1,
        strategy="Hyperband",
        strategy_config=StrategyConfig(HyperbandStrategyConfig(max_resource=9, min_resource=1)),
        random_seed=6,  # as in test_sagemaker_tuning_hyperband: the fifth job falls behind at epoch 3
    )
    tuner.fit({"train": os.path.dirname(train)}, logs=False)
    described = session.sagemaker_client.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuner.latest_tuning_job.name
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    config = described["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Hyperband"
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    frame = tuner.analytics().dataframe()
    assert len(frame) == 5
    stopped = frame[frame["TrainingJobStatus"] == "Stopped"]
    assert len(stopped) >= 1 and described["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    assert (stopped["FinalObjectiveValue"] < stopped["quality"] - 0.05).all()  # stopped before epoch 9
    best = tuner.best_training_job()
    assert frame.loc[frame["TrainingJobName"] == best, "quality"].iloc[0] == frame["quality"].max()
