"""Fraud Detector's batch predictions: an S3 CSV of events scored through a detector version as
GetEventPrediction scores one, the results written to S3; bad rows marked, not dropped; cancel, delete, and a
job that survives a restart."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.frauddetector_data import csv_text, events
from tests.services.test_frauddetector import COLUMNS, ROLE, SCHEMA, setup_event_type, wait_for

BATCH_COLUMNS = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "order_price", "email_address",
                 "ip_address"]  # fmt: skip
MODEL = {"modelId": "batch_model", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
DONE = {"COMPLETE", "FAILED", "CANCELED"}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(Path(tmp_path_factory.mktemp("frauddetector-batch")) / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def detector(own_server: RunningServer) -> None:
    """A model trained on 1,000 events, an ACTIVE detector version: >= 900 blocks, the rest is approved."""
    fd, s3 = own_server.client("frauddetector"), own_server.client("s3")
    s3.create_bucket(Bucket="fraud-batch")
    s3.put_object(
        Bucket="fraud-batch", Key="train.csv", Body=csv_text(events(1000, seed=3), COLUMNS).encode()
    )
    setup_event_type(fd, "checkout")
    fd.create_model(modelId="batch_model", eventTypeName="checkout", modelType="ONLINE_FRAUD_INSIGHTS")
    fd.create_model_version(
        modelId="batch_model", modelType="ONLINE_FRAUD_INSIGHTS", trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=SCHEMA,
        externalEventsDetail={"dataLocation": "s3://fraud-batch/train.csv", "dataAccessRoleArn": ROLE},
    )  # fmt: skip
    assert wait_for(lambda: fd.get_model_version(**MODEL)["status"], {"TRAINING_COMPLETE", "ERROR"}) == (
        "TRAINING_COMPLETE"
    )
    fd.update_model_version_status(**MODEL, status="ACTIVE")
    for outcome in ("block", "approve"):
        fd.put_outcome(name=outcome)
    fd.put_detector(detectorId="checkout_detector", eventTypeName="checkout")
    for rule_id, expression, outcome in (
        ("high", "$batch_model_insightscore >= 900", "block"),
        ("rest", "$batch_model_insightscore < 900", "approve"),
    ):
        fd.create_rule(ruleId=rule_id, detectorId="checkout_detector", expression=expression,
                       language="DETECTORPL", outcomes=[outcome])  # fmt: skip
    rules = [{"detectorId": "checkout_detector", "ruleId": r, "ruleVersion": "1"} for r in ("high", "rest")]
    fd.create_detector_version(detectorId="checkout_detector", rules=rules, modelVersions=[MODEL])
    fd.update_detector_version_status(detectorId="checkout_detector", detectorVersionId="1", status="ACTIVE")


def start(server: RunningServer, job_id: str, key: str, rows: list[dict[str, str]], **extra: Any) -> Any:
    fd = server.client("frauddetector")
    server.client("s3").put_object(Bucket="fraud-batch", Key=key, Body=csv_text(rows, BATCH_COLUMNS).encode())
    fd.create_batch_prediction_job(
        jobId=job_id, inputPath=f"s3://fraud-batch/{key}", outputPath="s3://fraud-batch/results/",
        eventTypeName="checkout", detectorName="checkout_detector", iamRoleArn=ROLE, **extra,
    )  # fmt: skip
    return fd


def job(fd: Any, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = fd.get_batch_prediction_jobs(jobId=job_id)["batchPredictions"][0]
    return found


def output(server: RunningServer, job_id: str) -> list[dict[str, str]]:
    body = server.client("s3").get_object(Bucket="fraud-batch", Key=f"results/{job_id}_output.csv")["Body"]
    return list(csv.DictReader(io.StringIO(body.read().decode())))


def test_a_batch_scores_every_event_as_get_event_prediction_does(
    detector: None, own_server: RunningServer
) -> None:
    rows = events(300, seed=17)
    rows[4]["ENTITY_TYPE"] = "merchant"  # not an entity type of the event type: marked, not dropped
    fd = start(own_server, "batch_1", "in/batch_1.csv", rows, detectorVersion="1")
    assert wait_for(lambda: job(fd, "batch_1")["status"], DONE) == "COMPLETE", job(fd, "batch_1")
    described = job(fd, "batch_1")
    assert (described["processedRecordsCount"], described["totalRecordsCount"]) == (299, 300)
    assert described["detectorVersion"] == "1.0" and described["arn"].endswith(":batch-prediction/batch_1")
    assert described["startTime"] <= described["completionTime"]
    scored = output(own_server, "batch_1")
    assert [r["EVENT_ID"] for r in scored] == [r["EVENT_ID"] for r in rows]
    assert scored[4]["STATUS"].startswith("FAILED") and "merchant" in scored[4]["STATUS"]
    good = [(row, out) for row, out in zip(rows, scored, strict=True) if out["STATUS"] == "SUCCESS"]
    right = sum(
        (row["EVENT_LABEL"] == "fraud") == (json.loads(out["OUTCOMES"]) == ["block"]) for row, out in good
    )
    assert right / len(good) > 0.95  # separable data: the detector's outcome follows the label
    row, out = good[0]
    single = fd.get_event_prediction(
        detectorId="checkout_detector", eventId="single", eventTypeName="checkout",
        eventTimestamp=row["EVENT_TIMESTAMP"], entities=[{"entityType": "customer", "entityId": "c"}],
        eventVariables={v: row[v] for v in ("order_price", "email_address", "ip_address")},
    )  # fmt: skip
    assert json.loads(out["MODEL_SCORES"]) == single["modelScores"][0]["scores"]
    assert json.loads(out["RULE_RESULTS"]) == [r["ruleId"] for r in single["ruleResults"]]


def test_bad_requests_answer_the_operations_modelled_errors(
    detector: None, own_server: RunningServer
) -> None:
    fd = own_server.client("frauddetector")
    base = {"jobId": "bad", "inputPath": "s3://fraud-batch/in/batch_1.csv", "outputPath": "s3://fraud-batch/o/",
            "eventTypeName": "checkout", "detectorName": "checkout_detector", "iamRoleArn": ROLE}  # fmt: skip
    assert error_of(fd.create_batch_prediction_job, **base | {"detectorName": "nobody"})["Code"] == (
        "ResourceNotFoundException"
    )
    assert error_of(fd.create_batch_prediction_job, **base | {"detectorVersion": "9"})["Code"] == (
        "ResourceNotFoundException"
    )
    missing = error_of(fd.create_batch_prediction_job, **base | {"inputPath": "s3://fraud-batch/none.csv"})
    assert missing["Code"] == "ValidationException" and "does not exist" in missing["Message"]
    assert error_of(fd.create_batch_prediction_job, **base | {"eventTypeName": "other"})["Code"] == (
        "ValidationException"
    )
    assert error_of(fd.get_batch_prediction_jobs, jobId="nobody")["Code"] == "ResourceNotFoundException"
    assert error_of(fd.cancel_batch_prediction_job, jobId="nobody")["Code"] == "ResourceNotFoundException"
    assert [j["jobId"] for j in fd.get_batch_prediction_jobs()["batchPredictions"]] == ["batch_1"]
    duplicate = error_of(fd.create_batch_prediction_job, **base | {"jobId": "batch_1"})
    assert duplicate["Code"] == "ValidationException" and "already exists" in duplicate["Message"]
    assert error_of(fd.cancel_batch_prediction_job, jobId="batch_1")["Code"] == "ValidationException"


def test_a_cancelled_job_ends_canceled_and_a_deleted_one_is_gone(
    detector: None, own_server: RunningServer
) -> None:
    fd = start(own_server, "batch_2", "in/batch_2.csv", events(3000, seed=19))
    try:
        fd.cancel_batch_prediction_job(jobId="batch_2")
    except fd.exceptions.ValidationException:  # it had finished already: nothing left to cancel
        assert job(fd, "batch_2")["status"] == "COMPLETE"
    else:
        assert wait_for(lambda: job(fd, "batch_2")["status"], DONE) == "CANCELED"
        assert "completionTime" in job(fd, "batch_2")
    fd.delete_batch_prediction_job(jobId="batch_2")
    assert error_of(fd.get_batch_prediction_jobs, jobId="batch_2")["Code"] == "ResourceNotFoundException"
    fd.delete_batch_prediction_job(jobId="batch_2")  # deleting what is gone is not an error


def test_a_job_survives_a_restart(detector: None, own_server: RunningServer) -> None:
    start(own_server, "batch_3", "in/batch_3.csv", events(2000, seed=23))
    own_server.restart()  # it was queued, running or done: either way it ends COMPLETE with its output
    fd = own_server.client("frauddetector")
    assert wait_for(lambda: job(fd, "batch_3")["status"], DONE) == "COMPLETE", job(fd, "batch_3")
    assert job(fd, "batch_3")["processedRecordsCount"] == 2000
    assert len(output(own_server, "batch_3")) == 2000
