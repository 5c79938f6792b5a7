"""The SageMaker Python SDK 2.x, unmodified, training on Outcrop: the guide's PyTorch flow, SKLearn, XGBoost,
a plain Estimator running the built-in XGBoost algorithm, and a script that fails.

The SDK is pointed at the server the documented way: clients built with `endpoint_url`, AWS_ENDPOINT_URL for
the clients it builds itself (S3 uploads, CloudWatch Logs), and a `default_bucket` (the SDK asks STS for the
account id only to name its default bucket, through a hard-coded STS endpoint).
"""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.exceptions import UnexpectedStatusException
from sagemaker.pytorch import PyTorch
from sagemaker.sklearn import SKLearn
from sagemaker.xgboost import XGBoost

from tests.compat.sagemaker_sdk import sdk_session
from tests.server import RunningServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
TRUE_WEIGHTS = np.array([2.0, -3.0])
TRUE_BIAS = 0.5


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[Any]:
    with sdk_session(server, "sagemaker-outcrop") as made:
        yield made


def regression_csv(rows: int = 256, seed: int = 0) -> bytes:
    """y = 2 x1 - 3 x2 + 0.5 + noise, label first, as SageMaker's CSV convention has it."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 2))
    labels = features @ TRUE_WEIGHTS + TRUE_BIAS + rng.normal(scale=0.05, size=rows)
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return buffer.getvalue().encode()


def classification_csv(rows: int = 200, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 2))
    labels = (features.sum(axis=1) > 0).astype(int)
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return buffer.getvalue().encode()


def upload(session: Any, key: str, data: bytes) -> str:
    bucket = session.default_bucket()
    session.boto_session.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key.rsplit('/', 1)[0]}"


def model_files(session: Any, uri: str) -> dict[str, bytes]:
    bucket, key = uri[5:].split("/", 1)
    body = session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_guide_pytorch_fit_trains_a_real_model_and_prints_its_logs(
    session: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    training = upload(session, "training-data/train.csv", regression_csv())
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(FIXTURES / "pytorch"),
        role=ROLE,
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        framework_version="1.12",
        py_version="py38",
        hyperparameters={"epochs": 4, "batch-size": 32, "learning-rate": 0.1},
        metric_definitions=[{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"}],
        sagemaker_session=session,
    )
    estimator.fit({"training": training})

    printed = capsys.readouterr().out
    assert "epoch 1: train_loss=" in printed and "epoch 4: train_loss=" in printed
    assert "Training - Training image download completed. Training in progress." in printed
    assert "Completed - Training job completed" in printed
    described = session.describe_training_job(estimator.latest_training_job.name)
    assert described["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("pytorch-training:1.12-gpu-py38")
    loss = [m["Value"] for m in described["FinalMetricDataList"] if m["MetricName"] == "train:loss"]
    assert loss and loss[0] < 0.05

    assert estimator.model_data.endswith(f"{estimator.latest_training_job.name}/output/model.tar.gz")
    files = model_files(session, estimator.model_data)
    state = torch.load(io.BytesIO(files["model.pth"]))
    assert np.allclose(state["weight"].numpy()[0], TRUE_WEIGHTS, atol=0.1)
    assert abs(float(state["bias"][0]) - TRUE_BIAS) < 0.1


def test_sklearn_fit(session: Any) -> None:
    import joblib  # type: ignore[import-untyped]

    train = upload(session, "sklearn/train/data.csv", classification_csv())
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(FIXTURES / "sklearn"),
        role=ROLE,
        instance_type="ml.m5.large",
        framework_version="1.2-1",
        py_version="py3",
        hyperparameters={"C": 10.0, "max-iter": 200},
        sagemaker_session=session,
    )
    estimator.fit({"train": train}, logs="None")
    attached = SKLearn.attach(estimator.latest_training_job.name, sagemaker_session=session)
    assert attached.model_data == estimator.model_data
    assert attached.hyperparameters()["C"] == "10.0" and attached.entry_point == "train.py"
    model = joblib.load(io.BytesIO(model_files(session, estimator.model_data)["model.joblib"]))
    assert model.C == 10.0
    assert model.predict(np.array([[2.0, 2.0], [-2.0, -2.0]])).tolist() == [1, 0]


def test_xgboost_framework_estimator_fit(session: Any) -> None:
    import xgboost as xgb

    train = upload(session, "xgboost/train/data.csv", regression_csv(seed=3))
    estimator = XGBoost(
        entry_point="train.py",
        source_dir=str(FIXTURES / "xgboost"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        framework_version="1.7-1",
        hyperparameters={"num_round": 20, "max_depth": 2},
        sagemaker_session=session,
    )
    estimator.fit({"train": train}, logs="None")
    booster = xgb.Booster()
    booster.load_model(bytearray(model_files(session, estimator.model_data)["xgboost-model"]))
    assert booster.num_boosted_rounds() == 20


def test_plain_estimator_runs_the_builtin_xgboost_algorithm(session: Any) -> None:
    import xgboost as xgb
    from sagemaker.inputs import TrainingInput

    train = upload(session, "builtin/train/data.csv", regression_csv(seed=4))
    validation = upload(session, "builtin/validation/data.csv", regression_csv(rows=64, seed=5))
    estimator = Estimator(
        image_uri=image_uris.retrieve("xgboost", "us-east-1", version="1.7-1"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        sagemaker_session=session,
    )
    estimator.set_hyperparameters(objective="reg:squarederror", num_round=15, max_depth=3, eta=0.3)
    estimator.fit(
        {
            "train": TrainingInput(train, content_type="text/csv"),
            "validation": TrainingInput(validation, content_type="text/csv"),
        },
        logs="None",
    )
    described = session.describe_training_job(estimator.latest_training_job.name)
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["validation:rmse"] < 1.0 and "train:rmse" in metrics
    booster = xgb.Booster()
    booster.load_model(bytearray(model_files(session, estimator.model_data)["xgboost-model"]))
    assert booster.num_boosted_rounds() == 15
    features = xgb.DMatrix(np.array([[1.0, 1.0]]))
    assert abs(float(booster.predict(features)[0]) - (2.0 - 3.0 + TRUE_BIAS)) < 1.0


def test_failing_script_raises_with_its_error_line(session: Any) -> None:
    training = upload(session, "failing/train.csv", b"1,2,3\n")
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(FIXTURES / "failing"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        framework_version="2.1",
        py_version="py310",
        sagemaker_session=session,
    )
    with pytest.raises(UnexpectedStatusException) as raised:
        estimator.fit({"training": training}, logs="None")
    message = str(raised.value)
    assert "Failed" in message
    assert "ValueError: the training data has no 'label' column" in message


def test_register_a_model_version_in_the_registry(session: Any) -> None:
    from sagemaker.sklearn import SKLearnModel

    client = session.sagemaker_client
    group = f"sdk-group-{uuid.uuid4().hex[:6]}"
    client.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription="from the SDK"
    )
    model_data = upload(session, "registry/model.tar.gz", b"not read when registering") + "/model.tar.gz"
    model = SKLearnModel(
        model_data=model_data,
        role=ROLE,
        entry_point="train.py",
        source_dir=str(FIXTURES / "sklearn"),
        framework_version="1.2-1",
        sagemaker_session=session,
    )
    arns = [
        model.register(
            content_types=["text/csv"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status=status,
        ).model_package_arn
        for status in ("PendingManualApproval", "Approved")
    ]
    assert [arn.rsplit("/", 1)[-1] for arn in arns] == ["1", "2"]
    approved = client.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [arns[1]]
    container = client.describe_model_package(ModelPackageName=arns[0])["InferenceSpecification"][
        "Containers"
    ][0]
    assert container["ModelDataUrl"] == model_data and "sagemaker-scikit-learn" in container["Image"]
