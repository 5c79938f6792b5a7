"""Forecast's resources in SQLite, and their large data (imported rows, trained choices, forecasts) as files.

Every resource (dataset, dataset group, import job, predictor, forecast, export job) is one row keyed by
its ARN: its kind, name, status, the request it was created with and what was learned since (`body`).
A resource's data is a JSON file named after a hash of its ARN, written before its status says ACTIVE.
Each row lives in the account and region its ARN names (`Where`): a request reads through `where=` and sees
only its own; the background work, which acts on what it was given, reads without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.config import Settings
from outcrop.services.base import RequestContext
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, add_partition

PENDING, IN_PROGRESS, ACTIVE, FAILED = "CREATE_PENDING", "CREATE_IN_PROGRESS", "ACTIVE", "CREATE_FAILED"

Where = tuple[str, str]
"""(account, region): where a resource lives."""

MIGRATIONS: list[Migration] = [
    (
        "0001-resources",
        """
        CREATE TABLE resources (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            arn TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT,
            body TEXT NOT NULL,
            created REAL NOT NULL,
            modified REAL NOT NULL
        );
        CREATE INDEX resources_kind ON resources (kind, seq)
        """,
    )
]


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with every resource placed in an account and region."""
    return [*MIGRATIONS, ("0002_regions", lambda tx: _partition(tx, account, region))]


def _partition(tx: sqlite3.Connection, account: str, region: str) -> None:
    """Resources gain account and region: each existing one where its ARN says, else the server's
    defaults."""
    add_partition(tx, "resources", account, region)
    for row in tx.execute("SELECT arn FROM resources").fetchall():
        place = _place(row["arn"])
        if place is not None:
            tx.execute("UPDATE resources SET account = ?, region = ? WHERE arn = ?", (*place, row["arn"]))
    tx.execute("CREATE INDEX resources_by_place ON resources (account, region, kind, seq)")


def _place(arn: str) -> Where | None:
    """(account, region) an ARN names, or None where it names neither."""
    fields = arn.split(":")
    return (fields[4], fields[3]) if len(fields) > 5 and fields[3] and fields[4] else None


def open_store(data_path: Callable[..., Path], settings: Settings) -> ForecastStore:
    """The store forecast and forecastquery share; resources from before regions go to the defaults."""
    return ForecastStore(data_path("forecast"), account=settings.account_id, region=settings.region)


def where(ctx: RequestContext) -> Where:
    """Where a request's resources live: its account and region."""
    return (ctx.account_id, ctx.region)


class Exists(Exception):
    """A resource with this ARN is already recorded."""


@dataclass(frozen=True)
class Resource:
    arn: str
    kind: str
    name: str
    status: str
    message: str | None
    body: dict[str, Any]
    created: float
    modified: float
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION

    @property
    def where(self) -> Where:
        return (self.account, self.region)


def _resource(row: sqlite3.Row) -> Resource:
    fields = dict(zip(row.keys(), tuple(row), strict=True))
    del fields["seq"]
    return Resource(**{**fields, "body": json.loads(row["body"])})


def _seen(row: sqlite3.Row | None, where: Where | None) -> Resource | None:
    """The row's resource, unless it lives elsewhere than `where`."""
    if row is None or (where is not None and (row["account"], row["region"]) != where):
        return None
    return _resource(row)


class ForecastStore:
    """Create, read, update and delete resources; put and get each one's data file."""

    def __init__(self, root: Path, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> None:
        """`account` and `region` are the server's defaults, where resources from before regions go."""
        self.root = root
        (root / "data").mkdir(parents=True, exist_ok=True)
        self.db = Database(root / "forecast.sqlite3", migrations(account, region))

    def close(self) -> None:
        self.db.close()

    def create(self, kind: str, arn: str, name: str, body: dict[str, Any], status: str = ACTIVE) -> Resource:
        """Record a resource in the account and region its ARN names."""
        now = time.time()
        place = _place(arn)
        assert place is not None, arn
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO resources (arn, kind, name, status, body, created, modified, account,"
                    " region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (arn, kind, name, status, json.dumps(body), now, now, *place),
                )
        except sqlite3.IntegrityError:
            raise Exists(arn) from None
        found = self.get(arn)
        assert found is not None
        return found

    def get(self, arn: str, *, where: Where | None = None) -> Resource | None:
        """The resource, if it lives in `where` (given: a request's view) or anywhere (not given)."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        return _seen(row, where)

    def of_kind(self, kind: str, *, where: Where | None = None) -> list[Resource]:
        """Resources of a kind, oldest first: those of `where` when given, else all."""
        query, args = "SELECT * FROM resources WHERE kind = ?", [kind]
        if where is not None:
            query, args = query + " AND account = ? AND region = ?", [*args, *where]
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY seq", args).fetchall()
        return [_resource(r) for r in rows]

    def unfinished(self) -> list[Resource]:
        """What a stopped server left pending or in progress, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM resources WHERE status IN (?, ?) ORDER BY seq", (PENDING, IN_PROGRESS)
            ).fetchall()
        return [_resource(r) for r in rows]

    def update(
        self, arn: str, *, status: str | None = None, message: str | None = None, **fields: Any
    ) -> None:
        """Set the status (and message), and merge `fields` into the body."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT body, status, message FROM resources WHERE arn = ?", (arn,)).fetchone()
            if row is None:
                return
            body = {**json.loads(row["body"]), **fields}
            tx.execute(
                "UPDATE resources SET status = ?, message = ?, body = ?, modified = ? WHERE arn = ?",
                (status or row["status"], message, json.dumps(body), time.time(), arn),
            )

    def delete(self, arn: str) -> bool:
        with self.db.transaction() as tx:
            gone = tx.execute("DELETE FROM resources WHERE arn = ?", (arn,)).rowcount > 0
        self._path(arn).unlink(missing_ok=True)
        return gone

    def put_data(self, arn: str, data: Any) -> int:
        """Write a resource's data durably (temp file, fsync, rename); its size in bytes."""
        path = self._path(arn)
        temp = path.with_suffix(".tmp")
        raw = json.dumps(data, separators=(",", ":")).encode()
        with temp.open("wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
        return len(raw)

    def get_data(self, arn: str) -> Any:
        with self._path(arn).open("rb") as stream:
            return json.load(stream)

    def has_data(self, arn: str) -> bool:
        return self._path(arn).exists()

    def _path(self, arn: str) -> Path:
        return self.root / "data" / (hashlib.sha256(arn.encode()).hexdigest()[:32] + ".json")

    def __iter__(self) -> Iterator[Resource]:  # pragma: no cover - debugging aid
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM resources ORDER BY seq").fetchall()
        return iter([_resource(r) for r in rows])
