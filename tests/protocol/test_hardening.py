"""The fuzzer's findings from issue 18, each pinned: odd input is a 4xx with a code the operation models
(or a common AWS one) that botocore parses, never a 500, a text/plain page or malformed XML."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.server import RunningServer

JSON_11 = "application/x-amz-json-1.1"


def raw(
    server: RunningServer,
    method: str,
    path: str,
    service: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A request signed as `service` would sign it, sent as is."""
    request = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers or {})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials("AKIAOUTCROPTEST", "test-secret"), service, "us-east-1").add_auth(request)
    sent = {k: str(v) for k, v in request.headers.items()}
    return httpx.request(method, request.url, headers=sent, content=body, timeout=60)


def error_code(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").endswith("xml"):
        return ElementTree.fromstring(response.content).findtext(".//Code") or ""
    data = json.loads(response.content or b"{}")
    return str(response.headers.get("x-amzn-errortype") or data.get("__type") or "")


def lenient(server: RunningServer, service: str) -> Any:
    return server.client(service, parameter_validation=False)


def test_deeply_nested_json_is_a_serialization_error(server: RunningServer) -> None:
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"Text":' * 50_000 + b"1" + b"}" * 50_000):
        headers = {"X-Amz-Target": "Comprehend_20171127.DetectSentiment", "Content-Type": JSON_11}
        response = raw(server, "POST", "/", "comprehend", body, headers)
        assert (response.status_code, error_code(response)) == (400, "SerializationException")


def test_explicit_nulls_for_optional_members_read_as_absent(server: RunningServer) -> None:
    headers = {"X-Amz-Target": "Transcribe.ListTranscriptionJobs", "Content-Type": JSON_11}
    body = json.dumps({"MaxResults": None, "NextToken": None}).encode()
    response = raw(server, "POST", "/", "transcribe", body, headers)
    assert response.status_code == 200 and "TranscriptionJobSummaries" in response.json()


@pytest.mark.parametrize("value", ["1e20", "-1e20", "1e400", '"9999-99-99T00:00:00Z"'])
def test_out_of_range_timestamps_are_validation_errors(server: RunningServer, value: str) -> None:
    headers = {"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": JSON_11}
    body = f'{{"CreationTimeBefore": {value}}}'.encode()
    response = raw(server, "POST", "/", "sagemaker", body, headers)
    assert (response.status_code, error_code(response)) == (400, "ValidationException"), response.text


def test_numbers_past_their_width_are_validation_errors(server: RunningServer) -> None:
    headers = {"X-Amz-Target": "Transcribe.ListTranscriptionJobs", "Content-Type": JSON_11}
    for value in ("2147483648", "1" + "0" * 400, "1e400"):
        response = raw(server, "POST", "/", "transcribe", f'{{"MaxResults": {value}}}'.encode(), headers)
        assert (response.status_code, error_code(response)) == (400, "BadRequestException") or (
            response.status_code == 400 and error_code(response) == "ValidationException"
        ), response.text


def test_s3_odd_ranges_dates_and_listing_arguments(server: RunningServer) -> None:
    s3 = lenient(server, "s3")
    s3.create_bucket(Bucket="hardening")
    s3.put_object(Bucket="hardening", Key="k", Body=b"0123456789")
    with pytest.raises(ClientError) as caught:  # past the end of any object: unsatisfiable, as on AWS
        s3.get_object(Bucket="hardening", Key="k", Range="bytes=" + "9" * 5000 + "-")
    assert caught.value.response["Error"]["Code"] == "InvalidRange"
    tail = s3.get_object(Bucket="hardening", Key="k", Range="bytes=-" + "9" * 5000)
    assert tail["Body"].read() == b"0123456789"
    response = raw(server, "GET", "/hardening/k", "s3", headers={"If-Modified-Since": "1e400"})
    assert response.status_code == 200 and response.content == b"0123456789"
    response = raw(server, "GET", "/?max-buckets=-1", "s3")  # was a 500: now a listing or InvalidArgument
    assert response.status_code == 200 or (response.status_code, error_code(response)) == (
        400,
        "InvalidArgument",
    )
    assert ElementTree.fromstring(response.content) is not None
    s3.put_object(Bucket="hardening", Key="odd\x01key", Body=b"x")
    response = raw(server, "GET", "/hardening?encoding-type=%01", "s3")
    assert response.status_code in (200, 400)
    ElementTree.fromstring(response.content)  # well-formed either way


def test_s3_xml_bodies_missing_their_keys_are_malformed(server: RunningServer) -> None:
    s3 = lenient(server, "s3")
    s3.create_bucket(Bucket="hardening-xml")
    s3.put_object(Bucket="hardening-xml", Key="k", Body=b"x")
    delete = b"<Delete><Object><VersionId>1</VersionId></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(delete).digest()).decode()
    response = raw(server, "POST", "/hardening-xml?delete", "s3", delete, {"Content-MD5": md5})
    assert response.status_code == 400 and error_code(response) in ("MalformedXML", "InvalidRequest")
    tagging = b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>"
    response = raw(server, "PUT", "/hardening-xml/k?tagging", "s3", tagging)
    assert response.status_code == 400 and error_code(response) in ("MalformedXML", "InvalidTag")
    response = raw(server, "GET", "/hardening-xml/missing?tagging", "s3")
    assert (response.status_code, error_code(response)) == (404, "NoSuchKey")


def test_a_stray_x_amz_target_does_not_route_s3(server: RunningServer) -> None:
    response = raw(server, "GET", "/", "s3", headers={"X-Amz-Target": "Comprehend_20171127.DetectSentiment"})
    assert response.status_code == 200 and b"ListAllMyBucketsResult" in response.content


def test_wrong_methods_and_paths_answer_aws_errors(server: RunningServer) -> None:
    response = raw(server, "PATCH", "/model/x/converse", "bedrock")
    assert (response.status_code, error_code(response)) == (404, "UnknownOperationException")
    assert response.headers["content-type"] == "application/json"
    response = raw(server, "PATCH", "/hardening/k", "s3")
    assert (response.status_code, error_code(response)) == (405, "MethodNotAllowed")
    response = raw(server, "POST", "/", "kinesis", b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams"})
    assert error_code(response) == "UnknownOperationException" and "kinesis" in response.text
    polly = lenient(server, "polly")
    with pytest.raises(ClientError) as caught:
        polly.delete_lexicon(Name="")
    assert caught.value.response["Error"]["Code"] in ("UnknownOperationException", "ValidationException")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


def test_transcribe_deleting_a_missing_job_is_a_modelled_error(server: RunningServer) -> None:
    transcribe = server.client("transcribe")
    with pytest.raises(ClientError) as caught:
        transcribe.delete_transcription_job(TranscriptionJobName="never-was")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


def test_retrieve_and_generate_without_its_configuration_is_refused(server: RunningServer) -> None:
    client = server.client("bedrock-agent-runtime", parameter_validation=False)
    for call in (client.retrieve_and_generate, client.retrieve_and_generate_stream):
        with pytest.raises(ClientError) as caught:
            result = call(input={"text": "What is Outcrop?"})
            for _ in result.get("stream", ()):
                pass
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unsigned_query_calls_reach_sts_not_the_console(server: RunningServer) -> None:
    body = (
        b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=x&RoleSessionName=s&WebIdentityToken=t"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(server.endpoint + "/", content=body, headers=headers)
    assert response.status_code < 500 and response.headers["content-type"].startswith("text/xml")
    assert error_code(response)


def test_kms_calls_without_a_ciphertext_are_validation_errors(server: RunningServer) -> None:
    kms = server.client("kms", parameter_validation=False)
    for call, params in ((kms.re_encrypt, {"DestinationKeyId": "alias/none"}), (kms.decrypt, {})):
        with pytest.raises(ClientError) as caught:
            call(**params)
        assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_bodies_that_are_not_what_they_claim_are_refused(server: RunningServer) -> None:
    s3 = lenient(server, "s3")
    s3.create_bucket(Bucket="hardening-policy")
    response = raw(server, "PUT", "/hardening-policy?policy", "s3", b"\x9f\xff not utf-8")
    assert (response.status_code, error_code(response)) == (400, "InvalidArgument"), response.text
    body = b"[" * 3000 + b"]" * 3000  # deep enough to pass the protocol, too deep for the model body
    response = raw(
        server, "POST", "/model/amazon.titan-text-express-v1/invoke-with-response-stream", "bedrock", body
    )
    assert (response.status_code, error_code(response)) == (400, "ValidationException"), response.text
