"""The policy language: IAM's MalformedPolicyDocument sentences, and AWS's documented evaluation examples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.evaluate import Principal, evaluate, trusts
from outcrop.iam.policy import Policy, parse_policy

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
MODEL = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body["Version"] = version
    return json.dumps(body)


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user(*documents: str, name: str = "alice") -> Principal:
    policies = tuple(parse_policy(d) for d in documents)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    return Principal("user", arn, ACCOUNT, "AIDAEXAMPLE", name, identity=policies)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("This is not a json document", "Syntax errors in policy."),
        (
            json.dumps({"Statement": [allow("s3:ListBucket")]}),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            doc(allow("s3:ListBucket"), version="2008-10-17"),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (doc(allow("s3:ListBucket"), version="2013-01-01"), "Syntax errors in policy."),
        (doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
        (doc({"Effect": "Allow", "Action": "s3:GetObject"}), "Policy statement must contain resources."),
        (doc({"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}), "Syntax errors in policy."),
        (
            doc(allow("s3:GetObject", Condition={"StringEqualz": {"aws:username": "x"}})),
            "Syntax errors in policy.",
        ),
        (doc(allow("s3:GetObject", "bucket")), 'Resource bucket must be in ARN format or "*".'),
        (
            doc(allow("GetObject")),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (doc(allow("s3:Get:Object")), "Actions/Condition can contain only one colon."),
        (
            doc(allow("s3:*", Sid="a"), allow("ec2:*", Sid="a")),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            doc(allow("s3:*", Principal={"AWS": ALICE})),
            "Policy document should not specify a principal.",
        ),
        (
            doc(allow("iam:GetUser", "arn:aws:iam:us-east-1:123456789012:user/x")),
            "IAM resource arn:aws:iam:us-east-1:123456789012:user/x cannot contain region information.",
        ),
        (
            doc(allow("s3:GetObject", "arn:aws:s3:us-east-1::bucket/x")),
            "Resource arn:aws:s3:us-east-1::bucket/x can not contain region information.",
        ),
    ],
)
def test_malformed_policies_are_refused_with_iams_words(document: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(document)
    assert raised.value.message == message
    assert raised.value.code == "MalformedPolicyDocument" and raised.value.status == 400


def test_trust_policies_need_a_principal_and_no_resource() -> None:
    with pytest.raises(MalformedPolicyDocument, match=r"Has prohibited field Resource\."):
        parse_policy(doc(allow("sts:AssumeRole", Principal={"Service": "lambda.amazonaws.com"})), "trust")
    with pytest.raises(MalformedPolicyDocument, match="Trust Policy statement actions can only be"):
        parse_policy(doc({"Effect": "Allow", "Action": "s3:*", "Principal": "*"}), "trust")


def test_default_deny_and_allow() -> None:
    alice = user(doc(allow("bedrock:InvokeModel", MODEL)))
    assert evaluate(alice, "bedrock:InvokeModel", MODEL, {}).allowed
    other = MODEL.replace("amazon.titan-text-express-v1", "anthropic.claude-v2")
    denied = evaluate(alice, "bedrock:InvokeModel", other, {})
    assert not denied.allowed
    assert denied.message(alice, "bedrock:InvokeModel", other) == (
        f"User: {ALICE} is not authorized to perform: bedrock:InvokeModel on resource: {other} "
        "because no identity-based policy allows the bedrock:InvokeModel action"
    )


def test_an_explicit_deny_overrides_any_allow() -> None:
    # AWS's example: full S3 access from one policy, a deny of one bucket in another.
    alice = user(doc(allow("s3:*")), doc(deny("s3:*", ["arn:aws:s3:::secret", "arn:aws:s3:::secret/*"])))
    assert evaluate(alice, "s3:GetObject", "arn:aws:s3:::public/a", {}).allowed
    decision = evaluate(alice, "s3:GetObject", "arn:aws:s3:::secret/a", {})
    assert not decision.allowed
    assert decision.message(alice, "s3:GetObject", "arn:aws:s3:::secret/a").endswith(
        "with an explicit deny in an identity-based policy"
    )


def test_not_action_allows_everything_but_iam() -> None:
    # AWS's NotAction example: allow all services except IAM.
    alice = user(doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
    assert evaluate(alice, "s3:PutObject", "arn:aws:s3:::b/k", {}).allowed
    assert not evaluate(alice, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/bob", {}).allowed


def test_deny_not_action_without_mfa() -> None:
    # AWS's example: deny everything but IAM self-service unless signed in with MFA (BoolIfExists).
    policy = doc(
        allow("*"),
        {
            "Effect": "Deny",
            "NotAction": ["iam:ListUsers", "iam:GetUser"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )
    alice = user(policy)
    assert not evaluate(alice, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed  # key absent: IfExists holds
    assert evaluate(alice, "iam:GetUser", ALICE, {}).allowed
    mfa = {"aws:multifactorauthpresent": ["true"]}
    assert evaluate(alice, "s3:GetObject", "arn:aws:s3:::b/k", mfa).allowed


def test_not_resource_and_wildcards() -> None:
    alice = user(doc({"Effect": "Allow", "Action": "s3:Get*", "NotResource": "arn:aws:s3:::private*"}))
    assert evaluate(alice, "s3:GetObject", "arn:aws:s3:::shared/x", {}).allowed
    assert evaluate(alice, "S3:GETOBJECT", "arn:aws:s3:::shared/x", {}).allowed  # actions ignore case
    assert not evaluate(alice, "s3:GetObject", "arn:aws:s3:::private-1/x", {}).allowed
    assert not evaluate(alice, "s3:PutObject", "arn:aws:s3:::shared/x", {}).allowed


def test_conditions_on_global_keys() -> None:
    policy = doc(
        allow(
            "bedrock:InvokeModel",
            Condition={
                "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.7"]},
                "StringEquals": {"aws:RequestedRegion": "us-east-1"},
                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            },
        )
    )
    alice = user(policy)
    good = {
        "aws:sourceip": ["10.1.2.3"],
        "aws:requestedregion": ["us-east-1"],
        "aws:currenttime": ["2026-12-06T00:00:00Z"],
    }
    assert evaluate(alice, "bedrock:InvokeModel", MODEL, good).allowed
    assert not evaluate(alice, "bedrock:InvokeModel", MODEL, {**good, "aws:sourceip": ["172.16.0.1"]}).allowed
    assert not evaluate(
        alice, "bedrock:InvokeModel", MODEL, {**good, "aws:requestedregion": ["eu-west-1"]}
    ).allowed
    late = {**good, "aws:currenttime": ["2031-01-01T00:00:00Z"]}
    assert not evaluate(alice, "bedrock:InvokeModel", MODEL, late).allowed
    assert not evaluate(alice, "bedrock:InvokeModel", MODEL, {}).allowed  # missing keys fail


def test_policy_variables_numeric_null_and_negated_operators() -> None:
    home = doc(
        allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"),
        allow(
            "s3:ListBucket",
            "arn:aws:s3:::home",
            Condition={"StringLike": {"s3:prefix": ["${aws:username}/*"]}},
        ),
    )
    alice, bob = user(home), user(home, name="bob")
    assert evaluate(alice, "s3:GetObject", "arn:aws:s3:::home/alice/a", {}).allowed
    assert not evaluate(bob, "s3:GetObject", "arn:aws:s3:::home/alice/a", {}).allowed
    assert evaluate(alice, "s3:ListBucket", "arn:aws:s3:::home", {"s3:prefix": ["alice/x"]}).allowed
    assert not evaluate(alice, "s3:ListBucket", "arn:aws:s3:::home", {"s3:prefix": ["bob/"]}).allowed
    capped = user(doc(allow("s3:ListBucket", Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})))
    assert evaluate(capped, "s3:ListBucket", "arn:aws:s3:::b", {"s3:max-keys": ["5"]}).allowed
    assert not evaluate(capped, "s3:ListBucket", "arn:aws:s3:::b", {"s3:max-keys": ["50"]}).allowed
    tagged = user(doc(allow("s3:*", Condition={"Null": {"aws:TokenIssueTime": "false"}})))
    assert not evaluate(tagged, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed
    assert evaluate(tagged, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:tokenissuetime": ["x"]}).allowed
    outside = user(doc(allow("s3:*", Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}})))
    assert evaluate(outside, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed  # negated + missing: holds
    assert not evaluate(
        outside, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:requestedregion": ["eu-west-1"]}
    ).allowed
    arn = user(
        doc(allow("iam:PassRole", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/al*"}}))
    )
    assert evaluate(arn, "iam:PassRole", "*", {}).allowed


def test_resource_policies_cross_identities() -> None:
    # AWS's example: a resource policy naming a principal allows it with no identity policy at all;
    # naming the account only delegates to the account's identity policies.
    bucket: Policy = parse_policy(
        doc(allow("s3:GetObject", "arn:aws:s3:::shared/*", Principal={"AWS": ALICE})), "resource"
    )
    account: Policy = parse_policy(
        doc(allow("s3:GetObject", "arn:aws:s3:::shared/*", Principal={"AWS": ACCOUNT})), "resource"
    )
    alice, bob = user(), user(name="bob")
    assert evaluate(alice, "s3:GetObject", "arn:aws:s3:::shared/x", {}, bucket).allowed
    assert not evaluate(bob, "s3:GetObject", "arn:aws:s3:::shared/x", {}, bucket).allowed
    assert not evaluate(alice, "s3:GetObject", "arn:aws:s3:::shared/x", {}, account).allowed
    denying = parse_policy(doc(deny("s3:*", "arn:aws:s3:::shared/*", Principal="*")), "resource")
    decision = evaluate(user(doc(allow("s3:*"))), "s3:GetObject", "arn:aws:s3:::shared/x", {}, denying)
    assert not decision.allowed and decision.reason == "explicit deny in a resource-based policy"


def test_session_policies_intersect_with_the_role() -> None:
    role_policy = parse_policy(doc(allow(["s3:*", "bedrock:*"])))
    session_policy = parse_policy(doc(allow("s3:GetObject")))
    session = Principal(
        "assumed-role",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        ACCOUNT,
        "AROAEXAMPLE:s",
        "r",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/r",
        identity=(role_policy,),
        session=(session_policy,),
    )
    assert evaluate(session, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed
    assert not evaluate(session, "bedrock:InvokeModel", MODEL, {}).allowed  # role allows, session does not
    assert not evaluate(session, "iam:ListUsers", "*", {}).allowed  # session allows nothing the role lacks


def test_trust_policies_name_principals_services_or_the_account() -> None:
    trust = parse_policy(
        doc(
            {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"},
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            version="2012-10-17",
        ),
        "trust",
    )
    assert trusts(trust, user(), {})
    assert not trusts(trust, user(name="bob"), {})
    assert trusts(trust, Principal("service", "sagemaker.amazonaws.com", ACCOUNT, "sagemaker"), {})
    whole = parse_policy(
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
        "trust",
    )
    assert trusts(whole, user(name="bob"), {})
    root = Principal("root", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT)
    assert evaluate(root, "anything:AtAll", "*", {}).allowed


def test_a_required_resource_policy_must_allow_or_delegate() -> None:
    # KMS: the key policy decides; naming the account lets IAM policies decide too.
    key = "arn:aws:kms:us-east-1:123456789012:key/k1"
    delegating = parse_policy(
        doc(allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), "resource"
    )
    closed = parse_policy(
        doc(allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"})), "resource"
    )
    alice = user(doc(allow("kms:Encrypt")))
    assert evaluate(alice, "kms:Encrypt", key, {}, delegating, resource_required=True).allowed
    refused = evaluate(alice, "kms:Encrypt", key, {}, closed, resource_required=True)
    assert not refused.allowed
    assert refused.message(alice, "kms:Encrypt", key).endswith(
        "because no resource-based policy allows the kms:Encrypt action"
    )
    assert evaluate(user(name="bob"), "kms:Encrypt", key, {}, closed, resource_required=True).allowed


def test_a_boundary_bounds_resource_policies_naming_the_role_not_the_session() -> None:
    """AWS's evaluation logic: with a boundary that does not allow the action, a resource policy that
    names a user or a role session's own ARN still admits it; one naming the role does not."""
    role = f"arn:aws:iam::{ACCOUNT}:role/worker"
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/job"
    bucket = "arn:aws:s3:::data/k"
    principal = Principal(
        "assumed-role",
        session_arn,
        ACCOUNT,
        "AROAEXAMPLE:job",
        "worker",
        role_arn=role,
        identity=(parse_policy(doc(allow("s3:GetObject"))),),
        boundary=(parse_policy(doc(allow("sqs:*"))),),
    )
    context: dict[str, list[str]] = {}
    assert evaluate(principal, "s3:GetObject", bucket, context).reason == "no permissions boundary allows"

    def naming(arn: str) -> Policy:
        return parse_policy(doc(allow("s3:GetObject", bucket, Principal={"AWS": arn})), "resource")

    assert evaluate(principal, "s3:GetObject", bucket, context, naming(session_arn)).allowed
    assert not evaluate(principal, "s3:GetObject", bucket, context, naming(role)).allowed
    denied = Principal(
        "user", ALICE, ACCOUNT, "AIDAEXAMPLE", "alice", boundary=(parse_policy(doc(deny("s3:*"))),)
    )
    decision = evaluate(denied, "s3:GetObject", bucket, context, naming(ALICE))
    assert not decision.allowed and decision.reason == "explicit deny in a permissions boundary"
