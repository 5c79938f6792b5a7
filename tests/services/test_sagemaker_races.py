"""SageMaker jobs: a stop and the job's own end may land in either order, and each order has one outcome.

The store-level tests replay both interleavings deterministically against the runners' end writes; the
boto3 test issues a stop at the earliest moment and accepts each legal outcome explicitly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from outcrop.protocol.errors import ValidationException
from outcrop.services.sagemaker.control_common import request_stop
from outcrop.services.sagemaker.pipeline_runner import PipelineRunner
from outcrop.services.sagemaker.processing import ProcessingRunner
from outcrop.services.sagemaker.store import SageMakerStore
from outcrop.services.sagemaker.training import TrainingRunner
from outcrop.services.sagemaker.training_process import RunningJob
from outcrop.services.sagemaker.transform import TransformRunner
from outcrop.services.sagemaker.tuning import TuningRunner
from tests.server import RunningServer
from tests.services.test_sagemaker import create_model, scaler_archive, unique
from tests.services.test_sagemaker_training import Jobs

WHERE = ("000000000000", "us-east-1")
NONE = cast(Any, None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SageMakerStore]:
    opened = SageMakerStore(tmp_path)
    yield opened
    opened.close()


def _job(store: SageMakerStore, kind: str) -> str:
    name = f"job-{uuid.uuid4().hex[:10]}"
    store.insert(
        kind, name, f"arn:aws:sagemaker:us-east-1:000000000000:{kind}/{name}", "InProgress", {}, where=WHERE
    )
    return name


def _ends(store: SageMakerStore, tmp_path: Path) -> dict[str, Any]:
    """For each job kind, a function writing the worker's end of a job as its runner does."""
    training = TrainingRunner(store, objects=NONE, logs=NONE, root=tmp_path)
    processing = ProcessingRunner(store, objects=NONE, logs=NONE, root=tmp_path)
    transform = TransformRunner(store, objects=NONE, logs=NONE, root=tmp_path, limits=NONE)
    return {
        "training-job": lambda name, status, reason: training._finish(
            name, status, status, f"Training job {status.lower()}", reason, where=WHERE
        ),
        "processing-job": lambda name, status, reason: processing._finish(
            RunningJob(name, where=WHERE), status, reason, None
        ),
        "transform-job": lambda name, status, reason: transform._finish(name, status, reason, WHERE),
    }


KINDS = ["training-job", "processing-job", "transform-job"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("outcome", ["Completed", "Failed"])
def test_a_stop_accepted_before_the_end_is_honoured(
    store: SageMakerStore, tmp_path: Path, kind: str, outcome: str
) -> None:
    name = _job(store, kind)
    request_stop(store, kind, store.get(kind, name) or NONE, "job")
    _ends(store, tmp_path)[kind](
        name, outcome, "AlgorithmError: killed by the stop" if outcome == "Failed" else None
    )
    record = store.get(kind, name)
    assert record is not None and record.status == "Stopped"
    assert "FailureReason" not in record.body
    if kind == "training-job":
        assert record.body["SecondaryStatus"] == "Stopped"


@pytest.mark.parametrize("kind", KINDS)
def test_a_stop_after_the_end_is_refused_with_the_status_it_found(
    store: SageMakerStore, tmp_path: Path, kind: str
) -> None:
    name = _job(store, kind)
    stale = store.get(kind, name)  # the operation read the job while it still ran
    assert stale is not None and stale.status == "InProgress"
    _ends(store, tmp_path)[kind](name, "Completed", None)
    with pytest.raises(ValidationException) as refused:
        request_stop(store, kind, stale, "job")
    assert "status Completed" in refused.value.message
    record = store.get(kind, name)
    assert record is not None and record.status == "Completed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_end_leaves_the_first(store: SageMakerStore, tmp_path: Path, kind: str) -> None:
    name = _job(store, kind)
    end = _ends(store, tmp_path)[kind]
    end(name, "Completed", None)
    end(name, "Failed", "InternalServerError: a late write")
    record = store.get(kind, name)
    assert record is not None and record.status == "Completed" and "FailureReason" not in record.body


def test_a_second_stop_is_refused(store: SageMakerStore) -> None:
    name = _job(store, "training-job")
    request_stop(store, "training-job", store.get("training-job", name) or NONE, "training job")
    with pytest.raises(ValidationException) as refused:
        request_stop(store, "training-job", store.get("training-job", name) or NONE, "training job")
    assert refused.value.message == "The request was rejected because the training job is in status Stopping."


def test_tuning_and_pipeline_ends_honour_a_stop_and_keep_the_first_end(store: SageMakerStore) -> None:
    host = SimpleNamespace(store=store)
    tuning, pipelines = TuningRunner(host), PipelineRunner(host, NONE)
    stopped, done = _job(store, "tuning-job"), _job(store, "tuning-job")
    request_stop(store, "tuning-job", store.get("tuning-job", stopped) or NONE, "tuning job")
    tuning._finish(stopped, WHERE, "Failed", "All training jobs failed.")
    tuning._finish(done, WHERE, "Completed", None)
    tuning._finish(done, WHERE, "Failed", "InternalServerError: a late write")
    assert [store.get("tuning-job", n).status for n in (stopped, done)] == ["Stopped", "Completed"]  # type: ignore[union-attr]

    execution = _job(store, "pipeline-execution")
    store.update("pipeline-execution", execution, lambda r: setattr(r, "status", "Stopping"))
    pipelines._finish(execution, "Succeeded", None)
    pipelines._finish(execution, "Failed", "InternalServerError: a late write")
    record = store.get("pipeline-execution", execution)
    assert record is not None and record.status == "Stopped" and "FailureReason" not in record.body


def test_stop_at_the_earliest_moment_is_honoured_or_refused(server: RunningServer) -> None:
    jobs = Jobs(server.client)
    for _ in range(2):
        name = jobs.create()
        try:
            jobs.sm.stop_training_job(TrainingJobName=name)
        except ClientError as refused:  # the job had already ended: the stop says so and changes nothing
            final = jobs.wait(name)["TrainingJobStatus"]
            assert refused.response["Error"]["Code"] == "ValidationException"
            assert final == "Completed" and f"status {final}" in refused.response["Error"]["Message"]
            continue
        described = jobs.wait(name, timeout=60)  # accepted: Stopped, never Completed or Failed
        assert described["TrainingJobStatus"] == "Stopped"
        assert described["SecondaryStatus"] == "Stopped"
        assert "FailureReason" not in described


def test_an_endpoint_deleted_as_it_is_created_ends_gone_with_no_fleet(server: RunningServer) -> None:
    sm, runtime, s3 = server.client("sagemaker"), server.client("sagemaker-runtime"), server.client("s3")
    bucket = unique("sm-races")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="scaler/1/model.tar.gz", Body=scaler_archive(1))
    model = create_model(sm, bucket)
    config = unique("config")
    variant = {
        "VariantName": "One",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant])
    for _ in range(2):
        endpoint = unique("endpoint")
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        sm.delete_endpoint(EndpointName=endpoint)  # accepted whatever the create has reached
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                seen.append(sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"])
            except ClientError as gone:
                assert gone.response["Error"]["Code"] == "ValidationException"
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"{endpoint} was never deleted: {seen}")
        assert set(seen) <= {"Deleting"}  # never InService or Failed once the delete was accepted
        with pytest.raises(ClientError) as refused:  # and no fleet was left serving it
            runtime.invoke_endpoint(EndpointName=endpoint, Body=b"[1, 2]", ContentType="application/json")
        assert refused.value.response["Error"]["Code"] == "ValidationError"
