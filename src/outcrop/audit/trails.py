"""Trails: named deliveries of the audit log to an S3 bucket, as CloudTrail lays its log files out.

A delivery thread wakes every `interval` seconds and, for each trail that is logging, writes the
management events appended since its last delivery (of its region, or of every region for a multi-Region
trail) as one gzip'd `{"Records": [...]}` file per region under
`<prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<unique>.json.gz`,
then records how far it got. StopLogging delivers what is pending first. A failed delivery (the bucket
gone) is kept as the trail's latest delivery error and retried at the next wake.

A trail lives in its account and home region, where its name is unique; a multi-Region trail also has a
shadow in every other region, so its name is taken everywhere. Its ARN (which says both) is its key here.
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import sqlite3
import string
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcrop.audit.log import AuditLog
from outcrop.kms.keys import KmsError
from outcrop.storage.objects import ObjectAttributes, ObjectStore, StoreError
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, Database, Migration

log = logging.getLogger("outcrop.audit.trails")

MIGRATIONS: list[Migration] = [
    (
        "0001_trails",
        """
        CREATE TABLE trails (
            name TEXT PRIMARY KEY, arn TEXT NOT NULL, home_region TEXT NOT NULL, bucket TEXT NOT NULL,
            prefix TEXT, multi_region INTEGER NOT NULL, global_events INTEGER NOT NULL,
            validation INTEGER NOT NULL, kms_key TEXT, logging INTEGER NOT NULL DEFAULT 0,
            delivered_seq INTEGER NOT NULL DEFAULT 0, started REAL, stopped REAL, delivered REAL,
            attempted REAL, error TEXT, created REAL NOT NULL)
        """,
    ),
]
_COLUMNS = (
    "name, arn, home_region, bucket, prefix, multi_region, global_events, validation, kms_key, logging,"
    " delivered_seq, started, stopped, delivered, attempted, error, created"
)


def migrations(account: str) -> list[Migration]:
    """The schema, each trail in an account (where its ARN says, else the server's) and unique by name
    within its home region, no longer server-wide."""
    return [*MIGRATIONS, ("0002_regions", lambda tx: _partition(tx, account))]


def _partition(tx: sqlite3.Connection, account: str) -> None:
    tx.execute(
        """
        CREATE TABLE trails_new (
            name TEXT NOT NULL, arn TEXT NOT NULL UNIQUE, home_region TEXT NOT NULL, bucket TEXT NOT NULL,
            prefix TEXT, multi_region INTEGER NOT NULL, global_events INTEGER NOT NULL,
            validation INTEGER NOT NULL, kms_key TEXT, logging INTEGER NOT NULL DEFAULT 0,
            delivered_seq INTEGER NOT NULL DEFAULT 0, started REAL, stopped REAL, delivered REAL,
            attempted REAL, error TEXT, created REAL NOT NULL, account TEXT NOT NULL,
            PRIMARY KEY (account, home_region, name))
        """
    )
    for row in tx.execute(f"SELECT {_COLUMNS} FROM trails").fetchall():
        fields = str(row["arn"]).split(":")
        owner = fields[4] if len(fields) > 5 and fields[4] else account
        tx.execute(
            f"INSERT INTO trails_new ({_COLUMNS}, account) VALUES ({', '.join('?' * 18)})", (*row, owner)
        )
    tx.execute("DROP TABLE trails")
    tx.execute("ALTER TABLE trails_new RENAME TO trails")


@dataclass(frozen=True)
class Trail:
    name: str
    arn: str
    home_region: str
    bucket: str
    prefix: str | None
    multi_region: bool
    global_events: bool
    validation: bool
    kms_key: str | None
    logging: bool
    delivered_seq: int
    started: float | None
    stopped: float | None
    delivered: float | None
    attempted: float | None
    error: str | None
    created: float
    account: str = DEFAULT_ACCOUNT


class TrailStore:
    def __init__(self, path: Path, *, account: str = DEFAULT_ACCOUNT) -> None:
        """`account` is the server's, where trails from before accounts go."""
        self.db = Database(path, migrations(account))

    def close(self) -> None:
        self.db.close()

    def insert(self, trail: Trail) -> bool:
        """Store a new trail; False if its name is taken in its home region (by a trail there, or by a
        multi-Region trail's shadow), or, for a multi-Region trail, in any region."""
        values = [getattr(trail, f) for f in Trail.__dataclass_fields__]
        with self.db.transaction() as tx:
            taken = tx.execute(
                "SELECT 1 FROM trails WHERE account = ? AND name = ?"
                " AND (home_region = ? OR multi_region = 1 OR ? = 1)",
                (trail.account, trail.name, trail.home_region, int(trail.multi_region)),
            ).fetchone()
            if taken:
                return False
            tx.execute(f"INSERT INTO trails VALUES ({', '.join('?' * len(values))})", values)
        return True

    def named(self, account: str, name: str) -> list[Trail]:
        """The account's trails of that name, in any home region."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM trails WHERE account = ? AND name = ?", (account, name))
            return [_trail(row) for row in rows.fetchall()]

    def by_arn(self, arn: str) -> Trail | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM trails WHERE arn = ?", (arn,)).fetchone()
        return _trail(row) if row else None

    def all(self, account: str | None = None) -> list[Trail]:
        """Every trail (delivery), or the account's."""
        query, args = "SELECT * FROM trails", []
        if account is not None:
            query, args = query + " WHERE account = ?", [account]
        with self.db.read() as conn:
            return [_trail(row) for row in conn.execute(query + " ORDER BY name, home_region", args)]

    def update(self, arn: str, **changes: Any) -> None:
        columns = ", ".join(f"{column} = ?" for column in changes)
        with self.db.transaction() as tx:
            tx.execute(f"UPDATE trails SET {columns} WHERE arn = ?", (*changes.values(), arn))

    def delete(self, arn: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM trails WHERE arn = ?", (arn,))


def _trail(row: Any) -> Trail:
    values = dict(row)
    for flag in ("multi_region", "global_events", "validation", "logging"):
        values[flag] = bool(values[flag])
    return Trail(**values)


class TrailDelivery:
    """The thread that writes each logging trail's new events to its bucket."""

    def __init__(
        self, events: AuditLog, trails: TrailStore, objects: ObjectStore, account: str, interval: float
    ) -> None:
        self.events = events
        self.trails = trails
        self.objects = objects
        self.account = account
        self.interval = interval
        self._lock = threading.Lock()  # one delivery at a time: the thread's, or StopLogging's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trail-delivery", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def deliver(self, arn: str | None = None) -> None:
        """Deliver now what is pending: for one trail (by ARN), or for every trail that is logging."""
        self.events.flush()
        with self._lock:
            for trail in self.trails.all():
                if trail.logging and arn in (None, trail.arn):
                    self._deliver(trail)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deliver()
            except Exception:
                log.exception("trail delivery failed")

    def _deliver(self, trail: Trail) -> None:
        events = self.events.since(trail.delivered_seq)
        if not events:
            return
        now = time.time()
        by_region: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            record = event.record
            region = record["awsRegion"]
            mine = record.get("recipientAccountId", trail.account) == trail.account
            if mine and record.get("managementEvent") and (trail.multi_region or region == trail.home_region):
                by_region.setdefault(region, []).append(record)
        try:
            for region, records in by_region.items():
                self._write(trail, region, records, now)
        except (StoreError, KmsError) as exc:  # the bucket is gone, the trail's KMS key disabled...
            self.trails.update(trail.arn, attempted=now, error=exc.code)
            return
        self.trails.update(trail.arn, delivered_seq=events[-1].seq, attempted=now, delivered=now, error=None)

    def _write(self, trail: Trail, region: str, records: list[dict[str, Any]], now: float) -> None:
        stamp = datetime.fromtimestamp(now, UTC)
        unique = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        name = f"{trail.account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{unique}.json.gz"
        key = f"AWSLogs/{trail.account}/CloudTrail/{region}/{stamp:%Y/%m/%d}/{name}"
        if trail.prefix:
            key = f"{trail.prefix}/{key}"
        body = gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode())
        attributes = ObjectAttributes(content_type="application/json", headers={"ContentEncoding": "gzip"})
        if trail.kms_key:
            attributes = replace(
                attributes, encryption={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": trail.kms_key}
            )
        self.objects.put_object(trail.bucket, key, body, attributes)
