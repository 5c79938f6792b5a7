"""Fraud Detector's cancels that race the worker thread: a batch import or a model version's training
cancelled at the earliest moment is either refused (it had ended: its end stands) or ends cancelled, never
overwritten by the worker's COMPLETE or TRAINING_COMPLETE. The worker runs queued work in order, so a job
queued after the one cancelled has ended only once the worker is done with it: no timing is relied on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer
from tests.services.frauddetector_data import csv_text, events
from tests.services.test_frauddetector import COLUMNS, ROLE, SCHEMA, setup_event_type, wait_for
from tests.services.test_frauddetector_events import IMPORT_COLUMNS

IMPORT_DONE = {"COMPLETE", "FAILED", "CANCELED"}
MODEL = {"modelId": "races_model", "modelType": "ONLINE_FRAUD_INSIGHTS"}


@pytest.fixture(scope="module")
def fd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    running = RunningServer(Path(tmp_path_factory.mktemp("frauddetector-races")) / "data").start()
    client, s3 = running.client("frauddetector"), running.client("s3")
    setup_event_type(client, "checkout")
    s3.create_bucket(Bucket="fraud-races")
    rows = events(400, seed=5)
    for row in rows:
        row["LABEL_TIMESTAMP"] = row["EVENT_TIMESTAMP"]
    s3.put_object(Bucket="fraud-races", Key="events.csv", Body=csv_text(rows, IMPORT_COLUMNS).encode())
    s3.put_object(Bucket="fraud-races", Key="train.csv", Body=csv_text(events(600, seed=3), COLUMNS).encode())
    client.create_model(modelId="races_model", eventTypeName="checkout", modelType="ONLINE_FRAUD_INSIGHTS")
    yield client
    running.stop()


def _import(fd: Any, job_id: str) -> None:
    fd.create_batch_import_job(
        jobId=job_id,
        inputPath="s3://fraud-races/events.csv",
        outputPath="s3://fraud-races/out/",
        eventTypeName="checkout",
        iamRoleArn=ROLE,
    )


def _status(fd: Any, job_id: str) -> str:
    return str(fd.get_batch_import_jobs(jobId=job_id)["batchImports"][0]["status"])


def _drained(fd: Any, marker: str) -> None:
    """Queue a job behind everything queued so far and wait for it: the worker is done with the rest."""
    _import(fd, marker)
    assert wait_for(lambda: _status(fd, marker), IMPORT_DONE) == "COMPLETE"


def test_a_batch_import_cancelled_at_once_is_refused_or_ends_canceled(fd: Any) -> None:
    for n in range(3):
        _import(fd, f"cancel_{n}")
        try:
            fd.cancel_batch_import_job(jobId=f"cancel_{n}")
        except ClientError as refused:  # it had already ended: its end stands
            assert refused.response["Error"]["Code"] == "ValidationException"
            assert wait_for(lambda n=n: _status(fd, f"cancel_{n}"), IMPORT_DONE) == "COMPLETE"
            continue
        _drained(fd, f"after_cancel_{n}")
        assert _status(fd, f"cancel_{n}") == "CANCELED"


def test_a_training_cancelled_at_once_is_refused_or_stays_cancelled(fd: Any) -> None:
    for _ in range(2):
        number = fd.create_model_version(
            **MODEL,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema=SCHEMA,
            externalEventsDetail={"dataLocation": "s3://fraud-races/train.csv", "dataAccessRoleArn": ROLE},
        )["modelVersionNumber"]
        version = {**MODEL, "modelVersionNumber": number}
        try:
            fd.update_model_version_status(**version, status="TRAINING_CANCELLED")
        except ClientError as refused:  # it had already trained: its end stands
            assert refused.response["Error"]["Code"] == "ValidationException"
            assert fd.get_model_version(**version)["status"] == "TRAINING_COMPLETE"
            continue
        _drained(fd, f"after_training_{number.replace('.', '_')}")
        assert fd.get_model_version(**version)["status"] == "TRAINING_CANCELLED"
