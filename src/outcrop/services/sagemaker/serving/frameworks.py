"""The framework containers' default handlers, used where the inference script leaves a function out.

PyTorch loads TorchScript (or a whole pickled module) from model.pt/model.pth; scikit-learn a joblib file;
XGBoost the `xgboost-model` booster the built-in algorithm and the XGBoost estimator write. Frameworks are
imported only when their defaults are used. Runs inside the worker process.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outcrop.services.sagemaker.serving.codecs import CSV, JSON, TEXT_TYPES, InferenceFailure, decode, encode


@dataclass(frozen=True)
class Defaults:
    """One framework's model_fn/input_fn/predict_fn/output_fn and its default content types."""

    name: str
    model_fn: Callable[[str], Any] | None
    input_fn: Callable[[Any, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]
    content_type: str = JSON
    accept: str = JSON


def _model_file(model_dir: str, names: tuple[str, ...], suffixes: tuple[str, ...], framework: str) -> Path:
    root = Path(model_dir)
    for name in names:
        if (root / name).is_file():
            return root / name
    found = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in suffixes)
    if len(found) == 1:
        return found[0]
    wanted = ", ".join([*names, *(f"*{s}" for s in suffixes)])
    raise InferenceFailure(
        f"No model_fn in the inference script and no single {framework} model file ({wanted}) in the model "
        f"archive (it holds: {', '.join(sorted(p.name for p in root.iterdir())) or 'nothing'}). "
        "Please provide a model_fn implementation."
    )


# -- PyTorch ------------------------------------------------------------------------------------------------


def _torch_model_fn(model_dir: str) -> Any:
    import torch

    path = _model_file(model_dir, ("model.pt", "model.pth"), (".pt", ".pth"), "PyTorch")
    try:
        model = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except RuntimeError:
        model = torch.load(str(path), map_location="cpu", weights_only=False)
        if not isinstance(model, torch.nn.Module):
            raise InferenceFailure(
                f"{path.name} holds a {type(model).__name__} (a state_dict?), not TorchScript or a whole "
                "module: the default model_fn cannot rebuild the network. Please provide a model_fn "
                "implementation."
            ) from None
    model.eval()
    return model


def _torch_input_fn(data: Any, content_type: str) -> Any:
    import torch

    array = decode(data, content_type)
    if content_type in TEXT_TYPES:
        return torch.FloatTensor(np.asarray(array, dtype=np.float32))
    return torch.from_numpy(np.ascontiguousarray(array))


def _torch_predict_fn(data: Any, model: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(data)


# -- scikit-learn -------------------------------------------------------------------------------------------


def _sklearn_model_fn(model_dir: str) -> Any:
    import joblib  # type: ignore[import-untyped]

    path = _model_file(model_dir, ("model.joblib",), (".joblib", ".pkl", ".pickle"), "scikit-learn")
    return joblib.load(path)


def _predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


# -- XGBoost ------------------------------------------------------------------------------------------------


def _xgboost_model_fn(model_dir: str) -> Any:
    import xgboost

    path = _model_file(model_dir, ("xgboost-model",), (".json", ".ubj", ".bst", ".model"), "XGBoost")
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
        return booster
    except xgboost.core.XGBoostError:
        with path.open("rb") as handle:  # older containers pickled the booster
            return pickle.load(handle)


LIBSVM = ("text/libsvm", "text/x-libsvm")


def _libsvm_rows(data: Any) -> Any:
    """`[label] index:value ...` lines as a sparse matrix (the label, if any, is ignored at inference)."""
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

    text = data.decode() if isinstance(data, bytes) else data
    values: list[float] = []
    columns: list[int] = []
    offsets = [0]
    try:
        for line in filter(None, (raw.strip() for raw in text.splitlines())):
            for token in line.split():
                if ":" in token:
                    index, value = token.split(":", 1)
                    columns.append(int(index))
                    values.append(float(value))
            offsets.append(len(values))
    except ValueError as exc:
        raise InferenceFailure(f"Could not decode the libsvm request body: {exc}", 400) from exc
    return csr_matrix((values, columns, offsets), dtype=np.float32)


def _xgboost_input_fn(data: Any, content_type: str) -> Any:
    if content_type in LIBSVM:
        return _libsvm_rows(data)
    array = np.asarray(decode(data, content_type), dtype=np.float32)
    return array.reshape(1, -1) if array.ndim == 1 else array


def _xgboost_predict_fn(data: Any, model: Any) -> Any:
    import xgboost

    if isinstance(model, xgboost.Booster):
        if not isinstance(data, xgboost.DMatrix):
            data = xgboost.DMatrix(data)
        return model.predict(data, validate_features=False)
    return model.predict(data)


def _xgboost_output_fn(prediction: Any, accept: str) -> Any:
    array = np.asarray(prediction)
    if accept == CSV and array.ndim == 1:  # the XGBoost container answers one row of comma-separated scores
        return ",".join(repr(float(v)) for v in array).encode()
    return encode(prediction, accept)


def _no_model_fn(framework: str) -> Callable[[str], Any]:
    def missing(model_dir: str) -> Any:
        raise InferenceFailure(
            f"The container image is not one of the framework images Outcrop serves with default handlers "
            f"(PyTorch, scikit-learn, XGBoost), so the inference script must define model_fn ({framework})."
        )

    return missing


FRAMEWORKS: dict[str, Defaults] = {
    "pytorch": Defaults("pytorch", _torch_model_fn, _torch_input_fn, _torch_predict_fn, encode),
    "sklearn": Defaults("sklearn", _sklearn_model_fn, decode, _predict_fn, encode),
    "xgboost": Defaults(
        "xgboost", _xgboost_model_fn, _xgboost_input_fn, _xgboost_predict_fn, _xgboost_output_fn, CSV, CSV
    ),
}


def defaults_for(framework: str) -> Defaults:
    return FRAMEWORKS.get(framework) or Defaults(
        framework, _no_model_fn(framework), decode, _predict_fn, encode
    )


def framework_of_image(image: str) -> str:
    """The framework a container image URI names (pytorch-inference, sagemaker-scikit-learn, ...)."""
    name = image.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    if "pytorch" in name or "torch" in name:
        return "pytorch"
    if "scikit" in name or "sklearn" in name:
        return "sklearn"
    if "xgboost" in name:
        return "xgboost"
    return name or "unknown"
