"""Lambda function policies through boto3: AddPermission / RemovePermission / GetPolicy lay the policy out
as Lambda does, keep it across a restart, and, under `auth = "iam"`, a statement naming a role lets that
role invoke the function with no identity permission of its own (same account), until it is removed."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer

ACCOUNT = "000000000000"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:guarded"
ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'echo': event}\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("lambda-policy") / "data") as running:
        iam = running.client("iam")
        iam.create_role(RoleName="caller", AssumeRolePolicyDocument=ROLE_TRUST)
        iam.create_role(
            RoleName="runner",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        # the user may assume roles, and nothing else
        iam.create_user(UserName="dave")
        iam.put_user_policy(
            UserName="dave", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole"))
        )
        running.client("lambda").create_function(
            FunctionName="guarded",
            Runtime="python3.11",
            Role=f"arn:aws:iam::{ACCOUNT}:role/runner",
            Handler="app.handler",
            Code={"ZipFile": package()},
            Timeout=30,
        )
        yield running


def as_role(server: RunningServer, role: str) -> Any:
    key = server.client("iam").create_access_key(UserName="dave")["AccessKey"]
    sts = signed_as(server, "sts", key)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="tester")
    return signed_as(server, "lambda", credentials["Credentials"])


def test_add_permission_lays_out_statements_as_lambda_does(server: RunningServer) -> None:
    lam = server.client("lambda")
    assert error_of(lam.get_policy, FunctionName="guarded") == {
        "Code": "ResourceNotFoundException",
        "Message": "The resource you requested does not exist.",
        "Status": 404,
    }
    added = lam.add_permission(
        FunctionName="guarded",
        StatementId="s3-events",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket",
        SourceAccount=ACCOUNT,
    )
    statement = json.loads(added["Statement"])
    assert list(statement) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Resource"] == FUNCTION_ARN
    assert statement["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": ACCOUNT},
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
    }
    lam.add_permission(
        FunctionName="guarded", StatementId="acct", Action="lambda:GetFunction", Principal=ACCOUNT
    )
    got = lam.get_policy(FunctionName="guarded")
    document = json.loads(got["Policy"])
    assert document["Version"] == "2012-10-17" and document["Id"] == "default"
    assert [s["Sid"] for s in document["Statement"]] == ["s3-events", "acct"]
    assert document["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert got["RevisionId"]

    duplicate = error_of(
        lam.add_permission,
        FunctionName="guarded",
        StatementId="acct",
        Action="lambda:InvokeFunction",
        Principal=ACCOUNT,
    )
    assert duplicate["Code"] == "ResourceConflictException" and duplicate["Status"] == 409
    assert "statement id (sid) provided already exists" in duplicate["Message"]
    stale = error_of(lam.remove_permission, FunctionName="guarded", StatementId="acct", RevisionId="not-it")
    assert stale["Code"] == "PreconditionFailedException" and stale["Status"] == 412
    lam.remove_permission(FunctionName="guarded", StatementId="acct", RevisionId=got["RevisionId"])
    missing = error_of(lam.remove_permission, FunctionName="guarded", StatementId="acct")
    assert missing["Code"] == "ResourceNotFoundException"
    lam.remove_permission(FunctionName="guarded", StatementId="s3-events")
    assert error_of(lam.get_policy, FunctionName="guarded")["Code"] == "ResourceNotFoundException"


def test_bad_permissions_are_refused(server: RunningServer) -> None:
    lam = server.client("lambda")
    common = {"StatementId": "x", "Action": "lambda:InvokeFunction"}
    bad_principal = error_of(lam.add_permission, FunctionName="guarded", Principal="nobody", **common)
    assert bad_principal["Code"] == "InvalidParameterValueException"
    assert (
        bad_principal["Message"]
        == "The provided principal was invalid. Please check the principal and try again."
    )
    latest = error_of(
        lam.add_permission, FunctionName="guarded", Principal=ACCOUNT, Qualifier="$LATEST", **common
    )
    assert latest == {
        "Code": "InvalidParameterValueException",
        "Message": "We currently do not support adding policies for $LATEST.",
        "Status": 400,
    }
    version = error_of(lam.add_permission, FunctionName="guarded", Principal=ACCOUNT, Qualifier="1", **common)
    assert version["Code"] == "ResourceNotFoundException" and version["Message"].endswith(
        "function:guarded:1"
    )
    nothing = error_of(lam.add_permission, FunctionName="nothing-here", Principal=ACCOUNT, **common)
    assert nothing["Code"] == "ResourceNotFoundException"


def test_the_function_policy_admits_a_role_without_identity_permission(server: RunningServer) -> None:
    caller = as_role(server, "caller")
    denied = error_of(caller.invoke, FunctionName="guarded", Payload=b'{"n": 1}')
    assert denied["Code"] == "AccessDeniedException" and denied["Status"] == 403
    assert "no identity-based policy allows the lambda:InvokeFunction action" in denied["Message"]
    lam = server.client("lambda")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/caller"
    lam.add_permission(
        FunctionName="guarded", StatementId="caller", Action="lambda:InvokeFunction", Principal=role_arn
    )
    response = caller.invoke(FunctionName="guarded", Payload=b'{"n": 2}')
    assert json.loads(response["Payload"].read()) == {"echo": {"n": 2}}
    # the statement allows InvokeFunction only, and naming the account delegates to (absent) identity policies
    assert error_of(caller.get_function, FunctionName="guarded")["Code"] == "AccessDeniedException"
    lam.add_permission(
        FunctionName="guarded", StatementId="acct", Action="lambda:GetFunction", Principal=ACCOUNT
    )
    assert error_of(caller.get_function, FunctionName="guarded")["Code"] == "AccessDeniedException"
    lam.remove_permission(FunctionName="guarded", StatementId="acct")
    lam.remove_permission(FunctionName="guarded", StatementId="caller")
    assert error_of(caller.invoke, FunctionName="guarded", Payload=b"{}")["Code"] == "AccessDeniedException"


def test_a_source_arn_condition_does_not_admit_a_direct_caller(server: RunningServer) -> None:
    caller = as_role(server, "caller")
    lam = server.client("lambda")
    lam.add_permission(
        FunctionName="guarded",
        StatementId="only-from-bucket",
        Action="lambda:InvokeFunction",
        Principal=f"arn:aws:iam::{ACCOUNT}:role/caller",
        SourceArn="arn:aws:s3:::my-bucket",
    )
    try:
        assert (
            error_of(caller.invoke, FunctionName="guarded", Payload=b"{}")["Code"] == "AccessDeniedException"
        )
    finally:
        lam.remove_permission(FunctionName="guarded", StatementId="only-from-bucket")


def test_the_policy_survives_a_restart_and_goes_with_the_function(server: RunningServer) -> None:
    lam = server.client("lambda")
    lam.add_permission(
        FunctionName="guarded", StatementId="kept", Action="lambda:InvokeFunction", Principal=ACCOUNT
    )
    before = lam.get_policy(FunctionName="guarded")
    server.restart()
    lam = server.client("lambda")
    after = lam.get_policy(FunctionName="guarded")
    assert after == {**after, "Policy": before["Policy"], "RevisionId": before["RevisionId"]}
    lam.delete_function(FunctionName="guarded")
    lam.create_function(
        FunctionName="guarded",
        Runtime="python3.11",
        Role=f"arn:aws:iam::{ACCOUNT}:role/runner",
        Handler="app.handler",
        Code={"ZipFile": package()},
    )
    assert error_of(lam.get_policy, FunctionName="guarded")["Code"] == "ResourceNotFoundException"


def test_cross_account_invocation_needs_both_the_function_policy_and_an_identity_policy() -> None:
    """AWS's rule across accounts, on the evaluation the authorizer runs (one server is one account)."""
    from outcrop.iam.evaluate import Principal, evaluate
    from outcrop.iam.policy import parse_policy

    other = "111122223333"
    role = f"arn:aws:iam::{other}:role/caller"
    identity = parse_policy(policy(allow("lambda:InvokeFunction")))

    def caller(*policies: Any) -> Principal:
        arn = f"arn:aws:sts::{other}:assumed-role/caller/s"
        return Principal("assumed-role", arn, other, "AROA:s", "caller", role, tuple(policies))

    def decide(principal: Principal, named: Any) -> bool:
        statement = {
            "Sid": "x",
            "Effect": "Allow",
            "Principal": {"AWS": named},
            "Action": "lambda:InvokeFunction",
        }
        document = json.dumps(
            {"Version": "2012-10-17", "Statement": [{**statement, "Resource": FUNCTION_ARN}]}
        )
        found = parse_policy(document, "resource") if named else None
        return evaluate(
            principal, "lambda:InvokeFunction", FUNCTION_ARN, {}, found, cross_account=True
        ).allowed

    assert decide(caller(identity), role)
    assert decide(caller(identity), other)  # naming the account delegates to its identity policies
    assert not decide(caller(), role)  # the function's policy alone does not do across accounts
    assert not decide(caller(identity), None)  # nor the caller's identity policy alone
    assert not decide(caller(identity), f"arn:aws:iam::{other}:role/someone-else")
