"""Fraud Detector's state in one SQLite file: resources by kind and key, stored events, predictions, tags.

Every resource (variable, label, event type, model version, rule version, detector version, batch job)
is a JSON document under (kind, key), so a new kind needs no migration; events and predictions have their
own tables because they are queried by time. Each row lives in an account and region: `FraudData.at(where)`
is the view one request (or one job) reads and writes, so a name made in eu-west-1 is free in us-east-1.
Tags are keyed by ARN, which names the region already.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, partition_column

Where = tuple[str, str]
"""(account, region): where a resource lives."""

MIGRATIONS: list[Migration] = [
    (
        "0001-frauddetector",
        """
        CREATE TABLE resources (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            body TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (kind, key)
        );
        CREATE TABLE events (
            event_type TEXT NOT NULL,
            event_id TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            epoch REAL NOT NULL,
            label TEXT,
            label_timestamp TEXT,
            entities TEXT NOT NULL,
            variables TEXT NOT NULL,
            PRIMARY KEY (event_type, event_id)
        );
        CREATE INDEX events_time ON events (event_type, epoch);
        CREATE TABLE predictions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            detector TEXT NOT NULL,
            version TEXT NOT NULL,
            epoch REAL NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX predictions_event ON predictions (event_id, event_type);
        CREATE TABLE tags (arn TEXT PRIMARY KEY, tags TEXT NOT NULL)
        """,
    )
]


def migrations(account: str, region: str, moved: Callable[[Where], None]) -> list[Migration]:
    """The schema, partitioned by account and region; `moved(where)` is told where the rows (and the model
    files) from before the partition went."""

    def step(tx: sqlite3.Connection) -> None:
        _partition(tx, account, region)
        moved((account, region))

    return [*MIGRATIONS, ("0002_regions", step)]


def _partition(tx: sqlite3.Connection, account: str, region: str) -> None:
    """Resources, events and predictions gain account and region, leading their keys. Resource bodies hold
    no ARN, so the rows made before regions go to the server's default account and region."""
    place = f"{partition_column('account', account)}, {partition_column('region', region)}"
    tables = {
        "resources": f"""({place}, kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (account, region, kind, key))""",
        "events": f"""({place}, event_type TEXT NOT NULL, event_id TEXT NOT NULL, timestamp TEXT NOT NULL,
            epoch REAL NOT NULL, label TEXT, label_timestamp TEXT, entities TEXT NOT NULL,
            variables TEXT NOT NULL, PRIMARY KEY (account, region, event_type, event_id))""",
        "predictions": f"""(seq INTEGER PRIMARY KEY AUTOINCREMENT, {place}, event_id TEXT NOT NULL,
            event_type TEXT NOT NULL, detector TEXT NOT NULL, version TEXT NOT NULL, epoch REAL NOT NULL,
            body TEXT NOT NULL)""",
    }
    for table, columns in tables.items():
        old = [row[1] for row in tx.execute(f"PRAGMA table_info({table})").fetchall()]
        tx.execute(f"CREATE TABLE {table}_new {columns}")
        names = ", ".join(old)
        tx.execute(f"INSERT INTO {table}_new ({names}) SELECT {names} FROM {table}")
        tx.execute(f"DROP TABLE {table}")
        tx.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    tx.execute("CREATE INDEX events_time ON events (account, region, event_type, epoch)")
    tx.execute("CREATE INDEX predictions_event ON predictions (account, region, event_id, event_type)")


@dataclass(frozen=True)
class Resource:
    kind: str
    key: str
    body: dict[str, Any]
    created: float
    updated: float


@dataclass(frozen=True)
class StoredEvent:
    event_type: str
    event_id: str
    timestamp: str
    epoch: float
    label: str | None
    label_timestamp: str | None
    entities: list[dict[str, str]]
    variables: dict[str, str]


class FraudData:
    """The SQLite file every partition shares."""

    def __init__(
        self,
        path: Path,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        moved: Callable[[Where], None] = lambda where: None,
    ) -> None:
        """`account` and `region` are the server's defaults, where rows from before regions go."""
        self.db = Database(path, migrations(account, region, moved))

    def at(self, where: Where) -> FraudStore:
        return FraudStore(self.db, where)

    def places(self) -> list[Where]:
        """Every account and region that holds a resource."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT DISTINCT account, region FROM resources").fetchall()
        return [(r["account"], r["region"]) for r in rows]

    def close(self) -> None:
        self.db.close()


class FraudStore:
    """One account and region's resources, events and predictions; writes are committed before the call
    that made them returns."""

    def __init__(self, db: Database, where: Where) -> None:
        self.db = db
        self.where = where

    def get(self, kind: str, key: str) -> Resource | None:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT * FROM resources WHERE {_HERE} AND kind = ? AND key = ?", (*self.where, kind, key)
            ).fetchone()
        return Resource(kind, key, json.loads(row["body"]), row["created"], row["updated"]) if row else None

    def create(self, kind: str, key: str, body: dict[str, Any]) -> bool:
        """Insert; False when (kind, key) exists already."""
        now = time.time()
        with self.db.transaction() as tx:
            if tx.execute(
                f"SELECT 1 FROM resources WHERE {_HERE} AND kind = ? AND key = ?", (*self.where, kind, key)
            ).fetchone():
                return False
            tx.execute(
                "INSERT INTO resources (account, region, kind, key, body, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*self.where, kind, key, json.dumps(body), now, now),
            )
        return True

    def put(self, kind: str, key: str, body: dict[str, Any]) -> None:
        """Insert or replace, keeping the first creation time."""
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO resources (account, region, kind, key, body, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, kind, key) "
                "DO UPDATE SET body = excluded.body, updated = excluded.updated",
                (*self.where, kind, key, json.dumps(body), now, now),
            )

    def update(self, kind: str, key: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Merge `changes` into a resource's body; None when it does not exist."""
        return self.update_with(kind, key, lambda _body: changes)

    def update_with(
        self, kind: str, key: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Merge what `change` makes of the current body, read and written in one transaction (a status
        moves only from the one it was seen in); None when it does not exist or `change` answers None."""
        with self.db.transaction() as tx:
            row = tx.execute(
                f"SELECT body FROM resources WHERE {_HERE} AND kind = ? AND key = ?", (*self.where, kind, key)
            ).fetchone()
            if row is None:
                return None
            current = json.loads(row["body"])
            changes = change(current)
            if changes is None:
                return None
            body = current | changes
            tx.execute(
                f"UPDATE resources SET body = ?, updated = ? WHERE {_HERE} AND kind = ? AND key = ?",
                (json.dumps(body), time.time(), *self.where, kind, key),
            )
        result: dict[str, Any] = body
        return result

    def delete(self, kind: str, key: str) -> bool:
        with self.db.transaction() as tx:
            return (
                tx.execute(
                    f"DELETE FROM resources WHERE {_HERE} AND kind = ? AND key = ?", (*self.where, kind, key)
                ).rowcount
                > 0
            )

    def scan(self, kind: str, prefix: str = "") -> list[Resource]:
        """Resources of a kind whose key starts with `prefix`, in key order."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM resources WHERE {_HERE} AND kind = ? AND substr(key, 1, ?) = ? ORDER BY key",
                (*self.where, kind, len(prefix), prefix),
            ).fetchall()
        return [Resource(kind, r["key"], json.loads(r["body"]), r["created"], r["updated"]) for r in rows]

    # events
    def put_events(self, events: Sequence[StoredEvent], *, each: bool = False) -> list[bool]:
        """Store new events in one transaction: per event, whether it was written (False: the id exists).
        Without `each`, one existing id writes nothing and answers [False]."""
        written = []
        with self.db.transaction() as tx:
            for event in events:
                found = tx.execute(
                    f"SELECT 1 FROM events WHERE {_HERE} AND event_type = ? AND event_id = ?",
                    (*self.where, event.event_type, event.event_id),
                ).fetchone()
                if found and not each:
                    return [False]
                written.append(not found)
                if not found:
                    tx.execute(
                        "INSERT INTO events (account, region, event_type, event_id, timestamp, epoch, label, "
                        "label_timestamp, entities, variables) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*self.where, *_row(event)),
                    )
        return written

    def get_event(self, event_type: str, event_id: str) -> StoredEvent | None:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT * FROM events WHERE {_HERE} AND event_type = ? AND event_id = ?",
                (*self.where, event_type, event_id),
            ).fetchone()
        return _event(row) if row else None

    def events(self, event_type: str, start: float, end: float) -> list[StoredEvent]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM events WHERE {_HERE} AND event_type = ? AND epoch >= ? AND epoch <= ? "
                "ORDER BY epoch",
                (*self.where, event_type, start, end),
            ).fetchall()
        return [_event(r) for r in rows]

    def event_statistics(self, event_type: str) -> tuple[int, int, float | None, float | None]:
        """(count, bytes, least recent, most recent) of the stored events of a type."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT count(*) AS n, coalesce(sum(length(variables) + length(entities)), 0) AS size, "
                f"min(epoch) AS least, max(epoch) AS most FROM events WHERE {_HERE} AND event_type = ?",
                (*self.where, event_type),
            ).fetchone()
        return int(row["n"]), int(row["size"]), row["least"], row["most"]

    def label_event(self, event_type: str, event_id: str, label: str, label_timestamp: str) -> bool:
        with self.db.transaction() as tx:
            return (
                tx.execute(
                    f"UPDATE events SET label = ?, label_timestamp = ? WHERE {_HERE} AND event_type = ? "
                    "AND event_id = ?",
                    (label, label_timestamp, *self.where, event_type, event_id),
                ).rowcount
                > 0
            )

    def delete_event(self, event_type: str, event_id: str, *, with_predictions: bool = False) -> bool:
        """Delete a stored event; `with_predictions` also deletes its prediction records (audit history)."""
        with self.db.transaction() as tx:
            if with_predictions:
                tx.execute(
                    f"DELETE FROM predictions WHERE {_HERE} AND event_type = ? AND event_id = ?",
                    (*self.where, event_type, event_id),
                )
            return (
                tx.execute(
                    f"DELETE FROM events WHERE {_HERE} AND event_type = ? AND event_id = ?",
                    (*self.where, event_type, event_id),
                ).rowcount
                > 0
            )

    def delete_events(self, event_type: str) -> int:
        """Delete every stored event of a type: how many there were."""
        with self.db.transaction() as tx:
            return int(
                tx.execute(
                    f"DELETE FROM events WHERE {_HERE} AND event_type = ?", (*self.where, event_type)
                ).rowcount
            )

    # predictions
    def add_prediction(
        self, event_id: str, event_type: str, detector: str, version: str, epoch: float, body: dict[str, Any]
    ) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO predictions (account, region, event_id, event_type, detector, version, epoch, "
                "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*self.where, event_id, event_type, detector, version, epoch, json.dumps(body)),
            )

    def predictions(self, filters: dict[str, str], start: float, end: float) -> list[dict[str, Any]]:
        """Prediction records, newest first, matching column filters and a time range."""
        sql = f"SELECT body FROM predictions WHERE {_HERE} AND epoch >= ? AND epoch <= ?"
        args: list[Any] = [*self.where, start, end]
        for column in ("event_id", "event_type", "detector", "version"):
            if column in filters:
                sql, args = sql + f" AND {column} = ?", [*args, filters[column]]
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY epoch DESC, seq DESC", args).fetchall()
        return [json.loads(r["body"]) for r in rows]

    # tags (keyed by ARN, which names the account and region)
    def tags(self, arn: str) -> dict[str, str]:
        with self.db.read() as conn:
            row = conn.execute("SELECT tags FROM tags WHERE arn = ?", (arn,)).fetchone()
        found: dict[str, str] = json.loads(row["tags"]) if row else {}
        return found

    def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as tx:
            if tags:
                tx.execute("INSERT OR REPLACE INTO tags VALUES (?, ?)", (arn, json.dumps(tags)))
            else:
                tx.execute("DELETE FROM tags WHERE arn = ?", (arn,))


_HERE = "account = ? AND region = ?"


def _row(event: StoredEvent) -> tuple[Any, ...]:
    return (
        event.event_type,
        event.event_id,
        event.timestamp,
        event.epoch,
        event.label,
        event.label_timestamp,
        json.dumps(event.entities),
        json.dumps(event.variables),
    )


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        event_type=row["event_type"],
        event_id=row["event_id"],
        timestamp=row["timestamp"],
        epoch=row["epoch"],
        label=row["label"],
        label_timestamp=row["label_timestamp"],
        entities=json.loads(row["entities"]),
        variables=json.loads(row["variables"]),
    )
