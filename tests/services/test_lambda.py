"""AWS Lambda through boto3: Invoke (sync, async, dry run, errors, log tail) and the read side of the control
plane, on the functions of the demo app (tests/lambdas/apps/demo)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.lambdas.apps import APPS, app_server
from tests.server import RunningServer


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with app_server(tmp_path_factory.mktemp("lambda"), APPS / "demo") as (server, _):
        yield server


@pytest.fixture(scope="module")
def lam(demo: RunningServer) -> Any:
    return demo.client("lambda")


def _hello_event(name: str) -> bytes:
    return json.dumps({"resource": "/hello/{name}", "pathParameters": {"name": name}}).encode()


def test_invoke_request_response(lam: Any) -> None:
    response = lam.invoke(FunctionName="Hello", Payload=_hello_event("boto"))
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["message"] == "Hello, boto"


def test_invoke_by_arn_and_with_latest_qualifier(lam: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:function:Echo"
    response = lam.invoke(FunctionName=arn, Payload=b'{"routeKey": "GET /short", "rawPath": "/p"}')
    assert json.loads(response["Payload"].read()) == {"shorthand": True, "path": "/p"}
    response = lam.invoke(
        FunctionName="Echo", Qualifier="$LATEST", Payload=b'{"routeKey": "GET /short", "rawPath": "/q"}'
    )
    assert json.loads(response["Payload"].read())["path"] == "/q"


def test_invoke_function_error_and_log_tail(lam: Any) -> None:
    response = lam.invoke(FunctionName="Crash", Payload=b"{}", LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "handler failed on purpose"
    assert any("handlers.py" in frame and "crash" in frame for frame in error["stackTrace"])
    assert len(error["requestId"]) == 36
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail.startswith("START RequestId: " + error["requestId"])
    assert "about to fail" in tail and "[ERROR] RuntimeError: handler failed on purpose" in tail
    assert f"END RequestId: {error['requestId']}" in tail and "REPORT RequestId:" in tail


def test_invoke_timeout_is_a_function_error(lam: Any) -> None:
    response = lam.invoke(FunctionName="Slow", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]


def test_invoke_event_runs_in_the_background(demo: RunningServer, lam: Any) -> None:
    s3 = demo.client("s3")
    s3.delete_object(Bucket="demo-notes", Key="seen.txt")
    response = lam.invoke(FunctionName="Aws", InvocationType="Event", Payload=b"{}")
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        objects = s3.list_objects_v2(Bucket="demo-notes").get("Contents", [])
        if objects:
            break
        time.sleep(0.2)
    assert [o["Key"] for o in objects] == ["seen.txt"]


def test_invoke_dry_run(lam: Any) -> None:
    assert lam.invoke(FunctionName="Hello", InvocationType="DryRun")["StatusCode"] == 204


def test_invoke_errors(lam: Any) -> None:
    missing = error_of(lam.invoke, FunctionName="NoSuchFunction")
    assert missing["Code"] == "ResourceNotFoundException" and missing["Status"] == 404
    assert (
        missing["Message"]
        == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:NoSuchFunction"
    )
    bad_qualifier = error_of(lam.invoke, FunctionName="Hello", Qualifier="7")
    assert bad_qualifier["Code"] == "ResourceNotFoundException"
    not_json = error_of(lam.invoke, FunctionName="Hello", Payload=b"{not json")
    assert not_json["Code"] == "InvalidRequestContentException" and not_json["Status"] == 400
    too_large = error_of(lam.invoke, FunctionName="Hello", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert too_large["Code"] == "RequestTooLargeException" and too_large["Status"] == 413
    bad_type = error_of(lam.invoke, FunctionName="Hello", InvocationType="Sometimes")
    assert bad_type["Code"] == "ValidationException"


def test_get_function(lam: Any) -> None:
    described = lam.get_function(FunctionName="Hello")
    configuration = described["Configuration"]
    assert configuration["FunctionName"] == "Hello"
    assert configuration["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:Hello"
    assert configuration["Runtime"] == "python3.11" and configuration["Handler"] == "handlers.hello"
    assert configuration["Timeout"] == 10 and configuration["MemorySize"] == 256
    assert configuration["Environment"]["Variables"]["GREETING"] == "Hello"
    assert configuration["State"] == "Active" and configuration["CodeSize"] > 0
    assert configuration["LoggingConfig"]["LogGroup"] == "/aws/lambda/Hello"
    assert lam.get_function_configuration(FunctionName="Slow")["Timeout"] == 1
    assert error_of(lam.get_function, FunctionName="Nope")["Code"] == "ResourceNotFoundException"


def test_list_functions_pages(lam: Any) -> None:
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["Aws", "Crash", "Echo", "Hello", "Slow"]
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["Aws", "Crash"]
    rest = lam.list_functions(Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["Echo", "Hello", "Slow"]
    assert "NextMarker" not in rest
    paged = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        for f in page["Functions"]
    ]
    assert paged == names


def test_template_functions_are_changed_in_their_template(lam: Any) -> None:
    refused = error_of(lam.delete_function, FunctionName="Hello")
    assert refused["Code"] == "InvalidParameterValueException" and "template.yaml" in refused["Message"]
    assert lam.get_function(FunctionName="Hello")["Configuration"]["FunctionName"] == "Hello"


def test_invoke_with_response_stream(lam: Any) -> None:
    response = lam.invoke_with_response_stream(
        FunctionName="Hello", Payload=_hello_event("stream"), LogType="Tail"
    )
    assert response["StatusCode"] == 200
    events = list(response["EventStream"])
    chunk, complete = events[0]["PayloadChunk"], events[-1]["InvokeComplete"]
    assert json.loads(json.loads(chunk["Payload"])["body"])["message"] == "Hello, stream"
    assert (
        "ErrorCode" not in complete and "greeting stream" in base64.b64decode(complete["LogResult"]).decode()
    )
    failed = list(lam.invoke_with_response_stream(FunctionName="Crash", Payload=b"{}")["EventStream"])
    assert len(failed) == 1 and failed[0]["InvokeComplete"]["ErrorCode"] == "RuntimeError"
    assert (
        json.loads(failed[0]["InvokeComplete"]["ErrorDetails"])["errorMessage"] == "handler failed on purpose"
    )
