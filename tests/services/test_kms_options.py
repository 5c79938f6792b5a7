"""KMS's shared options: DryRun answers DryRunOperationException without doing the work, GrantTokens are
accepted, service-principal grants, ListKeys' ResourceOwners, ListKeyRotations' IncludeKeyMaterial, and
the key policy lockout safety check under `auth = "iam"`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

DRY = ("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
ACCOUNT = "000000000000"


@pytest.fixture
def kms(client: Callable[..., Any]) -> Any:
    return client("kms")


def dry(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    found = error_of(call, DryRun=True, **params)
    return found["Code"], found["Message"]


def test_dry_run_answers_without_doing_the_work(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=["any-token"])["CiphertextBlob"]
    assert dry(kms.encrypt, KeyId=key, Plaintext=b"x") == DRY
    assert dry(kms.decrypt, CiphertextBlob=blob) == DRY
    assert dry(kms.decrypt, CiphertextBlob=b"junk", DryRunModifiers=["IGNORE_CIPHERTEXT"]) == DRY
    assert dry(kms.generate_data_key, KeyId=key, KeySpec="AES_256") == DRY
    assert dry(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=key) == DRY
    assert error_of(kms.decrypt, CiphertextBlob=b"junk", DryRun=True)["Code"] == "InvalidCiphertextException"
    assert (
        error_of(kms.encrypt, KeyId="alias/none", Plaintext=b"x", DryRun=True)["Code"] == "NotFoundException"
    )
    grant = {"KeyId": key, "GranteePrincipal": f"arn:aws:iam::{ACCOUNT}:role/r", "Operations": ["Decrypt"]}
    assert dry(kms.create_grant, **grant) == DRY
    assert kms.list_grants(KeyId=key)["Grants"] == []
    made = kms.create_grant(**grant)
    assert dry(kms.revoke_grant, KeyId=key, GrantId=made["GrantId"]) == DRY
    assert dry(kms.retire_grant, GrantToken=made["GrantToken"]) == DRY
    assert len(kms.list_grants(KeyId=key)["Grants"]) == 1  # still there
    kms.decrypt(CiphertextBlob=blob, GrantTokens=[made["GrantToken"]])


def test_service_principal_grants(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    source = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:g"
    made = kms.create_grant(
        KeyId=key,
        GranteeServicePrincipal="logs.amazonaws.com",
        RetiringServicePrincipal="logs.amazonaws.com",
        Operations=["Encrypt", "Decrypt"],
        Constraints={"SourceArn": source},
    )
    (listed,) = kms.list_grants(KeyId=key, GranteeServicePrincipal="logs.amazonaws.com")["Grants"]
    assert listed["GrantId"] == made["GrantId"] and listed["GranteeServicePrincipal"] == "logs.amazonaws.com"
    assert listed["RetiringServicePrincipal"] == "logs.amazonaws.com" and "GranteePrincipal" not in listed
    assert kms.list_grants(KeyId=key, GranteeServicePrincipal="s3.amazonaws.com")["Grants"] == []
    for bad in (
        {"GranteeServicePrincipal": "logs.amazonaws.com", "RetiringPrincipal": "x"},  # no SourceArn
        {
            "GranteeServicePrincipal": "logs.amazonaws.com",
            "Constraints": {"SourceArn": source},
        },  # no retiring
        {"GranteeServicePrincipal": "logs.amazonaws.com", "GranteePrincipal": f"arn:aws:iam::{ACCOUNT}:root"},
    ):
        assert (
            error_of(kms.create_grant, KeyId=key, Operations=["Decrypt"], **bad)["Code"]
            == "ValidationException"
        )


def test_list_keys_owners_and_key_material(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.list_keys(ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"])["Keys"] == []
    assert key in [
        k["KeyId"] for k in kms.list_keys(ResourceOwners=["SELF", "OTHER_ACCOUNTS_VIA_RAM"])["Keys"]
    ]
    assert kms.list_key_rotations(KeyId=key)["Rotations"] == []
    (first,) = kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert first["KeyMaterialState"] == "CURRENT" and "RotationDate" not in first
    kms.rotate_key_on_demand(KeyId=key)
    states = [
        r["KeyMaterialState"]
        for r in kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    ]
    assert states == ["NON_CURRENT", "CURRENT"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("kms-lockout") / "data") as running:
        iam = running.client("iam")
        iam.create_user(UserName="keyadmin")
        iam.put_user_policy(UserName="keyadmin", PolicyName="kms", PolicyDocument=policy(allow("kms:*")))
        yield running


def key_policy(principal: str, actions: Any) -> str:
    return policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"})


def test_a_key_policy_that_locks_the_caller_out_is_refused(server: RunningServer) -> None:
    access = server.client("iam").create_access_key(UserName="keyadmin")["AccessKey"]
    kms = signed_as(server, "kms", access)
    me = f"arn:aws:iam::{ACCOUNT}:user/keyadmin"
    locking = key_policy(me, ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"])
    refused = error_of(kms.create_key, Policy=locking)
    assert (refused["Code"], refused["Message"]) == (
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
    )
    key = kms.create_key(Policy=key_policy(me, "kms:*"))["KeyMetadata"]["KeyId"]
    assert (
        error_of(kms.put_key_policy, KeyId=key, Policy=locking)["Code"] == "MalformedPolicyDocumentException"
    )
    # the account root in the key policy delegates to the caller's IAM policies, which allow kms:*
    kms.put_key_policy(KeyId=key, Policy=key_policy(f"arn:aws:iam::{ACCOUNT}:root", "kms:*"))
    bypassed = kms.create_key(Policy=locking, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
    assert json.loads(server.client("kms").get_key_policy(KeyId=bypassed)["Policy"]) == json.loads(locking)


def test_a_grant_lets_its_grantee_use_the_key_at_once(server: RunningServer) -> None:
    iam, root = server.client("iam"), server.client("kms")
    iam.create_user(UserName="grantee")  # no IAM policy at all: only the grant can let it in
    kms = signed_as(server, "kms", iam.create_access_key(UserName="grantee")["AccessKey"])
    key = root.create_key()["KeyMetadata"]["KeyId"]  # the default policy: the account's IAM policies decide
    context = {"purpose": "test"}
    blob = root.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
    assert (
        error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context)["Code"]
        == "AccessDeniedException"
    )
    grant = root.create_grant(
        KeyId=key,
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:user/grantee",
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": context},
    )
    found = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, GrantTokens=[grant["GrantToken"]])
    assert found["Plaintext"] == b"secret"
    other = root.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "other"})["CiphertextBlob"]
    assert error_of(kms.decrypt, CiphertextBlob=other, EncryptionContext={"purpose": "other"})["Code"] == (
        "AccessDeniedException"
    )
    assert error_of(kms.generate_data_key, KeyId=key, KeySpec="AES_256")["Code"] == "AccessDeniedException"
    root.revoke_grant(KeyId=key, GrantId=grant["GrantId"])
    assert (
        error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context)["Code"]
        == "AccessDeniedException"
    )


def test_create_key_tags_are_request_tags(server: RunningServer) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="tagger")
    only_ml = {"StringEquals": {"aws:RequestTag/team": "ml"}}
    iam.put_user_policy(
        UserName="tagger",
        PolicyName="ml-keys",
        PolicyDocument=policy(allow("kms:CreateKey", Condition=only_ml)),
    )
    kms = signed_as(server, "kms", iam.create_access_key(UserName="tagger")["AccessKey"])
    assert (
        error_of(kms.create_key, Tags=[{"TagKey": "team", "TagValue": "ops"}])["Code"]
        == "AccessDeniedException"
    )
    made = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "ml"}], BypassPolicyLockoutSafetyCheck=False)
    assert made["KeyMetadata"]["KeyState"] == "Enabled"
