"""Signatures protect what they sign (issue 18): a body replaced after signing is refused before the operation
acts, on S3 (the signed x-amz-content-sha256, aws-chunked chunk and trailer signatures) and on the JSON
services; presigned URLs live at most a week; an oversized body is refused on its Content-Length."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.server import RunningServer

KEY, SECRET = "AKIAOUTCROPTEST", "test-secret"
CREDENTIALS = Credentials(KEY, SECRET)
EMPTY = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"OUTCROP_AUTH": "sigv4", "OUTCROP_CREDENTIALS": f"{KEY}:{SECRET}", "OUTCROP_MAX_REQUEST_MB": "1"}
    server = RunningServer(tmp_path_factory.mktemp("bodysig") / "data", extra_env=env).start()
    server.client("s3").create_bucket(Bucket="signed")
    yield server
    server.stop()


def signed(
    server: RunningServer, method: str, path: str, body: bytes, service: str, headers: dict[str, str]
) -> AWSRequest:
    request = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers)
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(CREDENTIALS, service, "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> httpx.Response:
    headers = {k: str(v) for k, v in request.headers.items()}
    content = request.body if body is None else body
    return httpx.request(request.method, request.url, headers=headers, content=content, timeout=30)


def code(response: httpx.Response) -> str:
    text = response.text
    if "<Code>" in text:
        return text.split("<Code>")[1].split("</Code>")[0]
    return str(response.headers.get("x-amzn-errortype") or json.loads(text).get("__type", ""))


def test_a_signed_s3_body_replaced_after_signing_is_refused(strict: RunningServer) -> None:
    request = signed(strict, "PUT", "/signed/tampered.txt", b"original body", "s3", {})
    response = send(request, b"tampered body")
    assert (response.status_code, code(response)) == (400, "XAmzContentSHA256Mismatch"), response.text
    assert "x-amz-content-sha256" in response.text
    s3 = strict.client("s3")
    with pytest.raises(ClientError):
        s3.head_object(Bucket="signed", Key="tampered.txt")
    assert send(signed(strict, "PUT", "/signed/ok.txt", b"original body", "s3", {})).status_code == 200
    assert s3.get_object(Bucket="signed", Key="ok.txt")["Body"].read() == b"original body"


def test_boto3_uploads_with_and_without_flexible_checksums_still_pass(strict: RunningServer) -> None:
    for when in ("when_supported", "when_required"):
        s3 = strict.client("s3", request_checksum_calculation=when)
        s3.put_object(Bucket="signed", Key=f"boto-{when}", Body=b"x" * 70_000)
        assert s3.get_object(Bucket="signed", Key=f"boto-{when}")["Body"].read() == b"x" * 70_000


def test_a_json_service_body_replaced_under_its_original_hash_is_refused(strict: RunningServer) -> None:
    body = json.dumps({"Text": "hello", "LanguageCode": "en"}).encode()
    headers = {
        "X-Amz-Target": "Comprehend_20171127.DetectSentiment",
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),  # unsigned: the body must still match
    }
    request = signed(strict, "POST", "/", body, "comprehend", headers)
    assert send(request).status_code == 200
    tampered = json.dumps({"Text": "HELLO", "LanguageCode": "en"}).encode()
    response = send(request, tampered)
    assert (response.status_code, code(response)) == (403, "InvalidSignatureException"), response.text


class StreamingSigner(S3SigV4Auth):  # type: ignore[misc]
    """Signs the request as an aws-chunked upload: the payload hash is the STREAMING-* marker."""

    marker = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

    def payload(self, request: Any) -> str:
        return self.marker


def _chunk_signature(key: bytes, date: str, scope: str, previous: str, data: bytes) -> str:
    text = "\n".join(
        ["AWS4-HMAC-SHA256-PAYLOAD", date, scope, previous, EMPTY, hashlib.sha256(data).hexdigest()]
    )
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _signing_key(day: str) -> bytes:
    key = hmac.new(("AWS4" + SECRET).encode(), day.encode(), hashlib.sha256).digest()
    for part in ("us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def chunked_upload(
    server: RunningServer, key: str, parts: list[bytes], *, tamper: int | None = None, trailer: bool = False
) -> httpx.Response:
    """An aws-chunked PUT signed as STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER), the chain computed here."""
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    data = b"".join(parts)
    headers = {
        "X-Amz-Content-SHA256": payload,
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
    }
    if trailer:
        headers["X-Amz-Trailer"] = "x-amz-checksum-sha256"
    request = AWSRequest(method="PUT", url=f"{server.endpoint}/signed/{key}", headers=headers)
    signer = StreamingSigner(CREDENTIALS, "s3", "us-east-1")
    signer.marker = payload
    signer.add_auth(request)
    auth = str(request.headers["Authorization"])
    seed = auth.rsplit("Signature=", 1)[1]
    date = str(request.headers["X-Amz-Date"])
    scope = f"{date[:8]}/us-east-1/s3/aws4_request"
    signing_key = _signing_key(date[:8])
    body = b""
    previous = seed
    for index, part in enumerate([*parts, b""]):
        signature = _chunk_signature(signing_key, date, scope, previous, part)
        previous = signature
        sent = part.upper() if index == tamper else part
        body += f"{len(sent):x};chunk-signature={signature}\r\n".encode() + sent + b"\r\n"
    if trailer:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        canonical = f"x-amz-checksum-sha256:{checksum}\n"
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                date,
                scope,
                previous,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        trailer_signature = hmac.new(signing_key, text.encode(), hashlib.sha256).hexdigest()
        if tamper == -1:
            trailer_signature = "0" * 64
        body = (
            body[:-2] + f"{canonical.strip()}\r\nx-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
        )
    headers_out = {k: str(v) for k, v in request.headers.items()}
    return httpx.put(request.url, headers=headers_out, content=body, timeout=30)


def test_aws_chunked_signature_chains_are_verified(strict: RunningServer) -> None:
    s3 = strict.client("s3")
    parts = [b"a" * 8192, b"b" * 8192, b"tail"]
    assert chunked_upload(strict, "chain-ok", parts).status_code == 200
    assert s3.get_object(Bucket="signed", Key="chain-ok")["Body"].read() == b"".join(parts)
    refused = chunked_upload(strict, "chain-bad", parts, tamper=1)
    assert (refused.status_code, code(refused)) == (403, "SignatureDoesNotMatch"), refused.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket="signed", Key="chain-bad")


def test_signed_trailers_are_verified(strict: RunningServer) -> None:
    parts = [b"trailer data " * 100]
    assert chunked_upload(strict, "trailer-ok", parts, trailer=True).status_code == 200
    refused = chunked_upload(strict, "trailer-bad", parts, trailer=True, tamper=-1)
    assert (refused.status_code, code(refused)) == (403, "SignatureDoesNotMatch"), refused.text


def test_bogus_chunk_signatures_are_refused(strict: RunningServer) -> None:
    request = AWSRequest(
        method="PUT",
        url=f"{strict.endpoint}/signed/bogus",
        headers={"Content-Encoding": "aws-chunked"},
    )
    StreamingSigner(CREDENTIALS, "s3", "us-east-1").add_auth(request)
    body = b"4;chunk-signature=" + b"0" * 64 + b"\r\nabcd\r\n0;chunk-signature=" + b"1" * 64 + b"\r\n\r\n"
    response = send(request, body)
    assert (response.status_code, code(response)) == (403, "SignatureDoesNotMatch"), response.text


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("604801", "X-Amz-Expires must be less than a week (in seconds) that is 604800"),
        ("abc", "X-Amz-Expires should be a number"),
        ("-5", "X-Amz-Expires must be non-negative"),
    ],
)
def test_presigned_expiry_over_a_week_or_not_a_number_is_refused(
    strict: RunningServer, expires: str, message: str
) -> None:
    s3 = strict.client("s3", signature_version="s3v4")
    s3.put_object(Bucket="signed", Key="shared.txt", Body=b"shared")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "signed", "Key": "shared.txt"}, ExpiresIn=604800
    )
    assert "X-Amz-Expires=604800" in url and httpx.get(url).content == b"shared"  # a week is allowed
    response = httpx.get(url.replace("X-Amz-Expires=604800", f"X-Amz-Expires={expires}"))
    assert (response.status_code, code(response)) == (400, "AuthorizationQueryParametersError")
    assert message in response.text


def test_a_body_over_the_limit_is_refused_on_its_content_length(strict: RunningServer) -> None:
    """2 GB declared, 0 bytes sent: the 413 comes back at once, nothing is buffered."""
    parts = urlsplit(strict.endpoint)
    request: Any = signed(
        strict, "PUT", "/signed/huge.bin", b"", "s3", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    head = f"PUT /signed/huge.bin HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {2 * 1024**3}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k.lower() != "content-length")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall((head + "\r\n").encode())
        answer = sock.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert "RequestEntityTooLarge" in answer
