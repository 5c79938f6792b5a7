"""IAM as AWS's example code calls it: `iam_resource.CurrentUser()` (GetUser without a user name), which the
access-key and federated-URL demos call with the account's root credentials and with a user's own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest

from tests.iam.fixtures import iam_server
from tests.server import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("iam-clients") / "data") as running:
        yield running


def _resource(server: RunningServer, key: str, secret: str) -> boto3.resources.base.ServiceResource:
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
    return session.resource("iam", endpoint_url=server.endpoint)


def test_current_user_with_root_credentials_is_the_account_root(server: RunningServer) -> None:
    iam = server.client("iam")  # the server's [credentials] key: the account root
    user = iam.get_user()["User"]
    assert user["Arn"] == "arn:aws:iam::000000000000:root" and user["UserId"] == "000000000000"
    assert "UserName" not in user and user["CreateDate"].year >= 2020
    root = _resource(server, "AKIAOUTCROPTEST", "test-secret")
    assert root.CurrentUser().arn == "arn:aws:iam::000000000000:root"


def test_current_user_with_a_users_key_is_that_user(server: RunningServer) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="demo-key-user")
    iam.put_user_policy(
        UserName="demo-key-user",
        PolicyName="self",
        PolicyDocument='{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}',
    )
    key = iam.create_access_key(UserName="demo-key-user")["AccessKey"]
    current = _resource(server, key["AccessKeyId"], key["SecretAccessKey"]).CurrentUser()
    assert current.user_name == "demo-key-user"
    assert current.arn == "arn:aws:iam::000000000000:user/demo-key-user"


def test_access_key_last_used_reports_the_keys_last_call(server: RunningServer) -> None:
    """AWS's access-key demo prints GetAccessKeyLastUsed: never used ("N/A"), then the service and region
    of the key's last signed call, as the audit log recorded it."""
    iam = server.client("iam")
    iam.create_user(UserName="demo-last-used")
    key = iam.create_access_key(UserName="demo-last-used")["AccessKey"]
    fresh = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert fresh["UserName"] == "demo-last-used"
    assert fresh["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="eu-west-1",
    )
    before = time.time()
    session.client("sts", endpoint_url=server.endpoint).get_caller_identity()  # any principal may
    deadline = time.monotonic() + 30
    while True:  # the audit log writes a moment after the call, as AWS's record of use lags it
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        if used["ServiceName"] != "N/A" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (used["ServiceName"], used["Region"]) == ("sts", "eu-west-1"), used
    assert used["LastUsedDate"].timestamp() >= before - 1
