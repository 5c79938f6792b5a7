"""Function options Outcrop cannot honour are refused by name; defaults and empty values are accepted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_lambda_deploy import ROLE, _create, _package

REFUSED_ON_CREATE: list[tuple[str, Any]] = [
    ("VpcConfig", {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}),
    ("DeadLetterConfig", {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}),
    ("KMSKeyArn", "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("Layers", ["arn:aws:lambda:us-east-1:000000000000:layer:deps:1"]),
    (
        "FileSystemConfigs",
        [
            {
                "Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-0123456789abcdef0",
                "LocalMountPath": "/mnt/efs",
            }
        ],
    ),
    ("ImageConfig", {"Command": ["app.handler"]}),
    ("SnapStart", {"ApplyOn": "PublishedVersions"}),
    (
        "CodeSigningConfigArn",
        "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0",
    ),
    ("PublishTo", "LATEST_PUBLISHED"),
    ("TenancyConfig", {"TenantIsolationMode": "PER_TENANT"}),
    ("DurableConfig", {"RetentionPeriodInDays": 7}),
    ("AcceleratorConfig", {"AcceleratorMemorySize": 16}),
]


@pytest.mark.parametrize(("member", "value"), REFUSED_ON_CREATE, ids=[m for m, _ in REFUSED_ON_CREATE])
def test_create_refuses_what_it_cannot_honour(server: RunningServer, member: str, value: Any) -> None:
    lam = server.client("lambda")
    error = error_of(
        lam.create_function,
        FunctionName="refused",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _package("v1")},
        **{member: value},
    )
    assert error["Code"] == "InvalidParameterValueException" and error["Status"] == 400
    assert member in error["Message"] and "does not serve" in error["Message"]
    assert "refused" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


def test_defaults_and_empty_values_are_accepted(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(
        lam,
        _package("v1"),
        Publish=False,
        VpcConfig={"SubnetIds": [], "SecurityGroupIds": []},
        DeadLetterConfig={},
        Layers=[],
        FileSystemConfigs=[],
        SnapStart={"ApplyOn": "None"},
    )
    lam.update_function_configuration(FunctionName=name, KMSKeyArn="", Layers=[], VpcConfig={"SubnetIds": []})
    lam.update_function_code(
        FunctionName=name, ZipFile=_package("v2"), Publish=False, S3ObjectStorageMode="COPY"
    )
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 2}).encode())
    assert json.loads(response["Payload"].read())["version"] == "v2"


def test_updates_and_invocations_refuse_what_they_cannot_honour(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(lam, _package("v1"))
    for call, extra in [
        (lam.update_function_configuration, {"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:x:1"]}),
        (
            lam.update_function_configuration,
            {"DeadLetterConfig": {"TargetArn": "arn:aws:sns:us-east-1:000000000000:topic"}},
        ),
        (lam.update_function_code, {"ZipFile": _package("v2"), "PublishTo": "LATEST_PUBLISHED"}),
        (lam.update_function_code, {"ZipFile": _package("v2"), "S3ObjectStorageMode": "REFERENCE"}),
        (lam.invoke, {"TenantId": "tenant-1"}),
    ]:
        error = error_of(call, FunctionName=name, **extra)
        assert error["Code"] == "InvalidParameterValueException", (extra, error)
        assert next(iter(extra.keys() - {"ZipFile"})) in error["Message"]
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 1}).encode())
    assert json.loads(response["Payload"].read())["version"] == "v1"  # nothing above changed the function


def test_list_functions_filters(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(lam, _package("v1"))
    assert name in [f["FunctionName"] for f in lam.list_functions(FunctionVersion="ALL")["Functions"]]
    assert lam.list_functions(MasterRegion="us-east-1", FunctionVersion="ALL")["Functions"] == []
