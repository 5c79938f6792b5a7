"""Forecast's resources in SQLite, and their large data (imported rows, trained choices, forecasts) as files.

Every resource (dataset, dataset group, import job, predictor, forecast, export job) is one row keyed by
its ARN: its kind, name, status, the request it was created with and what was learned since (`body`).
A resource's data is a JSON file named after a hash of its ARN, written before its status says ACTIVE.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database

PENDING, IN_PROGRESS, ACTIVE, FAILED = "CREATE_PENDING", "CREATE_IN_PROGRESS", "ACTIVE", "CREATE_FAILED"

_MIGRATIONS = [
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


def _resource(row: sqlite3.Row) -> Resource:
    return Resource(
        arn=row["arn"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        message=row["message"],
        body=json.loads(row["body"]),
        created=row["created"],
        modified=row["modified"],
    )


class ForecastStore:
    """Create, read, update and delete resources; put and get each one's data file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data").mkdir(parents=True, exist_ok=True)
        self.db = Database(root / "forecast.sqlite3", _MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def create(self, kind: str, arn: str, name: str, body: dict[str, Any], status: str = ACTIVE) -> Resource:
        now = time.time()
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO resources (arn, kind, name, status, body, created, modified)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (arn, kind, name, status, json.dumps(body), now, now),
                )
        except sqlite3.IntegrityError:
            raise Exists(arn) from None
        found = self.get(arn)
        assert found is not None
        return found

    def get(self, arn: str) -> Resource | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        return _resource(row) if row else None

    def of_kind(self, kind: str) -> list[Resource]:
        """Oldest first."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM resources WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
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
