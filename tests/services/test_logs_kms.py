"""CloudWatch Logs' customer managed keys are refused by name, never ignored: Outcrop stores log events in the
clear, so CreateLogGroup with kmsKeyId and AssociateKmsKey/DisassociateKmsKey answer InvalidParameterException
and create nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.errors import error_of

KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_log_group_with_a_kms_key_is_refused_and_not_created(client: Callable[..., Any]) -> None:
    logs = client("logs")
    refused = error_of(logs.create_log_group, logGroupName="/cmk/refused", kmsKeyId=KEY)
    assert refused["Code"] == "InvalidParameterException" and refused["Status"] == 400
    assert "kmsKeyId is not supported" in refused["Message"] and "unencrypted" in refused["Message"]
    assert logs.describe_log_groups(logGroupNamePrefix="/cmk/refused")["logGroups"] == []


def test_associate_and_disassociate_kms_key_are_refused(client: Callable[..., Any]) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="/cmk/plain")
    try:
        for call, extra in ((logs.associate_kms_key, {"kmsKeyId": KEY}), (logs.disassociate_kms_key, {})):
            refused = error_of(call, logGroupName="/cmk/plain", **extra)
            assert refused["Code"] == "InvalidParameterException"
            assert "kmsKeyId is not supported" in refused["Message"]
        assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix="/cmk/plain")["logGroups"][0]
    finally:
        logs.delete_log_group(logGroupName="/cmk/plain")
