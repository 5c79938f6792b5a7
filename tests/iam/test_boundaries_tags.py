"""Permissions boundaries and tags of IAM users, roles and policies, honoured under `auth = "iam"`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.iam.fixtures import allow, iam_server, policy, signed_as, trust
from tests.server import RunningServer

ACCOUNT = "000000000000"
S3_ONLY = f"arn:aws:iam::{ACCOUNT}:policy/s3-only"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("boundary") / "data") as running:
        iam = running.client("iam")
        iam.create_policy(
            PolicyName="s3-only",
            PolicyDocument=policy(
                allow("s3:*"), {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
            ),
            Tags=[{"Key": "team", "Value": "platform"}],
        )
        iam.create_user(
            UserName="bounded",
            PermissionsBoundary=S3_ONLY,
            Tags=[{"Key": "Dept", "Value": "ml"}],
        )
        iam.put_user_policy(UserName="bounded", PolicyName="all", PolicyDocument=policy(allow("*")))
        yield running


def key(server: RunningServer, user: str) -> dict[str, Any]:
    return server.client("iam").create_access_key(UserName=user)["AccessKey"]


def code(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_a_boundary_caps_what_identity_policies_allow(server: RunningServer) -> None:
    credentials = key(server, "bounded")
    s3 = signed_as(server, "s3", credentials)
    s3.create_bucket(Bucket="bounded-bucket")  # allowed by both the identity policy and the boundary
    iam = signed_as(server, "iam", credentials)
    with pytest.raises(ClientError) as raised:
        iam.list_users()  # the identity policy allows "*", the boundary does not
    assert code(raised) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bounded is not authorized to perform: iam:ListUsers on "
        "resource: * because no permissions boundary allows the iam:ListUsers action",
    )
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket="bounded-bucket")
    assert "with an explicit deny in a permissions boundary" in code(raised)[1]


def test_boundary_and_tags_are_returned_and_counted(server: RunningServer) -> None:
    iam = server.client("iam")
    user = iam.get_user(UserName="bounded")["User"]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": S3_ONLY,
    }
    assert user["Tags"] == [{"Key": "Dept", "Value": "ml"}]
    assert "PermissionsBoundary" not in iam.list_users()["Users"][0]
    details = iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]
    (detail,) = [d for d in details if d["UserName"] == "bounded"]
    assert (
        detail["PermissionsBoundary"]["PermissionsBoundaryArn"] == S3_ONLY and detail["Tags"] == user["Tags"]
    )
    assert iam.get_policy(PolicyArn=S3_ONLY)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert iam.list_policy_tags(PolicyArn=S3_ONLY)["Tags"] == [{"Key": "team", "Value": "platform"}]
    found = iam.list_entities_for_policy(PolicyArn=S3_ONLY, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in found["PolicyUsers"]] == ["bounded"]
    assert (
        iam.list_entities_for_policy(PolicyArn=S3_ONLY, PolicyUsageFilter="PermissionsPolicy")["PolicyUsers"]
        == []
    )
    with pytest.raises(ClientError) as raised:
        iam.delete_policy(PolicyArn=S3_ONLY)
    assert code(raised)[0] == "DeleteConflict"


def test_role_boundary_put_and_delete(server: RunningServer) -> None:
    iam = server.client("iam")
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    iam.create_role(RoleName="capped", AssumeRolePolicyDocument=trust, Tags=[{"Key": "env", "Value": "dev"}])
    assert "PermissionsBoundary" not in iam.get_role(RoleName="capped")["Role"]
    iam.put_role_permissions_boundary(RoleName="capped", PermissionsBoundary=S3_ONLY)
    assert iam.get_role(RoleName="capped")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == S3_ONLY
    iam.delete_role_permissions_boundary(RoleName="capped")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="capped")["Role"]
    iam.tag_role(RoleName="capped", Tags=[{"Key": "ENV", "Value": "prod"}, {"Key": "owner", "Value": "x"}])
    assert iam.list_role_tags(RoleName="capped")["Tags"] == [
        {"Key": "ENV", "Value": "prod"},
        {"Key": "owner", "Value": "x"},
    ]
    iam.untag_role(RoleName="capped", TagKeys=["owner"])
    assert iam.get_role(RoleName="capped")["Role"]["Tags"] == [{"Key": "ENV", "Value": "prod"}]
    with pytest.raises(ClientError) as raised:
        iam.put_role_permissions_boundary(
            RoleName="capped", PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/missing"
        )
    assert code(raised)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as raised:
        iam.create_user(UserName="never", PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/missing")
    assert code(raised)[0] == "NoSuchEntity"
    with pytest.raises(ClientError):
        iam.get_user(UserName="never")  # nothing was made


def test_principal_tags_and_the_boundary_condition_key(server: RunningServer) -> None:
    """ABAC on `aws:PrincipalTag`, and the delegation pattern: may create users only with a boundary."""
    iam = server.client("iam")
    iam.create_user(UserName="admin", Tags=[{"Key": "team", "Value": "ml"}])
    iam.put_user_policy(
        UserName="admin",
        PolicyName="delegate",
        PolicyDocument=policy(
            allow(
                "iam:CreateUser",
                Condition={"StringEquals": {"iam:PermissionsBoundary": S3_ONLY}},
            ),
            allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/team": "ml"}}),
            allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "ops"}}),
        ),
    )
    admin = signed_as(server, "iam", key(server, "admin"))
    admin.list_users()
    with pytest.raises(ClientError):
        admin.list_roles()
    with pytest.raises(ClientError) as raised:
        admin.create_user(UserName="unbounded")
    assert code(raised)[0] == "AccessDenied"
    admin.create_user(UserName="delegated", PermissionsBoundary=S3_ONLY)


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (
            lambda iam: iam.create_role(
                RoleName="r",
                AssumeRolePolicyDocument=trust("lambda.amazonaws.com"),
                MaxSigninSessionDuration=3600,
            ),
            "MaxSigninSessionDuration",
        ),
        (
            lambda iam: iam.simulate_custom_policy(
                PolicyInputList=[policy(allow("s3:*"))],
                ActionNames=["s3:GetObject"],
                ResourceHandlingOption="EC2-VPC-InstanceStore",
            ),
            "ResourceHandlingOption",
        ),
    ],
)
def test_unserved_options_are_refused(server: RunningServer, call: Any, word: str) -> None:
    with pytest.raises(ClientError) as raised:
        call(server.client("iam"))
    assert code(raised)[0] == "InvalidInput" and word in code(raised)[1]


def test_simulation_with_a_boundary_and_scps(server: RunningServer) -> None:
    iam = server.client("iam")
    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/bounded", ActionNames=["s3:GetObject", "iam:ListUsers"]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    assert results[1]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    results = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("*"))],
        PermissionsBoundaryPolicyInputList=[policy(allow("iam:*"))],
        ActionNames=["iam:ListUsers", "s3:GetObject"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    results = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("*"))],
        OrderedOrganizationPolicyInputList=[
            {"ServiceControlPolicyInputList": [policy(allow("*"))]},
            {"ServiceControlPolicyInputList": [policy(allow("s3:*")), policy(allow("iam:Get*"))]},
        ],
        ActionNames=["iam:ListUsers", "s3:GetObject", "iam:GetUser"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["implicitDeny", "allowed", "allowed"]


def test_resource_tags_of_roles_decide_iam_and_sts_calls(server: RunningServer) -> None:
    iam = server.client("iam")
    # the trust policy names the account, so the caller's own policies decide (naming the user would not)
    role_trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    )
    for env in ("dev", "prod"):
        iam.create_role(
            RoleName=f"env-{env}", AssumeRolePolicyDocument=role_trust, Tags=[{"Key": "env", "Value": env}]
        )
    iam.create_user(UserName="abac")
    dev_only = {"StringEquals": {"aws:ResourceTag/env": "dev"}}
    iam.put_user_policy(
        UserName="abac",
        PolicyName="dev",
        PolicyDocument=policy(
            allow("iam:GetRole", Condition={"StringEquals": {"iam:ResourceTag/env": "dev"}}),
            allow("sts:AssumeRole", Condition=dev_only),
        ),
    )
    credentials = key(server, "abac")
    mine, sts = signed_as(server, "iam", credentials), signed_as(server, "sts", credentials)
    assert mine.get_role(RoleName="env-dev")["Role"]["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError):
        mine.get_role(RoleName="env-prod")
    sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/env-dev", RoleSessionName="dev-work")
    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/env-prod", RoleSessionName="prod-work")
    assert code(raised)[0] == "AccessDenied"
