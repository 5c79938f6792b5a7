"""Resources live in the region of the request that made them: CloudWatch Logs and Lambda."""

from __future__ import annotations

import time
import uuid

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
