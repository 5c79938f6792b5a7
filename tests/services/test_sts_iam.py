"""STS under `auth = "iam"`: AssumeRole's trust policy, session policies, durations, expiry and tokens."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/reader"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("sts") / "data") as running:
        iam = running.client("iam")
        iam.create_user(UserName="alice")
        iam.put_user_policy(
            UserName="alice", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole"))
        )
        iam.create_user(UserName="mallory")
        iam.put_user_policy(UserName="mallory", PolicyName="assume", PolicyDocument=policy(allow("sts:*")))
        trust = policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"},
                "Action": "sts:AssumeRole",
            }
        )
        iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust, MaxSessionDuration=7200)
        iam.put_role_policy(
            RoleName="reader",
            PolicyName="s3",
            PolicyDocument=policy(allow(["s3:ListAllMyBuckets", "s3:CreateBucket"])),
        )
        yield running


_KEYS: dict[tuple[int, str], dict[str, Any]] = {}


def key_of(server: RunningServer, user: str) -> dict[str, Any]:
    """The user's access key, made once (IAM allows two per user)."""
    if (server.port, user) not in _KEYS:
        _KEYS[server.port, user] = server.client("iam").create_access_key(UserName=user)["AccessKey"]
    return _KEYS[server.port, user]


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_caller_identity_for_root_user_and_assumed_role(server: RunningServer) -> None:
    root = server.client("sts").get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and root["Account"] == ACCOUNT
    alice = signed_as(server, "sts", key_of(server, "alice"))
    assert alice.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assumed = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="job-1")
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/job-1"
    assert assumed["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and credentials["SessionToken"]
    identity = signed_as(server, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/job-1"
    assert identity["UserId"] == assumed["AssumedRoleUser"]["AssumedRoleId"]


def test_session_credentials_act_as_the_role(server: RunningServer) -> None:
    alice = signed_as(server, "sts", key_of(server, "alice"))
    credentials = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="s3-work")["Credentials"]
    s3 = signed_as(server, "s3", credentials)
    assert "Buckets" in s3.list_buckets()
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="any", Key="k", Body=b"x")
    assert error(raised) == (
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/s3-work is not authorized to perform: "
        "s3:PutObject on resource: arn:aws:s3:::any/k because no identity-based policy allows the "
        "s3:PutObject action",
    )


def test_a_session_policy_narrows_the_role(server: RunningServer) -> None:
    alice = signed_as(server, "sts", key_of(server, "alice"))
    narrow = policy(allow("s3:ListAllMyBuckets"))
    credentials = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="narrow", Policy=narrow)["Credentials"]
    s3 = signed_as(server, "s3", credentials)
    assert "Buckets" in s3.list_buckets()
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="not-in-session")  # the role allows it; the session policy does not
    assert error(raised)[0] == "AccessDenied"


def test_list_buckets_is_allowed_on_the_s3_wildcard_arn(server: RunningServer) -> None:
    """AWS's IAM example scenario allows s3:ListAllMyBuckets on `arn:aws:s3:::*`, as S3's examples do."""
    alice = signed_as(server, "sts", key_of(server, "alice"))
    narrow = policy(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"))
    credentials = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="wild", Policy=narrow)["Credentials"]
    assert "Buckets" in signed_as(server, "s3", credentials).list_buckets()
    one_bucket = policy(allow("s3:ListAllMyBuckets", "arn:aws:s3:::one-bucket"))
    credentials = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="one", Policy=one_bucket)["Credentials"]
    with pytest.raises(ClientError) as raised:
        signed_as(server, "s3", credentials).list_buckets()
    assert error(raised)[0] == "AccessDenied"


def test_the_trust_policy_decides_who_may_assume(server: RunningServer) -> None:
    mallory = signed_as(server, "sts", key_of(server, "mallory"))
    with pytest.raises(ClientError) as raised:
        mallory.assume_role(RoleArn=ROLE_ARN, RoleSessionName="try")
    assert error(raised) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/mallory is not authorized to perform: sts:AssumeRole "
        f"on resource: {ROLE_ARN}",
    )
    with pytest.raises(ClientError) as raised:
        mallory.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/none", RoleSessionName="try")
    assert error(raised)[0] == "AccessDenied"


def test_durations_are_bounded_by_the_role(server: RunningServer) -> None:
    alice = signed_as(server, "sts", key_of(server, "alice"))
    with pytest.raises(ClientError) as raised:
        alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="long", DurationSeconds=7201)
    assert error(raised) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    expires = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="ok", DurationSeconds=7200)["Credentials"]
    assert 7100 < expires["Expiration"].timestamp() - time.time() <= 7200


def test_session_credentials_work_until_they_expire(server: RunningServer) -> None:
    alice = signed_as(server, "sts", key_of(server, "alice"))
    credentials = alice.assume_role(RoleArn=ROLE_ARN, RoleSessionName="expiring", DurationSeconds=900)[
        "Credentials"
    ]
    assert "Buckets" in signed_as(server, "s3", credentials).list_buckets()
    wrong = {**credentials, "SessionToken": credentials["SessionToken"][:-4] + "AAAA"}
    with pytest.raises(ClientError) as raised:
        signed_as(server, "sts", wrong).get_caller_identity()
    assert error(raised) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    ) or (error(raised)[1] == "The security token included in the request is invalid.")
    server.stop()  # move the session's expiry into the past, as the clock would
    with sqlite3.connect(server.data_dir / "iam" / "iam.sqlite3") as db:
        db.execute(
            "UPDATE sessions SET expires = ? WHERE id = ?", (time.time() - 1, credentials["AccessKeyId"])
        )
    server.start()
    with pytest.raises(ClientError) as raised:
        signed_as(server, "sts", credentials).get_caller_identity()
    assert error(raised) == ("ExpiredToken", "The security token included in the request is expired")
    with pytest.raises(ClientError) as raised:
        signed_as(server, "bedrock", credentials).list_foundation_models()
    assert error(raised)[0] == "ExpiredTokenException"


def test_get_session_token_and_web_identity(server: RunningServer) -> None:
    alice_key = key_of(server, "alice")
    token = signed_as(server, "sts", alice_key).get_session_token(DurationSeconds=900)["Credentials"]
    identity = signed_as(server, "sts", token).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    # boto3 sends this call unsigned; signed as the root here, it reaches STS, which refuses it plainly
    body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + ROLE_ARN
    body += "&RoleSessionName=web&WebIdentityToken=" + "x" * 10
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(Credentials("AKIAOUTCROPTEST", "test-secret"), "sts", "us-east-1").add_auth(request)
    answer = httpx.post(server.endpoint + "/", content=body, headers=dict(request.headers.items()))
    assert answer.status_code == 400
    assert "<Code>InvalidIdentityToken</Code>" in answer.text
    assert "AssumeRoleWithWebIdentity is refused" in answer.text
