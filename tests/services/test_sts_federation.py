"""STS GetFederationToken through boto3 on an `auth = "iam"` server: a federated user's session holds the
intersection of its IAM user's permissions and the policy passed, and nothing without one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("sts-federation") / "data") as running:
        running.client("s3").create_bucket(Bucket="fed-bucket")
        iam = running.client("iam")
        iam.create_user(UserName="broker")
        iam.put_user_policy(
            UserName="broker",
            PolicyName="p",
            PolicyDocument=policy(
                allow(
                    ["s3:ListAllMyBuckets", "s3:GetBucketLocation", "iam:ListUsers", "sts:GetFederationToken"]
                )
            ),
        )
        running.broker = iam.create_access_key(UserName="broker")["AccessKey"]  # type: ignore[attr-defined]
        yield running


def test_a_federated_session_is_the_intersection_of_user_and_policy(server: RunningServer) -> None:
    sts = signed_as(server, "sts", server.broker)  # type: ignore[attr-defined]
    token = sts.get_federation_token(
        Name="app-user", Policy=policy(allow(["s3:ListAllMyBuckets", "s3:CreateBucket"])), DurationSeconds=900
    )
    assert token["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT}:app-user",
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/app-user",
    }
    credentials = token["Credentials"]
    who = signed_as(server, "sts", credentials).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/app-user"
    assert who["UserId"] == f"{ACCOUNT}:app-user"
    s3 = signed_as(server, "s3", credentials)
    assert "fed-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # both allow it
    with pytest.raises(ClientError) as raised:  # the passed policy allows it, the user's does not
        s3.create_bucket(Bucket="not-allowed-bucket")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as raised:  # the user's policy allows it, the passed one does not
        s3.get_bucket_location(Bucket="fed-bucket")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as raised:  # AWS: a federated session calls no IAM operation at all
        signed_as(server, "iam", credentials).list_users()
    assert raised.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as raised:
        signed_as(server, "sts", credentials).get_federation_token(Name="again")
    assert raised.value.response["Error"] == {  # no STS operation but GetCallerIdentity
        "Type": "Sender",
        "Code": "AccessDenied",
        "Message": "Cannot call GetFederationToken with session credentials",
    }


def test_session_credentials_make_no_further_session_tokens(server: RunningServer) -> None:
    sts = signed_as(server, "sts", server.broker)  # type: ignore[attr-defined]
    session = sts.get_session_token(DurationSeconds=900)["Credentials"]
    with pytest.raises(ClientError) as raised:
        signed_as(server, "sts", session).get_session_token()
    assert raised.value.response["Error"]["Message"] == "Cannot call GetSessionToken with session credentials"


def test_without_a_policy_a_federated_session_may_do_nothing(server: RunningServer) -> None:
    sts = signed_as(server, "sts", server.broker)  # type: ignore[attr-defined]
    credentials = sts.get_federation_token(Name="bare")["Credentials"]
    with pytest.raises(ClientError) as raised:
        signed_as(server, "s3", credentials).list_buckets()
    assert raised.value.response["Error"]["Code"] == "AccessDenied"


def test_the_root_gets_an_hour_at_most(server: RunningServer) -> None:
    token = server.client("sts").get_federation_token(
        Name="rooted", Policy=policy(allow("s3:ListAllMyBuckets")), DurationSeconds=7200
    )
    credentials = token["Credentials"]
    lasts = (credentials["Expiration"].timestamp() - time.time()) / 60
    assert 55 < lasts <= 60
    assert signed_as(server, "s3", credentials).list_buckets()["Buckets"]
