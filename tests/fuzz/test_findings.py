"""Regressions for what the long fuzz run (bench/bench_fuzz.py) found: each request as the fuzzer sent it,
answered with the operation's modelled code."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


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
