"""Textract job options: KMSKeyId is honoured (the OutputConfig objects are SSE-KMS encrypted with the key);
NotificationChannel (no SNS here) and QueriesConfig (no QUERIES) are refused, never ignored. A PDF's own
text layer needs no model, so these run on the fast server."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.fixtures.vision.documents import invoice_text_pdf
from tests.server import RunningServer


@pytest.fixture
def bucket(server: RunningServer) -> str:
    name = f"textract-opts-{uuid.uuid4().hex[:8]}"
    s3 = server.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="invoice.pdf", Body=invoice_text_pdf())
    return name


def _finished(textract: Any, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    status: dict[str, Any] = textract.get_document_text_detection(JobId=job_id)
    while status["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = textract.get_document_text_detection(JobId=job_id)
    return status


def test_kms_key_encrypts_the_output_objects(server: RunningServer, bucket: str) -> None:
    textract, s3 = server.client("textract"), server.client("s3")
    key_arn = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    job_id = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": "invoice.pdf"}},
        OutputConfig={"S3Bucket": bucket, "S3Prefix": "out"},
        KMSKeyId=key_arn,
    )["JobId"]
    assert _finished(textract, job_id)["JobStatus"] == "SUCCEEDED"
    head = s3.head_object(Bucket=bucket, Key=f"out/{job_id}/1")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    assert b'"JobStatus":"SUCCEEDED"' in s3.get_object(Bucket=bucket, Key=f"out/{job_id}/1")["Body"].read()


def test_a_key_kms_refuses_fails_the_job(server: RunningServer, bucket: str) -> None:
    textract = server.client("textract")
    missing = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"
    job_id = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": "invoice.pdf"}},
        OutputConfig={"S3Bucket": bucket, "S3Prefix": "out"},
        KMSKeyId=missing,
    )["JobId"]
    status = _finished(textract, job_id)
    assert status["JobStatus"] == "FAILED" and status["StatusMessage"], status


def test_options_outcrop_cannot_honour_are_refused(server: RunningServer, bucket: str) -> None:
    textract = server.client("textract")
    location = {"S3Object": {"Bucket": bucket, "Name": "invoice.pdf"}}
    topic = {
        "SNSTopicArn": "arn:aws:sns:us-east-1:000000000000:done",
        "RoleArn": "arn:aws:iam::000000000000:role/r",
    }
    for call, extra in [
        (textract.start_document_text_detection, {"NotificationChannel": topic}),
        (textract.start_document_analysis, {"FeatureTypes": ["TABLES"], "NotificationChannel": topic}),
        (textract.start_document_text_detection, {"KMSKeyId": "alias/aws/s3"}),  # nothing to encrypt
        (
            textract.start_document_analysis,
            {"FeatureTypes": ["TABLES"], "QueriesConfig": {"Queries": [{"Text": "total?"}]}},
        ),
    ]:
        error = error_of(call, DocumentLocation=location, **extra)
        assert error["Code"] == "InvalidParameterException", (extra, error)
        assert next(iter(extra.keys() - {"FeatureTypes"})) in error["Message"]
    error = error_of(
        textract.analyze_document,
        Document=location,
        FeatureTypes=["FORMS"],
        QueriesConfig={"Queries": [{"Text": "What is the total?"}]},
    )
    assert error["Code"] == "InvalidParameterException" and "QUERIES" in error["Message"]
