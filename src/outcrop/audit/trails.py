"""Trails: named deliveries of the audit log to an S3 bucket, as CloudTrail lays its log files out.

A delivery thread wakes every `interval` seconds and, for each trail that is logging, writes the
management events appended since its last delivery (of its region, or of every region for a multi-Region
trail) as one gzip'd `{"Records": [...]}` file per region under
`<prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<unique>.json.gz`,
then records how far it got. StopLogging delivers what is pending first. A failed delivery (the bucket
gone) is kept as the trail's latest delivery error and retried at the next wake.
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
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
from outcrop.storage.sqlite import Database, Migration

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


class TrailStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def insert(self, trail: Trail) -> bool:
        values = [getattr(trail, f) for f in Trail.__dataclass_fields__]
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM trails WHERE name = ?", (trail.name,)).fetchone():
                return False
            tx.execute(f"INSERT INTO trails VALUES ({', '.join('?' * len(values))})", values)
        return True

    def get(self, name: str) -> Trail | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM trails WHERE name = ? OR arn = ?", (name, name)).fetchone()
        return _trail(row) if row else None

    def all(self) -> list[Trail]:
        with self.db.read() as conn:
            return [_trail(row) for row in conn.execute("SELECT * FROM trails ORDER BY name").fetchall()]

    def update(self, name: str, **changes: Any) -> None:
        columns = ", ".join(f"{column} = ?" for column in changes)
        with self.db.transaction() as tx:
            tx.execute(f"UPDATE trails SET {columns} WHERE name = ?", (*changes.values(), name))

    def delete(self, name: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM trails WHERE name = ?", (name,))


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

    def deliver(self, name: str | None = None) -> None:
        """Deliver now what is pending: for one trail, or for every trail that is logging."""
        self.events.flush()
        with self._lock:
            for trail in self.trails.all():
                if trail.logging and name in (None, trail.name):
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
            if record.get("managementEvent") and (trail.multi_region or region == trail.home_region):
                by_region.setdefault(region, []).append(record)
        try:
            for region, records in by_region.items():
                self._write(trail, region, records, now)
        except (StoreError, KmsError) as exc:  # the bucket is gone, the trail's KMS key disabled...
            self.trails.update(trail.name, attempted=now, error=exc.code)
            return
        self.trails.update(trail.name, delivered_seq=events[-1].seq, attempted=now, delivered=now, error=None)

    def _write(self, trail: Trail, region: str, records: list[dict[str, Any]], now: float) -> None:
        stamp = datetime.fromtimestamp(now, UTC)
        unique = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        name = f"{self.account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{unique}.json.gz"
        key = f"AWSLogs/{self.account}/CloudTrail/{region}/{stamp:%Y/%m/%d}/{name}"
        if trail.prefix:
            key = f"{trail.prefix}/{key}"
        body = gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode())
        attributes = ObjectAttributes(content_type="application/json", headers={"ContentEncoding": "gzip"})
        if trail.kms_key:
            attributes = replace(
                attributes, encryption={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": trail.kms_key}
            )
        self.objects.put_object(trail.bucket, key, body, attributes)
