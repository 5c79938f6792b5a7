"""CloudWatch Logs Insights through boto3: AWS's example queries and the common commands."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.errors import error_of
from tests.server import RunningServer

EVENTS = [
    {"level": "INFO", "status": 200, "latency": 12, "path": "/home", "user": {"id": "u1"}},
    {"level": "INFO", "status": 200, "latency": 30, "path": "/cart", "user": {"id": "u2"}},
    {"level": "ERROR", "status": 500, "latency": 250, "path": "/cart", "user": {"id": "u1"}},
    {"level": "WARN", "status": 404, "latency": 5, "path": "/missing", "user": {"id": "u3"}},
    {"level": "ERROR", "status": 503, "latency": 400, "path": "/pay", "user": {"id": "u2"}},
]


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


def _now_s() -> int:
    return int(time.time())


@pytest.fixture
def group(logs: Any) -> Iterator[str]:
    """A group with five JSON events a minute apart (starting 10 minutes ago) and two plain lines."""
    name = f"/outcrop/insights/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="web")
    logs.create_log_stream(logGroupName=name, logStreamName="plain")
    base = (_now_s() - 600) * 1000
    logs.put_log_events(
        logGroupName=name,
        logStreamName="web",
        logEvents=[{"timestamp": base + i * 60_000, "message": json.dumps(e)} for i, e in enumerate(EVENTS)],
    )
    logs.put_log_events(
        logGroupName=name,
        logStreamName="plain",
        logEvents=[
            {"timestamp": base + 30_000, "message": "[WARN] disk at 91% on host-a"},
            {"timestamp": base + 90_000, "message": "[INFO] user=alice action=login took=17ms"},
        ],
    )
    yield name
    logs.delete_log_group(logGroupName=name)


def query(logs: Any, group: str | list[str], text: str, **extra: Any) -> dict[str, Any]:
    """Start a query over the last hour and poll until it finishes, as AWS's example does."""
    where = {"logGroupNames": group} if isinstance(group, list) else {"logGroupName": group}
    window = {"startTime": _now_s() - 3600, "endTime": _now_s() + 60}  # events of this very second too
    started = logs.start_query(queryString=text, **window, **where, **extra)
    for _ in range(200):
        result: dict[str, Any] = logs.get_query_results(queryId=started["queryId"])
        assert result["status"] in ("Scheduled", "Running", "Complete")
        if result["status"] == "Complete":
            result["queryId"] = started["queryId"]
            return result
        time.sleep(0.05)
    raise AssertionError("the query did not finish")


def rows(result: dict[str, Any]) -> list[dict[str, str]]:
    return [{f["field"]: f["value"] for f in row} for row in result["results"]]


def test_aws_example_query_sorted_ascending_with_statistics(logs: Any, group: str) -> None:
    result = query(logs, group, "fields @timestamp, @message | sort @timestamp asc", limit=10000)
    found = rows(result)
    assert len(found) == 7
    stamps = [r["@timestamp"] for r in found]
    assert stamps == sorted(stamps)
    first = datetime.strptime(stamps[0], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    assert abs(first.timestamp() - (_now_s() - 600)) < 120  # AWS's format, which the example parses
    assert set(found[0]) == {"@timestamp", "@message", "@ptr"}
    assert json.loads(found[0]["@message"]) == EVENTS[0]
    stats = result["statistics"]
    assert stats["recordsScanned"] == 7 and stats["recordsMatched"] == 7
    assert stats["bytesScanned"] == sum(len(r["@message"].encode()) for r in found)


def test_filter_on_discovered_json_fields(logs: Any, group: str) -> None:
    text = (
        'filter level = "ERROR" and status >= 500 | fields @timestamp, path, user.id, latency * 2 as double'
    )
    found = rows(query(logs, group, text))
    assert [(r["path"], r["user.id"], r["double"]) for r in found] == [
        ("/pay", "u2", "800"),
        ("/cart", "u1", "500"),
    ]
    found = rows(
        query(logs, group, 'filter path in ["/home", "/pay"] or not ispresent(status) | display @logStream')
    )
    assert sorted(r["@logStream"] for r in found) == ["plain", "plain", "web", "web"]
    found = rows(
        query(
            logs,
            group,
            "# lines that mention either\nfilter @message like /(?i)disk|LOGIN/ | fields @message",
        )
    )
    assert len(found) == 2 and all("@ptr" in r for r in found)
    found = rows(query(logs, group, 'filter @message like "user=" and @logStream != "web"'))
    assert len(found) == 1 and found[0]["@log"].endswith(":" + group) and found[0]["@logStream"] == "plain"


def test_stats_by_fields_and_bins(logs: Any, group: str) -> None:
    text = (
        "filter ispresent(status) | stats count(*) as n, avg(latency), max(latency), "
        "count_distinct(user.id) by level | sort n desc, level asc"
    )
    found = rows(query(logs, group, text))
    assert found == [
        {
            "level": "ERROR",
            "n": "2",
            "avg(latency)": "325",
            "max(latency)": "400",
            "count_distinct(user.id)": "2",
        },
        {
            "level": "INFO",
            "n": "2",
            "avg(latency)": "21",
            "max(latency)": "30",
            "count_distinct(user.id)": "2",
        },
        {"level": "WARN", "n": "1", "avg(latency)": "5", "max(latency)": "5", "count_distinct(user.id)": "1"},
    ]
    result = query(logs, group, "stats count(*) as events, sum(latency) as total by bin(5m)")
    binned = rows(result)
    assert sum(int(r["events"]) for r in binned) == 7
    assert sum(int(r.get("total", "0")) for r in binned) == 697
    for r in binned:  # each bin starts on a 5-minute boundary, shown as @timestamp is
        moment = datetime.strptime(r["bin(5m)"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        assert moment.timestamp() % 300 == 0
    assert result["statistics"]["recordsMatched"] == 7 and "@ptr" not in binned[0]


def test_parse_glob_and_regex_sort_and_limit(logs: Any, group: str) -> None:
    found = rows(
        query(logs, group, 'parse @message "[*] *" as lvl, rest | filter ispresent(lvl) | display lvl, rest')
    )
    assert sorted((r["lvl"], r["rest"]) for r in found) == [
        ("INFO", "user=alice action=login took=17ms"),
        ("WARN", "disk at 91% on host-a"),
    ]
    text = "parse @message /user=(?<who>\\w+) .*took=(?<ms>\\d+)ms/ | filter ms > 10 | fields who, ms"
    assert [(r["who"], r["ms"]) for r in rows(query(logs, group, text))] == [("alice", "17")]
    found = rows(
        query(logs, group, "filter ispresent(latency) | sort latency desc | limit 2 | fields path, latency")
    )
    assert [(r["path"], r["latency"]) for r in found] == [("/pay", "400"), ("/cart", "250")]
    assert len(rows(query(logs, group, "fields @message", limit=3))) == 3


def test_several_groups_and_identifiers(logs: Any, group: str) -> None:
    other = f"/outcrop/insights/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=other)
    logs.create_log_stream(logGroupName=other, logStreamName="s")
    logs.put_log_events(
        logGroupName=other, logStreamName="s", logEvents=[{"timestamp": _now_s() * 1000, "message": "other"}]
    )
    try:
        found = rows(query(logs, [group, other], "stats count(*) as n by @log | sort n desc"))
        assert [r["n"] for r in found] == ["7", "1"]
        arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{other}"
        started = logs.start_query(
            logGroupIdentifiers=[arn],
            startTime=_now_s() - 60,
            endTime=_now_s(),
            queryString="fields @message",
        )
        while (result := logs.get_query_results(queryId=started["queryId"]))["status"] != "Complete":
            time.sleep(0.05)
        assert rows(result)[0]["@message"] == "other"
    finally:
        logs.delete_log_group(logGroupName=other)


def test_time_window_is_inclusive_at_both_ends(logs: Any, group: str) -> None:
    first = logs.get_log_events(logGroupName=group, logStreamName="web", startFromHead=True)["events"][0]
    base_s = first["timestamp"] // 1000  # the web events are at base + 0, 60, 120, 180 and 240 s
    started = logs.start_query(
        logGroupName=group, startTime=base_s + 120, endTime=base_s + 240, queryString="fields path"
    )
    while (result := logs.get_query_results(queryId=started["queryId"]))["status"] != "Complete":
        time.sleep(0.05)
    assert sorted(r["path"] for r in rows(result)) == ["/cart", "/missing", "/pay"]


def test_a_window_in_milliseconds_is_read_as_milliseconds(logs: Any, group: str) -> None:
    """AWS's large-query example passes milliseconds (documented: seconds) and finds its events."""
    first = logs.get_log_events(logGroupName=group, logStreamName="web", startFromHead=True)["events"][0]
    base_ms = first["timestamp"]  # the web events are at base + 0, 60, 120, 180 and 240 s

    def paths(start_ms: int, end_ms: int) -> list[str]:
        started = logs.start_query(
            logGroupName=group, startTime=start_ms, endTime=end_ms, queryString="fields path"
        )
        while (result := logs.get_query_results(queryId=started["queryId"]))["status"] != "Complete":
            time.sleep(0.05)
        return sorted(r["path"] for r in rows(result))

    assert paths(base_ms + 120_000, base_ms + 180_000) == ["/cart", "/missing"]
    assert paths(base_ms + 120_000, base_ms + 179_999) == ["/cart"]  # one millisecond short of /missing
    assert paths(base_ms + 120_001, base_ms + 240_000) == ["/missing", "/pay"]


def test_malformed_and_unsupported_queries(logs: Any, group: str) -> None:
    bad = error_of(
        logs.start_query, logGroupName=group, startTime=0, endTime=1, queryString="fields @message |"
    )
    assert bad["Code"] == "MalformedQueryException" and bad["Status"] == 400
    bad = error_of(logs.start_query, logGroupName=group, startTime=0, endTime=1, queryString="filter (a = 1")
    assert bad["Code"] == "MalformedQueryException"
    wrong = error_of(
        logs.start_query, logGroupName=group, startTime=0, endTime=1, queryString="fields a | bogus 1"
    )
    assert wrong["Message"] == "unexpected symbol found bogus at line 1 and position 12"
    unsupported = error_of(
        logs.start_query, logGroupName=group, startTime=0, endTime=1, queryString="dedup @logStream"
    )
    assert "dedup command is not supported" in unsupported["Message"]
    sql = error_of(
        logs.start_query,
        logGroupName=group,
        startTime=0,
        endTime=1,
        queryString="SELECT 1",
        queryLanguage="SQL",
    )
    assert sql["Code"] == "InvalidParameterException" and "CWLI" in sql["Message"]
    missing = error_of(
        logs.start_query, logGroupName=group + "-no", startTime=0, endTime=1, queryString="fields @message"
    )
    assert missing["Code"] == "ResourceNotFoundException"
    neither = error_of(logs.start_query, startTime=0, endTime=1, queryString="fields @message")
    assert neither["Code"] == "InvalidParameterException"
    backwards = error_of(
        logs.start_query, logGroupName=group, startTime=10, endTime=1, queryString="fields a"
    )
    assert backwards["Code"] == "InvalidParameterException"
    assert error_of(logs.get_query_results, queryId="nope")["Code"] == "ResourceNotFoundException"


def test_failed_query_states_its_reason(logs: Any, group: str) -> None:
    started = logs.start_query(
        logGroupName=group,
        startTime=_now_s() - 3600,
        endTime=_now_s(),
        queryString="fields nosuchfn(@message)",
    )
    for _ in range(200):
        if (result := logs.get_query_results(queryId=started["queryId"]))["status"] not in (
            "Scheduled",
            "Running",
        ):
            break
        time.sleep(0.05)
    assert result["status"] == "Failed" and result["results"] == []


def test_stop_and_describe_queries(logs: Any, group: str) -> None:
    done = query(logs, group, "fields @message | limit 1")
    assert logs.stop_query(queryId=done["queryId"])["success"] is False  # already complete
    described = logs.describe_queries(logGroupName=group)["queries"]
    mine = [q for q in described if q["queryId"] == done["queryId"]]
    assert mine and mine[0]["status"] == "Complete" and mine[0]["queryString"] == "fields @message | limit 1"
    assert mine[0]["logGroupName"] == group
    assert all(q["status"] == "Complete" for q in logs.describe_queries(status="Complete")["queries"])
    started = logs.start_query(
        logGroupName=group, startTime=0, endTime=_now_s(), queryString="fields @message"
    )
    stopped = logs.stop_query(queryId=started["queryId"])["success"]
    status = logs.get_query_results(queryId=started["queryId"])["status"]
    while status == "Running":
        status = logs.get_query_results(queryId=started["queryId"])["status"]
    assert status == ("Cancelled" if stopped else "Complete")


def test_log_group_fields(logs: Any, group: str) -> None:
    fields = {
        f["name"]: f["percent"] for f in logs.get_log_group_fields(logGroupName=group)["logGroupFields"]
    }
    assert fields["@timestamp"] == 100 and fields["@message"] == 100
    assert fields["level"] == 71 and fields["user.id"] == 71  # 5 of 7 events are JSON


def test_queries_see_only_their_region(server: RunningServer, logs: Any, group: str) -> None:
    europe = boto3.client(
        "logs",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
        config=Config(retries={"max_attempts": 1}),
    )
    missing = error_of(
        europe.start_query, logGroupName=group, startTime=0, endTime=1, queryString="fields @message"
    )
    assert missing["Code"] == "ResourceNotFoundException"
    mine = query(logs, group, "fields @message | limit 1")
    assert error_of(europe.get_query_results, queryId=mine["queryId"])["Code"] == "ResourceNotFoundException"


def test_lambda_report_fields_and_aws_memory_query(logs: Any) -> None:
    """Logs Insights' sample query for over-provisioned Lambda memory, over REPORT lines as Lambda writes."""
    name = f"/aws/lambda/insights-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="2026/12/06/[$LATEST]abc")
    now = _now_s() * 1000
    reports = [
        f"REPORT RequestId: r{i}\tDuration: {d:.2f} ms\tBilled Duration: {int(d) + 1} ms\t"
        f"Memory Size: 128 MB\tMax Memory Used: {m} MB"
        for i, (d, m) in enumerate([(10.5, 40), (20.25, 60), (3.0, 50)])
    ]
    logs.put_log_events(
        logGroupName=name,
        logStreamName="2026/12/06/[$LATEST]abc",
        logEvents=[
            {"timestamp": now - 3000 + i, "message": m}
            for i, m in enumerate(["START RequestId: r0", *reports])
        ],
    )
    try:
        text = (
            'filter @type = "REPORT" | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB, '
            "min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB, "
            "avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB, "
            "max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB, "
            "provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB"
        )
        assert rows(query(logs, name, text)) == [
            {
                "provisonedMemoryMB": "128",
                "smallestMemoryRequestMB": "40",
                "avgMemoryUsedMB": "50",
                "maxMemoryUsedMB": "60",
                "overProvisionedMB": "68",
            }
        ]
        slowest = rows(
            query(
                logs, name, "filter ispresent(@duration) | sort @duration desc | limit 1 | fields @requestId"
            )
        )
        assert slowest[0]["@requestId"] == "r1"
        ratio = rows(query(logs, name, "stats sum(@billedDuration) / count(*) as perCall"))
        assert ratio == [{"perCall": "9"}]  # (11 + 21 + 4) billed ms over 4 events: the START line counts too
    finally:
        logs.delete_log_group(logGroupName=name)


def test_deeply_nested_query_is_malformed_not_a_crash(logs: Any, group: str) -> None:
    text = "filter " + "(" * 3000 + "a" + ")" * 3000
    bad = error_of(logs.start_query, logGroupName=group, startTime=0, endTime=1, queryString=text)
    assert bad["Code"] == "MalformedQueryException" and bad["Status"] == 400


def test_a_functions_own_report_lines_answer_insights(server: RunningServer, logs: Any) -> None:
    """Lambda writes REPORT lines to /aws/lambda/<name>; Insights finds their fields as AWS's does."""
    lam = server.client("lambda")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr(
            "app.py", "def handler(event, context):\n    print('working on', event['n'])\n    return 1\n"
        )
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": package.getvalue()},
        MemorySize=256,
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        for n in range(3):
            assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
        group = f"/aws/lambda/{name}"
        for _ in range(600):  # the function's lines reach its log group after the call returns, as on AWS
            found = logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"]
            if len(found) == 3:
                break
            time.sleep(0.05)
        text = (
            'filter @type = "REPORT" | stats count(*) as invocations, '
            "max(@memorySize / 1000 / 1000) as provisionedMB, count_distinct(@requestId) as requests"
        )
        assert rows(query(logs, group, text)) == [
            {"invocations": "3", "provisionedMB": "256", "requests": "3"}
        ]
        printed = rows(
            query(logs, f"/aws/lambda/{name}", "filter @message like /working on/ | fields @message")
        )
        assert sorted(r["@message"].strip() for r in printed) == [
            "working on 0",
            "working on 1",
            "working on 2",
        ]
    finally:
        lam.delete_function(FunctionName=name)
