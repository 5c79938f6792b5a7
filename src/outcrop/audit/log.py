"""The audit log: every API call's CloudTrail record, appended in the background, kept append-only.

Requests must not wait for the audit: the gateway hands each answered call to `submit`, which only puts
a thunk on a bounded queue; one writer thread builds the records and appends them in batches, each batch
one durable SQLite commit (WAL, synchronous=FULL). So a record is on disk a few milliseconds after its
call was answered; a crash in that window loses what was still queued, and a full queue (the writer far
behind) drops calls and counts them rather than slow every request. Triggers refuse UPDATE and DELETE on
the events table: nothing, Outcrop included, rewrites the log.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database, Migration

log = logging.getLogger("outcrop.audit")

Record = dict[str, Any]
Builder = Callable[[], Record | None]


def _append_only(tx: sqlite3.Connection) -> None:
    for action in ("UPDATE", "DELETE"):
        tx.execute(
            f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


MIGRATIONS: list[Migration] = [
    (
        "0001_events",
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, event_time REAL NOT NULL,
            event_name TEXT NOT NULL, event_source TEXT NOT NULL, read_only INTEGER NOT NULL,
            username TEXT, access_key TEXT, region TEXT NOT NULL, management INTEGER NOT NULL,
            record TEXT NOT NULL);
        CREATE INDEX events_by_time ON events (event_time);
        CREATE TABLE event_resources (
            seq INTEGER NOT NULL REFERENCES events (seq), name TEXT NOT NULL, type TEXT);
        CREATE INDEX event_resources_by_name ON event_resources (name)
        """,
    ),
    ("0002_events_append_only", _append_only),
    ("0003_events_by_region", "CREATE INDEX events_by_region ON events (region, seq)"),
    ("0004_events_by_access_key", "CREATE INDEX events_by_access_key ON events (access_key, seq)"),
]

LOOKUP_COLUMNS = {
    "EventId": "event_id",
    "EventName": "event_name",
    "EventSource": "event_source",
    "Username": "username",
    "AccessKeyId": "access_key",
}


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    record: Record
    resources: list[tuple[str | None, str]]


class AuditLog:
    def __init__(self, path: Path, *, capacity: int = 10_000, batch: int = 500) -> None:
        self.db = Database(path, MIGRATIONS)
        self.dropped = 0
        self._batch = batch
        self._queue: queue.Queue[Builder | None] = queue.Queue(maxsize=capacity)
        self._writer = threading.Thread(target=self._write_forever, name="audit-log", daemon=True)
        self._writer.start()

    # -- writing ------------------------------------------------------------------------------------------

    def submit(self, build: Builder) -> bool:
        """Queue a call's record (built later, on the writer thread); False if the queue was full."""
        try:
            self._queue.put_nowait(build)
            return True
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("audit log queue full: %d calls dropped so far", self.dropped)
            return False

    def flush(self) -> None:
        """Wait until every call submitted so far is on disk."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, stop the writer, close the file."""
        self._queue.put(None)
        self._writer.join(timeout=30)
        self.db.close()

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            builders = [first]
            while len(builders) < self._batch:
                try:
                    builders.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in builders
            try:
                self._append([b for b in builders if b is not None])
            except Exception:
                log.exception("audit log: a batch of %d records could not be written", len(builders))
            finally:
                for _ in builders:
                    self._queue.task_done()
            if stop:
                return

    def _append(self, builders: Sequence[Builder]) -> None:
        records = []
        for build in builders:
            try:
                record = build()
            except Exception:
                log.exception("audit log: a record could not be built")
                continue
            if record is not None:
                records.append(record)
        if not records:
            return
        with self.db.transaction() as tx:
            for record in records:
                seq = self._insert(tx, record)
                for kind, name in record.pop("_resources", []):
                    tx.execute("INSERT INTO event_resources VALUES (?, ?, ?)", (seq, name, kind))

    @staticmethod
    def _insert(tx: sqlite3.Connection, record: Record) -> int:
        internal = record.pop("_index")
        cursor = tx.execute(
            "INSERT INTO events (event_id, event_time, event_name, event_source, read_only, username, "
            "access_key, region, management, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record["eventID"],
                internal["time"],
                record["eventName"],
                record["eventSource"],
                int(record["readOnly"]),
                internal["username"],
                record["userIdentity"].get("accessKeyId"),
                record["awsRegion"],
                int(record["managementEvent"]),
                json.dumps(record, separators=(",", ":")),
            ),
        )
        return int(cursor.lastrowid or 0)

    # -- reading ------------------------------------------------------------------------------------------

    def lookup(
        self,
        *,
        attribute: tuple[str, str] | None,
        start: float | None,
        end: float | None,
        before_seq: int | None,
        limit: int,
        region: str | None = None,
    ) -> list[StoredEvent]:
        """Management events, newest first, matching one lookup attribute and the time range (and, given a
        region, of the calls made there: LookupEvents answers only its own region's)."""
        where, args = ["management = 1"], []
        if region is not None:
            where.append("region = ?")
            args.append(region)
        if attribute is not None:
            name, value = attribute
            if name in LOOKUP_COLUMNS:
                where.append(f"{LOOKUP_COLUMNS[name]} = ?")
            elif name == "ReadOnly":
                where.append("read_only = ?")
                value = "1" if value.lower() == "true" else "0"
            else:
                column = "name" if name == "ResourceName" else "type"
                where.append(f"seq IN (SELECT seq FROM event_resources WHERE {column} = ?)")
            args.append(value)
        if start is not None:
            where.append("event_time >= ?")
            args.append(str(start))
        if end is not None:
            where.append("event_time <= ?")
            args.append(str(end))
        if before_seq is not None:
            where.append("seq < ?")
            args.append(str(before_seq))
        query = f"SELECT seq, record FROM events WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
        with self.db.read() as conn:
            rows = conn.execute(query, (*args, limit)).fetchall()
            return [self._stored(conn, row) for row in rows]

    def since(self, after_seq: int, limit: int = 5000) -> list[StoredEvent]:
        """Events appended after `after_seq`, oldest first (trail delivery)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT seq, record FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()
            return [self._stored(conn, row, resources=False) for row in rows]

    def last_use(self, access_key: str) -> tuple[float, str, str] | None:
        """When, to which service (its event source) and in which region `access_key` last signed a
        recorded call; None if it never did (IAM's GetAccessKeyLastUsed)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT event_time, event_source, region FROM events WHERE access_key = ? "
                "ORDER BY seq DESC LIMIT 1",
                (access_key,),
            ).fetchone()
        if row is None:
            return None
        return float(row["event_time"]), str(row["event_source"]), str(row["region"])

    def last_seq(self) -> int:
        with self.db.read() as conn:
            row = conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    @staticmethod
    def _stored(conn: sqlite3.Connection, row: sqlite3.Row, *, resources: bool = True) -> StoredEvent:
        found: list[tuple[str | None, str]] = []
        if resources:
            found = [
                (r["type"], r["name"])
                for r in conn.execute("SELECT type, name FROM event_resources WHERE seq = ?", (row["seq"],))
            ]
        return StoredEvent(row["seq"], json.loads(row["record"]), found)
