"""Regressions for what the long fuzz run (bench/bench_fuzz.py) found: each request as the fuzzer sent it,
answered with the operation's modelled code."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fuzz.fuzzer import Fuzzer, discover_targets
from tests.server import RunningServer


def test_s3_put_object_with_a_bad_encryption_context_is_invalid_argument(
    client: Callable[..., Any],
) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="fuzz-findings")
    for context in ("x" * 5000, base64.b64encode(b"[1, 2]").decode()):
        with pytest.raises(ClientError) as caught:
            s3.put_object(
                Bucket="fuzz-findings",
                Key="sealed",
                Body=b"body",
                ServerSideEncryption="aws:kms",
                SSEKMSEncryptionContext=context,
            )
        assert caught.value.response["Error"]["Code"] == "InvalidArgument"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_sagemaker_processing_job_without_an_instance_type_is_refused_at_create(
    client: Callable[..., Any],
) -> None:
    sm = client("sagemaker")
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(
            ProcessingJobName="fuzz-no-instance-type",
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            AppSpecification={"ImageUri": "python:3.11", "ContainerEntrypoint": ["python3", "-c", "1"]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "VolumeSizeInGB": 1}},
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and "InstanceType" in error["Message"]
    with pytest.raises(ClientError) as missing:  # nothing was made to run
        sm.describe_processing_job(ProcessingJobName="fuzz-no-instance-type")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_fuzzer_counts_a_request_another_operation_answered_as_rerouted(server: RunningServer) -> None:
    """botocore turns an S3 200 that is not the operation's XML into a 500 before any handler of ours sees
    it; the fuzzer must read the status as sent, or a GetObject answer to a CopyObject whose method became
    GET reads as a server 5xx."""
    fuzzer = Fuzzer(server.endpoint)
    fuzzer.prepare()
    targets = {t.operation.name: t for t in discover_targets() if t.service == "s3"}

    def method(name: str) -> Callable[[Any], None]:
        return lambda request: setattr(request, "method", name)

    copy = {"Bucket": "fuzz-bucket", "Key": "fuzz.txt", "CopySource": "fuzz-bucket/fuzz.txt"}
    fuzzer.send(targets["CopyObject"], copy, "wire:wrong-method", method("GET"))
    fuzzer.send(targets["GetBucketLocation"], {"Bucket": "fuzz-bucket"}, "wire:wrong-method", method("PUT"))
    fuzzer.send(
        targets["ListParts"], {"Bucket": "fuzz-bucket", "Key": "fuzz.txt"}, "shape:missing-required", None
    )
    assert (fuzzer.report.sent, fuzzer.report.rerouted) == (3, 3), fuzzer.report.summary()
    assert not fuzzer.report.findings
    fuzzer.send(targets["CopyObject"], copy, "valid", None)  # a plain request's answer is still judged
    assert fuzzer.report.rerouted == 3 and fuzzer.report.sent == 4
