"""KMS through boto3 against a running server: keys, aliases, cryptography, states, rotation, grants, tags."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.errors import error_of


@pytest.fixture
def kms(client: Callable[..., Any]) -> Any:
    return client("kms")


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(
        Description="test key", Tags=[{"TagKey": "team", "TagValue": "ml"}]
    )["KeyMetadata"]
    return metadata


def test_create_describe_and_list_keys(kms: Any, key: dict[str, Any]) -> None:
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT" and key["KeyState"] == "Enabled" and key["Enabled"]
    assert key["Arn"] == f"arn:aws:kms:us-east-1:000000000000:key/{key['KeyId']}"
    assert kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]["Description"] == "test key"
    listed = [
        k["KeyId"]
        for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
        for k in page["Keys"]
    ]
    assert key["KeyId"] in listed and len(listed) == len(set(listed))
    assert (
        error_of(kms.create_key, KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")["Code"] == "ValidationException"
    )
    missing = error_of(kms.describe_key, KeyId=str(uuid.uuid4()))
    assert missing["Code"] == "NotFoundException" and "does not exist" in missing["Message"]


def test_encrypt_decrypt_with_context_and_no_key_id(kms: Any, key: dict[str, Any]) -> None:
    context = {"purpose": "test", "tenant": "a"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn", EncryptionContext=context)
    assert blob["KeyId"] == key["Arn"] and b"attack" not in blob["CiphertextBlob"]
    out = kms.decrypt(
        CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=dict(reversed(context.items()))
    )
    assert out["Plaintext"] == b"attack at dawn" and out["KeyId"] == key["Arn"]
    wrong = error_of(kms.decrypt, CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"purpose": "x"})
    assert wrong["Code"] == "InvalidCiphertextException" and wrong["Status"] == 400
    assert error_of(kms.decrypt, CiphertextBlob=b"x" * 80)["Code"] == "InvalidCiphertextException"
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    assert (
        error_of(kms.decrypt, CiphertextBlob=blob["CiphertextBlob"], KeyId=other, EncryptionContext=context)[
            "Code"
        ]
        == "IncorrectKeyException"
    )
    again = kms.re_encrypt(
        CiphertextBlob=blob["CiphertextBlob"], SourceEncryptionContext=context, DestinationKeyId=other
    )
    assert again["SourceKeyId"] == key["Arn"] and again["KeyId"].endswith(other)
    assert kms.decrypt(CiphertextBlob=again["CiphertextBlob"])["Plaintext"] == b"attack at dawn"


def test_data_keys_and_random(kms: Any, key: dict[str, Any]) -> None:
    data = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"k": "v"})
    assert len(data["Plaintext"]) == 32
    assert (
        kms.decrypt(CiphertextBlob=data["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"]
        == data["Plaintext"]
    )
    assert len(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    bare = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert (
        "Plaintext" not in bare and len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    )
    neither = error_of(kms.generate_data_key, KeyId=key["KeyId"])
    assert neither["Code"] == "ValidationException"
    random = kms.generate_random(NumberOfBytes=48)["Plaintext"]
    assert len(random) == 48 and random != kms.generate_random(NumberOfBytes=48)["Plaintext"]
    assert error_of(kms.generate_random, NumberOfBytes=2000)["Code"] == "ValidationException"


def test_aliases(kms: Any, key: dict[str, Any]) -> None:
    name = f"alias/test-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert (
        kms.encrypt(KeyId=f"arn:aws:kms:us-east-1:000000000000:{name}", Plaintext=b"x")["KeyId"] == key["Arn"]
    )
    assert (
        error_of(kms.create_alias, AliasName=name, TargetKeyId=key["KeyId"])["Code"]
        == "AlreadyExistsException"
    )
    reserved = error_of(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])
    assert reserved["Code"] == "InvalidAliasNameException"
    assert error_of(kms.create_alias, AliasName="nope", TargetKeyId=key["KeyId"])["Code"] in (
        "InvalidAliasNameException",
        "ValidationException",
    )
    other = kms.create_key()["KeyMetadata"]
    kms.update_alias(AliasName=name, TargetKeyId=other["Arn"])
    listed = kms.list_aliases(KeyId=other["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [name] and listed[0]["AliasArn"].endswith(name)
    kms.delete_alias(AliasName=name)
    gone = error_of(kms.describe_key, KeyId=name)
    assert gone["Code"] == "NotFoundException" and "is not found" in gone["Message"]


def test_disable_enable_and_scheduled_deletion(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    disabled = error_of(kms.decrypt, CiphertextBlob=blob)
    assert disabled["Code"] == "DisabledException" and disabled["Message"] == f"{key['Arn']} is disabled."
    assert error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")["Code"] == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert error_of(kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=5)["Code"] == (
        "ValidationException"
    )
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    pending = error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    assert pending["Code"] == "KMSInvalidStateException" and "pending deletion" in pending["Message"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["DeletionDate"] is not None
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert error_of(kms.cancel_key_deletion, KeyId=key["KeyId"])["Code"] == "KMSInvalidStateException"


def test_rotation_on_demand_keeps_old_ciphertexts(kms: Any, key: dict[str, Any]) -> None:
    old = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 90
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    new = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


def test_policies_grants_and_tags(kms: Any, key: dict[str, Any]) -> None:
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::000000000000:root"}
    mine = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(mine))
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"]) == mine
    bad = error_of(kms.put_key_policy, KeyId=key["KeyId"], PolicyName="default", Policy="{not json")
    assert bad["Code"] == "MalformedPolicyDocumentException"
    grantee = "arn:aws:iam::000000000000:role/app"
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt", "Encrypt"])
    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [(g["GrantId"], g["GranteePrincipal"], g["Operations"]) for g in grants] == [
        (grant["GrantId"], grantee, ["Decrypt", "Encrypt"])
    ]
    kms.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    second = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"])
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    assert (
        error_of(kms.revoke_grant, KeyId=key["KeyId"], GrantId=second["GrantId"])["Code"]
        == "NotFoundException"
    )
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "env", "TagValue": "dev"}])
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "env", "TagValue": "dev"}]
