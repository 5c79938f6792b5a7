"""Instance profiles and login profiles (console passwords under the account's password policy) through
boto3 on an `auth = "iam"` server."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.iam.fixtures import allow, error, module_iam_server, policy, signed_as, trust
from tests.server import RunningServer

ACCOUNT = "000000000000"


server, iam = module_iam_server("iam-profiles")


def test_an_instance_profile_holds_one_role(iam: Any, server: RunningServer) -> None:
    iam.create_role(RoleName="web", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    iam.create_role(RoleName="other", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    made = iam.create_instance_profile(
        InstanceProfileName="web-profile", Path="/app/", Tags=[{"Key": "env", "Value": "dev"}]
    )["InstanceProfile"]
    assert made["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/app/web-profile"
    assert made["InstanceProfileId"].startswith("AIPA")
    assert made["Roles"] == []
    iam.add_role_to_instance_profile(InstanceProfileName="web-profile", RoleName="web")
    with pytest.raises(ClientError) as raised:
        iam.add_role_to_instance_profile(InstanceProfileName="web-profile", RoleName="other")
    assert error(raised) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
        409,
    )
    got = iam.get_instance_profile(InstanceProfileName="web-profile")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["web"]
    assert got["Tags"] == [{"Key": "env", "Value": "dev"}]
    for_role = iam.list_instance_profiles_for_role(RoleName="web")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == ["web-profile"]
    assert [
        p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/app/")["InstanceProfiles"]
    ] == ["web-profile"]
    assert iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] == 1
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    web = next(r for r in details if r["RoleName"] == "web")
    assert [p["InstanceProfileName"] for p in web["InstanceProfileList"]] == ["web-profile"]
    with pytest.raises(ClientError) as raised:
        iam.delete_role(RoleName="web")
    assert error(raised) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
        409,
    )
    with pytest.raises(ClientError) as raised:
        iam.delete_instance_profile(InstanceProfileName="web-profile")
    assert error(raised)[0] == "DeleteConflict"
    server.restart()
    again = server.client("iam")
    again.remove_role_from_instance_profile(InstanceProfileName="web-profile", RoleName="web")
    again.delete_instance_profile(InstanceProfileName="web-profile")
    with pytest.raises(ClientError) as raised:
        again.get_instance_profile(InstanceProfileName="web-profile")
    assert error(raised) == ("NoSuchEntity", "Instance Profile web-profile cannot be found.", 404)
    again.delete_role(RoleName="web")


def test_login_profiles_follow_the_password_policy(iam: Any, server: RunningServer) -> None:
    iam.update_account_password_policy(
        MinimumPasswordLength=10,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        PasswordReusePrevention=2,
    )
    iam.create_user(UserName="pat")
    with pytest.raises(ClientError) as raised:
        iam.create_login_profile(UserName="pat", Password="short")
    code, message, status = error(raised)
    assert (code, status) == ("PasswordPolicyViolation", 400)
    assert message.startswith("Password does not conform to the account password policy")
    made = iam.create_login_profile(UserName="pat", Password="Correct-horse-1", PasswordResetRequired=True)
    assert made["LoginProfile"]["PasswordResetRequired"] is True
    assert iam.get_login_profile(UserName="pat")["LoginProfile"]["UserName"] == "pat"
    with pytest.raises(ClientError) as raised:
        iam.delete_user(UserName="pat")
    assert error(raised) == ("DeleteConflict", "Cannot delete entity, must delete login profile first.", 409)

    iam.put_user_policy(UserName="pat", PolicyName="self", PolicyDocument=policy(allow("iam:ChangePassword")))
    key = iam.create_access_key(UserName="pat")["AccessKey"]
    pat = signed_as(server, "iam", key)
    with pytest.raises(ClientError) as raised:
        pat.change_password(OldPassword="not-it-at-all", NewPassword="Battery-staple-2")
    assert error(raised)[0] == "AccessDenied"
    with pytest.raises(ClientError) as raised:  # the policy keeps the last two passwords from coming back
        pat.change_password(OldPassword="Correct-horse-1", NewPassword="Correct-horse-1")
    assert error(raised)[0] == "PasswordPolicyViolation"
    pat.change_password(OldPassword="Correct-horse-1", NewPassword="Battery-staple-2")
    assert iam.get_login_profile(UserName="pat")["LoginProfile"]["PasswordResetRequired"] is False
    with pytest.raises(ClientError) as raised:
        server.client("iam").change_password(OldPassword="x", NewPassword="Another-one-33")
    assert error(raised)[0] == "InvalidUserType"  # the account root has no IAM password

    iam.generate_credential_report()
    rows = list(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))
    row = next(r for r in rows if r["user"] == "pat")
    assert row["password_enabled"] == "true"
    assert row["password_last_used"] == "no_information"

    iam.update_login_profile(UserName="pat", PasswordResetRequired=True)
    assert iam.get_login_profile(UserName="pat")["LoginProfile"]["PasswordResetRequired"] is True
    iam.delete_login_profile(UserName="pat")
    with pytest.raises(ClientError) as raised:
        iam.get_login_profile(UserName="pat")
    assert error(raised) == ("NoSuchEntity", "Login Profile for User pat cannot be found.", 404)
    iam.delete_account_password_policy()
