"""Remembered authorization decisions (`remember`/`remembered`) and the resolved-key cache: a decision is
reused only where no condition or policy variable took part, and never outlives an IAM write or a change
of the resource's policy."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from outcrop.iam.evaluate import Principal, evaluate, remember, remembered
from outcrop.iam.policy import parse_policy
from outcrop.iam.store import IamStore
from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "123456789012"
BUCKET_ARN = "arn:aws:s3:::data"


def alice(*documents: str) -> Principal:
    policies = tuple(parse_policy(d) for d in documents)
    return Principal(
        "user", f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "AIDAX", "alice", identity=policies
    )


def decide(principal: Principal, action: str, context: dict[str, list[str]]) -> bool:
    """What the authorizer does: a remembered decision, or evaluate and offer it to remember."""
    decision = remembered(principal, action, BUCKET_ARN, None)
    if decision is None:
        decision = evaluate(principal, action, BUCKET_ARN, context)
        remember(principal, action, BUCKET_ARN, None, decision)
    return decision.allowed


def test_only_decisions_no_condition_read_are_remembered() -> None:
    plain = alice(policy(allow("s3:ListBucket", BUCKET_ARN)))
    assert decide(plain, "s3:ListBucket", {})
    assert remembered(plain, "s3:ListBucket", BUCKET_ARN, None) is not None
    assert not decide(plain, "s3:PutBucketPolicy", {})  # a denial is remembered as well
    assert remembered(plain, "s3:PutBucketPolicy", BUCKET_ARN, None) is not None

    from_lan = allow("s3:ListBucket", BUCKET_ARN, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    conditioned = alice(policy(from_lan))
    assert decide(conditioned, "s3:ListBucket", {"aws:sourceip": ["10.1.2.3"]})
    assert remembered(conditioned, "s3:ListBucket", BUCKET_ARN, None) is None
    assert not decide(conditioned, "s3:ListBucket", {"aws:sourceip": ["192.0.2.1"]})

    own = allow("s3:ListBucket", "arn:aws:s3:::${aws:username}")
    variable = alice(policy(own))
    assert decide(variable, "s3:ListBucket", {"aws:username": ["data"]})
    assert remembered(variable, "s3:ListBucket", BUCKET_ARN, None) is None

    # a conditioned statement about another action does not stop this one being remembered
    mixed = alice(policy(allow("s3:ListBucket", BUCKET_ARN), from_lan | {"Action": "s3:GetObject"}))
    assert decide(mixed, "s3:ListBucket", {})
    assert remembered(mixed, "s3:ListBucket", BUCKET_ARN, None) is not None


def test_a_resource_policy_is_part_of_what_a_decision_is_remembered_for() -> None:
    principal = alice(policy(allow("s3:ListBucket", BUCKET_ARN)))
    denying = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket", "Resource": BUCKET_ARN}
                ],
            }
        ),
        "resource",
    )
    assert decide(principal, "s3:ListBucket", {})
    assert remembered(principal, "s3:ListBucket", BUCKET_ARN, denying) is None
    decision = evaluate(principal, "s3:ListBucket", BUCKET_ARN, {}, denying)
    remember(principal, "s3:ListBucket", BUCKET_ARN, denying, decision)
    found = remembered(principal, "s3:ListBucket", BUCKET_ARN, denying)
    assert found is not None and not found.allowed
    assert remembered(principal, "s3:ListBucket", BUCKET_ARN, None) is not None  # still the allow


def test_a_key_resolved_across_a_write_is_not_cached(tmp_path: Path) -> None:
    """A request that reads the principal while a write commits must not leave the old state cached."""
    store = IamStore(tmp_path / "iam.sqlite3", ACCOUNT)
    store.create("user", "alice", "/")
    key = store.create_access_key("alice")["id"]
    read = store._resolve
    wrote = threading.Event()

    def read_then_write(key_id: str) -> Any:
        record = read(key_id)  # the state before the write...
        store.put_inline("user", "alice", "p", policy(allow("s3:*")))  # ...then the write lands
        wrote.set()
        return record

    store._resolve = read_then_write  # type: ignore[method-assign]
    before = store.resolve(key)
    store._resolve = read  # type: ignore[method-assign]
    assert wrote.is_set() and before is not None and before.principal.identity == ()
    after = store.resolve(key)
    assert after is not None and len(after.principal.identity) == 1
    store.close()


def test_a_key_looked_up_before_it_is_made_resolves_once_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown keys are remembered as unknown (dev mode's made-up keys), until a key is made."""
    store = IamStore(tmp_path / "iam.sqlite3", ACCOUNT)
    store.create("user", "alice", "/")
    trusting = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    store.create("role", "runner", "/", trust=trusting, description="", max_session=3600)
    for prefix, make in (
        ("AKIA", lambda: store.create_access_key("alice")["id"]),
        ("ASIA", lambda: store.create_session("role", "runner", "s", 900, None)["id"]),
    ):
        coming = f"{prefix}COMINGSOON0001"
        assert store.resolve(coming) is None and store.resolve(coming) is None
        monkeypatch.setattr("outcrop.iam.store.new_id", lambda *_, made=coming: made)
        assert make() == coming
        found = store.resolve(coming)
        assert found is not None and found.principal.name in ("alice", "runner")
    store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("memo") / "data") as running:
        yield running


def allowed(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        assert error.response["Error"]["Code"] in ("403", "AccessDenied")
        return False
    return True


def test_every_change_decides_the_next_call(server: RunningServer) -> None:
    iam, s3 = server.client("iam"), server.client("s3")
    s3.create_bucket(Bucket="memo")
    iam.create_user(UserName="memo")
    iam.put_user_policy(
        UserName="memo", PolicyName="list", PolicyDocument=policy(allow("s3:ListBucket", "arn:aws:s3:::memo"))
    )
    user = signed_as(server, "s3", iam.create_access_key(UserName="memo")["AccessKey"])

    def head() -> bool:
        return allowed(lambda: user.head_bucket(Bucket="memo"))

    assert head() and head()  # the second is the remembered decision
    deny = policy({"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*"})
    arn = iam.create_policy(PolicyName="memo-deny", PolicyDocument=deny)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="memo", PolicyArn=arn)
    assert not head()  # the very next call
    iam.detach_user_policy(UserName="memo", PolicyArn=arn)
    assert head()
    # a new default version of an attached policy decides the next call
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("s3:GetObject")), SetAsDefault=True)
    iam.attach_user_policy(UserName="memo", PolicyArn=arn)
    assert head()
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=deny, SetAsDefault=True)
    assert not head()
    iam.detach_user_policy(UserName="memo", PolicyArn=arn)
    assert head()
    # so does the bucket's own policy, put and deleted
    bucket_deny = {
        "Effect": "Deny",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/memo"},
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::memo",
    }
    s3.put_bucket_policy(
        Bucket="memo", Policy=json.dumps({"Version": "2012-10-17", "Statement": [bucket_deny]})
    )
    assert not head()
    s3.delete_bucket_policy(Bucket="memo")
    assert head()


def test_a_conditioned_allow_is_decided_per_request(server: RunningServer) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="agent")
    only = allow("iam:GetUser", "*", Condition={"StringLike": {"aws:UserAgent": "*outcrop-allowed*"}})
    iam.put_user_policy(UserName="agent", PolicyName="ua", PolicyDocument=policy(only))
    key = iam.create_access_key(UserName="agent")["AccessKey"]

    def client(extra: str) -> Any:
        return boto3.client(
            "iam",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}, user_agent_extra=extra),
        )

    good, bad = client("outcrop-allowed"), client("someone-else")
    for _ in range(2):
        assert allowed(lambda: good.get_user(UserName="agent"))
        assert not allowed(lambda: bad.get_user(UserName="agent"))
