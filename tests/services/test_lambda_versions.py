"""Published versions, as AWS's example code uses them: `Publish=True` on CreateFunction (the Lambda basics
and Bedrock Agents scenarios send it), PublishVersion, a qualifier on Invoke and GetFunction,
ListVersionsByFunction, and a version kept frozen while $LATEST changes, across a restart."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_lambda_deploy import _create, _package


def _version_of(lam: Any, name: str, qualifier: str | None = None) -> tuple[str, str]:
    """(the code's VERSION, the ExecutedVersion) of one invocation."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 1}).encode(), **extra)
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())["version"], response["ExecutedVersion"]


def test_create_with_publish_gives_version_1_as_the_examples_send_it(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = f"fn-published-{uuid.uuid4().hex[:8]}"
    created = lam.create_function(
        FunctionName=name,
        Description="Lambda function for Amazon Bedrock example",
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": _package("v1")},
        Publish=True,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    assert created["Version"] == "1"
    assert created["FunctionArn"].endswith(f":function:{name}")  # unqualified on create, as Lambda answers
    assert lam.get_function(FunctionName=name)["Configuration"]["Version"] == "$LATEST"
    assert _version_of(lam, name) == ("v1", "$LATEST")
    assert _version_of(lam, name, "1") == ("v1", "1")
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert versions[0]["FunctionArn"].endswith(":$LATEST") and versions[1]["FunctionArn"].endswith(":1")


def test_a_version_stays_frozen_while_latest_changes_and_after_a_restart(tmp_path: Path) -> None:
    running = RunningServer(tmp_path / "data").start()
    try:
        lam = running.client("lambda")
        name = _create(lam, _package("v1"), Publish=True)
        updated = lam.update_function_code(FunctionName=name, ZipFile=_package("v2"), Publish=True)
        assert updated["Version"] == "2" and updated["FunctionArn"].endswith(f"{name}:2")
        lam.update_function_code(FunctionName=name, ZipFile=_package("v3"))  # $LATEST only
        assert _version_of(lam, name) == ("v3", "$LATEST")
        assert _version_of(lam, name, "1") == ("v1", "1")
        assert _version_of(lam, f"{name}:2") == ("v2", "2")  # a qualified name works as a Qualifier does
        running.restart()
        lam = running.client("lambda")
        assert [_version_of(lam, name, q)[0] for q in ("1", "2", "$LATEST")] == ["v1", "v2", "v3"]
        assert lam.get_function(FunctionName=name, Qualifier="2")["Configuration"]["Version"] == "2"
        listed = lam.list_functions(FunctionVersion="ALL")["Functions"]
        assert [f["Version"] for f in listed if f["FunctionName"] == name] == ["$LATEST", "1", "2"]
    finally:
        running.stop()


def test_publish_version_is_idempotent_and_deleting_a_version_keeps_the_rest(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(lam, _package("v1"))
    first = lam.publish_version(FunctionName=name, Description="first")
    assert first["Version"] == "1" and first["Description"] == "first"
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # nothing changed: the same version
    mismatch = error_of(lam.publish_version, FunctionName=name, CodeSha256="not-the-code")
    assert mismatch["Code"] == "InvalidParameterValueException"
    lam.update_function_configuration(FunctionName=name, Timeout=9)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    frozen = error_of(lam.update_function_configuration, FunctionName=f"{name}:1", Timeout=5)
    assert frozen["Code"] == "InvalidParameterValueException" and "cannot change" in frozen["Message"]
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(lam.invoke, FunctionName=name, Qualifier="1")["Code"] == "ResourceNotFoundException"
    assert _version_of(lam, name, "2") == ("v1", "2")
    assert error_of(lam.delete_function, FunctionName=name, Qualifier="$LATEST")["Code"] == (
        "InvalidParameterValueException"
    )
    lam.update_function_configuration(FunctionName=name, Timeout=10)
    assert lam.publish_version(FunctionName=name)["Version"] == "3"  # a deleted number is not reused
    lam.delete_function(FunctionName=name)
    assert error_of(lam.invoke, FunctionName=name, Qualifier="2")["Code"] == "ResourceNotFoundException"
