"""Virtual MFA devices through boto3 on an `auth = "iam"` server: a device is made with a real TOTP seed,
enabled with two consecutive codes, and STS then checks codes, so that sessions made with MFA carry
`aws:MultiFactorAuthPresent` (and its age) into policy evaluation, as AWS's "deny unless MFA" pattern
needs."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from outcrop.iam import mfa
from tests.iam.fixtures import allow, error, module_iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"
MARGIN_S = 10  # a device is enabled only with this long left in the current 30-second step
# AWS's documented pattern: everything is denied unless the caller signed in with MFA.
REQUIRE_MFA = policy(
    allow("*"),
    {
        "Effect": "Deny",
        "NotAction": ["iam:ListMFADevices", "sts:GetSessionToken"],
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    },
)


server, iam = module_iam_server("iam-mfa")


def assert_qr_code(device: dict[str, Any], seed: str) -> None:
    """The QR code scans back to the otpauth:// URL of the seed (drawn where OpenCV is installed)."""
    try:
        import cv2
        import numpy as np
    except ImportError:
        assert "QRCodePNG" not in device
        return
    png = device["QRCodePNG"]
    assert png.startswith(b"\x89PNG")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    # two of OpenCV's decoders read it: the classic one misses about 1 in 25 of these codes, the ArUco-based
    # one none in 1,000 (either decoding it proves the code)
    texts = {
        cv2.QRCodeDetectorAruco().detectAndDecode(image)[0],
        cv2.QRCodeDetector().detectAndDecode(image)[0],
    }
    assert f"otpauth://totp/phone@{ACCOUNT}?secret={seed}" in texts


def next_code(seed: str, step: int) -> str:
    """The code an app shows next after the codes of `step` were used: the next step's, or, when the
    clock has moved on further (a slow machine), the current one."""
    return mfa.code(seed, max(step + 1, mfa.now_step()))


def user_with_device(
    iam: Any, name: str, document: str = REQUIRE_MFA
) -> tuple[dict[str, Any], str, str, int]:
    """A user with `document`, a key, and an enabled virtual MFA device: (key, serial, seed, step), where
    the codes of `step - 1` and `step` enabled it, so the code of `step + 1` is the next one STS takes."""
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    left = mfa.STEP_S - time.time() % mfa.STEP_S
    if left < MARGIN_S:
        time.sleep(left + 0.2)
    step = mfa.now_step()
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=mfa.code(seed, step - 1),
        AuthenticationCode2=mfa.code(seed, step),
    )
    return key, device["SerialNumber"], seed, step


def test_a_virtual_device_has_a_real_seed_and_is_enabled_by_two_codes(iam: Any) -> None:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="phone", Path="/team/")["VirtualMFADevice"]
    assert device["SerialNumber"] == f"arn:aws:iam::{ACCOUNT}:mfa/team/phone"
    seed = device["Base32StringSeed"].decode()
    assert len(base64.b32decode(seed)) == 40
    assert_qr_code(device, seed)
    with pytest.raises(ClientError) as raised:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="phone")
    assert error(raised)[0] == "EntityAlreadyExists"
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert device["SerialNumber"] in [d["SerialNumber"] for d in unassigned]
    iam.create_user(UserName="holder")
    before = iam.get_account_summary()["SummaryMap"]
    step = mfa.now_step()
    with pytest.raises(ClientError) as raised:  # the codes of two steps an hour ago
        iam.enable_mfa_device(
            UserName="holder",
            SerialNumber=device["SerialNumber"],
            AuthenticationCode1=mfa.code(seed, step - 120),
            AuthenticationCode2=mfa.code(seed, step - 119),
        )
    assert error(raised) == ("InvalidAuthenticationCode", "Authentication code for device is not valid.", 403)
    iam.enable_mfa_device(
        UserName="holder",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=mfa.code(seed, step),
        AuthenticationCode2=mfa.code(seed, step + 1),
    )
    after = iam.get_account_summary()["SummaryMap"]
    assert after["MFADevicesInUse"] == before["MFADevicesInUse"] + 1
    assert after["MFADevices"] == before["MFADevices"]
    listed = iam.list_mfa_devices(UserName="holder")["MFADevices"]
    assert [d["SerialNumber"] for d in listed] == [device["SerialNumber"]]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    mine = next(d for d in assigned if d["SerialNumber"] == device["SerialNumber"])
    assert mine["User"]["UserName"] == "holder"
    assert "EnableDate" in mine
    got = iam.get_mfa_device(SerialNumber=device["SerialNumber"], UserName="holder")
    assert got["UserName"] == "holder"
    with pytest.raises(ClientError) as raised:
        iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
    assert error(raised)[0] == "DeleteConflict"
    iam.deactivate_mfa_device(UserName="holder", SerialNumber=device["SerialNumber"])
    assert iam.list_mfa_devices(UserName="holder")["MFADevices"] == []
    iam.tag_mfa_device(SerialNumber=device["SerialNumber"], Tags=[{"Key": "team", "Value": "a"}])
    assert iam.list_mfa_device_tags(SerialNumber=device["SerialNumber"])["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]
    iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
    with pytest.raises(ClientError) as raised:
        iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
    assert error(raised) == (
        "NoSuchEntity",
        f"VirtualMFADevice with serial number {device['SerialNumber']} doesn't exist.",
        404,
    )


def test_deny_unless_mfa_holds_for_keys_and_plain_sessions_and_lifts_with_mfa(
    iam: Any, server: RunningServer
) -> None:
    key, serial, seed, step = user_with_device(iam, "alice")
    with pytest.raises(ClientError) as raised:  # long-term key: the key is absent, IfExists denies
        signed_as(server, "iam", key).list_users()
    assert error(raised)[0] == "AccessDenied"
    sts = signed_as(server, "sts", key)
    plain = sts.get_session_token(DurationSeconds=900)["Credentials"]
    with pytest.raises(ClientError) as raised:  # a session without MFA: "false", denied
        signed_as(server, "s3", plain).list_buckets()
    assert error(raised)[0] == "AccessDenied"
    with pytest.raises(ClientError) as raised:
        sts.get_session_token(SerialNumber=serial, TokenCode=mfa.code(seed, step - 60))
    assert error(raised) == (
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        403,
    )
    with pytest.raises(ClientError) as raised:
        sts.get_session_token(SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/someone-else", TokenCode="123456")
    assert error(raised)[1].startswith("MultiFactorAuthentication failed, unable to validate MFA code.")
    code = next_code(seed, step)
    strong = sts.get_session_token(SerialNumber=serial, TokenCode=code)["Credentials"]
    users = signed_as(server, "iam", strong).list_users()["Users"]
    assert "alice" in [u["UserName"] for u in users]
    with pytest.raises(ClientError) as raised:  # a code is good once
        sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert error(raised)[0] == "AccessDenied"


def test_session_token_credentials_call_iam_only_with_mfa_and_sts_only_to_assume_or_ask_who(
    iam: Any, server: RunningServer
) -> None:
    """AWS's rule for GetSessionToken's credentials, whatever the user's policies allow: no IAM operation
    unless made with MFA (refused as an invalid token, as IAM refuses them), and no STS operation but
    AssumeRole and GetCallerIdentity. A role's session is not held to it."""
    key, serial, seed, step = user_with_device(iam, "dora", policy(allow("*")))
    role = iam.create_role(
        RoleName="for-dora",
        AssumeRolePolicyDocument=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/dora"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]
    iam.put_role_policy(RoleName="for-dora", PolicyName="p", PolicyDocument=policy(allow("*")))
    assert signed_as(server, "iam", key).list_users()["Users"]  # the long-term key may
    long_term = signed_as(server, "sts", key)
    plain = long_term.get_session_token(DurationSeconds=900)["Credentials"]
    strong = long_term.get_session_token(SerialNumber=serial, TokenCode=next_code(seed, step))["Credentials"]
    with pytest.raises(ClientError) as raised:
        signed_as(server, "iam", plain).list_users()
    assert error(raised) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid",
        403,
    )
    assert "dora" in [u["UserName"] for u in signed_as(server, "iam", strong).list_users()["Users"]]
    assert signed_as(server, "s3", plain).list_buckets()["Buckets"] is not None  # other services: as allowed
    for credentials in (plain, strong):
        sts = signed_as(server, "sts", credentials)
        assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/dora"
        assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="from-session")["Credentials"]
        for name, kwargs in (
            ("GetAccessKeyInfo", {"AccessKeyId": key["AccessKeyId"]}),
            ("GetFederationToken", {"Name": "fed"}),
            ("GetSessionToken", {}),
        ):
            with pytest.raises(ClientError) as raised:
                getattr(sts, xform_name(name))(**kwargs)
            assert error(raised) == ("AccessDenied", f"Cannot call {name} with session credentials", 403)
    role_sts = signed_as(server, "sts", assumed)  # a role's session asks STS and IAM as its policies say
    assert role_sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == ACCOUNT
    assert signed_as(server, "iam", assumed).list_users()["Users"]


def test_mfa_age_is_a_condition_key(iam: Any, server: RunningServer) -> None:
    recent = policy(allow("iam:ListUsers", Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}))
    key, serial, seed, step = user_with_device(iam, "bob", recent)
    sts = signed_as(server, "sts", key)
    with pytest.raises(ClientError) as raised:  # no MFA: the key is absent, NumericLessThan fails
        signed_as(server, "iam", key).list_users()
    assert error(raised)[0] == "AccessDenied"
    strong = sts.get_session_token(SerialNumber=serial, TokenCode=next_code(seed, step))["Credentials"]
    assert signed_as(server, "iam", strong).list_users()["Users"]


def test_a_role_that_trusts_only_mfa_callers(iam: Any, server: RunningServer) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                }
            ],
        }
    )
    role = iam.create_role(RoleName="mfa-only", AssumeRolePolicyDocument=trust)["Role"]
    key, serial, seed, step = user_with_device(iam, "carol", policy(allow("sts:AssumeRole")))
    sts = signed_as(server, "sts", key)
    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="no-mfa")
    assert error(raised)[0] == "AccessDenied"
    session = sts.assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="with-mfa",
        SerialNumber=serial,
        TokenCode=next_code(seed, step),
    )["Credentials"]
    who = signed_as(server, "sts", session).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/mfa-only/with-mfa"

    # a session made with MFA passes it on: its AssumeRole needs no code of its own
    key2, serial2, seed2, step2 = user_with_device(iam, "carol-two", policy(allow("sts:AssumeRole")))
    strong = signed_as(server, "sts", key2).get_session_token(
        SerialNumber=serial2, TokenCode=next_code(seed2, step2)
    )["Credentials"]
    chained = signed_as(server, "sts", strong).assume_role(RoleArn=role["Arn"], RoleSessionName="passed-on")
    assert chained["AssumedRoleUser"]["Arn"].endswith("/passed-on")


def test_mfa_devices_survive_a_restart(iam: Any, server: RunningServer) -> None:
    key, serial, seed, step = user_with_device(iam, "dave")
    server.restart()
    again = server.client("iam")
    assert [d["SerialNumber"] for d in again.list_mfa_devices(UserName="dave")["MFADevices"]] == [serial]
    sts = signed_as(server, "sts", key)
    strong = sts.get_session_token(SerialNumber=serial, TokenCode=next_code(seed, step))["Credentials"]
    assert signed_as(server, "iam", strong).list_users()["Users"]


def test_resync_learns_a_device_clock_that_runs_ahead(iam: Any, server: RunningServer) -> None:
    key, serial, seed, step = user_with_device(iam, "erin")
    sts = signed_as(server, "sts", key)
    ahead = step + 6  # the device's clock runs three minutes fast
    with pytest.raises(ClientError):  # too far ahead for a plain check
        sts.get_session_token(SerialNumber=serial, TokenCode=mfa.code(seed, ahead))
    with pytest.raises(ClientError) as raised:
        iam.resync_mfa_device(
            UserName="erin",
            SerialNumber=serial,
            AuthenticationCode1=mfa.code(seed, step + 60),
            AuthenticationCode2=mfa.code(seed, step + 61),
        )
    assert error(raised)[0] == "InvalidAuthenticationCode"
    iam.resync_mfa_device(
        UserName="erin",
        SerialNumber=serial,
        AuthenticationCode1=mfa.code(seed, ahead),
        AuthenticationCode2=mfa.code(seed, ahead + 1),
    )
    strong = sts.get_session_token(SerialNumber=serial, TokenCode=mfa.code(seed, ahead + 2))["Credentials"]
    assert signed_as(server, "iam", strong).list_users()["Users"]


def test_cloudtrail_never_holds_a_device_seed(iam: Any, server: RunningServer) -> None:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="audited")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    cloudtrail = server.client("cloudtrail")
    wanted = [{"AttributeKey": "EventName", "AttributeValue": "CreateVirtualMFADevice"}]
    deadline = time.monotonic() + 60  # the audit log is written by its own thread, a little after the call
    records: list[str] = []
    while not records and time.monotonic() < deadline:
        events = cloudtrail.lookup_events(LookupAttributes=wanted)["Events"]
        records = [e["CloudTrailEvent"] for e in events if '"audited"' in e["CloudTrailEvent"]]
        time.sleep(0 if records else 0.2)
    assert records
    assert all(seed not in record for record in records)


def test_aws_self_service_mfa_policy(iam: Any, server: RunningServer) -> None:
    """AWS's documented policy letting users manage their own virtual MFA device, and nothing else until
    they sign in with it (resources named through ${aws:username})."""
    own_user = "arn:aws:iam::*:user/${aws:username}"
    self_service = policy(
        allow(["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"]),
        allow(["iam:ChangePassword", "iam:GetUser"], own_user),
        allow(["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"], "arn:aws:iam::*:mfa/*"),
        allow(["iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:ListMFADevices"], own_user),
        allow("iam:ResyncMFADevice", own_user),
        allow("s3:ListAllMyBuckets"),
        {
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:ChangePassword",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )
    iam.create_user(UserName="frank")
    iam.put_user_policy(UserName="frank", PolicyName="self-service", PolicyDocument=self_service)
    key = iam.create_access_key(UserName="frank")["AccessKey"]
    frank = signed_as(server, "iam", key)
    device = frank.create_virtual_mfa_device(VirtualMFADeviceName="frank")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    with pytest.raises(ClientError) as raised:  # another user's device
        frank.enable_mfa_device(
            UserName="alice",
            SerialNumber=device["SerialNumber"],
            AuthenticationCode1="1" * 6,
            AuthenticationCode2="2" * 6,
        )
    assert error(raised)[0] == "AccessDenied"
    left = mfa.STEP_S - time.time() % mfa.STEP_S
    if left < MARGIN_S:
        time.sleep(left + 0.2)
    step = mfa.now_step()
    frank.enable_mfa_device(
        UserName="frank",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=mfa.code(seed, step - 1),
        AuthenticationCode2=mfa.code(seed, step),
    )
    assert [d["SerialNumber"] for d in frank.list_mfa_devices(UserName="frank")["MFADevices"]] == [
        device["SerialNumber"]
    ]
    with pytest.raises(ClientError) as raised:  # still the long-term key: no MFA in the request
        signed_as(server, "s3", key).list_buckets()
    assert error(raised)[0] == "AccessDenied"
    sts = signed_as(server, "sts", key)
    strong = sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=next_code(seed, step))
    assert "Buckets" in signed_as(server, "s3", strong["Credentials"]).list_buckets()
