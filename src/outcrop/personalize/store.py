"""Personalize's state in one SQLite file: every resource as a JSON document, and the datasets' rows.

The three Personalize services (control plane, runtime, events) open the same file: the control plane
creates and trains, the events service appends rows, the runtime reads campaigns, filters and rows.
Each resource lives in an account and region: a request reads through a view made by `at(where)` and sees
only its own; the background worker, acting on ARNs it was given, reads without one. A row remembers how
it came (BULK from an import job, PUT from PutEvents/PutItems/PutUsers), as exports choose by that.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from outcrop.personalize.errors import AlreadyExists, NotFound
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, add_partition

Where = tuple[str, str]
"""(account, region): where a resource lives."""
BULK, PUT = "BULK", "PUT"

MIGRATIONS: list[Migration] = [
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


def migrations(account: str, region: str, models: Path | None = None) -> list[Migration]:
    """The schema, with every resource placed in an account and region, and every row's origin kept."""
    return [
        *MIGRATIONS,
        ("0003_regions", lambda tx: _partition(tx, account, region, models)),
        ("0004_row_sources", _row_sources),
    ]


def _partition(tx: sqlite3.Connection, account: str, region: str, models: Path | None) -> None:
    """Resources gain account and region, each existing one where its ARN says (else the defaults); a name
    is unique per kind within a region; model files take the region and account into their names."""
    add_partition(tx, "resources", account, region)
    for row in tx.execute("SELECT arn FROM resources").fetchall():
        fields = str(row["arn"]).split(":")
        if len(fields) > 5 and fields[3] and fields[4]:
            tx.execute(
                "UPDATE resources SET account = ?, region = ? WHERE arn = ?",
                (fields[4], fields[3], row["arn"]),
            )
        if models is not None:  # before regions a model file was named by the ARN's resource part only
            old = models / (str(row["arn"]).split(":", 5)[-1].replace("/", "_") + ".npz")
            if old.exists():
                old.replace(model_file(models, str(row["arn"])))
    tx.execute("DROP INDEX resources_name")
    tx.execute("CREATE UNIQUE INDEX resources_name ON resources (account, region, kind, name)")


def _row_sources(tx: sqlite3.Connection) -> None:
    """Rows remember how they came; those from before count as imported (BULK)."""
    tx.execute(f"ALTER TABLE interactions ADD COLUMN source TEXT NOT NULL DEFAULT '{BULK}'")
    tx.execute(f"ALTER TABLE entities ADD COLUMN source TEXT NOT NULL DEFAULT '{BULK}'")


def model_file(root: Path, arn: str) -> Path:
    """A trained model's file, named by the whole ARN (region and account too: names repeat across them)."""
    return root / (arn.removeprefix("arn:aws:personalize:").replace(":", "_").replace("/", "_") + ".npz")


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
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION


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
        account=row["account"],
        region=row["region"],
    )


def _place(arn: str) -> Where:
    """Where an ARN says its resource lives."""
    fields = arn.split(":")
    if len(fields) > 5 and fields[3] and fields[4]:
        return (fields[4], fields[3])
    return (DEFAULT_ACCOUNT, DEFAULT_REGION)


class PersonalizeStore:
    def __init__(
        self,
        path: Path,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        models: Path | None = None,
    ) -> None:
        """`account` and `region` are the server's defaults, where resources from before regions go;
        `models` is the folder of trained models, whose files the regions migration renames."""
        self.db = Database(path, migrations(account, region, models))
        self.where: Where | None = None

    def at(self, where: Where) -> PersonalizeStore:
        """A view of the same file that sees, lists and creates only the resources of `where`."""
        view = copy.copy(self)
        view.where = where
        return view

    def close(self) -> None:
        self.db.close()

    def _seen(self, row: sqlite3.Row | None) -> Resource | None:
        if row is None or (self.where is not None and (row["account"], row["region"]) != self.where):
            return None
        return _resource(row)

    # resources
    def create(
        self, kind: str, arn: str, name: str, parent: str | None, status: str, doc: dict[str, Any]
    ) -> Resource:
        now = time.time()
        where = self.where or _place(arn)
        with self.db.transaction() as tx:
            taken = tx.execute(
                "SELECT 1 FROM resources WHERE account = ? AND region = ? AND kind = ? AND name = ?",
                (*where, kind, name),
            ).fetchone()
            if taken or tx.execute("SELECT 1 FROM resources WHERE arn = ?", (arn,)).fetchone():
                raise AlreadyExists(f"{_words(kind)} {arn} already exists.")
            tx.execute(
                "INSERT INTO resources (arn, kind, name, parent, status, doc, created, updated, account,"
                " region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (arn, kind, name, parent, status, json.dumps(doc), now, now, *where),
            )
        return self.get(kind, arn)

    def find(self, kind: str, arn: str) -> Resource | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ? AND kind = ?", (arn, kind)).fetchone()
        return self._seen(row)

    def get(self, kind: str, arn: str) -> Resource:
        found = self.find(kind, arn)
        if found is None:
            raise NotFound(f"Could not find {_words(kind)} with ARN {arn}")
        return found

    def any(self, arn: str) -> Resource | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        return self._seen(row)

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
        if self.where is not None:
            sql += " AND account = ? AND region = ?"
            args.extend(self.where)
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
        source: str,
    ) -> int:
        """Write rows in one transaction, remembering their `source` (BULK or PUT): a FULL import replaces
        the imported (BULK) rows the dataset held, and leaves those put one at a time, as on AWS."""
        count = 0
        with self.db.transaction() as tx:
            if full:
                tx.execute("DELETE FROM interactions WHERE dataset = ? AND source = ?", (dataset, BULK))
                tx.execute("DELETE FROM entities WHERE dataset = ? AND source = ?", (dataset, BULK))
            if dataset_type == "Interactions":
                values = [(*_interaction_values(dataset, row), source) for row in rows]
                tx.executemany(
                    "INSERT INTO interactions"
                    " (dataset, user_id, item_id, ts, event_type, event_value, fields, source)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                count = len(values)
            else:
                key = "ITEM_ID" if dataset_type == "Items" else "USER_ID"
                for row in rows:
                    _upsert_entity(tx, dataset, row[key], row, source)
                    count += 1
                _bump(tx, dataset)
        return count

    def exported_rows(self, dataset: str, dataset_type: str, sources: Sequence[str]) -> list[dict[str, Any]]:
        """A dataset's rows as field -> value, of the given sources, oldest first, exact repeats once."""
        marks = ",".join("?" * len(sources))
        interactions = dataset_type == "Interactions"
        sql = (
            "SELECT user_id, item_id, ts, event_type, event_value, fields FROM interactions"
            f" WHERE dataset = ? AND source IN ({marks}) ORDER BY seq"
            if interactions
            else f"SELECT fields FROM entities WHERE dataset = ? AND source IN ({marks}) ORDER BY rowid"
        )
        with self.db.read() as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: hashable, and several times faster than sqlite3.Row
            found = list(dict.fromkeys(cursor.execute(sql, (dataset, *sources)).fetchall()))
        if interactions:
            return [_interaction_row(row) for row in found]
        return [json.loads(row[0]) for row in found]

    def delete_users(
        self, interactions: str | None, users: str | None, ids: set[str], job: str, done: str
    ) -> int:
        """Delete the users' interactions and user rows and mark `job` `done` with the count, in one
        transaction, so a rerun after a stop neither deletes twice nor loses the count."""
        deleted = 0
        with self.db.transaction() as tx:
            tx.execute("CREATE TEMP TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY)")
            tx.execute("DELETE FROM gone")
            tx.executemany("INSERT OR IGNORE INTO gone (id) VALUES (?)", [(i,) for i in ids])
            if interactions is not None:
                deleted += tx.execute(
                    "DELETE FROM interactions WHERE dataset = ? AND user_id IN (SELECT id FROM gone)",
                    (interactions,),
                ).rowcount
            if users is not None:
                deleted += tx.execute(
                    "DELETE FROM entities WHERE dataset = ? AND id IN (SELECT id FROM gone)", (users,)
                ).rowcount
                _bump(tx, users)
            tx.execute("DELETE FROM gone")
            row = tx.execute("SELECT doc FROM resources WHERE arn = ?", (job,)).fetchone()
            doc = {**json.loads(row["doc"]), "numDeleted": deleted} if row else {}
            tx.execute(
                "UPDATE resources SET status = ?, doc = ?, updated = ? WHERE arn = ?",
                (done, json.dumps(doc), time.time(), job),
            )
        return deleted

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


def _interaction_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """An interactions table row as the fields it was written with (an absent field reads None)."""
    out = dict(zip(_INTERACTION_FIELDS, row[:5], strict=True))
    return {**out, **json.loads(row[5])} if row[5] else out


_INTERACTION_FIELDS = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE")


def _upsert_entity(tx: sqlite3.Connection, dataset: str, key: str, row: dict[str, Any], source: str) -> None:
    """One row per id, the newest write's fields and source."""
    tx.execute(
        "INSERT INTO entities (dataset, id, fields, source) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (dataset, id) DO UPDATE SET fields = excluded.fields, source = excluded.source",
        (dataset, key, json.dumps(row), source),
    )


def _bump(tx: sqlite3.Connection, dataset: str) -> None:
    """A new version of an Items or Users dataset: caches of its rows are keyed by it."""
    tx.execute(
        "INSERT INTO entity_versions (dataset, version) VALUES (?, 1)"
        " ON CONFLICT (dataset) DO UPDATE SET version = version + 1",
        (dataset,),
    )


_INTERACTION_COLUMNS = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"}


def _words(kind: str) -> str:
    """`datasetImportJob` -> `dataset import job`, for messages."""
    return "".join(" " + c.lower() if c.isupper() else c for c in kind)


def open_store(root: Path, *, account: str, region: str) -> tuple[PersonalizeStore, Path]:
    """The store the three Personalize services share under `root`, and its folder of trained models;
    `account` and `region` are the server's defaults, where resources from before regions go."""
    models = root / "models"
    return PersonalizeStore(
        root / "personalize.sqlite3", account=account, region=region, models=models
    ), models
