"""Fuzzer findings (issue 18): KMS UpdateAlias/DeleteAlias and IAM GetAccessKeyLastUsed answer only codes
their operation models (or AWS's common ones), as AWS does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from botocore.session import get_session

from tests.errors import error_of


def modelled(service: str, operation: str) -> set[str]:
    model = get_session().get_service_model(service).operation_model(operation)
    return {shape.name for shape in model.error_shapes}


def test_update_and_delete_alias_answer_their_modelled_codes(client: Callable[..., Any]) -> None:
    kms = client("kms", parameter_validation=False)
    key = kms.create_key()["KeyMetadata"]
    assert "InvalidAliasNameException" not in modelled("kms", "UpdateAlias") | modelled("kms", "DeleteAlias")
    for name in ("no-prefix", "alias/a:b", "alias/", "arn:aws:kms:us-east-1:0:alias/x"):
        updated = error_of(kms.update_alias, AliasName=name, TargetKeyId=key["KeyId"])
        assert updated["Code"] == "NotFoundException", (name, updated)
        assert "is not found" in updated["Message"], (name, updated)
        deleted = error_of(kms.delete_alias, AliasName=name)
        assert deleted["Code"] == "NotFoundException", (name, deleted)
    # create keeps its modelled InvalidAliasNameException for the same names
    assert error_of(kms.create_alias, AliasName="no-prefix", TargetKeyId=key["KeyId"])["Code"] == (
        "InvalidAliasNameException"
    )


def test_aws_managed_aliases_and_keys_are_not_the_callers_to_change(client: Callable[..., Any]) -> None:
    kms, s3 = client("kms"), client("s3")
    bucket = f"managed-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms")  # makes alias/aws/s3
    managed = s3.head_object(Bucket=bucket, Key="k")["SSEKMSKeyId"]
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"] == managed
    mine = f"alias/mine-{uuid.uuid4().hex[:8]}"
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=mine, TargetKeyId=key["KeyId"])
    onto_managed = error_of(kms.update_alias, AliasName=mine, TargetKeyId=managed)
    assert (onto_managed["Code"], onto_managed["Status"]) == ("AccessDeniedException", 403), onto_managed
    for call, kwargs in (
        (kms.update_alias, {"AliasName": "alias/aws/s3", "TargetKeyId": key["KeyId"]}),
        (kms.delete_alias, {"AliasName": "alias/aws/s3"}),
    ):
        assert error_of(call, **kwargs)["Code"] == "AccessDeniedException"
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"] == managed  # unchanged
    assert [a["TargetKeyId"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]] == [key["KeyId"]]


def test_update_alias_moves_only_between_keys_of_one_type_and_usage(client: Callable[..., Any]) -> None:
    kms = client("kms")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    ecc = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    name = f"alias/typed-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=symmetric)
    for other in (hmac, rsa):
        refused = error_of(kms.update_alias, AliasName=name, TargetKeyId=other)
        assert refused["Code"] == "ValidationException" and "same type" in refused["Message"], refused
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == symmetric
    kms.update_alias(AliasName=name, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    signing = f"alias/signing-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=signing, TargetKeyId=rsa)
    kms.update_alias(AliasName=signing, TargetKeyId=ecc)  # both asymmetric SIGN_VERIFY: allowed
    assert kms.describe_key(KeyId=signing)["KeyMetadata"]["KeyId"] == ecc


def test_access_key_last_used_of_an_unknown_key_is_access_denied(client: Callable[..., Any]) -> None:
    iam = client("iam")
    assert modelled("iam", "GetAccessKeyLastUsed") == set()
    unknown = "AKIA" + uuid.uuid4().hex[:16].upper()
    denied = error_of(iam.get_access_key_last_used, AccessKeyId=unknown)
    assert (denied["Code"], denied["Status"]) == ("AccessDenied", 403), denied
    assert f"iam:GetAccessKeyLastUsed on resource: access key {unknown}" in denied["Message"]
    user = f"u{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    assert iam.get_access_key_last_used(AccessKeyId=key)["UserName"] == user
