"""CloudWatch Logs' groups, streams and events in one SQLite file: the `LogStore` that Outcrop runs on.

Each change commits in its own transaction, durable (the shared helper runs `synchronous=FULL`) before
the call returns. Events are kept in (timestamp, id) order per stream and per group, so reads
resume from a `Position` by a range scan instead of an offset, and FilterLogEvents scans a bounded number
of events per call and says where to carry on.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from outcrop.storage.logcrypt import Sealer
from outcrop.storage.logfilter import Predicate
from outcrop.storage.logs import (
    DAY_MS,
    END,
    EVENT_OVERHEAD,
    MAX_AGE_MS,
    MAX_BATCH_BYTES,
    MAX_FUTURE_MS,
    RETENTION_DAYS,
    START,
    InvalidParameterException,
    LogDataKeys,
    LogEvent,
    LogGroup,
    LogStream,
    Position,
    PutResult,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from outcrop.storage.logschema import migrations

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database

_HERE = "account = ? AND region = ?"  # every query's partition, bound to the view's (account, region)


def now_ms() -> int:
    return int(time.time() * 1000)


def _group(row: sqlite3.Row) -> LogGroup:
    return LogGroup(
        name=row["name"],
        created=row["created"],
        retention_days=row["retention_days"],
        stored_bytes=row["stored_bytes"],
        kms_key_id=row["kms_key_id"],
        log_group_class=row["log_group_class"],
        tags=json.loads(row["tags"]),
    )


class SqliteLogStore:
    """LogStore in one SQLite file (WAL) under the data dir. The store itself is the default account's
    and region's view; `scoped` gives another's, over the same file."""

    def __init__(
        self,
        root: Path,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        data_keys: LogDataKeys | None = None,
    ) -> None:
        """`data_keys` (KMS) encrypts the events of groups with a kmsKeyId (see `storage.logcrypt`)."""
        self._db = Database(root / "logs.sqlite3", migrations(account, region))
        self._scope = (account, region)
        self._sealer = Sealer(data_keys)

    def scoped(self, account: str, region: str) -> SqliteLogStore:
        view = copy.copy(self)
        view._scope = (account, region)
        return view

    def close(self) -> None:
        self._db.close()

    # -- groups ---------------------------------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        *,
        kms_key_id: str | None = None,
        log_group_class: str = "STANDARD",
        tags: Mapping[str, str] | None = None,
    ) -> LogGroup:
        group = LogGroup(name, now_ms(), None, 0, kms_key_id, log_group_class, dict(tags or {}))
        with self._db.transaction() as tx:
            if tx.execute(
                f"SELECT 1 FROM groups WHERE {_HERE} AND name = ?", (*self._scope, name)
            ).fetchone():
                raise ResourceAlreadyExistsException("The specified log group already exists")
            tx.execute(
                "INSERT INTO groups (account, region, name, created, retention_days, stored_bytes,"
                " kms_key_id, log_group_class, tags) VALUES (?, ?, ?, ?, NULL, 0, NULL, ?, ?)",
                (*self._scope, name, group.created, log_group_class, json.dumps(group.tags)),
            )
            if kms_key_id:
                self._sealer.associate(tx, self._scope, name, kms_key_id)
        return self.get_group(name)

    def get_group(self, name: str) -> LogGroup:
        row = (
            self._db.connection()
            .execute(f"SELECT * FROM groups WHERE {_HERE} AND name = ?", (*self._scope, name))
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        return _group(row)

    def delete_group(self, name: str) -> None:
        with self._db.transaction() as tx:
            self._require_group(tx, name)
            tx.execute(f"DELETE FROM events WHERE {_HERE} AND group_name = ?", (*self._scope, name))
            tx.execute(f"DELETE FROM streams WHERE {_HERE} AND group_name = ?", (*self._scope, name))
            tx.execute(f"DELETE FROM groups WHERE {_HERE} AND name = ?", (*self._scope, name))
            tx.execute(f"DELETE FROM data_keys WHERE {_HERE} AND group_name = ?", (*self._scope, name))

    def associate_key(self, name: str, key_ref: str) -> None:
        with self._db.transaction() as tx:
            self._require_group(tx, name)
            self._sealer.associate(tx, self._scope, name, key_ref)

    def disassociate_key(self, name: str) -> None:
        with self._db.transaction() as tx:
            self._require_group(tx, name)
            tx.execute(
                f"UPDATE groups SET kms_key_id = NULL, data_key = NULL WHERE {_HERE} AND name = ?",
                (*self._scope, name),
            )

    def list_groups(
        self, *, prefix: str = "", pattern: str = "", after: str = "", limit: int = 50
    ) -> list[LogGroup]:
        rows = self._db.connection().execute(
            f"SELECT * FROM groups WHERE {_HERE} AND name > ? AND substr(name, 1, ?) = ? "
            "AND instr(lower(name), lower(?)) > 0 ORDER BY name LIMIT ?",
            (*self._scope, after, len(prefix), prefix, pattern, limit),
        )
        return [_group(r) for r in rows]

    def set_retention(self, name: str, days: int | None) -> None:
        if days is not None and days not in RETENTION_DAYS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]"
            )
        with self._db.transaction() as tx:
            updated = tx.execute(
                f"UPDATE groups SET retention_days = ? WHERE {_HERE} AND name = ?", (days, *self._scope, name)
            )
            if updated.rowcount == 0:
                raise ResourceNotFoundException("The specified log group does not exist.")

    def set_tags(self, name: str, tags: Mapping[str, str]) -> None:
        with self._db.transaction() as tx:
            if (
                tx.execute(
                    f"UPDATE groups SET tags = ? WHERE {_HERE} AND name = ?",
                    (json.dumps(dict(tags)), *self._scope, name),
                ).rowcount
                == 0
            ):
                raise ResourceNotFoundException("The specified log group does not exist.")

    # -- streams --------------------------------------------------------------------------------------------

    def create_stream(self, group: str, name: str) -> LogStream:
        stream = LogStream(group, name, now_ms(), None, None, None, 1, 0)
        with self._db.transaction() as tx:
            self._require_group(tx, group)
            if tx.execute(
                f"SELECT 1 FROM streams WHERE {_HERE} AND group_name = ? AND name = ?",
                (*self._scope, group, name),
            ).fetchone():
                raise ResourceAlreadyExistsException("The specified log stream already exists")
            tx.execute(
                "INSERT INTO streams (account, region, group_name, name, created, first_event, last_event,"
                " last_ingestion, sequence, stored_bytes) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, 1, 0)",
                (*self._scope, group, name, stream.created),
            )
        return stream

    def delete_stream(self, group: str, name: str) -> None:
        with self._db.transaction() as tx:
            self._require_group(tx, group)
            here = (*self._scope, group, name)
            row = tx.execute(
                f"SELECT stored_bytes FROM streams WHERE {_HERE} AND group_name = ? AND name = ?", here
            ).fetchone()
            if row is None:
                raise ResourceNotFoundException("The specified log stream does not exist.")
            tx.execute(f"DELETE FROM events WHERE {_HERE} AND group_name = ? AND stream = ?", here)
            tx.execute(f"DELETE FROM streams WHERE {_HERE} AND group_name = ? AND name = ?", here)
            tx.execute(
                f"UPDATE groups SET stored_bytes = stored_bytes - ? WHERE {_HERE} AND name = ?",
                (row[0], *self._scope, group),
            )

    def list_streams(
        self,
        group: str,
        *,
        prefix: str = "",
        by_last_event: bool = False,
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> list[LogStream]:
        self.get_group(group)
        direction = "DESC" if descending else "ASC"
        order = (
            f"coalesce(last_event, 0) {direction}, name {direction}" if by_last_event else f"name {direction}"
        )
        rows = self._db.connection().execute(
            f"SELECT * FROM streams WHERE {_HERE} AND group_name = ? AND substr(name, 1, ?) = ? "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            (*self._scope, group, len(prefix), prefix, limit, offset),
        )
        return [
            LogStream(
                group,
                r["name"],
                r["created"],
                r["first_event"],
                r["last_event"],
                r["last_ingestion"],
                r["sequence"],
                r["stored_bytes"],
            )
            for r in rows
        ]

    # -- events ---------------------------------------------------------------------------------------------

    def put_events(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> PutResult:
        stamps = [ts for ts, _ in events]
        if any(b < a for a, b in itertools.pairwise(stamps)):
            raise InvalidParameterException(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        if stamps and stamps[-1] - stamps[0] > DAY_MS:
            raise InvalidParameterException(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
            )
        size = sum(len(message.encode()) + EVENT_OVERHEAD for _, message in events)
        if size > MAX_BATCH_BYTES:
            raise InvalidParameterException(
                f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )
        now = now_ms()
        with self._db.transaction() as tx:
            retention = self._require_group(tx, group)
            row = tx.execute(
                f"SELECT sequence FROM streams WHERE {_HERE} AND group_name = ? AND name = ?",
                (*self._scope, group, stream),
            ).fetchone()
            if row is None:
                raise ResourceNotFoundException("The specified log stream does not exist.")
            too_old = [i for i, ts in enumerate(stamps) if ts < now - MAX_AGE_MS]
            expired = [i for i, ts in enumerate(stamps) if retention and ts < now - retention * DAY_MS]
            too_new = [i for i, ts in enumerate(stamps) if ts > now + MAX_FUTURE_MS]
            rejected = set(too_old) | set(expired) | set(too_new)
            kept = [(ts, message) for i, (ts, message) in enumerate(events) if i not in rejected]
            sequence = int(row[0]) + 1
            if kept:
                key = tx.execute(
                    f"SELECT data_key FROM groups WHERE {_HERE} AND name = ?", (*self._scope, group)
                ).fetchone()[0]
                stored = self._sealer.seal(tx, self._scope, group, key, [m for _, m in kept])
                tx.executemany(
                    "INSERT INTO events (account, region, group_name, stream, timestamp, ingestion, message,"
                    " data_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (*self._scope, group, stream, ts, now, m, key)
                        for (ts, _), m in zip(kept, stored, strict=True)
                    ],
                )
                kept_bytes = sum(len(message.encode()) for _, message in kept)
                tx.execute(
                    "UPDATE streams SET first_event = min(coalesce(first_event, ?), ?), "
                    "last_event = max(coalesce(last_event, ?), ?), last_ingestion = ?, sequence = ?, "
                    f"stored_bytes = stored_bytes + ? WHERE {_HERE} AND group_name = ? AND name = ?",
                    (
                        kept[0][0],
                        kept[0][0],
                        kept[-1][0],
                        kept[-1][0],
                        now,
                        sequence,
                        kept_bytes,
                        *self._scope,
                        group,
                        stream,
                    ),
                )
                tx.execute(
                    f"UPDATE groups SET stored_bytes = stored_bytes + ? WHERE {_HERE} AND name = ?",
                    (kept_bytes, *self._scope, group),
                )
        return PutResult(
            sequence,
            too_new_start=too_new[0] if too_new else None,
            too_old_end=too_old[-1] if too_old else None,
            expired_end=expired[-1] if expired else None,
        )

    def read_events(
        self,
        group: str,
        stream: str,
        *,
        after: Position | None = None,
        before: Position | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 10_000,
    ) -> list[LogEvent]:
        conn = self._db.connection()
        retention = self._require_group(conn, group)
        if not conn.execute(
            f"SELECT 1 FROM streams WHERE {_HERE} AND group_name = ? AND name = ?",
            (*self._scope, group, stream),
        ).fetchone():
            raise ResourceNotFoundException("The specified log stream does not exist.")
        low, high = self._window(retention, start, end)
        backward = after is None
        bound: Position = (before or END) if after is None else after
        sql = (
            f"SELECT * FROM events WHERE {_HERE} AND group_name = ? AND stream = ? "
            "AND timestamp >= ? AND timestamp < ? "
            + (
                "AND (timestamp, id) < (?, ?) ORDER BY timestamp DESC, id DESC"
                if backward
                else "AND (timestamp, id) > (?, ?) ORDER BY timestamp, id"
            )
            + " LIMIT ?"
        )
        rows = conn.execute(sql, (*self._scope, group, stream, low, high, *bound, limit)).fetchall()
        opened: dict[int, AESGCM] = {}
        events = [self._sealer.event(conn, self._scope, r, opened) for r in rows]
        return events[::-1] if backward else events

    def filter_events(
        self,
        group: str,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str = "",
        start: int | None = None,
        end: int | None = None,
        after: Position = START,
        matches: Predicate | None = None,
        limit: int = 10_000,
        scan_limit: int = 100_000,
    ) -> tuple[list[LogEvent], Position | None]:
        conn = self._db.connection()
        retention = self._require_group(conn, group)
        low, high = self._window(retention, start, end)
        where = (
            f"{_HERE} AND group_name = ? AND timestamp >= ? AND timestamp < ? AND substr(stream, 1, ?) = ?"
        )
        args: list[object] = [*self._scope, group, low, high, len(stream_prefix), stream_prefix]
        if streams is not None:
            where += f" AND stream IN ({', '.join('?' for _ in streams)})"
            args.extend(streams)
        found: list[LogEvent] = []
        position, scanned = after, 0
        opened: dict[int, AESGCM] = {}
        while True:
            rows = conn.execute(
                f"SELECT * FROM events WHERE {where} AND (timestamp, id) > (?, ?) "
                "ORDER BY timestamp, id LIMIT 1000",
                (*args, *position),
            ).fetchall()
            for r in rows:
                event = self._sealer.event(conn, self._scope, r, opened)
                position = event.position
                scanned += 1
                if matches is None or matches(event.message):
                    found.append(event)
                    if len(found) == limit:
                        return found, position
                if scanned >= scan_limit:
                    return found, position
            if len(rows) < 1000:
                return found, None

    def put(self, group: str, stream: str, messages: Iterable[str | tuple[int, str]]) -> None:
        for create in (lambda: self.create_group(group), lambda: self.create_stream(group, stream)):
            with contextlib.suppress(ResourceAlreadyExistsException):
                create()
        now = now_ms()
        events = sorted(m if isinstance(m, tuple) else (now, m) for m in messages)
        batch: list[tuple[int, str]] = []
        size = 0
        for ts, message in events:
            cost = len(message.encode()) + EVENT_OVERHEAD
            if batch and (size + cost > MAX_BATCH_BYTES or len(batch) == 10_000 or ts - batch[0][0] > DAY_MS):
                self.put_events(group, stream, batch)
                batch, size = [], 0
            batch.append((ts, message or " "))
            size += cost
        if batch:
            self.put_events(group, stream, batch)

    # -- internals ------------------------------------------------------------------------------------------

    def _require_group(self, conn: sqlite3.Connection, group: str) -> int | None:
        """The group's retention in days (None: forever); ResourceNotFoundException if there is no group."""
        row = conn.execute(
            f"SELECT retention_days FROM groups WHERE {_HERE} AND name = ?", (*self._scope, group)
        ).fetchone()
        if row is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        return row[0]  # type: ignore[no-any-return]

    @staticmethod
    def _window(retention: int | None, start: int | None, end: int | None) -> tuple[int, int]:
        """The time range to read: the caller's window, less what retention has expired."""
        low = start or 0
        if retention:
            low = max(low, now_ms() - retention * DAY_MS)
        return low, end if end is not None else END[0]
