"""The KMS key store: keys, their wrapped material by version, aliases, grants and tags, in one SQLite file.

Rows hold key material only wrapped (see `crypto.wrap`); the store never sees a key in the clear.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001_keys",
        """
        CREATE TABLE keys (
            key_id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, arn TEXT NOT NULL,
            description TEXT NOT NULL, key_usage TEXT NOT NULL, key_spec TEXT NOT NULL, origin TEXT NOT NULL,
            manager TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL, deletion_date REAL,
            pending_days INTEGER, rotation_enabled INTEGER NOT NULL DEFAULT 0,
            rotation_days INTEGER NOT NULL DEFAULT 365, next_rotation REAL, policy TEXT NOT NULL,
            current_version INTEGER NOT NULL DEFAULT 1);
        CREATE INDEX keys_by_place ON keys (account, region, created);
        CREATE TABLE key_versions (
            key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE, version INTEGER NOT NULL,
            wrapped BLOB NOT NULL, created REAL NOT NULL, kind TEXT NOT NULL,
            PRIMARY KEY (key_id, version));
        CREATE TABLE aliases (
            account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
            key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
            created REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (account, region, name));
        CREATE TABLE grants (
            grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
            token TEXT NOT NULL UNIQUE, name TEXT, grantee TEXT NOT NULL, retiring TEXT,
            operations TEXT NOT NULL, constraints TEXT, issuing TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE tags (
            key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE, tag_key TEXT NOT NULL,
            tag_value TEXT NOT NULL, PRIMARY KEY (key_id, tag_key))
        """,
    ),
]


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    account: str
    region: str
    arn: str
    description: str
    key_usage: str
    key_spec: str
    origin: str
    manager: str  # CUSTOMER, or AWS for the service keys behind alias/aws/<service>
    state: str  # Enabled, Disabled, PendingDeletion
    created: float
    deletion_date: float | None
    pending_days: int | None
    rotation_enabled: bool
    rotation_days: int
    next_rotation: float | None
    policy: str
    current_version: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> KeyRecord:
        values = dict(row)
        values["rotation_enabled"] = bool(values["rotation_enabled"])
        return cls(**values)


@dataclass(frozen=True)
class AliasRecord:
    name: str
    key_id: str
    created: float
    updated: float


@dataclass(frozen=True)
class GrantRecord:
    grant_id: str
    key_id: str
    token: str
    name: str | None
    grantee: str
    retiring: str | None
    operations: list[str]
    constraints: dict[str, Any] | None
    issuing: str
    created: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> GrantRecord:
        values = dict(row)
        values["operations"] = json.loads(values["operations"])
        values["constraints"] = json.loads(values["constraints"]) if values["constraints"] else None
        return cls(**values)


_KEY_COLUMNS = (
    "key_id, account, region, arn, description, key_usage, key_spec, origin, manager, state, created, "
    "deletion_date, pending_days, rotation_enabled, rotation_days, next_rotation, policy, current_version"
)


class KeyStore:
    """SQL in, records out: the rules (states, rotation, deletion) live in `keys.Keyring`."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    # -- keys ---------------------------------------------------------------------------------------------

    def insert_key(self, key: KeyRecord, wrapped: bytes, tags: dict[str, str]) -> None:
        with self.db.transaction() as tx:
            tx.execute(f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({', '.join('?' * 18)})", _key_values(key))
            tx.execute(
                "INSERT INTO key_versions VALUES (?, ?, ?, ?, 'CREATE')",
                (key.key_id, key.current_version, wrapped, key.created),
            )
            tx.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(key.key_id, k, v) for k, v in tags.items()])

    def key(self, key_id: str) -> KeyRecord | None:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_id = ?", (key_id,)).fetchone()
        return KeyRecord.from_row(row) if row else None

    def keys(self, account: str, region: str) -> list[KeyRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE account = ? AND region = ? ORDER BY created, key_id",
                (account, region),
            ).fetchall()
        return [KeyRecord.from_row(row) for row in rows]

    def update_key(self, key_id: str, **changes: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in changes)
        with self.db.transaction() as tx:
            tx.execute(f"UPDATE keys SET {columns} WHERE key_id = ?", (*changes.values(), key_id))

    def delete_key(self, key_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM keys WHERE key_id = ?", (key_id,))

    def add_version(
        self, key_id: str, version: int, wrapped: bytes, at: float, kind: str, **changes: Any
    ) -> None:
        """A rotation: the new material becomes current in the same transaction that stores it."""
        columns = ", ".join(f"{name} = ?" for name in ("current_version", *changes))
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO key_versions VALUES (?, ?, ?, ?, ?)", (key_id, version, wrapped, at, kind)
            )
            tx.execute(f"UPDATE keys SET {columns} WHERE key_id = ?", (version, *changes.values(), key_id))

    def wrapped(self, key_id: str, version: int) -> bytes | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT wrapped FROM key_versions WHERE key_id = ? AND version = ?", (key_id, version)
            ).fetchone()
        return bytes(row["wrapped"]) if row else None

    def rotations(self, key_id: str) -> list[tuple[float, str]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT created, kind FROM key_versions WHERE key_id = ? AND kind != 'CREATE' "
                "ORDER BY version",
                (key_id,),
            ).fetchall()
        return [(row["created"], row["kind"]) for row in rows]

    # -- aliases ------------------------------------------------------------------------------------------

    def alias(self, account: str, region: str, name: str) -> AliasRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT name, key_id, created, updated FROM aliases "
                "WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            ).fetchone()
        return AliasRecord(**dict(row)) if row else None

    def aliases(self, account: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        query = "SELECT name, key_id, created, updated FROM aliases WHERE account = ? AND region = ?"
        args: tuple[str, ...] = (account, region)
        if key_id is not None:
            query, args = query + " AND key_id = ?", (*args, key_id)
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY name", args).fetchall()
        return [AliasRecord(**dict(row)) for row in rows]

    def put_alias(self, account: str, region: str, name: str, key_id: str, at: float, *, new: bool) -> bool:
        """Create (new) or repoint an alias; False when a new alias's name is taken or an old one is gone."""
        with self.db.transaction() as tx:
            if new:
                cursor = tx.execute(
                    "INSERT OR IGNORE INTO aliases VALUES (?, ?, ?, ?, ?, ?)",
                    (account, region, name, key_id, at, at),
                )
            else:
                cursor = tx.execute(
                    "UPDATE aliases SET key_id = ?, updated = ? "
                    "WHERE account = ? AND region = ? AND name = ?",
                    (key_id, at, account, region, name),
                )
            return cursor.rowcount == 1

    def delete_alias(self, account: str, region: str, name: str) -> bool:
        with self.db.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?", (account, region, name)
            )
            return cursor.rowcount == 1

    # -- grants -------------------------------------------------------------------------------------------

    def insert_grant(self, grant: GrantRecord) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    grant.grant_id,
                    grant.key_id,
                    grant.token,
                    grant.name,
                    grant.grantee,
                    grant.retiring,
                    json.dumps(grant.operations),
                    json.dumps(grant.constraints) if grant.constraints else None,
                    grant.issuing,
                    grant.created,
                ),
            )

    def grants(self, key_id: str) -> list[GrantRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM grants WHERE key_id = ? ORDER BY created, grant_id", (key_id,)
            ).fetchall()
        return [GrantRecord.from_row(row) for row in rows]

    def grant_by_token(self, token: str) -> GrantRecord | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM grants WHERE token = ?", (token,)).fetchone()
        return GrantRecord.from_row(row) if row else None

    def delete_grant(self, key_id: str, grant_id: str) -> bool:
        with self.db.transaction() as tx:
            cursor = tx.execute("DELETE FROM grants WHERE key_id = ? AND grant_id = ?", (key_id, grant_id))
            return cursor.rowcount == 1

    # -- tags ---------------------------------------------------------------------------------------------

    def tags(self, key_id: str) -> dict[str, str]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT tag_key, tag_value FROM tags WHERE key_id = ? ORDER BY tag_key", (key_id,)
            )
            return {row["tag_key"]: row["tag_value"] for row in rows.fetchall()}

    def tag(self, key_id: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", [(key_id, k, v) for k, v in tags.items()]
            )

    def untag(self, key_id: str, keys: list[str]) -> None:
        with self.db.transaction() as tx:
            tx.executemany("DELETE FROM tags WHERE key_id = ? AND tag_key = ?", [(key_id, k) for k in keys])


def _key_values(key: KeyRecord) -> tuple[Any, ...]:
    return (
        key.key_id,
        key.account,
        key.region,
        key.arn,
        key.description,
        key.key_usage,
        key.key_spec,
        key.origin,
        key.manager,
        key.state,
        key.created,
        key.deletion_date,
        key.pending_days,
        int(key.rotation_enabled),
        key.rotation_days,
        key.next_rotation,
        key.policy,
        key.current_version,
    )
