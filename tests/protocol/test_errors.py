"""Declared service errors: code from the class name, status and fault from botocore's error shapes."""

from __future__ import annotations

import pytest

from outcrop.protocol.errors import ServiceError
from outcrop.storage import logs as log_store
from outcrop.storage import objects as object_store


def test_status_comes_from_the_model() -> None:
    class LexiconNotFoundException(ServiceError, service="polly"): ...

    class ServiceFailureException(ServiceError, service="polly"): ...

    assert (LexiconNotFoundException.code, LexiconNotFoundException.status) == (
        "LexiconNotFoundException",
        404,
    )
    assert LexiconNotFoundException.sender_fault
    assert (ServiceFailureException.status, ServiceFailureException.sender_fault) == (500, False)
    error = LexiconNotFoundException("no such lexicon", extra={"Detail": "x"})
    assert (error.code, error.status, error.message, error.extra) == (
        "LexiconNotFoundException",
        404,
        "no such lexicon",
        {"Detail": "x"},
    )


def test_a_wire_code_other_than_the_shape_name_is_found() -> None:
    class InvalidParameterValue(ServiceError, service="cloudwatch"): ...

    assert (InvalidParameterValue.code, InvalidParameterValue.status) == ("InvalidParameterValue", 400)


def test_json_shapes_without_a_status_are_400_unless_the_class_says() -> None:
    class InvalidParameterException(ServiceError, service="textract"): ...

    class InternalServerError(ServiceError, service="textract"):
        status = 500

    assert InvalidParameterException.status == 400 and InvalidParameterException.sender_fault
    assert (InternalServerError.status, InternalServerError.sender_fault) == (500, False)


def test_a_status_against_the_model_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match="model says 404"):

        class LexiconNotFoundException(ServiceError, service="polly"):
            status = 400


def test_an_unmodelled_code_must_state_its_status() -> None:
    with pytest.raises(TypeError, match="models no error"):

        class NoSuchThing(ServiceError, service="polly"): ...

    class PreconditionFailed(ServiceError, service="s3"):
        status = 412

    assert (PreconditionFailed.code, PreconditionFailed.status) == ("PreconditionFailed", 412)


def test_an_explicit_code_overrides_the_class_name() -> None:
    class LabelsNotServed(ServiceError, service="rekognition"):
        code, status = "NotImplemented", 501

    assert (LabelsNotServed.code, LabelsNotServed.status, LabelsNotServed.sender_fault) == (
        "NotImplemented",
        501,
        False,
    )


def _subclasses(base: type) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_object_store_error_has_its_s3_error() -> None:
    from outcrop.services.s3.errors import STORE_ERRORS

    codes = {cls.__name__ for cls in _subclasses(object_store.StoreError)}
    assert codes <= set(STORE_ERRORS)
    for code in codes:
        assert STORE_ERRORS[code].code == code


def test_every_log_store_error_has_its_logs_error() -> None:
    from outcrop.services.logs import provider as logs

    store_codes = {cls.__name__ for cls in _subclasses(log_store.LogStoreError)}
    assert store_codes <= set(logs._STORE_ERRORS)
