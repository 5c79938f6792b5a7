"""S3 bucket policies through boto3: stored and checked with S3's MalformedPolicy sentences, and, under
`auth = "iam"`, combined with identity policies as AWS combines them (a bucket policy naming a user allows
it alone; naming the account delegates to identity policies; an explicit deny in either wins)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"
BUCKET = "shared-data"


def bucket_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(principal: Any, action: Any, resource: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


def user(name: str) -> dict[str, str]:
    return {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("s3-policy") / "data") as running:
        iam = running.client("iam")
        for name in ("bob", "alice", "carol"):
            iam.create_user(UserName=name)
        # alice may do anything in S3 by her own policy; bob and carol have no identity policy at all
        iam.put_user_policy(UserName="alice", PolicyName="s3", PolicyDocument=policy(allow("s3:*")))
        s3 = running.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="public/readme.txt", Body=b"hello")
        s3.put_object(Bucket=BUCKET, Key="secret/plan.txt", Body=b"plan")
        yield running


_KEYS: dict[tuple[int, str], dict[str, Any]] = {}


def s3_as(server: RunningServer, name: str) -> Any:
    if (server.port, name) not in _KEYS:
        _KEYS[server.port, name] = server.client("iam").create_access_key(UserName=name)["AccessKey"]
    return signed_as(server, "s3", _KEYS[server.port, name])


def test_put_get_status_delete_round_trip(server: RunningServer) -> None:
    s3 = server.client("s3")
    assert error_of(s3.get_bucket_policy, Bucket=BUCKET) == {
        "Code": "NoSuchBucketPolicy",
        "Message": "The bucket policy does not exist",
        "BucketName": BUCKET,
        "Status": 404,
    }
    text = bucket_policy(grant("*", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/public/*"))
    s3.put_bucket_policy(Bucket=BUCKET, Policy=text)
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == json.loads(text)
    assert s3.get_bucket_policy_status(Bucket=BUCKET)["PolicyStatus"] == {"IsPublic": True}
    pinned = bucket_policy(
        grant(
            "*",
            "s3:GetObject",
            f"arn:aws:s3:::{BUCKET}/*",
            Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        )
    )
    s3.put_bucket_policy(Bucket=BUCKET, Policy=pinned)
    assert s3.get_bucket_policy_status(Bucket=BUCKET)["PolicyStatus"] == {"IsPublic": False}
    s3.delete_bucket_policy(Bucket=BUCKET)
    assert error_of(s3.get_bucket_policy, Bucket=BUCKET)["Code"] == "NoSuchBucketPolicy"
    s3.delete_bucket_policy(Bucket=BUCKET)  # deleting none is no error, as on S3
    assert error_of(s3.get_bucket_policy, Bucket="no-such-bucket-here")["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        (
            bucket_policy(
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
            ),
            "Missing required field Principal",
        ),
        (
            bucket_policy(grant("*", "s3:GetObject", "arn:aws:s3:::other-bucket/*")),
            "Policy has invalid resource",
        ),
        (bucket_policy(grant("*", "s3:GetObject", "*")), "Policy has invalid resource"),
        (bucket_policy(grant("*", "invalid_action", f"arn:aws:s3:::{BUCKET}")), "Policy has invalid action"),
        (
            bucket_policy(grant("*", "s3:GetObject", f"arn:aws:s3:::{BUCKET}", "hello")),
            "Invalid effect: hello",
        ),
        (
            bucket_policy(grant("*", "s3:PutObject", f"arn:aws:s3:::{BUCKET}")),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            bucket_policy(grant({"AWS": "bob"}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")),
            'Invalid principal in policy: "AWS":"bob"',
        ),
    ],
)
def test_malformed_policies_are_refused_as_s3_words_them(
    server: RunningServer, document: str, message: str
) -> None:
    s3 = server.client("s3")
    assert error_of(s3.put_bucket_policy, Bucket=BUCKET, Policy=document) == {
        "Code": "MalformedPolicy",
        "Message": message,
        "Status": 400,
    }
    assert error_of(s3.get_bucket_policy, Bucket=BUCKET)["Code"] == "NoSuchBucketPolicy"


def test_a_bucket_policy_naming_a_user_allows_it_without_identity_policy(server: RunningServer) -> None:
    s3 = server.client("s3")
    bob = s3_as(server, "bob")
    denied = error_of(bob.get_object, Bucket=BUCKET, Key="public/readme.txt")
    assert denied["Code"] == "AccessDenied" and denied["Status"] == 403
    assert denied["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: s3:GetObject on resource: "
        f"arn:aws:s3:::{BUCKET}/public/readme.txt because no identity-based policy allows the "
        "s3:GetObject action"
    )
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=bucket_policy(
            grant(user("bob"), "s3:GetObject", f"arn:aws:s3:::{BUCKET}/public/*"),
            grant(
                user("bob"),
                "s3:ListBucket",
                f"arn:aws:s3:::{BUCKET}",
                Condition={"StringEquals": {"s3:prefix": "public/"}},
            ),
        ),
    )
    try:
        assert bob.get_object(Bucket=BUCKET, Key="public/readme.txt")["Body"].read() == b"hello"
        assert error_of(bob.get_object, Bucket=BUCKET, Key="secret/plan.txt")["Code"] == "AccessDenied"
        assert (
            error_of(bob.put_object, Bucket=BUCKET, Key="public/new.txt", Body=b"x")["Code"] == "AccessDenied"
        )
        listed = bob.list_objects_v2(Bucket=BUCKET, Prefix="public/")
        assert [o["Key"] for o in listed["Contents"]] == ["public/readme.txt"]
        assert error_of(bob.list_objects_v2, Bucket=BUCKET)["Code"] == "AccessDenied"
        # carol is not named: the policy does nothing for her
        assert error_of(s3_as(server, "carol").get_object, Bucket=BUCKET, Key="public/readme.txt")[
            "Code"
        ] == ("AccessDenied")
    finally:
        s3.delete_bucket_policy(Bucket=BUCKET)
    assert error_of(bob.get_object, Bucket=BUCKET, Key="public/readme.txt")["Code"] == "AccessDenied"


def test_naming_the_account_delegates_to_identity_policies(server: RunningServer) -> None:
    s3 = server.client("s3")
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=bucket_policy(
            grant({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")
        ),
    )
    try:
        assert error_of(s3_as(server, "bob").get_object, Bucket=BUCKET, Key="public/readme.txt")["Code"] == (
            "AccessDenied"
        )
        assert (
            s3_as(server, "alice").get_object(Bucket=BUCKET, Key="public/readme.txt")["Body"].read()
            == b"hello"
        )
    finally:
        s3.delete_bucket_policy(Bucket=BUCKET)


def test_an_explicit_deny_in_the_bucket_policy_wins_over_identity_allows(server: RunningServer) -> None:
    s3 = server.client("s3")
    alice = s3_as(server, "alice")
    assert alice.get_object(Bucket=BUCKET, Key="secret/plan.txt")["Body"].read() == b"plan"
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=bucket_policy(
            grant("*", "s3:*", f"arn:aws:s3:::{BUCKET}/secret/*", "Deny"),
            grant(user("bob"), "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*"),
        ),
    )
    try:
        denied = error_of(alice.get_object, Bucket=BUCKET, Key="secret/plan.txt")
        assert denied["Message"] == (
            f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: s3:GetObject on "
            f"resource: arn:aws:s3:::{BUCKET}/secret/plan.txt with an explicit deny in a resource-based "
            "policy"
        )
        assert alice.get_object(Bucket=BUCKET, Key="public/readme.txt")["Body"].read() == b"hello"
        assert error_of(s3_as(server, "bob").get_object, Bucket=BUCKET, Key="secret/plan.txt")["Code"] == (
            "AccessDenied"
        )
        # the account root is not held by its own bucket policy here, as the root keys are the admin's
        assert s3.get_object(Bucket=BUCKET, Key="secret/plan.txt")["Body"].read() == b"plan"
    finally:
        s3.delete_bucket_policy(Bucket=BUCKET)


def test_the_policy_goes_with_its_bucket_and_survives_a_restart(server: RunningServer) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="short-lived")
    text = bucket_policy(grant(user("bob"), "s3:ListBucket", "arn:aws:s3:::short-lived"))
    s3.put_bucket_policy(Bucket="short-lived", Policy=text)
    server.restart()
    s3 = server.client("s3")
    assert s3.get_bucket_policy(Bucket="short-lived")["Policy"] == text
    assert s3_as(server, "bob").list_objects_v2(Bucket="short-lived")["KeyCount"] == 0
    s3.delete_bucket(Bucket="short-lived")
    s3.create_bucket(Bucket="short-lived")
    assert error_of(s3.get_bucket_policy, Bucket="short-lived")["Code"] == "NoSuchBucketPolicy"
    assert error_of(s3_as(server, "bob").list_objects_v2, Bucket="short-lived")["Code"] == "AccessDenied"
    s3.delete_bucket(Bucket="short-lived")
