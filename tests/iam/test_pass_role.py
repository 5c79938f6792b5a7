"""iam:PassRole under `auth = "iam"`, through boto3: a user may hand a role to a service (a Lambda function's
execution role, a SageMaker job's RoleArn) only where a policy lets them pass that role to that service
(`iam:PassedToService`); the account root and IAM's own role operations need no such permission."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import allow, iam_server, policy, signed_as, trust
from tests.server import RunningServer

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn-role"


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'ok'\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with iam_server(tmp_path_factory.mktemp("pass-role") / "data") as running:
        running.client("iam").create_role(
            RoleName="fn-role", AssumeRolePolicyDocument=trust("lambda.amazonaws.com")
        )
        yield running


def user_with(server: RunningServer, name: str, *statements: dict[str, Any]) -> dict[str, Any]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def create_function(lam: Any, name: str) -> None:
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Code={"ZipFile": package()}
    )


def test_handing_a_role_to_lambda_needs_pass_role_to_lambda(server: RunningServer) -> None:
    bare = signed_as(server, "lambda", user_with(server, "no-pass", allow("lambda:*")))
    denied = error_of(create_function, lam=bare, name="f-denied")
    assert denied["Code"] == "AccessDeniedException" and denied["Status"] == 403
    assert "iam:PassRole" in denied["Message"] and ROLE in denied["Message"]

    to_sagemaker = allow(
        "iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    )
    elsewhere = signed_as(
        server, "lambda", user_with(server, "pass-elsewhere", allow("lambda:*"), to_sagemaker)
    )
    assert "iam:PassRole" in error_of(create_function, lam=elsewhere, name="f-elsewhere")["Message"]

    to_lambda = allow(
        "iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    )
    passing = signed_as(server, "lambda", user_with(server, "pass-lambda", allow("lambda:*"), to_lambda))
    create_function(passing, "f-allowed")
    assert passing.get_function(FunctionName="f-allowed")["Configuration"]["Role"] == ROLE


def test_the_root_passes_any_role_and_iam_role_operations_pass_none(server: RunningServer) -> None:
    create_function(server.client("lambda"), "f-root")
    reader = signed_as(server, "iam", user_with(server, "role-reader", allow("iam:GetRole")))
    assert reader.get_role(RoleName="fn-role")["Role"]["Arn"] == ROLE
