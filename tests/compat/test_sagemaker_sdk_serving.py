"""The SageMaker Python SDK 2.x, unmodified, deploying and predicting on Outcrop.

The guide's flow (`PyTorch(...).fit()` then `estimator.deploy()` and `predictor.predict(data)`), a
`PyTorchModel` deployed from a model archive with its own entry point, and a trained SKLearn estimator,
each with a real tiny model trained on generated data. The SDK is pointed at the server as in
test_sagemaker_sdk_training.py.
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

import sagemaker  # type: ignore[import-untyped]
from sagemaker import image_uris
from sagemaker.deserializers import CSVDeserializer, JSONDeserializer
from sagemaker.estimator import Estimator
from sagemaker.pytorch import PyTorch, PyTorchModel
from sagemaker.serializers import CSVSerializer, JSONSerializer
from sagemaker.sklearn import SKLearn
from sagemaker.xgboost import XGBoost

from tests.compat.sagemaker_sdk import sdk_session
from tests.server import RunningServer

TRAINING = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker"
SERVING = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_serving"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"

pytestmark = pytest.mark.real


@pytest.fixture(scope="module", autouse=True)
def quick_endpoint_polls() -> Iterator[None]:
    """The SDK polls DescribeEndpoint every 30 s while an endpoint is Creating (as on AWS); tests, 0.5 s."""
    original = sagemaker.session.Session.wait_for_endpoint

    def wait_for_endpoint(self: Any, endpoint: str, poll: float = 0.5, live_logging: bool = False) -> Any:
        return original(self, endpoint, poll=0.5, live_logging=live_logging)

    sagemaker.session.Session.wait_for_endpoint = wait_for_endpoint
    yield
    sagemaker.session.Session.wait_for_endpoint = original


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[Any]:
    with sdk_session(server, "sagemaker-serving") as made:
        yield made


def upload(session: Any, key: str, data: bytes) -> str:
    bucket = session.default_bucket()
    session.boto_session.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def labelled_csv(features: np.ndarray, labels: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return buffer.getvalue().encode()


def test_guide_flow_pytorch_fit_deploy_predict(session: Any) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(256, 2))
    labels = features @ np.array([2.0, -3.0]) + 0.5
    training = upload(session, "training-data/train.csv", labelled_csv(features, labels)).rsplit("/", 1)[0]
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(TRAINING / "pytorch"),
        role=ROLE,
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        framework_version="1.12",
        py_version="py38",
        hyperparameters={"epochs": 10, "batch-size": 32, "learning-rate": 0.1},
        sagemaker_session=session,
    )
    estimator.fit({"training": training}, logs=False)
    predictor = estimator.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="my-model-endpoint"
    )
    try:
        data = np.array([[1.0, 1.0], [0.0, -1.0]], dtype=np.float32)
        result = predictor.predict(
            data
        )  # NumpySerializer in, NumpyDeserializer out, as PyTorchPredictor does
        assert isinstance(result, np.ndarray) and result.shape == (2, 1)
        np.testing.assert_allclose(result[:, 0], [2 - 3 + 0.5, 3 + 0.5], atol=0.2)
        described = session.sagemaker_client.describe_endpoint(EndpointName="my-model-endpoint")
        assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    finally:
        predictor.delete_endpoint()


def test_pytorch_model_with_its_own_entry_point(session: Any, tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    layers = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    weights = {f"layers.{name}": value for name, value in layers.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.pth")
        info.size = len(buffer.getvalue())
        tar.addfile(info, io.BytesIO(buffer.getvalue()))
    model_data = upload(session, "mlp/model.tar.gz", archive.getvalue())

    model = PyTorchModel(
        model_data=model_data,
        role=ROLE,
        entry_point="inference.py",
        source_dir=str(SERVING / "torch_mlp"),
        framework_version="2.1",
        py_version="py310",
        sagemaker_session=session,
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=f"mlp-{uuid.uuid4().hex[:6]}",
        serializer=JSONSerializer(),
        deserializer=JSONDeserializer(),
    )
    try:
        inputs = [[0.5, -1.0], [2.0, 0.25]]
        with torch.no_grad():
            expected = layers(torch.tensor(inputs)).tolist()
        np.testing.assert_allclose(predictor.predict(inputs), expected, rtol=1e-5)
    finally:
        predictor.delete_endpoint()


def test_sklearn_fit_deploy_predict(session: Any) -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 2))
    labels = (features.sum(axis=1) > 0).astype(int)
    train = upload(session, "sk/train/train.csv", labelled_csv(features, labels)).rsplit("/", 1)[0]
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(TRAINING / "sklearn"),
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        framework_version="1.2-1",
        py_version="py3",
        sagemaker_session=session,
    )
    estimator.fit({"train": train}, logs=False)
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        result = predictor.predict(np.array([[2.0, 1.0], [-1.0, -3.0]]))
        assert list(result) == [1, 0]
    finally:
        predictor.delete_endpoint()


def test_xgboost_framework_and_plain_estimator_deploy_with_default_handlers(session: Any) -> None:
    """Neither script defines model_fn: the XGBoost container's defaults load `xgboost-model`."""
    rng = np.random.default_rng(2)
    features = rng.normal(size=(200, 2))
    train = upload(session, "xgb/train/train.csv", labelled_csv(features, 3 * features[:, 0])).rsplit("/", 1)[
        0
    ]
    framework = XGBoost(
        entry_point="train.py",
        source_dir=str(TRAINING / "xgboost"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        framework_version="1.7-1",
        hyperparameters={"num_round": 20, "max_depth": 2},
        sagemaker_session=session,
    )
    plain = Estimator(
        image_uri=image_uris.retrieve("xgboost", "us-east-1", version="1.7-1"),
        entry_point="train.py",
        source_dir=str(TRAINING / "xgboost"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        hyperparameters={"num_round": 20},
        sagemaker_session=session,
    )
    for estimator in (framework, plain):
        estimator.fit({"train": train}, logs=False)
    framework_predictor = framework.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    plain_predictor = plain.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    try:
        # XGBoostPredictor's own default: libsvm rows in, CSV out
        libsvm = framework_predictor.predict("0 0:1.0 1:0.0\n0 0:-1.0 1:0.5")
        assert np.allclose([float(v) for v in libsvm[0]], [3.0, -3.0], atol=0.6)
        csv = plain_predictor.predict([[1.0, 0.0], [-1.0, 0.5]])
        assert np.allclose([float(v) for v in csv[0]], [3.0, -3.0], atol=0.6)
    finally:
        framework_predictor.delete_endpoint()
        plain_predictor.delete_endpoint()
