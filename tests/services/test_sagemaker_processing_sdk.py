"""The SageMaker Python SDK 2.x, unmodified, running processing jobs on Outcrop.

`SKLearnProcessor(...).run(code=..., inputs=..., outputs=...)` as in AWS's examples (pandas and scikit-learn
over /opt/ml/processing paths the script names itself), and `FrameworkProcessor`, whose generated
`runproc.sh` unpacks the source folder and runs the entry point under bash. The SDK is set up as in
tests/compat/sagemaker_sdk.py.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
from sagemaker.sklearn import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor

from tests.compat.sagemaker_sdk import sdk_session
from tests.server import RunningServer

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"

PREPROCESS = """
import argparse, os
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--test-size", type=float, default=0.2)
args = parser.parse_args()
frame = pd.read_csv("/opt/ml/processing/input/raw.csv")
features, labels = frame[["x1", "x2"]], frame["y"]
x_train, x_test, y_train, y_test = train_test_split(
    features, labels, test_size=args.test_size, random_state=0
)
scaler = StandardScaler().fit(x_train)
for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
    out = pd.DataFrame(scaler.transform(x), columns=["x1", "x2"])
    out.insert(0, "y", y.to_numpy())
    out.to_csv(f"/opt/ml/processing/{split}/{split}.csv", header=False, index=False)
print(f"train rows {len(x_train)}, test rows {len(x_test)}")
"""


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[Any]:
    with sdk_session(server, "sagemaker-processing") as made:
        yield made


def raw_data(session: Any) -> str:
    rng = np.random.default_rng(3)
    features = rng.normal(loc=[10.0, -4.0], scale=[3.0, 0.5], size=(100, 2))
    labels = (features[:, 0] > 10).astype(int)
    buffer = io.StringIO()
    buffer.write("x1,x2,y\n")
    np.savetxt(buffer, np.column_stack([features, labels]), delimiter=",", fmt="%.6f")
    bucket = session.default_bucket()
    session.boto_session.client("s3").put_object(Bucket=bucket, Key="raw/raw.csv", Body=buffer.getvalue())
    return f"s3://{bucket}/raw/raw.csv"


def read_csv(session: Any, uri: str) -> np.ndarray:
    bucket, _, prefix = uri[5:].partition("/")
    s3 = session.boto_session.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert len(keys) == 1, keys
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    return np.loadtxt(io.BytesIO(body), delimiter=",")


def output_uris(described: dict[str, Any]) -> dict[str, str]:
    return {o["OutputName"]: o["S3Output"]["S3Uri"] for o in described["ProcessingOutputConfig"]["Outputs"]}


def test_sklearn_processor_runs_the_script_unchanged(session: Any, tmp_path: Path) -> None:
    script = tmp_path / "preprocessing.py"
    script.write_text(PREPROCESS)
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        sagemaker_session=session,
    )
    processor.run(
        code=str(script),
        inputs=[ProcessingInput(source=raw_data(session), destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
        ],
        arguments=["--test-size", "0.25"],
        logs=False,
    )
    described = processor.jobs[-1].describe()
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocessing.py",
    ]
    outputs = output_uris(described)
    train, test = read_csv(session, outputs["train"]), read_csv(session, outputs["test"])
    assert train.shape == (75, 3) and test.shape == (25, 3)
    assert np.allclose(train[:, 1:].mean(axis=0), 0.0, atol=1e-6)  # scaled on the training split
    assert np.allclose(train[:, 1:].std(axis=0), 1.0, atol=1e-3)


def test_framework_processor_runs_runproc_sh_over_the_source_folder(session: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "preprocessing.py").write_text("from helpers import run\nrun()\n")
    (source / "helpers.py").write_text(
        "def run():\n" + "\n".join("    " + line for line in PREPROCESS.strip().splitlines()) + "\n"
    )
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
    )
    processor.run(
        code="preprocessing.py",
        source_dir=str(source),
        inputs=[ProcessingInput(source=raw_data(session), destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
        ],
        logs=False,
    )
    described = processor.jobs[-1].describe()
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AppSpecification"]["ContainerEntrypoint"][0] == "/bin/bash"
    outputs = output_uris(described)
    assert read_csv(session, outputs["test"]).shape == (20, 3)
