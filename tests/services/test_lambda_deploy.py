"""Functions created through the Lambda API from a zip: create, invoke, update, delete, survive a restart."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
HANDLER = """
import os

def handler(event, context):
    return {"version": VERSION, "doubled": event["n"] * 2, "colour": os.environ.get("COLOUR"),
            "remaining_ok": context.get_remaining_time_in_millis() > 0}
"""


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _package(version: str) -> bytes:
    return _zip({"app.py": f"VERSION = {version!r}\n" + HANDLER})


def _call(lam: Any, name: str, n: int = 21) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
    assert "FunctionError" not in response, response["Payload"].read()
    result: dict[str, Any] = json.loads(response["Payload"].read())
    return result


def _create(lam: Any, package: bytes, **extra: Any) -> str:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package},
        **extra,
    )
    return name


def test_create_invoke_update_delete(server: RunningServer) -> None:
    lam = server.client("lambda")
    package = _package("v1")
    name = _create(
        lam, package, Environment={"Variables": {"COLOUR": "blue"}}, Timeout=7, Tags={"team": "ai"}
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    assert _call(lam, name) == {"version": "v1", "doubled": 42, "colour": "blue", "remaining_ok": True}
    described = lam.get_function(FunctionName=name)
    configuration = described["Configuration"]
    assert configuration["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert configuration["CodeSize"] == len(package) and configuration["Timeout"] == 7
    assert configuration["Role"] == ROLE and described["Tags"] == {"team": "ai"}
    assert name in [f["FunctionName"] for f in lam.list_functions()["Functions"]]

    updated = lam.update_function_code(FunctionName=name, ZipFile=_package("v2"))
    assert updated["CodeSha256"] != configuration["CodeSha256"]
    assert _call(lam, name)["version"] == "v2"

    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOUR": "red"}})
    assert _call(lam, name)["colour"] == "red"

    lam.delete_function(FunctionName=name)
    assert error_of(lam.invoke, FunctionName=name)["Code"] == "ResourceNotFoundException"
    assert error_of(lam.delete_function, FunctionName=name)["Code"] == "ResourceNotFoundException"


def test_create_from_s3(server: RunningServer) -> None:
    lam, s3 = server.client("lambda"), server.client("s3")
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=_package("from-s3"))
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "fn.zip"},
    )
    assert _call(lam, name, 2) == {"version": "from-s3", "doubled": 4, "colour": None, "remaining_ok": True}
    missing = error_of(lam.update_function_code, FunctionName=name, S3Bucket=bucket, S3Key="missing.zip")
    assert missing["Code"] == "InvalidParameterValueException" and "NoSuchKey" in missing["Message"]


def test_refusals(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(lam, _package("v1"))
    duplicate = error_of(
        lam.create_function,
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _package("v1")},
    )
    assert duplicate["Code"] == "ResourceConflictException" and duplicate["Status"] == 409

    def create(**overrides: Any) -> dict[str, Any]:
        arguments = {
            "FunctionName": f"fn-{uuid.uuid4().hex[:8]}",
            "Runtime": "python3.11",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": _package("v1")},
            **overrides,
        }
        return error_of(lam.create_function, **arguments)

    node = create(Runtime="nodejs20.x")
    assert node["Code"] == "InvalidParameterValueException" and "python3.x" in node["Message"]
    assert create(Code={"ZipFile": b"not a zip"})["Code"] == "InvalidParameterValueException"
    unsafe = create(Code={"ZipFile": _zip({"../escape.py": "x = 1"})})
    assert unsafe["Code"] == "InvalidParameterValueException" and "unsafe path" in unsafe["Message"]
    assert create(Code={})["Code"] == "InvalidParameterValueException"
    assert create(Handler="nodot")["Code"] == "InvalidParameterValueException"


def test_a_crashing_import_is_a_function_error(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(lam, _zip({"app.py": "import not_a_module_anywhere\n"}))
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app.handler'" in error["errorMessage"]


def test_created_functions_survive_a_restart(tmp_path: Path) -> None:
    running = RunningServer(tmp_path / "data").start()
    try:
        lam = running.client("lambda")
        name = _create(lam, _package("kept"))
        running.restart()
        assert _call(running.client("lambda"), name)["version"] == "kept"
    finally:
        running.stop()


def test_a_worker_that_dies_is_replaced(server: RunningServer) -> None:
    lam = server.client("lambda")
    code = (
        "import os\n\n"
        "def handler(event, context):\n"
        "    if event.get('die'):\n"
        "        os._exit(3)\n"
        "    return 'alive'\n"
    )
    name = _create(lam, _zip({"app.py": code}))
    response = lam.invoke(FunctionName=name, Payload=b'{"die": true}')
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.ExitError" and "exit status 3" in error["errorMessage"]
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "alive"


def test_an_accepted_event_survives_a_restart(tmp_path: Path) -> None:
    """An `Event` invocation cut short by a restart runs again when the server is back (at least once)."""
    code = (
        "import time\n\nimport boto3\n\n"
        "def handler(event, context):\n"
        "    time.sleep(event['sleep'])\n"
        "    boto3.client('s3').put_object(Bucket=event['bucket'], Key='done.txt', Body=b'ran')\n"
        "    return 'ok'\n"
    )
    running = RunningServer(tmp_path / "data").start()
    try:
        lam, s3 = running.client("lambda"), running.client("s3")
        s3.create_bucket(Bucket="events-out")
        name = _create(lam, _zip({"app.py": code}), Timeout=30)
        payload = json.dumps({"sleep": 4, "bucket": "events-out"}).encode()
        assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)["StatusCode"] == 202
        time.sleep(1.0)  # the worker is asleep in the handler when the server stops
        running.restart()
        s3 = running.client("s3")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if s3.list_objects_v2(Bucket="events-out").get("KeyCount", 0):
                break
            time.sleep(0.5)
        assert s3.get_object(Bucket="events-out", Key="done.txt")["Body"].read() == b"ran"
        assert "accepted before the restart" in running.log_path.read_text()  # it ran again, not just once
        pending = list((tmp_path / "data" / "lambda" / "pending-events").glob("*.json"))
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            time.sleep(0.2)
            pending = list((tmp_path / "data" / "lambda" / "pending-events").glob("*.json"))
        assert pending == []
    finally:
        running.stop()
