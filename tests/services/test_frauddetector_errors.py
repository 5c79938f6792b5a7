"""Fraud Detector answers only the errors each operation models: a missing or conflicting resource where the
operation lists no ResourceNotFoundException / ConflictException is the ValidationException AWS gives
(the fuzzer found PutDetector, CreateRule, CreateModel and UpdateDetectorVersionMetadata answering
ResourceNotFoundException)."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore import xform_name

from outcrop.services.frauddetector.provider import CONFLICT_MODELLED, NOT_FOUND_MODELLED, OPERATION_NAMES
from tests.errors import error_of
from tests.server import RunningServer


def test_the_modelled_error_tables_name_real_operations() -> None:
    """The tables come from botocore's model: the fuzzer's four cases model no ResourceNotFoundException."""
    model = botocore.session.get_session().get_service_model("frauddetector")
    served = {xform_name(name) for name in model.operation_names}
    assert set(OPERATION_NAMES) <= served  # every delegated method is an operation
    assert served > NOT_FOUND_MODELLED and served > CONFLICT_MODELLED
    for name in ("put_detector", "create_rule", "create_model", "update_detector_version_metadata"):
        assert name not in NOT_FOUND_MODELLED
    assert "get_event_prediction" in NOT_FOUND_MODELLED and "put_detector" in CONFLICT_MODELLED


def test_missing_resources_answer_the_operations_own_codes(server: RunningServer) -> None:
    fd = server.client("frauddetector")
    cases: list[tuple[Any, dict[str, Any]]] = [
        (fd.put_detector, {"detectorId": "fz_detector", "eventTypeName": "fz_no_such_event_type"}),
        (
            fd.create_rule,
            {
                "ruleId": "r",
                "detectorId": "fz_no_such_detector",
                "expression": "1 == 1",
                "language": "DETECTORPL",
                "outcomes": ["o"],
            },
        ),
        (
            fd.create_model,
            {
                "modelId": "fz_model",
                "eventTypeName": "fz_no_such_event_type",
                "modelType": "ONLINE_FRAUD_INSIGHTS",
            },
        ),
        (
            fd.update_detector_version_metadata,
            {"detectorId": "fz_no_such_detector", "detectorVersionId": "1", "description": "d"},
        ),
    ]
    for call, params in cases:
        error = error_of(call, **params)
        assert (error["Code"], error["Status"]) == ("ValidationException", 400), call
        assert "does not exist" in error["Message"]
    # an operation that models the code keeps it
    assert error_of(fd.get_detectors, detectorId="fz_no_such_detector")["Code"] == "ResourceNotFoundException"


def test_a_name_taken_answers_validation_where_conflict_is_not_modelled(server: RunningServer) -> None:
    fd = server.client("frauddetector")
    fd.create_variable(name="fz_taken", dataSource="EVENT", dataType="STRING", defaultValue="x")
    error = error_of(
        fd.create_variable, name="fz_taken", dataSource="EVENT", dataType="STRING", defaultValue="x"
    )
    assert error["Code"] == "ValidationException" and "already exists" in error["Message"]
    fd.delete_variable(name="fz_taken")


def test_boolean_and_datetime_variables_need_no_variable_type(server: RunningServer) -> None:
    """AWS pre-selects the data type of a variable type; a variable without one may be BOOLEAN or DATETIME."""
    fd = server.client("frauddetector")
    fd.create_variable(name="fz_flag", dataSource="EVENT", dataType="BOOLEAN", defaultValue="false")
    fd.create_variable(
        name="fz_when", dataSource="EVENT", dataType="DATETIME", defaultValue="2024-01-01T00:00:00Z"
    )
    found = {v["name"]: v for v in fd.batch_get_variable(names=["fz_flag", "fz_when"])["variables"]}
    assert (found["fz_flag"]["dataType"], found["fz_when"]["dataType"]) == ("BOOLEAN", "DATETIME")
    assert "variableType" not in found["fz_flag"]
    for data_type, default in (("BOOLEAN", "maybe"), ("DATETIME", "soon")):
        error = error_of(
            fd.create_variable, name="fz_bad", dataSource="EVENT", dataType=data_type, defaultValue=default
        )
        assert error["Code"] == "ValidationException", data_type
    wrong = {"dataSource": "EVENT", "dataType": "BOOLEAN", "defaultValue": "true", "variableType": "PRICE"}
    typed = error_of(fd.create_variable, name="fz_bad", **wrong)
    assert typed["Code"] == "ValidationException" and "FLOAT" in typed["Message"]
    for name in ("fz_flag", "fz_when"):
        fd.delete_variable(name=name)
