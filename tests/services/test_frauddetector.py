"""Fraud Detector through boto3: the getting-started flow (variables, labels, event type, a model trained
from an S3 CSV, a detector with rules, predictions) on separable data whose answer is known."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.frauddetector_data import csv_text, events

SCORE = "$sample_fraud_detection_model_insightscore"
ROLE = "arn:aws:iam::123456789012:role/FraudDetectorRole"
COLUMNS = ["EVENT_TIMESTAMP", "EVENT_LABEL", "order_price", "email_address", "ip_address"]
SCHEMA = {
    "modelVariables": ["order_price", "email_address", "ip_address"],
    "labelSchema": {
        "labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]},
        "unlabeledEventsTreatment": "IGNORE",
    },
}


def wait_for(read: Callable[[], str], done: set[str], limit_s: float = 240) -> str:
    deadline = time.monotonic() + limit_s
    while (status := read()) not in done:
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.5)
    return status


def setup_event_type(fd: Any, name: str, ingestion: str = "ENABLED") -> None:
    """The getting-started guide's parameters: three variables, two labels, one entity type."""
    fd.create_variable(
        name="order_price", variableType="PRICE", dataSource="EVENT", dataType="FLOAT", defaultValue="0.0"
    )
    fd.create_variable(
        name="email_address",
        variableType="EMAIL_ADDRESS",
        dataSource="EVENT",
        dataType="STRING",
        defaultValue="unknown",
    )
    fd.create_variable(
        name="ip_address",
        variableType="IP_ADDRESS",
        dataSource="EVENT",
        dataType="STRING",
        defaultValue="unknown",
    )
    fd.put_entity_type(name="customer")
    fd.put_label(name="fraud")
    fd.put_label(name="legit")
    fd.put_event_type(
        name=name,
        eventVariables=["order_price", "email_address", "ip_address"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion=ingestion,
    )


@pytest.fixture(scope="module")
def trained(server: RunningServer) -> Any:
    """A model version trained on 2,000 events from S3 and made ACTIVE (shared by the tests below)."""
    fd, s3 = server.client("frauddetector"), server.client("s3")
    s3.create_bucket(Bucket="fraud-training")
    s3.put_object(
        Bucket="fraud-training", Key="data/train.csv", Body=csv_text(events(2000), COLUMNS).encode()
    )
    setup_event_type(fd, "sample_registration")
    fd.create_model(
        modelId="sample_fraud_detection_model",
        eventTypeName="sample_registration",
        modelType="ONLINE_FRAUD_INSIGHTS",
    )
    created = fd.create_model_version(
        modelId="sample_fraud_detection_model",
        modelType="ONLINE_FRAUD_INSIGHTS",
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=SCHEMA,
        externalEventsDetail={
            "dataLocation": "s3://fraud-training/data/train.csv",
            "dataAccessRoleArn": ROLE,
        },
    )
    assert (created["modelVersionNumber"], created["status"]) == ("1.0", "TRAINING_IN_PROGRESS")
    ids = {
        "modelId": "sample_fraud_detection_model",
        "modelType": "ONLINE_FRAUD_INSIGHTS",
        "modelVersionNumber": "1.0",
    }
    status = wait_for(lambda: fd.get_model_version(**ids)["status"], {"TRAINING_COMPLETE", "ERROR"})
    assert status == "TRAINING_COMPLETE", fd.describe_model_versions(**ids)
    fd.update_model_version_status(**ids, status="ACTIVE")
    return fd


def test_training_reports_auc_and_a_threshold_table(trained: Any) -> None:
    details = trained.describe_model_versions(modelId="sample_fraud_detection_model")["modelVersionDetails"]
    assert len(details) == 1 and details[0]["status"] == "ACTIVE"
    metrics = details[0]["trainingResult"]["trainingMetrics"]
    assert metrics["auc"] > 0.97  # separable by price and e-mail domain
    points = {p["threshold"]: p for p in metrics["metricDataPoints"]}
    assert points[0.0]["tpr"] == 1.0 and points[0.0]["fpr"] == 1.0
    assert points[900.0]["fpr"] <= 0.05 and points[900.0]["tpr"] > 0.9
    assert all(0 <= p["precision"] <= 1 for p in points.values())
    importance = details[0]["trainingResult"]["variableImportanceMetrics"]["logOddsMetrics"]
    assert importance[0]["variableName"] in ("order_price", "email_address")
    assert {m["variableName"] for m in importance} == set(SCHEMA["modelVariables"])
    v2 = details[0]["trainingResultV2"]["trainingMetricsV2"]["ofi"]["modelPerformance"]
    assert v2["uncertaintyRange"]["lowerBoundValue"] <= v2["auc"] <= v2["uncertaintyRange"]["upperBoundValue"]
    scores = trained.get_variables(name="sample_fraud_detection_model_insightscore")["variables"][0]
    assert scores["dataSource"] == "MODEL_SCORE"


@pytest.fixture(scope="module")
def detector(trained: Any) -> Any:
    fd = trained
    for outcome in ("verify_customer", "review", "approve"):
        fd.put_outcome(name=outcome)
    fd.put_detector(detectorId="sample_detector", eventTypeName="sample_registration")
    rules = [
        ("high_fraud_risk", "$sample_fraud_detection_model_insightscore > 900", ["verify_customer"]),
        (
            "medium_fraud_risk",
            f"{SCORE} <= 900 and {SCORE} > 700",
            ["review"],
        ),
        (
            "big_order",
            '$order_price >= 5000 or regex_match(".*@blocked\\.example", lowercase($email_address))',
            ["review"],
        ),
        ("low_fraud_risk", "$sample_fraud_detection_model_insightscore <= 700", ["approve"]),
    ]
    for rule_id, expression, outcomes in rules:
        created = fd.create_rule(
            ruleId=rule_id,
            detectorId="sample_detector",
            expression=expression,
            language="DETECTORPL",
            outcomes=outcomes,
        )
        assert created["rule"]["ruleVersion"] == "1"
    version = fd.create_detector_version(
        detectorId="sample_detector",
        rules=[{"detectorId": "sample_detector", "ruleId": r[0], "ruleVersion": "1"} for r in rules],
        modelVersions=[
            {
                "modelId": "sample_fraud_detection_model",
                "modelType": "ONLINE_FRAUD_INSIGHTS",
                "modelVersionNumber": "1.0",
            }
        ],
        ruleExecutionMode="FIRST_MATCHED",
    )
    assert (version["detectorVersionId"], version["status"]) == ("1", "DRAFT")
    fd.update_detector_version_status(detectorId="sample_detector", detectorVersionId="1", status="ACTIVE")
    return fd


def predict(fd: Any, event_id: str, price: str, email: str, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = fd.get_event_prediction(
        detectorId="sample_detector",
        eventId=event_id,
        eventTypeName="sample_registration",
        eventTimestamp="2024-06-01T12:00:00Z",
        entities=[{"entityType": "customer", "entityId": "c42"}],
        eventVariables={"order_price": price, "email_address": email, "ip_address": "10.1.2.3"},
        **extra,
    )
    return result


def test_predictions_score_fraud_high_and_legit_low_and_apply_the_first_matched_rule(detector: Any) -> None:
    fraud = predict(detector, "p-fraud", "950.00", "someone@tempmail.biz")
    legit = predict(detector, "p-legit", "80.00", "someone@gmail.com")
    fraud_score = fraud["modelScores"][0]["scores"]["sample_fraud_detection_model_insightscore"]
    legit_score = legit["modelScores"][0]["scores"]["sample_fraud_detection_model_insightscore"]
    assert fraud_score > 900 and legit_score < 300
    assert 0 <= legit_score < fraud_score <= 1000
    assert fraud["ruleResults"] == [{"ruleId": "high_fraud_risk", "outcomes": ["verify_customer"]}]
    assert legit["ruleResults"] == [{"ruleId": "low_fraud_risk", "outcomes": ["approve"]}]
    assert fraud["modelScores"][0]["modelVersion"]["arn"].startswith("arn:aws:frauddetector:us-east-1:")


def test_all_matched_returns_every_matching_rule(detector: Any) -> None:
    fd = detector
    rules = [
        {"detectorId": "sample_detector", "ruleId": r, "ruleVersion": "1"}
        for r in ("big_order", "low_fraud_risk")
    ]
    model = {
        "modelId": "sample_fraud_detection_model",
        "modelType": "ONLINE_FRAUD_INSIGHTS",
        "modelVersionNumber": "1.0",
    }
    version = fd.create_detector_version(
        detectorId="sample_detector", rules=rules, modelVersions=[model], ruleExecutionMode="ALL_MATCHED"
    )
    found = predict(
        fd, "p-all", "60.00", "Bob@BLOCKED.example", detectorVersionId=version["detectorVersionId"]
    )
    assert [r["ruleId"] for r in found["ruleResults"]] == ["big_order", "low_fraud_risk"]
    assert found["ruleResults"][0]["outcomes"] == ["review"]


def test_prediction_metadata_explains_rules_and_scores(detector: Any) -> None:
    predict(detector, "p-meta", "990.00", "x@burner.xyz")
    listed = detector.list_event_predictions(eventId={"value": "p-meta"})["eventPredictionSummaries"]
    assert len(listed) == 1
    meta = detector.get_event_prediction_metadata(
        eventId="p-meta",
        eventTypeName="sample_registration",
        detectorId="sample_detector",
        detectorVersionId=listed[0]["detectorVersionId"],
        predictionTimestamp=listed[0]["predictionTimestamp"],
    )
    assert meta["outcomes"] == ["verify_customer"] and meta["entityId"] == "c42"
    first = meta["rules"][0]
    assert first["matched"] and first["evaluated"] and first["expressionWithValues"].endswith("> 900")
    assert not meta["rules"][1]["evaluated"]  # FIRST_MATCHED stops at the first match
    values = {v["name"]: v for v in meta["eventVariables"]}
    assert values["order_price"]["value"] == "990.00" and values["order_price"]["source"] == "EVENT"
    evaluation = meta["evaluatedModelVersions"][0]["evaluations"][0]
    assert float(evaluation["evaluationScore"]) > 900
    impacts = evaluation["predictionExplanations"]["variableImpactExplanations"]
    assert (
        impacts[0]["eventVariableName"] in ("order_price", "email_address")
        and impacts[0]["logOddsImpact"] > 0
    )


def test_delete_event_deletes_its_predictions_only_when_asked(detector: Any) -> None:
    for event_id in ("p-audit", "p-keep"):
        predict(detector, event_id, "120.00", "someone@gmail.com")

    def listed(event_id: str) -> list[Any]:
        found = detector.list_event_predictions(eventId={"value": event_id})
        return list(found["eventPredictionSummaries"])

    detector.delete_event(eventId="p-keep", eventTypeName="sample_registration")
    assert len(listed("p-keep")) == 1  # the audit history stays by default
    detector.delete_event(eventId="p-audit", eventTypeName="sample_registration", deleteAuditHistory=True)
    assert listed("p-audit") == []


def test_rules_that_do_not_parse_are_refused_and_nothing_is_stored(detector: Any) -> None:
    bad = {
        "$order_price >": "Rule expression is invalid",
        "$order_price = 5": "Rule expression is invalid",
        "$unknown_variable > 1": "is not a variable",
        "shout($email_address) == 1": "unknown function",
        "$order_price + 1": "must evaluate to true or false",
        "$email_address in @blocklist": "does not exist",
    }
    for expression, words in bad.items():
        rule = {"ruleId": "broken", "detectorId": "sample_detector", "language": "DETECTORPL"}
        error = error_of(detector.create_rule, **rule, expression=expression, outcomes=["review"])
        assert (error["Code"], error["Status"]) == ("ValidationException", 400), expression
        assert words in error["Message"], (expression, error["Message"])
    assert (
        error_of(detector.get_rules, detectorId="sample_detector", ruleId="broken")["Code"]
        == "ResourceNotFoundException"
    )


def test_rule_versions_and_detector_version_lifecycle(detector: Any) -> None:
    fd = detector
    updated = fd.update_rule_version(
        rule={"detectorId": "sample_detector", "ruleId": "big_order", "ruleVersion": "1"},
        expression="$order_price >= 3000", language="DETECTORPL", outcomes=["review"],
    )  # fmt: skip
    assert updated["rule"]["ruleVersion"] == "2"
    versions = fd.get_rules(detectorId="sample_detector", ruleId="big_order")["ruleDetails"]
    assert [v["ruleVersion"] for v in versions] == ["1", "2"]
    summaries = fd.describe_detector(detectorId="sample_detector")["detectorVersionSummaries"]
    assert {s["detectorVersionId"]: s["status"] for s in summaries}["1"] == "ACTIVE"
    error = error_of(fd.delete_detector_version, detectorId="sample_detector", detectorVersionId="1")
    assert error["Code"] == "ConflictException"
    model = {
        "modelId": "sample_fraud_detection_model",
        "modelType": "ONLINE_FRAUD_INSIGHTS",
        "modelVersionNumber": "1.0",
    }
    assert error_of(fd.update_model_version_status, **model, status="INACTIVE")["Code"] == "ConflictException"


def test_bad_requests_answer_modelled_errors(trained: Any, server: RunningServer) -> None:
    fd = trained
    base = {
        "modelId": "sample_fraud_detection_model",
        "modelType": "ONLINE_FRAUD_INSIGHTS",
        "trainingDataSource": "EXTERNAL_EVENTS",
        "externalEventsDetail": {
            "dataLocation": "s3://fraud-training/data/train.csv",
            "dataAccessRoleArn": ROLE,
        },
    }
    wrong_variable = SCHEMA | {"modelVariables": ["no_such_variable"]}
    assert (
        error_of(fd.create_model_version, **base, trainingDataSchema=wrong_variable)["Code"]
        == "ValidationException"
    )
    one_sided = SCHEMA | {"labelSchema": {"labelMapper": {"FRAUD": ["fraud"]}}}
    assert (
        error_of(fd.create_model_version, **base, trainingDataSchema=one_sided)["Code"]
        == "ValidationException"
    )
    missing = base | {"modelId": "nobody"}
    assert (
        error_of(fd.create_model_version, **missing, trainingDataSchema=SCHEMA)["Code"]
        == "ResourceNotFoundException"
    )
    ati = {
        "modelId": "ati_model",
        "eventTypeName": "sample_registration",
        "modelType": "ACCOUNT_TAKEOVER_INSIGHTS",
    }
    assert error_of(fd.create_model, **ati)["Code"] == "ValidationException"
    assert (
        error_of(
            fd.create_variable, name="bad_default", dataSource="EVENT", dataType="FLOAT", defaultValue="abc"
        )["Code"]
        == "ValidationException"
    )
    assert error_of(fd.delete_variable, name="order_price")["Code"] == "ConflictException"
    assert error_of(fd.get_detectors, detectorId="nobody")["Code"] == "ResourceNotFoundException"
    assert error_of(fd.get_variables, nextToken="garbage!")["Code"] == "ValidationException"
    versions = [
        v["modelVersionNumber"]
        for v in fd.describe_model_versions(modelId="sample_fraud_detection_model")["modelVersionDetails"]
    ]
    assert versions == ["1.0"]  # nothing half-created


def test_a_csv_without_the_model_variables_ends_in_error_with_the_reason(server: RunningServer) -> None:
    fd, s3 = server.client("frauddetector"), server.client("s3")
    s3.put_object(
        Bucket="fraud-training",
        Key="data/short.csv",
        Body=b"EVENT_TIMESTAMP,EVENT_LABEL,order_price\n2024-01-01T00:00:00Z,fraud,1\n",
    )
    fd.put_event_type(
        name="short_events",
        eventVariables=["order_price", "email_address"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
    )
    fd.create_model(modelId="short_model", eventTypeName="short_events", modelType="ONLINE_FRAUD_INSIGHTS")
    ids = {"modelId": "short_model", "modelType": "ONLINE_FRAUD_INSIGHTS"}
    fd.create_model_version(
        **ids,
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=SCHEMA | {"modelVariables": ["order_price", "email_address"]},
        externalEventsDetail={
            "dataLocation": "s3://fraud-training/data/short.csv",
            "dataAccessRoleArn": ROLE,
        },
    )
    assert (
        wait_for(
            lambda: fd.get_model_version(**ids, modelVersionNumber="1.0")["status"],
            {"TRAINING_COMPLETE", "ERROR"},
        )
        == "ERROR"
    )
    detail = fd.describe_model_versions(**ids)["modelVersionDetails"][0]
    message = detail["trainingResult"]["dataValidationMetrics"]["fileLevelMessages"][0]
    assert message["type"] == "ERROR" and "email_address" in message["content"]


def test_the_rule_language_evaluates_as_documented(trained: Any) -> None:
    """No model: each rule exercises one part of the language; ALL_MATCHED shows which ones match."""
    fd = trained
    fd.put_outcome(name="flag")
    fd.put_detector(detectorId="language_detector", eventTypeName="sample_registration")
    rules = {
        "math": "$order_price * 2 - 10 > 100 and $order_price % 2 == 0",
        "membership": '$ip_address in ["10.9.9.9", "10.1.2.3"] and $email_address not in ["x@y.z"]',
        "negation": "!($order_price < 10)",
        "strings": 'uppercase($email_address) == "A@SHOP.EXAMPLE" or lowercase($ip_address) == "none"',
        "regex": 'regex_match("10\\.1\\..*", $ip_address)',
        "missing_model_score": "$sample_fraud_detection_model_insightscore > 0",  # no model in this version
        "ordering": '$email_address > "z"',
    }
    for rule_id, expression in rules.items():
        fd.create_rule(
            ruleId=rule_id,
            detectorId="language_detector",
            expression=expression,
            language="DETECTORPL",
            outcomes=["flag"],
        )
    fd.create_detector_version(
        detectorId="language_detector",
        rules=[{"detectorId": "language_detector", "ruleId": r, "ruleVersion": "1"} for r in rules],
        ruleExecutionMode="ALL_MATCHED",
    )
    found = fd.get_event_prediction(
        detectorId="language_detector",
        detectorVersionId="1",
        eventId="lang-1",
        eventTypeName="sample_registration",
        eventTimestamp="2024-06-01T12:00:00Z",
        entities=[{"entityType": "customer", "entityId": "c1"}],
        eventVariables={"order_price": "60", "email_address": "a@shop.example", "ip_address": "10.1.2.3"},
    )
    assert found["modelScores"] == []
    assert [r["ruleId"] for r in found["ruleResults"]] == [
        "math",
        "membership",
        "negation",
        "strings",
        "regex",
    ]
    error = error_of(
        fd.get_event_prediction,
        detectorId="language_detector",
        eventId="lang-2",
        eventTypeName="sample_registration",
        eventTimestamp="2024-06-01T12:00:00Z",
        entities=[{"entityType": "customer", "entityId": "c1"}],
        eventVariables={"order_price": "60"},
    )
    assert error["Code"] == "ResourceNotFoundException" and "no ACTIVE detector version" in error["Message"]


def test_rules_test_membership_in_lists_as_they_change(trained: Any) -> None:
    fd = trained
    fd.put_outcome(name="deny")
    fd.put_detector(detectorId="list_detector", eventTypeName="sample_registration")
    fd.create_list(
        name="blocked_ips", elements=["10.6.6.6", "10.1.2.3", "10.1.2.3"], variableType="IP_ADDRESS"
    )
    assert fd.get_list_elements(name="blocked_ips")["elements"] == ["10.6.6.6", "10.1.2.3"]
    rule = {"detectorId": "list_detector", "ruleId": "blocked", "ruleVersion": "1"}
    fd.create_rule(
        detectorId="list_detector",
        ruleId="blocked",
        expression="$ip_address in @blocked_ips",
        language="DETECTORPL",
        outcomes=["deny"],
    )
    fd.create_detector_version(detectorId="list_detector", rules=[rule])

    def outcome() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = fd.get_event_prediction(
            detectorId="list_detector",
            detectorVersionId="1",
            eventId="list-1",
            eventTypeName="sample_registration",
            eventTimestamp="2024-06-01T12:00:00Z",
            entities=[{"entityType": "customer", "entityId": "c1"}],
            eventVariables={"ip_address": "10.1.2.3"},
        )["ruleResults"]
        return found

    assert outcome() == [{"ruleId": "blocked", "outcomes": ["deny"]}]
    fd.update_list(name="blocked_ips", elements=["10.1.2.3"], updateMode="REMOVE")
    assert outcome() == []
    assert fd.get_lists_metadata(name="blocked_ips")["lists"][0]["variableType"] == "IP_ADDRESS"
    assert error_of(fd.delete_list, name="blocked_ips")["Code"] == "ConflictException"
    assert error_of(fd.put_kms_encryption_key, kmsEncryptionKeyArn=KEY)["Code"] == "ValidationException"
    assert fd.get_kms_encryption_key()["kmsKey"] == {"kmsEncryptionKeyArn": "DEFAULT"}


KEY = "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012"
