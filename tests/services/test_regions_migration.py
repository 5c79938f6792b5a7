"""A data dir made before resources were partitioned by region keeps them, in the server's default region."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outcrop.storage import sqlitelogs
from outcrop.storage.sqlite import Database
from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import regional

DEFAULT, OTHER = "us-east-1", "eu-west-1"


def old_logs(data: Path) -> None:
    """CloudWatch Logs' file as it was: the schema's first migration only, one group with one event."""
    db = Database(data / "logs" / "logs.sqlite3", sqlitelogs.MIGRATIONS[:1])
    now = int(time.time() * 1000)
    with db.transaction() as tx:
        tx.execute("INSERT INTO groups VALUES ('/old/group', ?, NULL, 5, NULL, 'STANDARD', '{}')", (now,))
        tx.execute("INSERT INTO streams VALUES ('/old/group', 's', ?, ?, ?, ?, 2, 5)", (now, now, now, now))
        tx.execute(
            "INSERT INTO events (group_name, stream, timestamp, ingestion, message) "
            "VALUES ('/old/group', 's', ?, ?, 'hello')",
            (now, now),
        )
    db.close()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("before-regions") / "data"
    old_logs(data)
    running = RunningServer(data).start()
    yield running
    running.stop()


def test_old_log_groups_are_the_default_regions(migrated: RunningServer) -> None:
    home, other = regional(migrated, "logs", DEFAULT), regional(migrated, "logs", OTHER)
    [group] = home.describe_log_groups()["logGroups"]
    assert group["logGroupName"] == "/old/group"
    assert group["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/old/group"
    events = home.get_log_events(logGroupName="/old/group", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["hello"]
    assert other.describe_log_groups()["logGroups"] == []
    missing = error_of(other.get_log_events, logGroupName="/old/group", logStreamName="s")
    assert missing["Code"] == "ResourceNotFoundException"
