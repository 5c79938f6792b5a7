"""Resources live in the region of the request that made them: CloudWatch Logs and Lambda."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, arn_region, regional


def test_a_log_group_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "logs", HOME), regional(server, "logs", AWAY)
    name = f"/outcrop/regions/{uuid.uuid4().hex[:8]}"
    home.create_log_group(logGroupName=name)
    home.create_log_stream(logGroupName=name, logStreamName="s")
    home.put_log_events(
        logGroupName=name,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hi"}],
    )
    [group] = home.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert arn_region(group["logGroupArn"]) == HOME
    assert group["logGroupArn"].endswith(f":log-group:{name}")

    assert away.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    assert away.describe_log_groups(logGroupIdentifiers=[group["logGroupArn"]])["logGroups"] == []
    missing = error_of(away.get_log_events, logGroupName=name, logStreamName="s")
    assert missing["Code"] == "ResourceNotFoundException"
    assert error_of(away.list_tags_for_resource, resourceArn=group["logGroupArn"])["Code"] == (
        "ResourceNotFoundException"
    )

    # the same name is free in another region, and each region keeps its own events
    away.create_log_group(logGroupName=name)
    away.create_log_stream(logGroupName=name, logStreamName="s")
    assert away.get_log_events(logGroupName=name, logStreamName="s")["events"] == []
    assert [e["message"] for e in home.get_log_events(logGroupName=name, logStreamName="s")["events"]] == [
        "hi"
    ]
    away.delete_log_group(logGroupName=name)
    assert home.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["storedBytes"] == 2
    home.delete_log_group(logGroupName=name)


HANDLER = """
import os

def handler(event, context):
    print("ran in", os.environ["AWS_REGION"])
    return {"region": os.environ["AWS_REGION"], "arn": context.invoked_function_arn}
"""


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def _create(lam: Any, name: str) -> dict[str, Any]:
    made: dict[str, Any] = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": _package()},
    )
    return made


def test_a_function_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "lambda", HOME), regional(server, "lambda", AWAY)
    name = f"fn-{uuid.uuid4().hex[:8]}"
    arn = _create(home, name)["FunctionArn"]
    assert arn == f"arn:aws:lambda:{HOME}:000000000000:function:{name}"
    ran = json.loads(home.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert ran == {"region": HOME, "arn": arn}

    assert name not in [f["FunctionName"] for f in away.list_functions()["Functions"]]
    assert error_of(away.get_function, FunctionName=name)["Code"] == "ResourceNotFoundException"
    assert error_of(away.invoke, FunctionName=arn, Payload=b"{}")["Code"] == "ResourceNotFoundException"
    assert error_of(away.delete_function, FunctionName=name)["Code"] == "ResourceNotFoundException"

    # the name is free in us-east-1, where a function of that name runs in us-east-1
    other = _create(away, name)["FunctionArn"]
    assert arn_region(other) == AWAY
    assert json.loads(away.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())["region"] == AWAY

    # each function's log lines go to CloudWatch Logs in its own region
    home_logs, away_logs = regional(server, "logs", HOME), regional(server, "logs", AWAY)
    group = f"/aws/lambda/{name}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = home_logs.filter_log_events(logGroupName=group)["events"] if _has(home_logs, group) else []
        if any("ran in eu-west-1" in e["message"] for e in found):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the eu-west-1 function's log lines never reached eu-west-1's log group")
    if _has(away_logs, group):
        away_lines = [e["message"] for e in away_logs.filter_log_events(logGroupName=group)["events"]]
        assert not any("ran in eu-west-1" in line for line in away_lines)

    home.delete_function(FunctionName=name)
    assert error_of(home.get_function, FunctionName=name)["Code"] == "ResourceNotFoundException"
    assert away.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == other
    away.delete_function(FunctionName=name)


def _has(logs: Any, group: str) -> bool:
    return any(
        g["logGroupName"] == group for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    )
