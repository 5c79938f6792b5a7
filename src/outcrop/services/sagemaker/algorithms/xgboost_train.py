"""SageMaker's built-in XGBoost algorithm ("algorithm mode"): what its image runs given no entry point.

Run as a training job's child process: hyperparameters from SM_HPS (num_round required, the rest XGBoost
parameters), the `train` channel and an optional `validation` channel as CSV (label in the first column, no
header) or LIBSVM, chosen by the channel's ContentType as the container does; evaluation lines printed per
round; the booster saved as `xgboost-model` in the model folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

_TRAIN_ARGUMENTS = ("num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination")


class ClientError(Exception):
    """A problem with the job's input, reported as the container reports it."""


def _number(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def _content_type(channel: str) -> str:
    config = json.loads(os.environ.get("SM_INPUT_DATA_CONFIG", "{}")).get(channel, {})
    content_type = str(config.get("ContentType", "libsvm")).lower()
    return "csv" if "csv" in content_type else "libsvm"


def _load(channel: str) -> xgb.DMatrix | None:
    folder = os.environ.get(f"SM_CHANNEL_{channel.upper()}")
    if not folder:
        return None
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ClientError(f"No data files found in channel '{channel}'.")
    if _content_type(channel) == "csv":
        try:
            rows = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
        except ValueError as exc:
            raise ClientError(f"Channel '{channel}' is not numeric CSV with the label first: {exc}") from exc
        return xgb.DMatrix(rows[:, 1:], label=rows[:, 0])
    from sklearn.datasets import load_svmlight_files  # type: ignore[import-untyped]

    try:
        loaded = load_svmlight_files([str(path) for path in files])
    except ValueError as exc:
        raise ClientError(
            f"Channel '{channel}' is not LIBSVM data ({exc}); set ContentType text/csv for CSV."
        ) from exc
    import scipy.sparse  # type: ignore[import-untyped]

    features = scipy.sparse.vstack(loaded[0::2])
    labels = np.concatenate(loaded[1::2])
    return xgb.DMatrix(features, label=labels)


def main() -> int:
    hyperparameters = {k: _number(v) for k, v in json.loads(os.environ["SM_HPS"]).items()}
    try:
        if "num_round" not in hyperparameters:
            raise ClientError("Missing required hyperparameter: num_round")
        train = _load("train")
        if train is None:
            raise ClientError("Channel 'train' is required by the XGBoost algorithm.")
        validation = _load("validation")
    except ClientError as exc:
        message = f"ClientError: {exc}"
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text(message)
        print(message, file=sys.stderr)
        return 1
    params = {k: v for k, v in hyperparameters.items() if k not in _TRAIN_ARGUMENTS}
    params.setdefault("nthread", int(os.environ.get("SM_NUM_CPUS", "1")))
    evals = [(train, "train")] + ([(validation, "validation")] if validation is not None else [])
    booster = xgb.train(
        params,
        train,
        num_boost_round=int(hyperparameters["num_round"]),
        evals=evals,
        early_stopping_rounds=hyperparameters.get("early_stopping_rounds")
        if validation is not None
        else None,
        verbose_eval=True,
    )
    booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
