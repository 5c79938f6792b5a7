"""SageMaker's control-plane state: training jobs, models, endpoint configs, endpoints, model packages, tags.

Every resource is one row keyed by (kind, name) holding its API description as JSON, so each operation
reads and writes whole descriptions in one transaction and a restart finds exactly what the API last said.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001_sagemaker",
        """
        CREATE TABLE resources (
            kind TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL UNIQUE, created REAL NOT NULL,
            modified REAL NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (kind, name)
        );
        CREATE INDEX resources_by_created ON resources (kind, created);
        CREATE TABLE tags (
            arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (arn, key)
        )
        """,
    ),
]


class AlreadyExists(Exception):
    """A resource of that kind and name (or that ARN) is already stored."""


@dataclass
class Record:
    kind: str
    name: str
    arn: str
    created: float
    modified: float
    status: str
    body: dict[str, Any]


def _record(row: sqlite3.Row) -> Record:
    return Record(
        kind=row["kind"],
        name=row["name"],
        arn=row["arn"],
        created=row["created"],
        modified=row["modified"],
        status=row["status"],
        body=json.loads(row["body"]),
    )


class SageMakerStore:
    """Durable resource descriptions; writes are committed before the API answers."""

    def __init__(self, root: Path) -> None:
        self.db = Database(root / "sagemaker.db", MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def insert(
        self,
        kind: str,
        name: str,
        arn: str,
        status: str,
        body: dict[str, Any],
        tags: Iterable[dict[str, str]] = (),
    ) -> Record:
        now = time.time()
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO resources (kind, name, arn, created, modified, status, body)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, name, arn, now, now, status, json.dumps(body)),
                )
                self._add_tags(tx, arn, tags)
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(arn) from exc
        return Record(kind, name, arn, now, now, status, body)

    def insert_version(
        self,
        kind: str,
        group: str,
        make: Callable[[int], tuple[str, str, dict[str, Any]]],
        tags: Iterable[dict[str, str]] = (),
    ) -> Record:
        """Insert the next version in `group` (1, 2, ...): `make(version)` gives (arn, status, body)."""
        now = time.time()
        with self.db.transaction() as tx:
            last = tx.execute(
                "SELECT MAX(CAST(substr(name, ?) AS INTEGER)) AS v FROM resources WHERE kind = ?"
                " AND name LIKE ? ESCAPE '\\'",
                (len(group) + 2, kind, _like_prefix(group + "/")),
            ).fetchone()
            version = int(last["v"] or 0) + 1
            arn, status, body = make(version)
            name = f"{group}/{version}"
            tx.execute(
                "INSERT INTO resources (kind, name, arn, created, modified, status, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, name, arn, now, now, status, json.dumps(body)),
            )
            self._add_tags(tx, arn, tags)
        return Record(kind, name, arn, now, now, status, body)

    def get(self, kind: str, name: str) -> Record | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
        return None if row is None else _record(row)

    def by_arn(self, arn: str) -> Record | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        return None if row is None else _record(row)

    def update(
        self, kind: str, name: str, change: Callable[[Record], None], *, touch: bool = True
    ) -> Record | None:
        """Apply `change` to the stored record (status, body) in one transaction; None if it is gone."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT * FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
            if row is None:
                return None
            record = _record(row)
            change(record)
            if touch:
                record.modified = time.time()
            tx.execute(
                "UPDATE resources SET status = ?, body = ?, modified = ? WHERE kind = ? AND name = ?",
                (record.status, json.dumps(record.body), record.modified, kind, name),
            )
        return record

    def delete(self, kind: str, name: str) -> bool:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT arn FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
            if row is None:
                return False
            tx.execute("DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name))
            tx.execute("DELETE FROM tags WHERE arn = ?", (row["arn"],))
        return True

    def records(self, kind: str, *, name_prefix: str | None = None) -> list[Record]:
        with self.db.read() as conn:
            if name_prefix is None:
                rows = conn.execute(
                    "SELECT * FROM resources WHERE kind = ? ORDER BY created, name", (kind,)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM resources WHERE kind = ? AND name LIKE ? ESCAPE '\\'"
                    " ORDER BY created, name",
                    (kind, _like_prefix(name_prefix)),
                ).fetchall()
        return [_record(row) for row in rows]

    # -- tags ------------------------------------------------------------------------------------------------

    def add_tags(self, arn: str, tags: Iterable[dict[str, str]]) -> None:
        with self.db.transaction() as tx:
            self._add_tags(tx, arn, tags)

    def tags(self, arn: str) -> list[dict[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT key, value FROM tags WHERE arn = ? ORDER BY position, key", (arn,)
            ).fetchall()
        return [{"Key": row["key"], "Value": row["value"]} for row in rows]

    def delete_tags(self, arn: str, keys: Iterable[str]) -> None:
        with self.db.transaction() as tx:
            tx.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys])

    @staticmethod
    def _add_tags(tx: sqlite3.Connection, arn: str, tags: Iterable[dict[str, str]]) -> None:
        row = tx.execute("SELECT COALESCE(MAX(position), 0) AS p FROM tags WHERE arn = ?", (arn,)).fetchone()
        position = int(row["p"])
        for tag in tags:
            position += 1
            tx.execute(
                "INSERT INTO tags (arn, key, value, position) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                (arn, tag["Key"], tag.get("Value", ""), position),
            )


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
