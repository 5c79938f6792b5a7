"""The SageMaker Python SDK 2.x, unmodified, running batch transform on Outcrop: `Transformer.transform()`
on a registered scikit-learn model, CSV rows split by line and packed into mini-batches, as AWS's batch
transform example does. The SDK is set up as in tests/compat/sagemaker_sdk.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from sagemaker.transformer import Transformer

from tests.compat.sagemaker_sdk import sdk_session
from tests.sagemaker_hosting.archives import classifier_data, sklearn_archive
from tests.server import RunningServer

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[Any]:
    with sdk_session(server, "sagemaker-transform") as made:
        yield made


def test_transformer_transform_writes_predictions_per_input_file(session: Any) -> None:
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=sklearn_archive())
    model_name = session.create_model(
        "transform-sklearn", ROLE, {"Image": SKLEARN, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz"}
    )
    features, _ = classifier_data(rows=300, seed=11)
    for part in range(2):
        rows = features[part * 150 : (part + 1) * 150]
        body = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n"
        s3.put_object(Bucket=bucket, Key=f"batch-input/part-{part}.csv", Body=body.encode())

    transformer = Transformer(
        model_name=model_name,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        max_concurrent_transforms=2,
        max_payload=1,
        output_path=f"s3://{bucket}/batch-output",
        sagemaker_session=session,
    )
    transformer.transform(
        f"s3://{bucket}/batch-input", content_type="text/csv", split_type="Line", wait=True, logs=False
    )
    described = session.sagemaker_client.describe_transform_job(
        TransformJobName=transformer.latest_transform_job.name
    )
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["MaxPayloadInMB"] == 1 and described["BatchStrategy"] == "MultiRecord"
    labels = []
    for part in range(2):
        out = s3.get_object(Bucket=bucket, Key=f"batch-output/part-{part}.csv.out")["Body"].read()
        labels.append(np.loadtxt(out.decode().splitlines()))
    predicted = np.concatenate(labels)
    assert predicted.shape == (300,)
    assert (predicted == (features.sum(axis=1) > 0)).mean() > 0.95
