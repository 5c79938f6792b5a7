"""IAM's account operations through boto3 on an `auth = "iam"` server: the alias, GetAccountSummary, the
password policy and the credential report, with AWS's errors, and all of it kept across a restart."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.iam.fixtures import error, module_iam_server, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"


server, iam = module_iam_server("iam-account")


def test_one_alias_per_account_a_new_one_replaces_the_old(iam: Any) -> None:
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias="team-one")
    iam.create_account_alias(AccountAlias="team-two")
    assert iam.list_account_aliases()["AccountAliases"] == ["team-two"]
    with pytest.raises(ClientError) as raised:
        iam.delete_account_alias(AccountAlias="team-one")
    assert error(raised) == ("NoSuchEntity", "The account alias team-one cannot be found.", 404)
    with pytest.raises(ClientError) as raised:
        iam.create_account_alias(AccountAlias="Bad--Alias")  # AWS's pattern: lower case, no double dash
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    iam.delete_account_alias(AccountAlias="team-two")
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_account_summary_counts_what_the_store_holds(iam: Any) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    iam.create_user(UserName="counted")
    iam.create_group(GroupName="counted-group")
    iam.create_policy(
        PolicyName="counted-policy",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    )
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 1
    assert after["Groups"] == before["Groups"] + 1
    assert after["Policies"] == before["Policies"] + 1
    assert after["PolicyVersionsInUse"] == before["PolicyVersionsInUse"] + 1
    assert after["AccessKeysPerUserQuota"] == 2
    assert after["VersionsPerPolicyQuota"] == 5
    assert after["UsersQuota"] == 5000
    assert after["MFADevices"] == before["MFADevices"]


def test_password_policy_is_absent_then_set_then_deleted(iam: Any, server: RunningServer) -> None:
    with pytest.raises(ClientError) as raised:
        iam.get_account_password_policy()
    assert error(raised) == (
        "NoSuchEntity",
        f"The Password Policy with domain name {ACCOUNT} cannot be found.",
        404,
    )
    iam.update_account_password_policy(MinimumPasswordLength=12, RequireSymbols=True, MaxPasswordAge=90)
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12
    assert policy["RequireSymbols"] is True
    assert policy["RequireNumbers"] is False  # not passed: its default
    assert policy["ExpirePasswords"] is True
    assert policy["MaxPasswordAge"] == 90
    assert "PasswordReusePrevention" not in policy
    with pytest.raises(ClientError) as raised:
        unchecked = server.client("iam", parameter_validation=False)
        unchecked.update_account_password_policy(MinimumPasswordLength=3)  # the model's minimum is 6
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as raised:
        iam.delete_account_password_policy()
    assert error(raised)[0] == "NoSuchEntity"


def test_credential_report_lists_the_root_and_each_user(iam: Any, server: RunningServer) -> None:
    with pytest.raises(ClientError) as raised:
        iam.get_credential_report()
    assert error(raised)[0:3:2] == ("ReportNotPresent", 410)
    iam.create_user(UserName="reported")
    key = iam.create_access_key(UserName="reported")["AccessKey"]
    signed_as(server, "sts", key).get_caller_identity()  # a use for the audit log
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    assert list(rows[0])[:4] == ["user", "arn", "user_creation_time", "password_enabled"]
    assert len(rows[0]) == 22
    root = rows[0]
    assert root["user"] == "<root_account>"
    assert root["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert root["password_enabled"] == "not_supported"
    user = next(r for r in rows if r["user"] == "reported")
    assert user["arn"] == f"arn:aws:iam::{ACCOUNT}:user/reported"
    assert user["password_enabled"] == "false"
    assert user["mfa_active"] == "false"
    assert user["access_key_1_active"] == "true"
    assert user["access_key_1_last_rotated"].startswith(user["user_creation_time"][:10])
    assert user["access_key_2_active"] == "false"
    assert user["access_key_2_last_rotated"] == "N/A"


def test_the_account_has_no_saml_providers_as_none_can_be_made(iam: Any) -> None:
    assert iam.list_saml_providers()["SAMLProviderList"] == []
    with pytest.raises(ClientError) as raised:
        iam.create_saml_provider(SAMLMetadataDocument="x" * 1000, Name="corp")
    assert error(raised)[0] == "NotImplemented"


def test_account_settings_survive_a_restart(iam: Any, server: RunningServer) -> None:
    iam.create_account_alias(AccountAlias="kept-alias")
    iam.update_account_password_policy(MinimumPasswordLength=10)
    server.restart()
    again = server.client("iam")
    assert again.list_account_aliases()["AccountAliases"] == ["kept-alias"]
    assert again.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 10
    again.delete_account_alias(AccountAlias="kept-alias")
    again.delete_account_password_policy()


def test_a_user_without_permission_is_denied_the_account_operations(iam: Any, server: RunningServer) -> None:
    iam.create_user(UserName="nobody-account")
    key = iam.create_access_key(UserName="nobody-account")["AccessKey"]
    with pytest.raises(ClientError) as raised:
        signed_as(server, "iam", key).get_account_summary()
    code, message, status = error(raised)
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:GetAccountSummary" in message
