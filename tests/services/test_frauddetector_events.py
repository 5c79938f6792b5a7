"""Fraud Detector's stored events: SendEvent, a batch import from S3 (bad rows counted and written out),
and a TRANSACTION_FRAUD_INSIGHTS model trained on INGESTED_EVENTS that resumes after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.frauddetector_data import csv_text, events
from tests.services.test_frauddetector import ROLE, SCHEMA, setup_event_type, wait_for

IMPORT_COLUMNS = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "EVENT_LABEL", "LABEL_TIMESTAMP",
                  "order_price", "email_address", "ip_address"]  # fmt: skip
TFI = {"modelId": "tfi_model", "modelType": "TRANSACTION_FRAUD_INSIGHTS"}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(Path(tmp_path_factory.mktemp("frauddetector")) / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def imported(own_server: RunningServer) -> Any:
    fd, s3 = own_server.client("frauddetector"), own_server.client("s3")
    setup_event_type(fd, "transaction")
    rows = events(3000, seed=11)
    for row in rows:
        row["LABEL_TIMESTAMP"] = row["EVENT_TIMESTAMP"]
    rows[5]["ENTITY_TYPE"] = "merchant"  # not an entity type of the event type
    rows[9]["EVENT_LABEL"] = "chargeback"  # not a label of the event type
    s3.create_bucket(Bucket="fraud-events")
    s3.put_object(Bucket="fraud-events", Key="in/events.csv", Body=csv_text(rows, IMPORT_COLUMNS).encode())
    fd.create_batch_import_job(
        jobId="import_1",
        inputPath="s3://fraud-events/in/events.csv",
        outputPath="s3://fraud-events/out/",
        eventTypeName="transaction",
        iamRoleArn=ROLE,
    )
    wait_for(
        lambda: fd.get_batch_import_jobs(jobId="import_1")["batchImports"][0]["status"],
        {"COMPLETE", "FAILED"},
    )
    return fd


def test_a_batch_import_stores_good_rows_and_reports_bad_ones(
    imported: Any, own_server: RunningServer
) -> None:
    job = imported.get_batch_import_jobs(jobId="import_1")["batchImports"][0]
    assert job["status"] == "COMPLETE", job
    assert (job["processedRecordsCount"], job["failedRecordsCount"], job["totalRecordsCount"]) == (
        2998,
        2,
        3000,
    )
    report = own_server.client("s3").get_object(Bucket="fraud-events", Key="out/import_1_failed_records.csv")
    lines = report["Body"].read().decode().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["e11-5", "e11-9"]
    statistics = imported.get_event_types(name="transaction")["eventTypes"][0]["ingestedEventStatistics"]
    assert statistics["numberOfEvents"] == 2998
    assert statistics["leastRecentEvent"].startswith("2024-01-01T00:00:00")


def test_send_get_label_and_delete_an_event(imported: Any) -> None:
    fd = imported
    event = {
        "eventId": "single-1",
        "eventTypeName": "transaction",
        "eventTimestamp": "2024-05-05T10:00:00Z",
        "entities": [{"entityType": "customer", "entityId": "c1"}],
        "eventVariables": {"order_price": "12.50", "email_address": "a@example.org"},
    }
    fd.send_event(**event)
    assert error_of(fd.send_event, **event)["Code"] == "ConflictException"
    unknown = event | {"eventId": "single-2", "eventVariables": {"no_such": "1"}}
    assert error_of(fd.send_event, **unknown)["Code"] == "ValidationException"
    fd.update_event_label(
        eventId="single-1",
        eventTypeName="transaction",
        assignedLabel="legit",
        labelTimestamp="2024-05-06T00:00:00Z",
    )
    found = fd.get_event(eventId="single-1", eventTypeName="transaction")["event"]
    assert found["currentLabel"] == "legit" and found["eventVariables"]["order_price"] == "12.50"
    fd.delete_event(eventId="single-1", eventTypeName="transaction")
    assert (
        error_of(fd.get_event, eventId="single-1", eventTypeName="transaction")["Code"]
        == "ResourceNotFoundException"
    )


def test_a_transaction_model_trains_on_stored_events_and_resumes_after_a_restart(
    imported: Any, own_server: RunningServer
) -> None:
    fd = imported
    fd.create_model(**TFI, eventTypeName="transaction")
    window = {"startTime": "2023-12-31T00:00:00Z", "endTime": "2025-01-01T00:00:00Z"}
    created = fd.create_model_version(
        **TFI, trainingDataSource="INGESTED_EVENTS", trainingDataSchema=SCHEMA,
        ingestedEventsDetail={"ingestedEventsTimeWindow": window},
    )  # fmt: skip
    own_server.restart()  # the version was TRAINING_IN_PROGRESS (or done): either way it ends trained
    fd = own_server.client("frauddetector")
    ids = TFI | {"modelVersionNumber": created["modelVersionNumber"]}
    assert (
        wait_for(lambda: fd.get_model_version(**ids)["status"], {"TRAINING_COMPLETE", "ERROR"})
        == "TRAINING_COMPLETE"
    )
    detail = fd.describe_model_versions(**ids)["modelVersionDetails"][0]
    tfi = detail["trainingResultV2"]["trainingMetricsV2"]["tfi"]
    assert tfi["modelPerformance"]["auc"] > 0.97
    assert detail["ingestedEventsDetail"]["ingestedEventsTimeWindow"] == window
    fd.update_model_version_status(**ids, status="ACTIVE")  # the model is read back from its file
    fd.put_outcome(name="block")
    fd.put_detector(detectorId="tfi_detector", eventTypeName="transaction")
    fd.create_rule(ruleId="risky", detectorId="tfi_detector", expression="$tfi_model_insightscore >= 900",
                   language="DETECTORPL", outcomes=["block"])  # fmt: skip
    rule = {"detectorId": "tfi_detector", "ruleId": "risky", "ruleVersion": "1"}
    fd.create_detector_version(detectorId="tfi_detector", modelVersions=[ids], rules=[rule])
    found = fd.get_event_prediction(
        detectorId="tfi_detector", detectorVersionId="1", eventId="tfi-1", eventTypeName="transaction",
        eventTimestamp="2024-06-01T00:00:00Z", entities=[{"entityType": "customer", "entityId": "c9"}],
        eventVariables={"order_price": "1010.00", "email_address": "z@burner.xyz", "ip_address": "10.0.0.9"},
    )  # fmt: skip
    assert found["modelScores"][0]["scores"]["tfi_model_insightscore"] >= 900
    assert found["ruleResults"] == [{"ruleId": "risky", "outcomes": ["block"]}]
    empty = {"startTime": "2030-01-01T00:00:00Z", "endTime": "2030-02-01T00:00:00Z"}
    again = fd.create_model_version(
        **TFI, trainingDataSource="INGESTED_EVENTS", trainingDataSchema=SCHEMA,
        ingestedEventsDetail={"ingestedEventsTimeWindow": empty},
    )  # fmt: skip
    ids = TFI | {"modelVersionNumber": again["modelVersionNumber"]}
    assert wait_for(lambda: fd.get_model_version(**ids)["status"], {"TRAINING_COMPLETE", "ERROR"}) == "ERROR"
    message = fd.describe_model_versions(**ids)["modelVersionDetails"][0]["trainingResult"][
        "dataValidationMetrics"
    ]
    assert "Insufficient data" in message["fileLevelMessages"][0]["content"]


def test_deleting_every_event_of_a_type_lets_the_type_go(imported: Any) -> None:
    fd = imported
    assert error_of(fd.delete_event_type, name="transaction")["Code"] == "ConflictException"  # events stored
    assert (
        error_of(fd.get_delete_events_by_event_type_status, eventTypeName="transaction")["Code"]
        == "ResourceNotFoundException"
    )
    answer = fd.delete_events_by_event_type(eventTypeName="transaction")
    assert answer["eventsDeletionStatus"] == "COMPLETE"
    status = fd.get_delete_events_by_event_type_status(eventTypeName="transaction")
    assert status == {"eventTypeName": "transaction", "eventsDeletionStatus": "COMPLETE"} | {
        "ResponseMetadata": status["ResponseMetadata"]
    }
    statistics = fd.get_event_types(name="transaction")["eventTypes"][0]["ingestedEventStatistics"]
    assert statistics["numberOfEvents"] == 0
    assert error_of(fd.get_event, eventId="e11-0", eventTypeName="transaction")["Code"] == (
        "ResourceNotFoundException"
    )
    missing = error_of(fd.delete_events_by_event_type, eventTypeName="no_such_type")
    assert missing["Code"] == "ResourceNotFoundException"
