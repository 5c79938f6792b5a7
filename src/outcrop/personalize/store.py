"""Personalize's state in one SQLite file: every resource as a JSON document, and the datasets' rows.

The three Personalize services (control plane, runtime, events) open the same file: the control plane
creates and trains, the events service appends rows, the runtime reads campaigns, filters and rows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from outcrop.personalize.errors import AlreadyExists, NotFound
from outcrop.storage.sqlite import Database

_MIGRATIONS = [
    (
        "0001-resources-and-rows",
        """
        CREATE TABLE resources (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            arn TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            parent TEXT,
            status TEXT NOT NULL,
            doc TEXT NOT NULL,
            failure TEXT,
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE UNIQUE INDEX resources_name ON resources (kind, name);
        CREATE INDEX resources_parent ON resources (kind, parent);
        CREATE TABLE interactions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            dataset TEXT NOT NULL,
            user_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            event_type TEXT,
            event_value REAL,
            fields TEXT
        );
        CREATE INDEX interactions_user ON interactions (dataset, user_id);
        CREATE TABLE entities (
            dataset TEXT NOT NULL,
            id TEXT NOT NULL,
            fields TEXT NOT NULL,
            PRIMARY KEY (dataset, id)
        )
        """,
    ),
    (
        "0002-entity-versions",
        "CREATE TABLE entity_versions (dataset TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    ),
]


@dataclass(frozen=True)
class Resource:
    arn: str
    kind: str
    name: str
    parent: str | None
    status: str
    doc: dict[str, Any]
    failure: str | None
    created: float
    updated: float


class Interaction(NamedTuple):  # a tuple: a training set holds millions, built fast from SQLite rows
    user_id: str
    item_id: str
    timestamp: int
    event_type: str | None
    event_value: float | None


def _resource(row: sqlite3.Row) -> Resource:
    return Resource(
        arn=row["arn"],
        kind=row["kind"],
        name=row["name"],
        parent=row["parent"],
        status=row["status"],
        doc=json.loads(row["doc"]),
        failure=row["failure"],
        created=row["created"],
        updated=row["updated"],
    )


class PersonalizeStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, _MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    # resources
    def create(
        self, kind: str, arn: str, name: str, parent: str | None, status: str, doc: dict[str, Any]
    ) -> Resource:
        now = time.time()
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone():
                raise AlreadyExists(f"{_words(kind)} {arn} already exists.")
            tx.execute(
                "INSERT INTO resources (arn, kind, name, parent, status, doc, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (arn, kind, name, parent, status, json.dumps(doc), now, now),
            )
        return self.get(kind, arn)

    def find(self, kind: str, arn: str) -> Resource | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ? AND kind = ?", (arn, kind)).fetchone()
        return _resource(row) if row else None

    def get(self, kind: str, arn: str) -> Resource:
        found = self.find(kind, arn)
        if found is None:
            raise NotFound(f"Could not find {_words(kind)} with ARN {arn}")
        return found

    def any(self, arn: str) -> Resource | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        return _resource(row) if row else None

    def list_of(
        self, kind: str, parent: str | None = None, statuses: Sequence[str] | None = None
    ) -> list[Resource]:
        sql, args = "SELECT * FROM resources WHERE kind = ?", [kind]
        if parent is not None:
            sql += " AND parent = ?"
            args.append(parent)
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args.extend(statuses)
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY created DESC, seq DESC", args).fetchall()
        return [_resource(row) for row in rows]

    def update(
        self,
        arn: str,
        *,
        status: str | None = None,
        failure: str | None = None,
        doc: dict[str, Any] | None = None,
        only_if: Sequence[str] | None = None,
    ) -> bool:
        """Change a resource; with `only_if`, only while its status is one of those (False otherwise)."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT status, doc FROM resources WHERE arn = ?", (arn,)).fetchone()
            if row is None or (only_if is not None and row["status"] not in only_if):
                return False
            merged = {**json.loads(row["doc"]), **(doc or {})}
            tx.execute(
                "UPDATE resources SET status = ?, failure = ?, doc = ?, updated = ? WHERE arn = ?",
                (status or row["status"], failure, json.dumps(merged), time.time(), arn),
            )
        return True

    def delete(self, arn: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM resources WHERE arn = ?", (arn,))
            tx.execute("DELETE FROM interactions WHERE dataset = ?", (arn,))
            tx.execute("DELETE FROM entities WHERE dataset = ?", (arn,))

    # dataset rows
    def replace_rows(
        self,
        dataset: str,
        dataset_type: str,
        rows: Iterable[dict[str, Any]],
        *,
        full: bool,
    ) -> int:
        """Write imported rows in one transaction: a FULL import replaces what the dataset held."""
        count = 0
        with self.db.transaction() as tx:
            if full:
                tx.execute("DELETE FROM interactions WHERE dataset = ?", (dataset,))
                tx.execute("DELETE FROM entities WHERE dataset = ?", (dataset,))
            if dataset_type == "Interactions":
                values = [_interaction_values(dataset, row) for row in rows]
                tx.executemany(
                    "INSERT INTO interactions"
                    " (dataset, user_id, item_id, ts, event_type, event_value, fields)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                count = len(values)
            else:
                key = "ITEM_ID" if dataset_type == "Items" else "USER_ID"
                for row in rows:
                    _upsert_entity(tx, dataset, row[key], row)
                    count += 1
                tx.execute(
                    "INSERT INTO entity_versions (dataset, version) VALUES (?, 1)"
                    " ON CONFLICT (dataset) DO UPDATE SET version = version + 1",
                    (dataset,),
                )
        return count

    def interactions(self, dataset: str, user_id: str | None = None) -> list[Interaction]:
        sql = "SELECT user_id, item_id, ts, event_type, event_value FROM interactions WHERE dataset = ?"
        args: list[Any] = [dataset]
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        with self.db.read() as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: several times faster than sqlite3.Row here
            rows = cursor.execute(sql + " ORDER BY seq", args).fetchall()
        return list(map(Interaction._make, rows))

    def entities(self, dataset: str) -> dict[str, dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT id, fields FROM entities WHERE dataset = ?", (dataset,)).fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def entity_version(self, dataset: str) -> int:
        """Bumped by every write to an Items or Users dataset: what caches of their rows are keyed by."""
        with self.db.read() as conn:
            row = conn.execute("SELECT version FROM entity_versions WHERE dataset = ?", (dataset,)).fetchone()
        return int(row[0]) if row else 0

    def count_rows(self, dataset: str) -> int:
        with self.db.read() as conn:
            a = conn.execute("SELECT COUNT(*) FROM interactions WHERE dataset = ?", (dataset,)).fetchone()
            b = conn.execute("SELECT COUNT(*) FROM entities WHERE dataset = ?", (dataset,)).fetchone()
        return int(a[0]) + int(b[0])


def _interaction_values(dataset: str, row: dict[str, Any]) -> tuple[Any, ...]:
    extra = {k: v for k, v in row.items() if k not in _INTERACTION_COLUMNS} if len(row) > 3 else None
    return (
        dataset,
        row["USER_ID"],
        row["ITEM_ID"],
        int(row["TIMESTAMP"]),
        row.get("EVENT_TYPE"),
        row.get("EVENT_VALUE"),
        json.dumps(extra) if extra else None,
    )


def _upsert_entity(tx: sqlite3.Connection, dataset: str, key: str, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO entities (dataset, id, fields) VALUES (?, ?, ?)"
        " ON CONFLICT (dataset, id) DO UPDATE SET fields = excluded.fields",
        (dataset, key, json.dumps(row)),
    )


_INTERACTION_COLUMNS = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"}


def _words(kind: str) -> str:
    """`datasetImportJob` -> `dataset import job`, for messages."""
    return "".join(" " + c.lower() if c.isupper() else c for c in kind)
