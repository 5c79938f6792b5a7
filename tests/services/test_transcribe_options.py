"""Transcribe options: OutputEncryptionKMSKeyId (with KMSEncryptionContext) is honoured, the output objects
are SSE-KMS encrypted; JobExecutionSettings is truthful as given (jobs here always queue) and echoed;
vocabulary encryption and data access roles are refused, never ignored. On the fake models."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_transcribe import _spoken, _wait


@pytest.fixture
def bucket(server: RunningServer) -> str:
    name = f"media-opts-{uuid.uuid4().hex[:8]}"
    s3 = server.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="hello.mp3", Body=_spoken(server, "Hello from the local server."))
    return name


def test_output_kms_key_encrypts_the_transcript(server: RunningServer, bucket: str) -> None:
    transcribe, s3 = server.client("transcribe"), server.client("s3")
    key_arn = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    name = f"kms-{uuid.uuid4().hex[:8]}"
    settings = {"AllowDeferredExecution": True, "DataAccessRoleArn": "arn:aws:iam::000000000000:role/t"}
    transcribe.start_transcription_job(
        TranscriptionJobName=name,
        Media={"MediaFileUri": f"s3://{bucket}/hello.mp3"},
        LanguageCode="en-US",
        OutputBucketName=bucket,
        OutputKey="out/",
        OutputEncryptionKMSKeyId=key_arn,
        KMSEncryptionContext={"project": "outcrop"},
        JobExecutionSettings=settings,
    )
    job = _wait(transcribe, name, timeout=60)
    assert job["TranscriptionJobStatus"] == "COMPLETED", job
    assert job["JobExecutionSettings"] == settings
    head = s3.head_object(Bucket=bucket, Key=f"out/{name}.json")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    assert b'"transcripts"' in s3.get_object(Bucket=bucket, Key=f"out/{name}.json")["Body"].read()


def test_a_key_kms_refuses_fails_the_job(server: RunningServer, bucket: str) -> None:
    transcribe = server.client("transcribe")
    name = f"kms-missing-{uuid.uuid4().hex[:8]}"
    transcribe.start_transcription_job(
        TranscriptionJobName=name,
        Media={"MediaFileUri": f"s3://{bucket}/hello.mp3"},
        LanguageCode="en-US",
        OutputBucketName=bucket,
        OutputEncryptionKMSKeyId="arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000",
    )
    job = _wait(transcribe, name, timeout=60)
    assert job["TranscriptionJobStatus"] == "FAILED" and "output" in job["FailureReason"], job


def test_a_kms_key_needs_an_output_bucket(server: RunningServer, bucket: str) -> None:
    error = error_of(
        server.client("transcribe").start_transcription_job,
        TranscriptionJobName=f"kms-{uuid.uuid4().hex[:8]}",
        Media={"MediaFileUri": f"s3://{bucket}/hello.mp3"},
        LanguageCode="en-US",
        OutputEncryptionKMSKeyId="arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000",
    )
    assert error["Code"] == "BadRequestException" and "OutputBucketName" in error["Message"]


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("EncryptionConfiguration", {"KMSKey": "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab"}),
        ("DataAccessRoleArn", "arn:aws:iam::000000000000:role/vocabulary-reader"),
    ],
)
def test_vocabulary_options_outcrop_cannot_honour_are_refused(
    server: RunningServer, member: str, value: Any
) -> None:
    transcribe = server.client("transcribe")
    name = f"vocab-{uuid.uuid4().hex[:8]}"
    error = error_of(
        transcribe.create_vocabulary,
        VocabularyName=name,
        LanguageCode="en-US",
        Phrases=["Outcrop"],
        **{member: value},
    )
    assert error["Code"] == "BadRequestException" and member in error["Message"]
    transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["Outcrop"])
    error = error_of(
        transcribe.update_vocabulary,
        VocabularyName=name,
        LanguageCode="en-US",
        Phrases=["Outcrop"],
        **{member: value},
    )
    assert error["Code"] == "BadRequestException" and member in error["Message"]
