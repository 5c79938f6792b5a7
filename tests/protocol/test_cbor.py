"""smithy-rpc-v2-cbor, which botocore now prefers for Comprehend, Translate, Transcribe and Textract,
round-tripped through botocore's own serializer and parser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from outcrop.protocol.errors import ValidationException
from outcrop.protocol.parse import HttpRequest, parse_request
from outcrop.protocol.router import Router, service_model
from outcrop.protocol.serialize import serialize_error, serialize_output


def client_request(service: str, operation: str, params: dict[str, Any]) -> HttpRequest:
    model = service_model(service).operation_model(operation)
    wire = create_serializer("smithy-rpc-v2-cbor").serialize_to_request(params, model)
    headers = {k.lower(): str(v) for k, v in wire["headers"].items()}
    return HttpRequest(wire["method"], wire["url_path"], {}, headers, wire["body"])


def client_parse(service: str, operation: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    model = service_model(service).operation_model(operation)
    response = {"status_code": status, "headers": headers, "body": body}
    return create_parser("smithy-rpc-v2-cbor").parse(response, model.output_shape)


def test_request_routes_and_parses() -> None:
    request = client_request("comprehend", "DetectSentiment", {"Text": "I love it", "LanguageCode": "en"})
    assert request.headers["smithy-protocol"] == "rpc-v2-cbor"
    route = Router(["comprehend"]).by_rpc_v2_path(request.raw_path)
    assert route is not None
    assert (route.service, route.operation.name, route.protocol) == (
        "comprehend",
        "DetectSentiment",
        "smithy-rpc-v2-cbor",
    )
    assert parse_request(route.operation, request, {}, route.protocol) == {
        "Text": "I love it",
        "LanguageCode": "en",
    }


def test_bytes_and_timestamps_survive_both_ways() -> None:
    request = client_request("textract", "DetectDocumentText", {"Document": {"Bytes": b"\x89PNG\x00binary"}})
    route = Router(["textract"]).by_rpc_v2_path(request.raw_path)
    assert route is not None
    assert (
        parse_request(route.operation, request, {}, route.protocol)["Document"]["Bytes"]
        == b"\x89PNG\x00binary"
    )
    operation = service_model("transcribe").operation_model("GetTranscriptionJob")
    created = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    output = {
        "TranscriptionJob": {"TranscriptionJobName": "job", "CreationTime": created, "LanguageCode": None}
    }
    response = serialize_output(operation, output, "req-1", "smithy-rpc-v2-cbor")
    assert response.headers["content-type"] == "application/cbor"
    assert isinstance(response.body, bytes)
    parsed = client_parse(
        "transcribe", "GetTranscriptionJob", response.status, response.headers, response.body
    )
    assert parsed["TranscriptionJob"]["TranscriptionJobName"] == "job"
    assert parsed["TranscriptionJob"]["CreationTime"] == created


def test_errors_are_cbor_with_type() -> None:
    model = service_model("comprehend")
    response = serialize_error(model, ValidationException("Text is empty"), "req-2", "smithy-rpc-v2-cbor")
    assert response.status == 400 and isinstance(response.body, bytes)
    operation = model.operation_model("DetectSentiment")
    parser = create_parser("smithy-rpc-v2-cbor")
    parsed = parser.parse(
        {"status_code": response.status, "headers": response.headers, "body": response.body},
        operation.output_shape,
    )
    assert parsed["Error"] == {"Code": "ValidationException", "Message": "Text is empty"}


@pytest.mark.parametrize("path", ["/service/Comprehend_20171127/operation/NoSuchOp", "/service/x", "/other"])
def test_unknown_rpc_paths_do_not_route(path: str) -> None:
    assert Router(["comprehend"]).by_rpc_v2_path(path) is None
