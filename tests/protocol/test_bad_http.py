"""Malformed HTTP (issue 18) sent over raw sockets: a bad request line, a header without a colon, an
unreadable Content-Length. Each gets a 400 that botocore parses as an AWS error in the client's protocol,
not uvicorn's plain-text 'Invalid HTTP request received.', and the server goes on serving."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from botocore import parsers
from botocore.session import get_session

from outcrop.protocol.bad_http import client_protocol
from tests.server import RunningServer

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def exchange(server: RunningServer, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw` on a fresh connection and read the answer until the server closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def parsed_error(service: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The error as botocore's parser for `service` reads it."""
    model = get_session().get_service_model(service)
    parser = parsers.create_parser(model.metadata["protocol"])
    operation = model.operation_model(model.operation_names[0])
    answer = {"status_code": status, "headers": headers, "body": body}
    error: dict[str, Any] = parser.parse(answer, operation.output_shape)["Error"]
    return error


CASES = [
    # (what is wrong, raw request, the services whose clients must read the answer)
    ("bad request line", b"GARBAGE LINE\r\n\r\n", ["s3", "iam", "sts"]),
    ("bad method", b"G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", ["s3", "iam"]),
    (
        "header without a colon, JSON operation",
        b"POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.ListKeys\r\n"
        b"Content-Type: application/x-amz-json-1.1\r\nNoColonHere\r\n\r\n",
        ["kms", "logs"],
    ),
    (
        "invalid Content-Length, S3",
        b"PUT /bucket/key HTTP/1.1\r\nHost: h\r\nAuthorization: "
        + SIGNED.format("s3").encode()
        + b"\r\nContent-Length: 12abc\r\n\r\nhello",
        ["s3"],
    ),
    (
        "invalid Content-Length, rest-json",
        b"POST /model/m/invoke HTTP/1.1\r\nHost: h\r\nAuthorization: "
        + SIGNED.format("bedrock").encode()
        + b"\r\nContent-Length: -1\r\n\r\n{}",
        ["bedrock-runtime"],
    ),
    (
        "header without a colon, CBOR",
        b"POST /service/GraniteServiceVersion20100801/operation/ListMetrics HTTP/1.1\r\nHost: h\r\n"
        b"Smithy-Protocol: rpc-v2-cbor\r\nAccept: application/cbor\r\nBad Header Line\r\n\r\n",
        ["cloudwatch"],
    ),
]


@pytest.mark.parametrize(("what", "raw", "services"), CASES, ids=[c[0] for c in CASES])
def test_malformed_http_gets_an_aws_error_the_client_parses(
    server: RunningServer, what: str, raw: bytes, services: list[str]
) -> None:
    status, headers, body = exchange(server, raw)
    assert status == 400 and headers["connection"] == "close", (what, headers, body)
    assert b"Invalid HTTP request received" not in body and "text/plain" not in headers["content-type"]
    assert int(headers["content-length"]) == len(body)
    for service in services:
        error = parsed_error(service, status, headers, body)
        assert error["Code"] == "BadRequest", (what, service, error)
        assert "parsing the HTTP request" in error["Message"], (what, service, error)
    # the server is unharmed: the next request on a new connection is served
    health = f"GET /_outcrop/health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n"
    assert exchange(server, health.encode())[0] == 200


def test_the_protocol_is_guessed_from_the_headers_parsed_before_the_fault() -> None:
    assert client_protocol(None) == client_protocol([]) == "query"
    assert client_protocol([(b"x-amz-target", b"AmazonSSM.ListDocuments")]) == "json"
    assert client_protocol([(b"content-type", b"application/json")]) == "json"
    assert client_protocol([(b"smithy-protocol", b"rpc-v2-cbor")]) == "smithy-rpc-v2-cbor"
    assert client_protocol([(b"authorization", SIGNED.format("sagemaker").encode())]) == "json"
    assert client_protocol([(b"authorization", SIGNED.format("s3").encode())]) == "query"
    assert client_protocol([(b"content-type", b"application/x-www-form-urlencoded")]) == "query"
