"""IAM through boto3 against an `auth = "iam"` server: principals, policies, errors, and enforcement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.iam.fixtures import allow, error, module_iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"
TITAN = "amazon.titan-text-express-v1"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hello"}]}]


server, iam = module_iam_server("iam")


def new_user(iam: Any, name: str, *documents: str) -> dict[str, Any]:
    iam.create_user(UserName=name)
    for number, document in enumerate(documents):
        iam.put_user_policy(UserName=name, PolicyName=f"p{number}", PolicyDocument=document)
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def test_a_user_limited_to_one_model_invokes_it_and_is_denied_another(
    iam: Any, server: RunningServer
) -> None:
    model_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{TITAN}"
    key = new_user(iam, "one-model", policy(allow("bedrock:InvokeModel", model_arn)))
    runtime = signed_as(server, "bedrock-runtime", key)
    answer = runtime.converse(modelId=TITAN, messages=MESSAGES)
    assert answer["output"]["message"]["content"][0]["text"]
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId=HAIKU, messages=MESSAGES)
    assert error(raised) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/one-model is not authorized to perform: bedrock:InvokeModel on "
        f"resource: arn:aws:bedrock:us-east-1::foundation-model/{HAIKU} because no identity-based policy "
        "allows the bedrock:InvokeModel action",
        403,
    )
    with pytest.raises(ClientError) as raised:  # streaming is its own action
        runtime.converse_stream(modelId=TITAN, messages=MESSAGES)
    assert "bedrock:InvokeModelWithResponseStream" in error(raised)[1]


def test_explicit_deny_wins_and_query_services_answer_access_denied(iam: Any, server: RunningServer) -> None:
    key = new_user(
        iam,
        "no-delete",
        policy(allow("s3:*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}),
    )
    s3 = signed_as(server, "s3", key)
    s3.create_bucket(Bucket="deny-test")
    s3.put_object(Bucket="deny-test", Key="k", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.delete_object(Bucket="deny-test", Key="k")
    code, message, status = error(raised)
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(
        "s3:DeleteObject on resource: arn:aws:s3:::deny-test/k"
        " with an explicit deny in an identity-based policy"
    )
    with pytest.raises(ClientError) as raised:
        signed_as(server, "iam", key).list_users()
    assert error(raised)[0] == "AccessDenied"


def test_groups_and_managed_policy_versions_decide_access(iam: Any, server: RunningServer) -> None:
    created = iam.create_policy(
        PolicyName="read-logs", PolicyDocument=policy(allow("logs:DescribeLogGroups"))
    )
    arn = created["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/read-logs" and created["Policy"]["DefaultVersionId"] == "v1"
    iam.create_group(GroupName="ops")
    iam.attach_group_policy(GroupName="ops", PolicyArn=arn)
    key = new_user(iam, "operator")
    logs = signed_as(server, "logs", key)
    with pytest.raises(ClientError):
        logs.describe_log_groups()
    iam.add_user_to_group(GroupName="ops", UserName="operator")
    assert logs.describe_log_groups()["logGroups"] is not None
    iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=policy(allow("logs:CreateLogGroup")), SetAsDefault=True
    )
    with pytest.raises(ClientError):
        logs.describe_log_groups()  # v2, now the default, no longer allows it
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert logs.describe_log_groups()["logGroups"] is not None
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", False), ("v1", True)]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="operator")["Groups"]] == ["ops"]


def test_aws_managed_policies_attach_by_arn(iam: Any, server: RunningServer) -> None:
    key = new_user(iam, "reader")
    iam.attach_user_policy(UserName="reader", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    s3 = signed_as(server, "s3", key)
    assert "Buckets" in s3.list_buckets()
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="reader-bucket")
    assert error(raised)[0] == "AccessDenied"
    attached = iam.list_attached_user_policies(UserName="reader")["AttachedPolicies"]
    assert attached == [
        {
            "PolicyName": "AmazonS3ReadOnlyAccess",
            "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        }
    ]
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"AmazonBedrockFullAccess", "AWSLambdaBasicExecutionRole", "AdministratorAccess"} <= names
    basic = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    version = iam.get_policy_version(PolicyArn=basic["Policy"]["Arn"], VersionId="v1")["PolicyVersion"]
    assert "logs:PutLogEvents" in version["Document"]["Statement"][0]["Action"]


def test_iam_errors_are_worded_as_aws_words_them(iam: Any) -> None:
    iam.create_user(UserName="dup")
    with pytest.raises(ClientError) as raised:
        iam.create_user(UserName="dup")
    assert error(raised) == ("EntityAlreadyExists", "User with name dup already exists.", 409)
    with pytest.raises(ClientError) as raised:
        iam.get_user(UserName="nobody")
    assert error(raised) == ("NoSuchEntity", "The user with name nobody cannot be found.", 404)
    iam.create_access_key(UserName="dup")
    iam.create_access_key(UserName="dup")
    with pytest.raises(ClientError) as raised:
        iam.create_access_key(UserName="dup")
    assert error(raised) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)
    with pytest.raises(ClientError) as raised:
        iam.delete_user(UserName="dup")
    assert error(raised) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
    with pytest.raises(ClientError) as raised:
        iam.put_user_policy(UserName="dup", PolicyName="bad", PolicyDocument='{"Statement": []')
    assert error(raised) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)
    with pytest.raises(ClientError) as raised:
        iam.put_user_policy(
            UserName="dup", PolicyName="bad", PolicyDocument=policy({"Effect": "Allow", "Resource": "*"})
        )
    assert error(raised) == ("MalformedPolicyDocument", "Policy statement must contain actions.", 400)
    with pytest.raises(ClientError) as raised:
        iam.create_role(RoleName="bad-trust", AssumeRolePolicyDocument=policy(allow("sts:AssumeRole")))
    assert error(raised)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as raised:
        iam.attach_user_policy(UserName="dup", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/none")
    assert error(raised) == (
        "NoSuchEntity",
        f"Policy arn:aws:iam::{ACCOUNT}:policy/none does not exist or is not attachable.",
        404,
    )


def test_roles_simulation_and_authorization_details(iam: Any) -> None:
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = iam.create_role(RoleName="SageMakerRole", AssumeRolePolicyDocument=trust)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
    got = iam.get_role(RoleName="SageMakerRole")["Role"]
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    iam.attach_role_policy(
        RoleName="SageMakerRole", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    )
    iam.put_role_policy(
        RoleName="SageMakerRole",
        PolicyName="no-delete",
        PolicyDocument=policy({"Effect": "Deny", "Action": "sagemaker:DeleteEndpoint", "Resource": "*"}),
    )
    results = iam.simulate_principal_policy(
        PolicySourceArn=role["Arn"],
        ActionNames=["sagemaker:CreateTrainingJob", "sagemaker:DeleteEndpoint", "bedrock:InvokeModel"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "explicitDeny", "implicitDeny"]
    custom = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b/k", "arn:aws:s3:::c/k"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in custom] == ["allowed", "implicitDeny"]
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    found = next(r for r in details if r["RoleName"] == "SageMakerRole")
    assert [p["PolicyName"] for p in found["RolePolicyList"]] == ["no-delete"]
    assert found["AttachedManagedPolicies"][0]["PolicyName"] == "AmazonSageMakerFullAccess"
    with pytest.raises(ClientError) as raised:
        iam.delete_role(RoleName="SageMakerRole")
    assert error(raised)[0] == "DeleteConflict"


def test_user_paging_and_inline_policy_round_trip(iam: Any) -> None:
    for number in range(3):
        iam.create_user(UserName=f"page-{number}", Path="/paged/")
    first = iam.list_users(PathPrefix="/paged/", MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2
    rest = iam.list_users(PathPrefix="/paged/", Marker=first["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["page-2"] and not rest["IsTruncated"]
    document = policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    iam.put_user_policy(UserName="page-0", PolicyName="read", PolicyDocument=document)
    got = iam.get_user_policy(UserName="page-0", PolicyName="read")
    assert got["PolicyDocument"] == json.loads(document)
    assert iam.list_user_policies(UserName="page-0")["PolicyNames"] == ["read"]
    iam.delete_user_policy(UserName="page-0", PolicyName="read")
    iam.delete_user(UserName="page-0")
    with pytest.raises(ClientError):
        iam.get_user(UserName="page-0")


def test_kms_key_policies_are_the_keys_primary_access_control(iam: Any, server: RunningServer) -> None:
    key = new_user(iam, "crypto", policy(allow("kms:*")))
    kms = signed_as(server, "kms", key)
    key_id = server.client("kms").create_key()["KeyMetadata"]["KeyId"]  # default policy: IAM decides
    assert kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    only_root = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    server.client("kms").put_key_policy(KeyId=key_id, PolicyName="default", Policy=only_root)
    with pytest.raises(ClientError) as raised:
        kms.encrypt(KeyId=key_id, Plaintext=b"secret")
    code, message, status = error(raised)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message.endswith(f":key/{key_id} because no resource-based policy allows the kms:Encrypt action")
    naming = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/crypto"},
            "Action": "kms:Encrypt",
            "Resource": "*",
        }
    )
    server.client("kms").put_key_policy(KeyId=key_id, PolicyName="default", Policy=naming)
    nobody = new_user(iam, "key-only")  # no IAM policy: the key policy alone allows its principal
    with pytest.raises(ClientError):
        signed_as(server, "kms", nobody).encrypt(KeyId=key_id, Plaintext=b"secret")
    assert kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
