"""The log store's SQLite schema and its named migrations: groups, streams and events, partitioned by
account and region, and the data keys of groups encrypted under KMS keys (`storage.logcrypt`)."""

from __future__ import annotations

import sqlite3

from outcrop.storage.logcrypt import MIGRATION as KMS_MIGRATION
from outcrop.storage.sqlite import Migration, partition_column

MIGRATIONS: list[Migration] = [
    (
        "0001_logs",
        """
        CREATE TABLE groups (
            name TEXT PRIMARY KEY, created INTEGER NOT NULL, retention_days INTEGER,
            stored_bytes INTEGER NOT NULL, kms_key_id TEXT, log_group_class TEXT NOT NULL, tags TEXT NOT NULL
        );
        CREATE TABLE streams (
            group_name TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL, first_event INTEGER,
            last_event INTEGER, last_ingestion INTEGER, sequence INTEGER NOT NULL,
            stored_bytes INTEGER NOT NULL,
            PRIMARY KEY (group_name, name)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, group_name TEXT NOT NULL, stream TEXT NOT NULL,
            timestamp INTEGER NOT NULL, ingestion INTEGER NOT NULL, message TEXT NOT NULL
        );
        CREATE INDEX events_by_stream ON events (group_name, stream, timestamp, id);
        CREATE INDEX events_by_group ON events (group_name, timestamp, id)
        """,
    ),
]


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with groups, streams and events partitioned by account and region: rows from before
    the partition belong to the server's default account and region."""
    return [*MIGRATIONS, ("0002_regions", lambda tx: _partition(tx, account, region)), KMS_MIGRATION]


def _partition(tx: sqlite3.Connection, account: str, region: str) -> None:
    """Groups and streams are keyed by (account, region, name) now: rebuilt with the new key; events
    only gain the two columns (cheap on a large table) and their indexes lead with them."""
    partition = f"{partition_column('account', account)}, {partition_column('region', region)}"
    tx.execute(
        f"""CREATE TABLE groups_new ({partition},
        name TEXT NOT NULL, created INTEGER NOT NULL, retention_days INTEGER,
        stored_bytes INTEGER NOT NULL, kms_key_id TEXT, log_group_class TEXT NOT NULL, tags TEXT NOT NULL,
        PRIMARY KEY (account, region, name))"""
    )
    tx.execute(
        "INSERT INTO groups_new (name, created, retention_days, stored_bytes, kms_key_id, log_group_class,"
        " tags) SELECT name, created, retention_days, stored_bytes, kms_key_id, log_group_class, tags"
        " FROM groups"
    )
    tx.execute(
        f"""CREATE TABLE streams_new ({partition},
        group_name TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL, first_event INTEGER,
        last_event INTEGER, last_ingestion INTEGER, sequence INTEGER NOT NULL, stored_bytes INTEGER NOT NULL,
        PRIMARY KEY (account, region, group_name, name))"""
    )
    tx.execute(
        "INSERT INTO streams_new (group_name, name, created, first_event, last_event, last_ingestion,"
        " sequence, stored_bytes) SELECT group_name, name, created, first_event, last_event,"
        " last_ingestion, sequence, stored_bytes FROM streams"
    )
    for table in ("groups", "streams"):
        tx.execute(f"DROP TABLE {table}")
        tx.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    tx.execute(f"ALTER TABLE events ADD COLUMN {partition_column('account', account)}")
    tx.execute(f"ALTER TABLE events ADD COLUMN {partition_column('region', region)}")
    tx.execute("DROP INDEX events_by_stream")
    tx.execute("DROP INDEX events_by_group")
    tx.execute("CREATE INDEX events_by_stream ON events (account, region, group_name, stream, timestamp, id)")
    tx.execute("CREATE INDEX events_by_group ON events (account, region, group_name, timestamp, id)")
