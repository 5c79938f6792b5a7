"""Model archives as the SageMaker SDK uploads them, built from tiny real models trained on generated data."""

from __future__ import annotations

import io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_serving"


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def script(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def scaler_archive(factor: float, script_name: str = "scaler.py") -> bytes:
    """A model.tar.gz with code/inference.py, as PyTorchModel(entry_point=...) repacks it."""
    return tar_gz(
        {"factor.json": json.dumps({"factor": factor}).encode(), "code/inference.py": script(script_name)}
    )


def classifier_data(rows: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two features; the label is whether their sum is positive."""
    features = np.random.default_rng(seed).normal(size=(rows, 2)).astype(np.float32)
    return features, (features.sum(axis=1) > 0).astype(np.int64)


def sklearn_archive() -> bytes:
    import joblib  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    features, labels = classifier_data()
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression().fit(features, labels), buffer)
    return tar_gz({"model.joblib": buffer.getvalue()})


def torchscript_archive() -> bytes:
    """A TorchScript linear layer y = x . [1, 2, 3] + 0.5, saved as model.pt for the default model_fn."""
    import torch

    layer = torch.nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
        layer.bias.fill_(0.5)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # TorchScript is deprecated, yet it is what the PyTorch container loads
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(layer), buffer)
    return tar_gz({"model.pt": buffer.getvalue()})


def xgboost_archive(tmp: Path) -> bytes:
    import xgboost

    features, labels = classifier_data()
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=10,
    )
    path = tmp / "xgboost-model.json"
    booster.save_model(str(path))
    return tar_gz({"xgboost-model": path.read_bytes()})
