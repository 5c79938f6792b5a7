"""AssumeRole's options under `auth = "iam"`: ExternalId (the confused-deputy guard), session tags
(sts:TagSession, aws:RequestTag, aws:PrincipalTag, transitive keys in a role chain), the token size,
an MFA serial without its code, and the trusted-context members Outcrop refuses (MFA codes themselves
are checked: tests/services/test_iam_mfa.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def trust(*actions: str, principal: str = ALICE, **condition: Any) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions)}
    if condition:
        statement["Condition"] = condition
    return policy(statement)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("sts-options") / "data") as running:
        iam = running.client("iam")
        iam.create_user(UserName="alice")
        iam.put_user_policy(UserName="alice", PolicyName="sts", PolicyDocument=policy(allow("sts:*")))
        iam.create_role(
            RoleName="deputy",
            AssumeRolePolicyDocument=trust("sts:AssumeRole", StringEquals={"sts:ExternalId": "customer-7"}),
        )
        iam.create_role(RoleName="untagged", AssumeRolePolicyDocument=trust("sts:AssumeRole"))
        iam.create_role(
            RoleName="tagged",
            AssumeRolePolicyDocument=trust(
                "sts:AssumeRole",
                "sts:TagSession",
                StringEquals={"aws:RequestTag/project": ["blue", "green"]},
            ),
            Tags=[{"Key": "project", "Value": "role-default"}, {"Key": "tier", "Value": "gold"}],
        )
        iam.put_role_policy(
            RoleName="tagged",
            PolicyName="abac",
            PolicyDocument=policy(
                allow("sts:AssumeRole", "*"),
                allow("sts:TagSession", "*"),
                allow(
                    "s3:ListAllMyBuckets", Condition={"StringEquals": {"aws:PrincipalTag/project": "blue"}}
                ),
            ),
        )
        # a role the "tagged" session may chain into, trusting it when its project is blue
        iam.create_role(
            RoleName="chained",
            AssumeRolePolicyDocument=trust(
                "sts:AssumeRole",
                "sts:TagSession",
                principal=f"{ROLE}tagged",
            ),
        )
        iam.put_role_policy(
            RoleName="chained",
            PolicyName="abac",
            PolicyDocument=policy(
                allow("s3:ListAllMyBuckets", Condition={"StringEquals": {"aws:PrincipalTag/project": "blue"}})
            ),
        )
        keys = iam.create_access_key(UserName="alice")["AccessKey"]
        running.alice = signed_as(running, "sts", keys)  # type: ignore[attr-defined]
        yield running


def code(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_external_id_is_required_by_the_trust_policy(server: RunningServer) -> None:
    sts = server.alice  # type: ignore[attr-defined]
    for extra in ({}, {"ExternalId": "customer-8"}):
        with pytest.raises(ClientError) as raised:
            sts.assume_role(RoleArn=f"{ROLE}deputy", RoleSessionName="s1", **extra)
        assert code(raised)[0] == "AccessDenied"
    found = sts.assume_role(RoleArn=f"{ROLE}deputy", RoleSessionName="s1", ExternalId="customer-7")
    assert found["AssumedRoleUser"]["Arn"].endswith("assumed-role/deputy/s1")


def test_session_tags_need_tag_session_in_the_trust_policy(server: RunningServer) -> None:
    sts = server.alice  # type: ignore[attr-defined]
    sts.assume_role(RoleArn=f"{ROLE}untagged", RoleSessionName="plain")
    with pytest.raises(ClientError) as raised:
        sts.assume_role(
            RoleArn=f"{ROLE}untagged", RoleSessionName="t1", Tags=[{"Key": "project", "Value": "blue"}]
        )
    assert code(raised) == (
        "AccessDenied",
        f"User: {ALICE} is not authorized to perform: sts:TagSession on resource: {ROLE}untagged",
    )
    with pytest.raises(ClientError) as raised:  # the trust policy's aws:RequestTag condition
        sts.assume_role(
            RoleArn=f"{ROLE}tagged", RoleSessionName="t1", Tags=[{"Key": "project", "Value": "red"}]
        )
    assert code(raised)[0] == "AccessDenied"


def test_session_tags_are_principal_tags_and_pass_along_a_chain(server: RunningServer) -> None:
    sts = server.alice  # type: ignore[attr-defined]
    blue = sts.assume_role(
        RoleArn=f"{ROLE}tagged",
        RoleSessionName="blue",
        Tags=[{"Key": "Project", "Value": "blue"}],  # overrides the role's own tag, whatever its case
        TransitiveTagKeys=["Project"],
    )["Credentials"]
    assert "Buckets" in signed_as(server, "s3", blue).list_buckets()
    green = sts.assume_role(
        RoleArn=f"{ROLE}tagged", RoleSessionName="green", Tags=[{"Key": "project", "Value": "green"}]
    )["Credentials"]
    with pytest.raises(ClientError):
        signed_as(server, "s3", green).list_buckets()
    chained = signed_as(server, "sts", blue).assume_role(RoleArn=f"{ROLE}chained", RoleSessionName="next")
    assert "Buckets" in signed_as(server, "s3", chained["Credentials"]).list_buckets()
    with pytest.raises(ClientError) as raised:  # a transitive tag cannot be overridden down the chain
        signed_as(server, "sts", blue).assume_role(
            RoleArn=f"{ROLE}chained", RoleSessionName="n2", Tags=[{"Key": "project", "Value": "x"}]
        )
    assert code(raised)[0] == "ValidationError"
    unchained = signed_as(server, "sts", green).assume_role(RoleArn=f"{ROLE}chained", RoleSessionName="n3")
    with pytest.raises(ClientError):  # green's tags were not transitive: the chained session has none
        signed_as(server, "s3", unchained["Credentials"]).list_buckets()


def test_minimum_session_token_size_pads_the_token(server: RunningServer) -> None:
    sts = server.alice  # type: ignore[attr-defined]
    credentials = sts.assume_role(
        RoleArn=f"{ROLE}untagged", RoleSessionName="big", MinimumSessionTokenSize=2048
    )["Credentials"]
    assert len(credentials["SessionToken"]) >= 2048
    assert signed_as(server, "sts", credentials).get_caller_identity()["Arn"].endswith("/big")
    token = sts.get_session_token(DurationSeconds=900, MinimumSessionTokenSize=1000)["Credentials"]
    assert len(token["SessionToken"]) >= 1000


@pytest.mark.parametrize(
    ("call", "wanted"),
    [
        (
            lambda sts: sts.get_session_token(SerialNumber="arn:aws:iam::000000000000:mfa/a"),
            "ValidationError",
        ),
        (
            lambda sts: sts.assume_role(
                RoleArn=f"{ROLE}untagged",
                RoleSessionName="c1",
                ProvidedContexts=[
                    {
                        "ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                        "ContextAssertion": "x" * 8,
                    }
                ],
            ),
            "InvalidContextAssertion",
        ),
    ],
)
def test_half_an_mfa_and_context_assertions_are_refused(
    server: RunningServer, call: Any, wanted: str
) -> None:
    with pytest.raises(ClientError) as raised:
        call(server.alice)  # type: ignore[attr-defined]
    assert code(raised)[0] == wanted
    assert "Outcrop" in code(raised)[1] or "TokenCode" in code(raised)[1]
