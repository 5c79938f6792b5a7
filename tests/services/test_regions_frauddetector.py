"""Fraud Detector's resources live in the account and region that made them: variables, labels, entity,
event and outcome types, models and their versions, detectors, rules and versions, stored events, predictions
and batch jobs made in eu-west-1 are invisible from us-east-1, where their names stay free; their ARNs say
eu-west-1, and a batch prediction job there scores with eu-west-1's detector."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.frauddetector_data import csv_text, events
from tests.services.regions import AWAY, HOME, arn_region, regional
from tests.services.test_frauddetector import ROLE, wait_for

COLUMNS = ["EVENT_TIMESTAMP", "EVENT_LABEL", "order_price", "email_address"]
BATCH_COLUMNS = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "order_price", "email_address"]


class Names:
    """Names of this test's own (so the shared server's other Fraud Detector tests never collide)."""

    def __init__(self) -> None:
        tag = "r" + uuid.uuid4().hex[:8]
        self.price, self.email = f"{tag}_price", f"{tag}_email"
        self.customer, self.fraud, self.legit = f"{tag}_customer", f"{tag}_fraud", f"{tag}_legit"
        self.event_type, self.model, self.detector = f"{tag}_orders", f"{tag}_model", f"{tag}_detector"
        self.outcome, self.bucket = f"{tag}_block", f"{tag}-fraud-eu"

    def rows(self, n: int, seed: int) -> list[dict[str, str]]:
        renamed = {"order_price": self.price, "email_address": self.email}
        found = []
        for row in events(n, seed=seed):
            row = {renamed.get(k, k): v for k, v in row.items()}
            row["EVENT_LABEL"] = self.fraud if row["EVENT_LABEL"] == "fraud" else self.legit
            row["ENTITY_TYPE"] = self.customer
            found.append(row)
        return found


def make_event_type(fd: Any, names: Names) -> None:
    fd.create_variable(name=names.price, variableType="PRICE", dataSource="EVENT", dataType="FLOAT",
                       defaultValue="0.0")  # fmt: skip
    fd.create_variable(name=names.email, variableType="EMAIL_ADDRESS", dataSource="EVENT", dataType="STRING",
                       defaultValue="unknown")  # fmt: skip
    fd.put_entity_type(name=names.customer)
    fd.put_label(name=names.fraud)
    fd.put_label(name=names.legit)
    fd.put_outcome(name=names.outcome)
    fd.put_event_type(name=names.event_type, eventVariables=[names.price, names.email],
                      labels=[names.fraud, names.legit], entityTypes=[names.customer])  # fmt: skip


@pytest.fixture(scope="module")
def eu(server: RunningServer) -> tuple[Any, Names]:
    """An event type, a trained ACTIVE model and an ACTIVE detector version, all in eu-west-1."""
    names = Names()
    fd, s3 = regional(server, "frauddetector", HOME), regional(server, "s3", HOME)
    s3.create_bucket(Bucket=names.bucket, CreateBucketConfiguration={"LocationConstraint": HOME})
    columns = [{"order_price": names.price, "email_address": names.email}.get(c, c) for c in COLUMNS]
    s3.put_object(Bucket=names.bucket, Key="train.csv", Body=csv_text(names.rows(600, 5), columns).encode())
    make_event_type(fd, names)
    fd.create_model(modelId=names.model, eventTypeName=names.event_type, modelType="ONLINE_FRAUD_INSIGHTS")
    schema = {
        "modelVariables": [names.price, names.email],
        "labelSchema": {"labelMapper": {"FRAUD": [names.fraud], "LEGIT": [names.legit]}},
    }
    ids = {"modelId": names.model, "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
    fd.create_model_version(
        modelId=names.model, modelType="ONLINE_FRAUD_INSIGHTS", trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=schema,
        externalEventsDetail={"dataLocation": f"s3://{names.bucket}/train.csv", "dataAccessRoleArn": ROLE},
    )  # fmt: skip
    status = wait_for(lambda: fd.get_model_version(**ids)["status"], {"TRAINING_COMPLETE", "ERROR"})
    assert status == "TRAINING_COMPLETE", fd.describe_model_versions(**ids)
    fd.update_model_version_status(**ids, status="ACTIVE")
    fd.put_detector(detectorId=names.detector, eventTypeName=names.event_type)
    fd.create_rule(ruleId="risky", detectorId=names.detector, language="DETECTORPL", outcomes=[names.outcome],
                   expression=f"${names.model}_insightscore >= 900")  # fmt: skip
    rule = {"detectorId": names.detector, "ruleId": "risky", "ruleVersion": "1"}
    fd.create_detector_version(detectorId=names.detector, rules=[rule], modelVersions=[ids])
    fd.update_detector_version_status(detectorId=names.detector, detectorVersionId="1", status="ACTIVE")
    return fd, names


def predict(fd: Any, names: Names, event_id: str) -> dict[str, Any]:
    found: dict[str, Any] = fd.get_event_prediction(
        detectorId=names.detector, eventId=event_id, eventTypeName=names.event_type,
        eventTimestamp="2024-06-01T00:00:00Z", entities=[{"entityType": names.customer, "entityId": "c1"}],
        eventVariables={names.price: "990.00", names.email: "z@burner.xyz"},
    )  # fmt: skip
    return found


def test_everything_made_in_eu_west_1_is_invisible_from_us_east_1(
    eu: tuple[Any, Names], server: RunningServer
) -> None:
    home, names = eu
    away = regional(server, "frauddetector", AWAY)
    found = predict(home, names, "eu-1")
    assert found["ruleResults"] == [{"ruleId": "risky", "outcomes": [names.outcome]}]
    assert arn_region(found["modelScores"][0]["modelVersion"]["arn"]) == HOME
    assert arn_region(home.get_variables(name=names.price)["variables"][0]["arn"]) == HOME
    detector_arn = home.describe_detector(detectorId=names.detector)["arn"]
    assert arn_region(detector_arn) == HOME and detector_arn.split(":")[4] == "000000000000"

    not_found = "ResourceNotFoundException"
    assert error_of(away.get_variables, name=names.price)["Code"] == not_found
    assert error_of(away.get_event_types, name=names.event_type)["Code"] == not_found
    assert error_of(away.get_detectors, detectorId=names.detector)["Code"] == not_found
    assert error_of(away.describe_detector, detectorId=names.detector)["Code"] == not_found
    assert error_of(away.get_models, modelId=names.model)["Code"] == not_found
    assert error_of(away.get_rules, detectorId=names.detector)["Code"] == not_found
    assert error_of(away.get_detector_version, detectorId=names.detector, detectorVersionId="1")["Code"] == (
        not_found
    )
    assert error_of(predict, fd=away, names=names, event_id="away-1")["Code"] == not_found  # own region only
    assert error_of(away.get_event, eventId="eu-1", eventTypeName=names.event_type)["Code"] == not_found
    assert away.describe_model_versions(modelId=names.model)["modelVersionDetails"] == []
    assert away.list_event_predictions(eventId={"value": "eu-1"})["eventPredictionSummaries"] == []
    for listed, member in (
        (away.get_labels(), "labels"),
        (away.get_outcomes(), "outcomes"),
        (away.get_entity_types(), "entityTypes"),
        (away.get_variables(), "variables"),
    ):
        assert not [item for item in listed[member] if item["name"].startswith(names.price[:9])]
    assert home.list_event_predictions(eventId={"value": "eu-1"})["eventPredictionSummaries"]
    assert home.get_event(eventId="eu-1", eventTypeName=names.event_type)["event"]["eventId"] == "eu-1"


def test_names_taken_in_eu_west_1_are_free_in_us_east_1(eu: tuple[Any, Names], server: RunningServer) -> None:
    home, names = eu
    away = regional(server, "frauddetector", AWAY)
    make_event_type(away, names)  # the same names, made again in us-east-1
    away.put_detector(detectorId=names.detector, eventTypeName=names.event_type)
    assert arn_region(away.get_variables(name=names.price)["variables"][0]["arn"]) == AWAY
    assert away.get_rules(detectorId=names.detector)["ruleDetails"] == []  # eu-west-1's rule is not here
    assert [r["ruleId"] for r in home.get_rules(detectorId=names.detector)["ruleDetails"]] == ["risky"]
    error = error_of(home.create_variable, name=names.price, dataSource="EVENT", dataType="FLOAT",
                     defaultValue="0.0")  # fmt: skip
    assert error["Code"] == "ValidationException" and "already exists" in error["Message"]
    arn = home.get_event_types(name=names.event_type)["eventTypes"][0]["arn"]
    assert error_of(away.tag_resource, resourceARN=arn, tags=[{"key": "k", "value": "v"}])["Code"] == (
        "ResourceNotFoundException"
    )


def test_a_batch_prediction_in_eu_west_1_scores_with_eu_west_1s_detector(
    eu: tuple[Any, Names], server: RunningServer
) -> None:
    home, names = eu
    away = regional(server, "frauddetector", AWAY)
    s3 = regional(server, "s3", HOME)
    rows = names.rows(40, seed=21)
    columns = [{"order_price": names.price, "email_address": names.email}.get(c, c) for c in BATCH_COLUMNS]
    s3.put_object(Bucket=names.bucket, Key="batch/in.csv", Body=csv_text(rows, columns).encode())
    home.create_batch_prediction_job(
        jobId="eu_batch", inputPath=f"s3://{names.bucket}/batch/in.csv", outputPath=f"s3://{names.bucket}/out",
        eventTypeName=names.event_type, detectorName=names.detector, iamRoleArn=ROLE,
    )  # fmt: skip
    job = wait_for(
        lambda: home.get_batch_prediction_jobs(jobId="eu_batch")["batchPredictions"][0]["status"],
        {"COMPLETE", "FAILED", "CANCELED"},
    )
    described = home.get_batch_prediction_jobs(jobId="eu_batch")["batchPredictions"][0]
    assert job == "COMPLETE", described
    assert arn_region(described["arn"]) == HOME and described["totalRecordsCount"] == 40
    output = s3.get_object(Bucket=names.bucket, Key="out/eu_batch_output.csv")["Body"].read().decode()
    scored = list(csv.DictReader(io.StringIO(output)))
    assert [r["EVENT_ID"] for r in scored] == [r["EVENT_ID"] for r in rows]
    assert all(r["STATUS"] == "SUCCESS" for r in scored)
    assert error_of(away.get_batch_prediction_jobs, jobId="eu_batch")["Code"] == "ResourceNotFoundException"
    assert away.get_batch_prediction_jobs()["batchPredictions"] == []
    assert error_of(away.cancel_batch_prediction_job, jobId="eu_batch")["Code"] == "ResourceNotFoundException"
