"""Service-linked roles, UpdateUser/UpdateGroup/UpdateRoleDescription and STS GetAccessKeyInfo through
boto3 on an `auth = "iam"` server."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from outcrop.services.iam.roles_more import SERVICE_ROLES
from tests.iam.fixtures import allow, error, module_iam_server, policy, signed_as, trust
from tests.server import RunningServer

ACCOUNT = "000000000000"
SAGEMAKER_ROLE = "AWSServiceRoleForAmazonSageMakerNotebooks"


server, iam = module_iam_server("iam-roles")


def test_a_service_linked_role_is_named_and_placed_as_aws_does(iam: Any) -> None:
    role = iam.create_service_linked_role(AWSServiceName="sagemaker.amazonaws.com")["Role"]
    assert role["RoleName"] == SAGEMAKER_ROLE
    assert role["Path"] == "/aws-service-role/sagemaker.amazonaws.com/"
    assert (
        role["Arn"]
        == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.amazonaws.com/{SAGEMAKER_ROLE}"
    )
    trust = iam.get_role(RoleName=SAGEMAKER_ROLE)["Role"]["AssumeRolePolicyDocument"]  # boto3 decodes it
    assert trust["Statement"][0]["Principal"] == {"Service": ["sagemaker.amazonaws.com"]}
    with pytest.raises(ClientError) as raised:
        iam.create_service_linked_role(AWSServiceName="sagemaker.amazonaws.com")
    assert error(raised) == (
        "InvalidInput",
        f"Service role name {SAGEMAKER_ROLE} has been taken in this account, please try a different suffix.",
        400,
    )
    with pytest.raises(ClientError) as raised:
        iam.create_service_linked_role(AWSServiceName="sagemaker.amazonaws.com", CustomSuffix="two")
    assert error(raised)[:2] == ("InvalidInput", "Custom suffix is not allowed for sagemaker.amazonaws.com")
    suffixed = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web")
    assert suffixed["Role"]["RoleName"] == "AWSServiceRoleForAutoScaling_web"
    with pytest.raises(ClientError) as raised:
        iam.create_service_linked_role(AWSServiceName="made-up.amazonaws.com")
    assert error(raised)[0] == "InvalidInput"


def test_only_its_service_changes_a_service_linked_role(iam: Any) -> None:
    name = "AWSServiceRoleForECS"
    iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    protected = (
        f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    )
    calls = [
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust("ec2.amazonaws.com")),
        lambda: iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=policy(allow("s3:*"))),
        lambda: iam.attach_role_policy(
            RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        ),
        lambda: iam.put_role_permissions_boundary(
            RoleName=name, PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as raised:
            call()
        assert error(raised) == ("UnmodifiableEntity", protected, 400)
    described = iam.update_role_description(RoleName=name, Description="for the cluster")["Role"]
    assert described["Description"] == "for the cluster"
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/ecs.amazonaws.com/{name}/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as raised:
        iam.get_role(RoleName=name)
    assert error(raised)[0] == "NoSuchEntity"
    iam.create_role(RoleName="plain", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    with pytest.raises(ClientError) as raised:
        iam.delete_service_linked_role(RoleName="plain")
    assert error(raised)[0] == "InvalidInput"


def test_a_service_linked_role_carries_its_services_managed_policy(iam: Any, server: RunningServer) -> None:
    """Read as AWS's service-linked role demo reads it: the role's attached policy, then its default
    version's document (boto3's resource API)."""
    session = boto3.Session(
        aws_access_key_id="AKIAOUTCROPTEST", aws_secret_access_key="test-secret", region_name="us-east-1"
    )
    resource = session.resource("iam", endpoint_url=server.endpoint)
    made = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
    attached = list(resource.Role(made["RoleName"]).attached_policies.all())
    arn = "arn:aws:iam::aws:policy/aws-service-role/AWSElasticBeanstalkServiceRolePolicy"
    assert [p.arn for p in attached] == [arn]
    assert attached[0].default_version.document["Statement"][0]["Effect"] == "Allow"
    described = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (described["Path"], described["AttachmentCount"]) == ("/aws-service-role/", 1)
    iam.delete_service_linked_role(RoleName=made["RoleName"])
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    # AWS's names for the roles Outcrop's own services use
    for service, name in [
        ("sagemaker.amazonaws.com", "AmazonSageMakerNotebooksServiceRolePolicy"),
        (
            "sagemaker.application-autoscaling.amazonaws.com",
            "AWSApplicationAutoscalingSageMakerEndpointPolicy",
        ),
        ("cloudtrail.amazonaws.com", "CloudTrailServiceRolePolicy"),
    ]:
        role = SERVICE_ROLES[service][0]
        if service != "sagemaker.amazonaws.com":  # made by the first test
            iam.create_service_linked_role(AWSServiceName=service)
        policies = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert policies == [
            {"PolicyName": name, "PolicyArn": f"arn:aws:iam::aws:policy/aws-service-role/{name}"}
        ]
    scaling = "arn:aws:iam::aws:policy/aws-service-role/AWSApplicationAutoscalingSageMakerEndpointPolicy"
    version = iam.get_policy_version(PolicyArn=scaling, VersionId="v1")["PolicyVersion"]
    assert "sagemaker:UpdateEndpointWeightsAndCapacities" in version["Document"]["Statement"][0]["Action"]
    # every service-linked role Outcrop makes carries one, listed among the AWS managed policies
    listed = iam.list_policies(Scope="AWS", PathPrefix="/aws-service-role/")["Policies"]
    assert len(listed) == len(SERVICE_ROLES)
    for policy_row in listed:
        document = iam.get_policy_version(PolicyArn=policy_row["Arn"], VersionId="v1")["PolicyVersion"]
        assert document["Document"]["Statement"]


def test_a_service_role_policy_attaches_to_no_one_else(iam: Any) -> None:
    iam.create_role(RoleName="customer", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    iam.create_user(UserName="customer")
    arn = "arn:aws:iam::aws:policy/aws-service-role/AmazonSageMakerNotebooksServiceRolePolicy"
    for call in (
        lambda: iam.attach_role_policy(RoleName="customer", PolicyArn=arn),
        lambda: iam.attach_user_policy(UserName="customer", PolicyArn=arn),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert error(raised) == (
            "PolicyNotAttachable",
            "Cannot attach a Service Role Policy to a Customer Role.",
            400,
        )
    assert iam.list_attached_role_policies(RoleName="customer")["AttachedPolicies"] == []
    with pytest.raises(ClientError) as raised:  # nor leaves the role it belongs to
        iam.detach_role_policy(RoleName=SAGEMAKER_ROLE, PolicyArn=arn)
    assert error(raised)[0] == "UnmodifiableEntity"


def test_update_user_renames_and_moves_keeping_keys_groups_and_policies(
    iam: Any, server: RunningServer
) -> None:
    iam.create_user(UserName="before")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="before")
    iam.put_user_policy(UserName="before", PolicyName="p", PolicyDocument=policy(allow("iam:GetUser")))
    iam.tag_user(UserName="before", Tags=[{"Key": "team", "Value": "a"}])
    key = iam.create_access_key(UserName="before")["AccessKey"]
    iam.update_user(UserName="before", NewUserName="after", NewPath="/moved/")
    user = iam.get_user(UserName="after")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/moved/after"
    assert user["Tags"] == [{"Key": "team", "Value": "a"}]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="after")["AccessKeyMetadata"]] == [
        key["AccessKeyId"]
    ]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="after")["Groups"]] == ["readers"]
    assert iam.list_user_policies(UserName="after")["PolicyNames"] == ["p"]
    me = signed_as(server, "iam", key).get_user(UserName="after")["User"]  # its key, now the renamed user's
    assert me["UserName"] == "after"
    with pytest.raises(ClientError) as raised:
        iam.get_user(UserName="before")
    assert error(raised)[0] == "NoSuchEntity"
    iam.create_user(UserName="taken")
    with pytest.raises(ClientError) as raised:
        iam.update_user(UserName="after", NewUserName="TAKEN")
    assert error(raised)[0] == "EntityAlreadyExists"
    iam.update_group(GroupName="readers", NewGroupName="viewers")
    assert [u["UserName"] for u in iam.get_group(GroupName="viewers")["Users"]] == ["after"]


def test_get_access_key_info_names_the_account_of_keys_it_holds(iam: Any, server: RunningServer) -> None:
    sts = server.client("sts")
    assert (
        sts.get_caller_identity()["Account"] == ACCOUNT
    )  # the root key (15 characters: under the model's 16)
    iam.create_user(UserName="keyed")
    key = iam.create_access_key(UserName="keyed")["AccessKey"]
    assert sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == ACCOUNT
    with pytest.raises(ClientError) as raised:
        sts.get_access_key_info(AccessKeyId="AKIAUNKNOWNKEY000000")
    assert error(raised)[0] == "ValidationError"


def test_service_linked_roles_survive_a_restart(iam: Any, server: RunningServer) -> None:
    iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com")
    server.restart()
    again = server.client("iam")
    with pytest.raises(ClientError) as raised:
        again.delete_role(RoleName="AWSServiceRoleForRDS")
    assert error(raised)[0] == "UnmodifiableEntity"
