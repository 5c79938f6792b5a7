"""CloudWatch Logs with a customer managed key, through boto3: CreateLogGroup kmsKeyId and AssociateKmsKey
(by name or by the group's ARN) store the events encrypted under a data key of that key, so their
plaintext is nowhere in the data dir; DescribeLogGroups shows the key; a disabled key stops writes and
reads until it is enabled again; a key that is missing or another region's is refused at association."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.errors import error_of
from tests.server import RunningServer

ACCOUNT = "000000000000"


def arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"


def found_in(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own: one test stops it to read what is on disk."""
    running = RunningServer(tmp_path_factory.mktemp("logs-kms") / "data").start()
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Callable[..., Any]:
    return server.client


def logs_policy(region: str = "us-east-1", condition: dict[str, Any] | None = None) -> str:
    """A key policy as AWS's guide writes it: the account's IAM policies, and the Logs service principal."""
    logs: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
    }
    if condition:
        logs["Condition"] = condition
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, logs]})


@pytest.fixture
def kms_key(client: Callable[..., Any]) -> str:
    created = client("kms").create_key(Description="logs", Policy=logs_policy())
    return str(created["KeyMetadata"]["Arn"])


def test_a_key_whose_policy_leaves_out_the_logs_service_is_refused(client: Callable[..., Any]) -> None:
    logs, kms = client("logs"), client("kms")
    default = kms.create_key(Description="default policy")["KeyMetadata"]["Arn"]
    other_group = logs_policy(condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("/other/*")}})
    narrow = kms.create_key(Description="another group's", Policy=other_group)["KeyMetadata"]["Arn"]
    wording = (
        f"The specified KMS key does not exist or is not allowed to be used with Arn '{arn('/cmk/policy')}'"
    )
    for key in (default, narrow):
        refused = error_of(logs.create_log_group, logGroupName="/cmk/policy", kmsKeyId=key)
        assert (refused["Code"], refused["Message"]) == ("AccessDeniedException", wording)
    assert logs.describe_log_groups(logGroupNamePrefix="/cmk/policy")["logGroups"] == []
    logs.create_log_group(logGroupName="/cmk/policy")
    try:
        refused = error_of(logs.associate_kms_key, logGroupName="/cmk/policy", kmsKeyId=default)
        assert (refused["Code"], refused["Message"]) == ("AccessDeniedException", wording)
        this_group = {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arn("/cmk/policy")}}
        kms.put_key_policy(KeyId=narrow, PolicyName="default", Policy=logs_policy(condition=this_group))
        logs.associate_kms_key(logGroupName="/cmk/policy", kmsKeyId=narrow)
        described = logs.describe_log_groups(logGroupNamePrefix="/cmk/policy")["logGroups"][0]
        assert described["kmsKeyId"] == narrow
    finally:
        logs.delete_log_group(logGroupName="/cmk/policy")


def test_events_of_a_group_with_a_key_are_stored_encrypted(
    client: Callable[..., Any], server: RunningServer, kms_key: str
) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="/cmk/secret", kmsKeyId=kms_key)
    logs.create_log_group(logGroupName="/cmk/plain")
    try:
        described = {
            g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/cmk/")["logGroups"]
        }
        assert described["/cmk/secret"]["kmsKeyId"] == kms_key
        assert "kmsKeyId" not in described["/cmk/plain"]
        now = int(time.time() * 1000)
        for group in ("/cmk/secret", "/cmk/plain"):
            logs.create_log_stream(logGroupName=group, logStreamName="s")
            marker = f"marker-{group.rsplit('/', 1)[1]}-4f9c2a"
            logs.put_log_events(
                logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": marker}]
            )
        got = logs.get_log_events(logGroupName="/cmk/secret", logStreamName="s", startFromHead=True)
        assert [e["message"] for e in got["events"]] == ["marker-secret-4f9c2a"]
        filtered = logs.filter_log_events(logGroupName="/cmk/secret", filterPattern="secret")
        assert [e["message"] for e in filtered["events"]] == ["marker-secret-4f9c2a"]
        server.stop()  # SQLite's WAL checkpointed and closed: what is on disk is all there is
        assert found_in(server.data_dir, b"marker-secret-4f9c2a") == []
        assert found_in(server.data_dir, b"marker-plain-4f9c2a") != []  # the check can see plaintext
        server.start()
        logs = client("logs")
        got = logs.get_log_events(logGroupName="/cmk/secret", logStreamName="s", startFromHead=True)
        assert [e["message"] for e in got["events"]] == ["marker-secret-4f9c2a"]
    finally:
        for group in ("/cmk/secret", "/cmk/plain"):
            client("logs").delete_log_group(logGroupName=group)


def test_a_disabled_key_stops_writes_and_reads_until_enabled(
    client: Callable[..., Any], kms_key: str
) -> None:
    logs, kms = client("logs"), client("kms")
    logs.create_log_group(logGroupName="/cmk/disabled")
    try:
        logs.associate_kms_key(resourceIdentifier=arn("/cmk/disabled"), kmsKeyId=kms_key)
        logs.create_log_stream(logGroupName="/cmk/disabled", logStreamName="s")
        event = {"timestamp": int(time.time() * 1000), "message": "before"}
        logs.put_log_events(logGroupName="/cmk/disabled", logStreamName="s", logEvents=[event])
        kms.disable_key(KeyId=kms_key)
        calls = (
            (logs.put_log_events, {"logStreamName": "s", "logEvents": [event]}),
            (logs.get_log_events, {"logStreamName": "s"}),
            (logs.filter_log_events, {}),
        )
        for call, extra in calls:
            refused = error_of(call, logGroupName="/cmk/disabled", **extra)
            assert refused["Code"] == "AccessDeniedException" and refused["Status"] == 400
            assert refused["Message"].endswith(f"{kms_key} is disabled.")
        kms.enable_key(KeyId=kms_key)
        got = logs.get_log_events(logGroupName="/cmk/disabled", logStreamName="s", startFromHead=True)
        assert [e["message"] for e in got["events"]] == ["before"]
        # disassociated: new events are stored as before, the old ones still need the key
        logs.disassociate_kms_key(logGroupName="/cmk/disabled")
        assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix="/cmk/disabled")["logGroups"][0]
        logs.put_log_events(
            logGroupName="/cmk/disabled", logStreamName="s", logEvents=[{**event, "message": "after"}]
        )
        kms.disable_key(KeyId=kms_key)
        assert (
            error_of(logs.filter_log_events, logGroupName="/cmk/disabled")["Code"] == "AccessDeniedException"
        )
        kms.enable_key(KeyId=kms_key)
        got = logs.get_log_events(logGroupName="/cmk/disabled", logStreamName="s", startFromHead=True)
        assert [e["message"] for e in got["events"]] == ["before", "after"]
    finally:
        logs.delete_log_group(logGroupName="/cmk/disabled")


def test_missing_other_region_and_disabled_keys_are_refused_at_association(
    client: Callable[..., Any], server: RunningServer, kms_key: str
) -> None:
    logs, kms = client("logs"), client("kms")
    europe = boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
    )
    other_region = europe.create_key(Policy=logs_policy("eu-west-1"))["KeyMetadata"]["Arn"]
    missing = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    for key in (missing, other_region):
        refused = error_of(logs.create_log_group, logGroupName="/cmk/refused", kmsKeyId=key)
        assert refused == {
            "Code": "AccessDeniedException",
            "Message": "The specified KMS key does not exist or is not allowed to be used with Arn "
            f"'{arn('/cmk/refused')}'",
            "Status": 400,
        }
    assert logs.describe_log_groups(logGroupNamePrefix="/cmk/refused")["logGroups"] == []
    logs.create_log_group(logGroupName="/cmk/plain2")
    try:
        refused = error_of(logs.associate_kms_key, logGroupName="/cmk/plain2", kmsKeyId=other_region)
        assert refused["Code"] == "AccessDeniedException"
        kms.disable_key(KeyId=kms_key)
        disabled = error_of(logs.associate_kms_key, logGroupName="/cmk/plain2", kmsKeyId=kms_key)
        assert disabled["Code"] == "InvalidParameterException" and disabled["Message"].endswith(
            "is disabled."
        )
        kms.enable_key(KeyId=kms_key)
        assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix="/cmk/plain2")["logGroups"][0]
        both = error_of(
            logs.associate_kms_key,
            logGroupName="/cmk/plain2",
            resourceIdentifier=arn("/cmk/plain2"),
            kmsKeyId=kms_key,
        )
        assert both["Code"] == "InvalidParameterException"
        nothing = error_of(logs.disassociate_kms_key, logGroupName="/cmk/plain2")
        assert nothing["Code"] == "InvalidParameterException"
        gone = error_of(logs.associate_kms_key, logGroupName="/cmk/absent", kmsKeyId=kms_key)
        assert gone["Code"] == "ResourceNotFoundException"
    finally:
        logs.delete_log_group(logGroupName="/cmk/plain2")


def _query(logs: Any, group: str) -> str:
    now = int(time.time())
    started = logs.start_query(
        logGroupName=group, startTime=now - 600, endTime=now + 60, queryString="fields @message"
    )
    while logs.get_query_results(queryId=started["queryId"])["status"] in ("Scheduled", "Running"):
        time.sleep(0.05)
    return str(started["queryId"])


def test_query_results_are_sealed_under_the_accounts_query_result_key(
    client: Callable[..., Any], server: RunningServer, kms_key: str
) -> None:
    logs, kms = client("logs"), client("kms")
    results = f"arn:aws:logs:us-east-1:{ACCOUNT}:query-result:*"
    logs.create_log_group(logGroupName="/cmk/insights")
    try:
        logs.create_log_stream(logGroupName="/cmk/insights", logStreamName="s")
        event = {"timestamp": int(time.time() * 1000), "message": "insight-marker"}
        logs.put_log_events(logGroupName="/cmk/insights", logStreamName="s", logEvents=[event])
        before = _query(logs, "/cmk/insights")
        assert "encryptionKey" not in logs.get_query_results(queryId=before)
        # the key's policy must let the Logs service use it for query results, as for a group
        default = kms.create_key(Description="default policy")["KeyMetadata"]["Arn"]
        refused = error_of(logs.associate_kms_key, resourceIdentifier=results, kmsKeyId=default)
        assert refused["Code"] == "AccessDeniedException" and results in refused["Message"]
        wrong = error_of(
            logs.associate_kms_key, resourceIdentifier=results.replace("*", "abc"), kmsKeyId=kms_key
        )
        assert wrong["Code"] == "InvalidParameterException"
        logs.associate_kms_key(resourceIdentifier=results, kmsKeyId=kms_key)
        server.stop()  # the association is kept: queries after a restart still take the key
        server.start()
        logs = client("logs")
        sealed = _query(logs, "/cmk/insights")
        got = logs.get_query_results(queryId=sealed)
        assert got["encryptionKey"] == kms_key
        assert [[f["value"] for f in row if f["field"] == "@message"] for row in got["results"]] == [
            ["insight-marker"]
        ]
        kms.disable_key(KeyId=kms_key)
        denied = error_of(logs.get_query_results, queryId=sealed)
        assert denied["Code"] == "AccessDeniedException" and denied["Message"].endswith("is disabled.")
        refused = error_of(
            logs.start_query,
            logGroupName="/cmk/insights",
            startTime=0,
            endTime=1,
            queryString="fields @message",
        )
        assert refused["Code"] == "InvalidParameterException"  # no data key from a disabled key
        kms.enable_key(KeyId=kms_key)
        assert len(logs.get_query_results(queryId=sealed)["results"]) == 1
        logs.disassociate_kms_key(resourceIdentifier=results)
        assert "encryptionKey" not in logs.get_query_results(queryId=_query(logs, "/cmk/insights"))
        again = error_of(logs.disassociate_kms_key, resourceIdentifier=results)
        assert again["Code"] == "InvalidParameterException"
    finally:
        logs.delete_log_group(logGroupName="/cmk/insights")
