"""CloudWatch Logs through boto3 against a running server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


@pytest.fixture
def group(logs: Any) -> Iterator[str]:
    name = f"/outcrop/test/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=name)
    yield name
    logs.delete_log_group(logGroupName=name)


def now_ms() -> int:
    return int(time.time() * 1000)


def put(logs: Any, group: str, stream: str, messages: list[str], start: int | None = None) -> dict[str, Any]:
    base = start if start is not None else now_ms()
    events = [{"timestamp": base + i, "message": m} for i, m in enumerate(messages)]
    result: dict[str, Any] = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return result


def test_group_lifecycle_and_describe(logs: Any) -> None:
    prefix = f"/outcrop/describe-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}/{n}" for n in ("alpha", "beta", "gamma-Target")]
    for name in names:
        logs.create_log_group(logGroupName=name, tags={"team": "ml"})
    described = logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    assert [g["logGroupName"] for g in described] == names
    first = described[0]
    assert first["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{names[0]}:*"
    assert first["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{names[0]}"
    assert first["storedBytes"] == 0 and "retentionInDays" not in first
    assert abs(first["creationTime"] - now_ms()) < 60_000
    by_pattern = logs.describe_log_groups(logGroupNamePattern="GAMMA-target")["logGroups"]
    assert [g["logGroupName"] for g in by_pattern] == [names[2]]
    page = logs.describe_log_groups(logGroupNamePrefix=prefix, limit=2)
    assert len(page["logGroups"]) == 2
    rest = logs.describe_log_groups(logGroupNamePrefix=prefix, limit=2, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == [names[2]] and "nextToken" not in rest
    paginated = [
        g["logGroupName"]
        for p in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix, limit=1)
        for g in p["logGroups"]
    ]
    assert paginated == names
    logs.put_retention_policy(logGroupName=names[0], retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=names[0])["logGroups"][0]["retentionInDays"] == 7
    logs.delete_retention_policy(logGroupName=names[0])
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=names[0])["logGroups"][0]
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{names[1]}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=names[1])["tags"] == {"env": "dev"}
    for name in names:
        logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"] == []


def test_group_and_stream_errors(logs: Any, group: str) -> None:
    exists = error_of(logs.create_log_group, logGroupName=group)
    assert (exists["Code"], exists["Status"]) == ("ResourceAlreadyExistsException", 400)
    assert exists["Message"] == "The specified log group already exists"
    missing = error_of(logs.delete_log_group, logGroupName=group + "-missing")
    assert (missing["Code"], missing["Message"]) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert error_of(logs.create_log_stream, logGroupName=group, logStreamName="s")["Message"] == (
        "The specified log stream already exists"
    )
    assert error_of(logs.create_log_stream, logGroupName=group + "-x", logStreamName="s")["Code"] == (
        "ResourceNotFoundException"
    )
    no_stream = error_of(
        logs.put_log_events,
        logGroupName=group,
        logStreamName="nope",
        logEvents=[{"timestamp": now_ms(), "message": "x"}],
    )
    assert no_stream["Message"] == "The specified log stream does not exist."
    assert error_of(logs.delete_log_stream, logGroupName=group, logStreamName="nope")["Code"] == (
        "ResourceNotFoundException"
    )
    invalid = error_of(logs.create_log_group, logGroupName="bad name with spaces")
    assert invalid["Code"] == "InvalidParameterException"
    assert (
        "failed to satisfy constraint: Member must satisfy regular expression pattern" in invalid["Message"]
    )
    reserved = error_of(logs.create_log_group, logGroupName="aws/mine")
    assert reserved["Message"] == "Log groups starting with AWS/ are reserved for AWS."
    retention = error_of(logs.put_retention_policy, logGroupName=group, retentionInDays=2)
    assert retention["Code"] == "InvalidParameterException"
    both = error_of(logs.describe_log_groups, logGroupNamePrefix="/a", logGroupNamePattern="b")
    assert both["Code"] == "InvalidParameterException"


def test_streams_describe_ordering(logs: Any, group: str) -> None:
    for name in ("b-stream", "a-stream", "c-stream"):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    put(logs, group, "c-stream", ["old"], start=now_ms() - 5000)
    put(logs, group, "a-stream", ["new"])
    by_name = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a-stream", "b-stream", "c-stream"]
    a = by_name[0]
    assert a["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:log-stream:a-stream"
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] and a["lastIngestionTime"] >= a["creationTime"]
    assert "firstEventTimestamp" not in by_name[1]
    latest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)[
        "logStreams"
    ]
    assert [s["logStreamName"] for s in latest] == ["a-stream", "c-stream", "b-stream"]
    prefixed = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b-")["logStreams"]
    assert [s["logStreamName"] for s in prefixed] == ["b-stream"]
    page = logs.describe_log_streams(logGroupName=group, limit=2)
    following = logs.describe_log_streams(logGroupName=group, limit=2, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in following["logStreams"]] == ["c-stream"]
    conflict = error_of(
        logs.describe_log_streams, logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="a"
    )
    assert conflict["Code"] == "InvalidParameterException"
    logs.delete_log_stream(logGroupName=group, logStreamName="b-stream")
    remaining = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in remaining] == ["a-stream", "c-stream"]
    by_arn = logs.describe_log_streams(
        logGroupIdentifier=f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    )
    assert len(by_arn["logStreams"]) == 2


def test_put_and_get_with_forward_token_polling(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    start = now_ms() - 10_000
    result = put(logs, group, "app", [f"line {i}" for i in range(5)], start=start)
    assert "rejectedLogEventsInfo" not in result and result["nextSequenceToken"]
    head = logs.get_log_events(logGroupName=group, logStreamName="app", startFromHead=True, limit=3)
    assert [e["message"] for e in head["events"]] == ["line 0", "line 1", "line 2"]
    assert head["events"][0]["timestamp"] == start and head["events"][0]["ingestionTime"] >= start
    rest = logs.get_log_events(logGroupName=group, logStreamName="app", nextToken=head["nextForwardToken"])
    assert [e["message"] for e in rest["events"]] == ["line 3", "line 4"]
    idle = logs.get_log_events(logGroupName=group, logStreamName="app", nextToken=rest["nextForwardToken"])
    assert idle["events"] == [] and idle["nextForwardToken"] == rest["nextForwardToken"]
    put(logs, group, "app", ["line 5", "line 6"], start=start + 100)
    new = logs.get_log_events(logGroupName=group, logStreamName="app", nextToken=idle["nextForwardToken"])
    assert [e["message"] for e in new["events"]] == ["line 5", "line 6"]
    back = logs.get_log_events(logGroupName=group, logStreamName="app", nextToken=head["nextBackwardToken"])
    assert back["events"] == []
    newest = logs.get_log_events(logGroupName=group, logStreamName="app", limit=2)
    assert [e["message"] for e in newest["events"]] == ["line 5", "line 6"]
    older = logs.get_log_events(
        logGroupName=group, logStreamName="app", limit=2, nextToken=newest["nextBackwardToken"]
    )
    assert [e["message"] for e in older["events"]] == ["line 3", "line 4"]
    window = logs.get_log_events(
        logGroupName=group, logStreamName="app", startTime=start + 1, endTime=start + 3, startFromHead=True
    )
    assert [e["message"] for e in window["events"]] == ["line 1", "line 2"]
    bad = error_of(logs.get_log_events, logGroupName=group, logStreamName="app", nextToken="f/garbage")
    assert bad["Code"] == "InvalidParameterException"


def test_polling_an_empty_stream_sees_the_first_events(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="empty")
    first = logs.get_log_events(logGroupName=group, logStreamName="empty")
    assert first["events"] == []
    put(logs, group, "empty", ["arrived"])
    later = logs.get_log_events(
        logGroupName=group, logStreamName="empty", nextToken=first["nextForwardToken"]
    )
    assert [e["message"] for e in later["events"]] == ["arrived"]


def test_put_log_events_batch_rules(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    unordered = error_of(
        logs.put_log_events,
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
    )
    assert unordered["Code"] == "InvalidParameterException"
    assert "chronological order" in unordered["Message"]
    span = error_of(
        logs.put_log_events,
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now - 25 * 3600 * 1000, "message": "a"}, {"timestamp": now, "message": "b"}],
    )
    assert "24 hours" in span["Message"]
    day = 24 * 3600 * 1000
    old = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 15 * day, "message": "too old"},
            {"timestamp": now - 15 * day + 1, "message": "too old too"},
        ],
    )
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    new = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now, "message": "fine"},
            {"timestamp": now + 3 * 3600 * 1000, "message": "too new"},
        ],
    )
    assert new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    expired = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 2 * day, "message": "expired"},
            {"timestamp": now - 2 * day + 5, "message": "expired"},
        ],
    )
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    stored = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in stored] == ["fine"]


def test_model_validation_errors_are_invalid_parameter(client: Callable[..., Any], group: str) -> None:
    unchecked = client("logs", parameter_validation=False)
    empty = error_of(unchecked.put_log_events, logGroupName=group, logStreamName="s", logEvents=[])
    assert (empty["Code"], empty["Status"]) == ("InvalidParameterException", 400)
    assert empty["Message"].startswith("1 validation error detected: Value ")
    assert empty["Message"].endswith(
        "at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )


def test_filter_log_events(logs: Any, group: str) -> None:
    start = now_ms() - 60_000
    for stream in ("api", "worker"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    put(
        logs,
        group,
        "api",
        ["GET /health 200", "POST /invoke 500 ERROR timeout", "GET /models 200"],
        start=start,
    )
    put(
        logs,
        group,
        "worker",
        ["job started", "job ERROR disk full", '{"level": "WARN", "ms": 250}'],
        start=start + 10,
    )

    def messages(**kwargs: Any) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, **kwargs)["events"]]

    assert messages() == [
        "GET /health 200",
        "POST /invoke 500 ERROR timeout",
        "GET /models 200",
        "job started",
        "job ERROR disk full",
        '{"level": "WARN", "ms": 250}',
    ]
    assert messages(filterPattern="ERROR") == ["POST /invoke 500 ERROR timeout", "job ERROR disk full"]
    assert messages(filterPattern="ERROR timeout") == ["POST /invoke 500 ERROR timeout"]
    assert messages(filterPattern='"disk full"') == ["job ERROR disk full"]
    assert messages(filterPattern="?timeout ?started") == ["POST /invoke 500 ERROR timeout", "job started"]
    assert messages(filterPattern="GET -health") == ["GET /models 200"]
    assert messages(filterPattern="error") == []  # case-sensitive, as CloudWatch is
    assert messages(filterPattern='{ $.level = "WARN" && $.ms > 100 }') == ['{"level": "WARN", "ms": 250}']
    assert messages(filterPattern="%ERR[O]R%", logStreamNames=["worker"]) == ["job ERROR disk full"]
    assert messages(logStreamNamePrefix="work", startTime=start + 11, endTime=start + 12) == [
        "job ERROR disk full"
    ]
    event = logs.filter_log_events(logGroupName=group, filterPattern="started")["events"][0]
    assert event["logStreamName"] == "worker" and event["eventId"] and event["ingestionTime"] >= start
    first = logs.filter_log_events(logGroupName=group, limit=4)
    assert len(first["events"]) == 4
    second = logs.filter_log_events(logGroupName=group, limit=4, nextToken=first["nextToken"])
    assert [e["message"] for e in second["events"]] == ["job ERROR disk full", '{"level": "WARN", "ms": 250}']
    paginated = [
        e["message"]
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 2}
        )
        for e in page["events"]
    ]
    assert len(paginated) == 6
    both = error_of(
        logs.filter_log_events, logGroupName=group, logStreamNames=["api"], logStreamNamePrefix="a"
    )
    assert both["Code"] == "InvalidParameterException"
    assert error_of(logs.filter_log_events, logGroupName=group + "-x")["Code"] == "ResourceNotFoundException"


def test_logs_survive_a_restart(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data").start()
    try:
        logs = server.client("logs")
        logs.create_log_group(logGroupName="/durable")
        logs.create_log_stream(logGroupName="/durable", logStreamName="s")
        put(logs, "/durable", "s", ["before restart"])
        token = logs.get_log_events(logGroupName="/durable", logStreamName="s")["nextForwardToken"]
        server.restart()
        logs = server.client("logs")
        put(logs, "/durable", "s", ["after restart"])
        after = logs.get_log_events(logGroupName="/durable", logStreamName="s", nextToken=token)
        assert [e["message"] for e in after["events"]] == ["after restart"]
    finally:
        server.stop()
