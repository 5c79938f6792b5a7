"""SageMaker's control plane state: training jobs, models, endpoint configs, endpoints, model packages, tags.

Every resource is one row keyed by its account, region, kind and name, holding its API description as JSON,
so each operation reads and writes whole descriptions in one transaction and a restart finds exactly what the
API last said. A request reads through `where=` (its account and region) and sees only its own. Models,
endpoint configurations, endpoints, jobs, pipelines and model packages (and their groups) are named per
account and region, as on AWS (`REGIONAL_KINDS`), so their runners and the hosting seam read them with
`where=` too; pipeline executions are named by a random id, unique everywhere, and are read without it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, add_partition

Where = tuple[str, str]
"""(account, region): where a resource lives."""

REGIONAL_KINDS = frozenset(
    {
        "model",
        "endpoint-config",
        "endpoint",
        "training-job",
        "tuning-job",
        "processing-job",
        "transform-job",
        "pipeline",
        "model-package-group",
        "model-package",
    }
)
"""Kinds whose names are unique per account and region only: read, change and delete them with `where`."""

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


_REGIONAL_NAMES = """
    CREATE TABLE resources_by_region (
        kind TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL UNIQUE, created REAL NOT NULL,
        modified REAL NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL, account TEXT NOT NULL,
        region TEXT NOT NULL, PRIMARY KEY (account, region, kind, name)
    );
    INSERT INTO resources_by_region (kind, name, arn, created, modified, status, body, account, region)
        SELECT kind, name, arn, created, modified, status, body, account, region FROM resources;
    DROP TABLE resources;
    ALTER TABLE resources_by_region RENAME TO resources;
    CREATE INDEX resources_by_created ON resources (kind, created);
    CREATE INDEX resources_by_name ON resources (kind, name);
    CREATE INDEX resources_by_place ON resources (account, region, kind, created)
"""


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with every resource placed in an account and region, and keyed by where it lives."""
    return [
        *MIGRATIONS,
        ("0002_regions", lambda tx: _partition(tx, account, region)),
        ("0003_names_per_region", _REGIONAL_NAMES),
    ]


def _partition(tx: sqlite3.Connection, account: str, region: str) -> None:
    """Resources gain account and region: each existing one where its ARN (made from the request that
    created it) says, else the server's defaults."""
    add_partition(tx, "resources", account, region)
    for row in tx.execute("SELECT kind, name, arn FROM resources").fetchall():
        fields = str(row["arn"]).split(":")
        if len(fields) > 5 and fields[3] and fields[4]:
            tx.execute(
                "UPDATE resources SET account = ?, region = ? WHERE kind = ? AND name = ?",
                (fields[4], fields[3], row["kind"], row["name"]),
            )
    tx.execute("CREATE INDEX resources_by_place ON resources (account, region, kind, created)")


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
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION

    @property
    def where(self) -> Where:
        return (self.account, self.region)


def _record(row: sqlite3.Row) -> Record:
    return Record(
        kind=row["kind"],
        name=row["name"],
        arn=row["arn"],
        created=row["created"],
        modified=row["modified"],
        status=row["status"],
        body=json.loads(row["body"]),
        account=row["account"],
        region=row["region"],
    )


class SageMakerStore:
    """Durable resource descriptions; writes are committed before the API answers."""

    def __init__(self, root: Path, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> None:
        """`account` and `region` are the server's defaults, where resources from before regions go."""
        self.db = Database(root / "sagemaker.db", migrations(account, region))

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
        *,
        where: Where,
    ) -> Record:
        now = time.time()
        try:
            with self.db.transaction() as tx:
                if kind not in REGIONAL_KINDS and _taken(tx, kind, name):
                    raise AlreadyExists(arn)
                tx.execute(
                    "INSERT INTO resources (kind, name, arn, created, modified, status, body, account,"
                    " region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (kind, name, arn, now, now, status, json.dumps(body), *where),
                )
                self._add_tags(tx, arn, tags)
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(arn) from exc
        return Record(kind, name, arn, now, now, status, body, *where)

    def insert_version(
        self,
        kind: str,
        group: str,
        make: Callable[[int], tuple[str, str, dict[str, Any]]],
        tags: Iterable[dict[str, str]] = (),
        *,
        where: Where,
    ) -> Record:
        """Insert the next version in `group` (1, 2, ...): `make(version)` gives (arn, status, body)."""
        now = time.time()
        with self.db.transaction() as tx:
            last = tx.execute(
                "SELECT MAX(CAST(substr(name, ?) AS INTEGER)) AS v FROM resources WHERE kind = ?"
                " AND name LIKE ? ESCAPE '\\' AND account = ? AND region = ?",
                (len(group) + 2, kind, _like_prefix(group + "/"), *where),
            ).fetchone()
            version = int(last["v"] or 0) + 1
            arn, status, body = make(version)
            name = f"{group}/{version}"
            tx.execute(
                "INSERT INTO resources (kind, name, arn, created, modified, status, body, account,"
                " region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, name, arn, now, now, status, json.dumps(body), *where),
            )
            self._add_tags(tx, arn, tags)
        return Record(kind, name, arn, now, now, status, body, *where)

    def get(self, kind: str, name: str, *, where: Where | None = None) -> Record | None:
        """The resource, if it lives in `where` (given: a request's view) or anywhere (not given)."""
        query, args = _keyed(kind, name, where)
        with self.db.read() as conn:
            row = conn.execute(f"SELECT * FROM resources WHERE {query}", args).fetchone()
        return _seen(row, where)

    def by_arn(self, arn: str, *, where: Where | None = None) -> Record | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        return _seen(row, where)

    def update(
        self,
        kind: str,
        name: str,
        change: Callable[[Record], bool | None],
        *,
        touch: bool = True,
        where: Where | None = None,
    ) -> Record | None:
        """Apply `change` to the stored record (status, body) in one transaction; None if it is gone or
        `change` declined (answered False: the status it found is not one it may change)."""
        query, args = _keyed(kind, name, where)
        with self.db.transaction() as tx:
            row = tx.execute(f"SELECT * FROM resources WHERE {query}", args).fetchone()
            if row is None:
                return None
            record = _record(row)
            if change(record) is False:
                return None
            if touch:
                record.modified = time.time()
            tx.execute(
                "UPDATE resources SET status = ?, body = ?, modified = ? WHERE arn = ?",
                (record.status, json.dumps(record.body), record.modified, record.arn),
            )
        return record

    def delete(self, kind: str, name: str, *, where: Where | None = None) -> bool:
        query, args = _keyed(kind, name, where)
        with self.db.transaction() as tx:
            row = tx.execute(f"SELECT arn FROM resources WHERE {query}", args).fetchone()
            if row is None:
                return False
            tx.execute("DELETE FROM resources WHERE arn = ?", (row["arn"],))
            tx.execute("DELETE FROM tags WHERE arn = ?", (row["arn"],))
        return True

    def records(
        self, kind: str, *, name_prefix: str | None = None, where: Where | None = None
    ) -> list[Record]:
        """Resources of a kind, oldest first: those of `where` when given, else all."""
        query, args = "SELECT * FROM resources WHERE kind = ?", [kind]
        if name_prefix is not None:
            query, args = query + " AND name LIKE ? ESCAPE '\\'", [*args, _like_prefix(name_prefix)]
        if where is not None:
            query, args = query + " AND account = ? AND region = ?", [*args, *where]
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY created, name", args).fetchall()
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


def _keyed(kind: str, name: str, where: Where | None) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause of one resource: by kind and name, in `where` when given. A kind named per region
    (`REGIONAL_KINDS`) read without `where` finds one of its regions' resources of that name."""
    if where is None:
        return "kind = ? AND name = ?", (kind, name)
    return "kind = ? AND name = ? AND account = ? AND region = ?", (kind, name, *where)


def _taken(tx: sqlite3.Connection, kind: str, name: str) -> bool:
    """Whether a resource of a kind named across regions already has the name, in any region."""
    return (
        tx.execute("SELECT 1 FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone() is not None
    )


def _seen(row: sqlite3.Row | None, where: Where | None) -> Record | None:
    """The row's record, unless it lives elsewhere than `where`."""
    if row is None or (where is not None and (row["account"], row["region"]) != where):
        return None
    return _record(row)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
