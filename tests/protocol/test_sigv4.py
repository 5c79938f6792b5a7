"""Strict SigV4 mode against real boto3 signatures: header-signed calls, S3 and presigned URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"OUTCROP_AUTH": "sigv4", "OUTCROP_CREDENTIALS": "AKIAOUTCROPTEST:test-secret"}
    server = RunningServer(tmp_path_factory.mktemp("sigv4") / "data", extra_env=env).start()
    yield server
    server.stop()


def client_with(server: RunningServer, service: str, secret: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key=secret,
    )


def test_correct_signatures_pass_for_every_protocol(strict: RunningServer) -> None:
    assert strict.client("sts").get_caller_identity()["Account"] == "000000000000"
    runtime = strict.client("bedrock-runtime")
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "signed"}],
        }
    )
    answer = json.loads(runtime.invoke_model(modelId=HAIKU, body=body)["body"].read())  # %3A in the path
    assert answer["content"][0]["text"] == "You said: signed"
    s3 = strict.client("s3")
    s3.create_bucket(Bucket="signed-bucket")
    s3.put_object(Bucket="signed-bucket", Key="dir/a b.txt", Body=b"hello")
    assert s3.get_object(Bucket="signed-bucket", Key="dir/a b.txt")["Body"].read() == b"hello"
    assert strict.client("logs").describe_log_groups()["logGroups"] == []


def test_a_wrong_secret_is_refused(strict: RunningServer) -> None:
    for service, call, code in [
        ("sts", lambda c: c.get_caller_identity(), "SignatureDoesNotMatch"),
        ("logs", lambda c: c.describe_log_groups(), "InvalidSignatureException"),
        ("s3", lambda c: c.list_buckets(), "SignatureDoesNotMatch"),
    ]:
        with pytest.raises(ClientError) as caught:
            call(client_with(strict, service, "wrong-secret"))
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_presigned_urls_are_checked(strict: RunningServer) -> None:
    s3 = strict.client("s3")
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="k", Body=b"data")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"}, ExpiresIn=60)
    assert httpx.get(url).content == b"data"
    forged = client_with(strict, "s3", "wrong-secret").generate_presigned_url(
        "get_object", Params={"Bucket": "presigned", "Key": "k"}, ExpiresIn=60
    )
    assert httpx.get(forged).status_code == 403
    assert httpx.get(f"{strict.endpoint}/presigned/k").status_code == 403  # unsigned


def test_every_authorization_header_layout_is_read_and_a_bad_signature_is_a_403(
    strict: RunningServer,
) -> None:
    """SDKs write `..., SignedHeaders=a;b, Signature=hex`; other spacings and orders are read too, and a
    signature that is not hex (or not ASCII) is refused as a mismatch, never a 500."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{strict.endpoint}/"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("AKIAOUTCROPTEST", "test-secret"), "s3", "us-east-1").add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items()}
    credential, _, rest = headers["Authorization"].partition(", SignedHeaders=")
    signed, _, signature = rest.partition(", Signature=")
    layouts = {
        "as SDKs write it": f"{credential}, SignedHeaders={signed}, Signature={signature}",
        "no spaces": f"{credential},SignedHeaders={signed},Signature={signature}",
        "signature first": f"{credential}, Signature={signature}, SignedHeaders={signed}",
    }
    for name, header in layouts.items():
        answer = httpx.get(url, headers={**headers, "Authorization": header})
        assert answer.status_code == 200, (name, answer.text)
    for bad in (signature[:-1] + "g", signature[:-1] + "é", "", signature[:-1]):
        header = f"{credential}, SignedHeaders={signed}, Signature={bad}"
        raw = {k.encode(): v.encode() for k, v in {**headers, "Authorization": header}.items()}
        answer = httpx.get(url, headers=raw)  # as bytes: the UTF-8 'é' reaches the server as it is
        assert answer.status_code == 403, (bad, answer.text)
        assert b"<Code>SignatureDoesNotMatch</Code>" in answer.content
