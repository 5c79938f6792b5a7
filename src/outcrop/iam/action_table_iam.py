"""The IAM action and resource of IAM's account, MFA, service-linked role and rename operations, and of
STS's GetAccessKeyInfo, beside `action_table`, which merges them into its IAM and STS rules."""

from __future__ import annotations

Rule = tuple[str, str]


def _same(template: str, *operations: str) -> dict[str, Rule]:
    return {operation: ("", template) for operation in operations}


_IAM = "arn:aws:iam::{A}"
_USER = _IAM + ":user/{UserName}"
_MFA = "{SerialNumber}"
_PROFILE = _IAM + ":instance-profile/{InstanceProfileName}"

IAM_MORE: dict[str, Rule] = {
    **_same("*", "CreateAccountAlias", "DeleteAccountAlias", "ListAccountAliases", "GetAccountSummary"),
    **_same("*", "GetAccountPasswordPolicy", "UpdateAccountPasswordPolicy", "ListSAMLProviders"),
    **_same("*", "DeleteAccountPasswordPolicy", "GenerateCredentialReport", "GetCredentialReport"),
    "CreateVirtualMFADevice": ("", _IAM + ":mfa/{VirtualMFADeviceName}"),
    **_same(_MFA, "DeleteVirtualMFADevice", "TagMFADevice", "UntagMFADevice", "ListMFADeviceTags"),
    **_same(_USER, "EnableMFADevice", "ResyncMFADevice", "DeactivateMFADevice", "ListMFADevices"),
    **_same(_USER, "GetMFADevice", "UpdateUser"),
    "ListVirtualMFADevices": ("", _IAM + ":mfa/*"),
    "CreateServiceLinkedRole": ("", _IAM + ":role/aws-service-role/{AWSServiceName}/*"),
    "DeleteServiceLinkedRole": ("", _IAM + ":role/{RoleName}"),
    "GetServiceLinkedRoleDeletionStatus": ("", "*"),
    "UpdateGroup": ("", _IAM + ":group/{GroupName}"),
    "UpdateRoleDescription": ("", _IAM + ":role/{RoleName}"),
    **_same(_PROFILE, "CreateInstanceProfile", "GetInstanceProfile", "DeleteInstanceProfile"),
    **_same(_PROFILE, "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile", "TagInstanceProfile"),
    **_same(_PROFILE, "UntagInstanceProfile", "ListInstanceProfileTags"),
    "ListInstanceProfiles": ("", _IAM + ":instance-profile/*"),
    "ListInstanceProfilesForRole": ("", _IAM + ":role/{RoleName}"),
    **_same(_USER, "CreateLoginProfile", "GetLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile"),
    "ChangePassword": ("", _IAM + ":user/*"),
}

STS_MORE: dict[str, Rule] = {
    "GetAccessKeyInfo": ("", "*"),
    "GetFederationToken": ("", "arn:aws:sts::{A}:federated-user/{Name}"),
}
