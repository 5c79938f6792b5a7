"""Guardrails, their editable DRAFT and immutable numbered versions, and their tags, in SQLite.

A guardrail row holds what all its versions share (id, ARN, owner, the next version number); each version
row holds what GetGuardrail answers for it (name, description, messages, the policies in GetGuardrail's
shape). Version numbers are never reused, even after a version is deleted, as AWS numbers them. Every
change is one transaction, durable before the API answers.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database

MIGRATIONS = [
    (
        "001-guardrails-versions-tags",
        """
        CREATE TABLE guardrails (
            id TEXT PRIMARY KEY, arn TEXT NOT NULL UNIQUE, account TEXT NOT NULL, region TEXT NOT NULL,
            client_token TEXT, next_version INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL
        );
        CREATE UNIQUE INDEX guardrails_token ON guardrails(account, client_token)
            WHERE client_token IS NOT NULL;
        CREATE TABLE guardrail_versions (
            guardrail_id TEXT NOT NULL REFERENCES guardrails(id) ON DELETE CASCADE,
            version TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL, description TEXT,
            blocked_input TEXT NOT NULL, blocked_outputs TEXT NOT NULL, policies TEXT NOT NULL,
            extra TEXT NOT NULL, client_token TEXT, created REAL NOT NULL, updated REAL NOT NULL,
            PRIMARY KEY (guardrail_id, version)
        );
        CREATE TABLE guardrail_tags (
            guardrail_id TEXT NOT NULL REFERENCES guardrails(id) ON DELETE CASCADE,
            key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (guardrail_id, key)
        );
        """,
    ),
]

DRAFT = "DRAFT"
_ID_ALPHABET = string.ascii_lowercase + string.digits


class NameTaken(Exception):
    """Another guardrail of the account and region has the name."""


@dataclass(frozen=True)
class Definition:
    """What a caller sets on a DRAFT: `policies` in GetGuardrail's shape, `extra` other stored members
    (crossRegionDetails)."""

    name: str
    description: str | None
    blocked_input: str
    blocked_outputs: str
    policies: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredVersion:
    guardrail_id: str
    arn: str
    account: str
    region: str
    version: str  # DRAFT or "1", "2", ...
    definition: Definition
    created: float
    updated: float


def _version(row: sqlite3.Row) -> StoredVersion:
    return StoredVersion(
        guardrail_id=row["guardrail_id"],
        arn=row["arn"],
        account=row["account"],
        region=row["region"],
        version=row["version"],
        definition=Definition(
            name=row["name"],
            description=row["description"],
            blocked_input=row["blocked_input"],
            blocked_outputs=row["blocked_outputs"],
            policies=json.loads(row["policies"]),
            extra=json.loads(row["extra"]),
        ),
        created=row["created"],
        updated=row["updated"],
    )


_SELECT = (
    "SELECT v.*, g.arn, g.account, g.region"
    " FROM guardrail_versions v JOIN guardrails g ON g.id = v.guardrail_id"
)


def guardrail_id(identifier: str) -> str:
    """The id in a guardrail's id or ARN."""
    head, found, tail = identifier.partition(":guardrail/")
    return tail if found and head.startswith("arn:") else identifier


class GuardrailStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def create(
        self,
        *,
        account: str,
        region: str,
        definition: Definition,
        client_token: str | None,
        tags: list[tuple[str, str]],
    ) -> tuple[StoredVersion, bool]:
        """The new guardrail's DRAFT and True; for a client token already used, that guardrail's and False."""
        with self.db.transaction() as tx:
            if client_token:
                row = tx.execute(
                    "SELECT id FROM guardrails WHERE account = ? AND client_token = ?",
                    (account, client_token),
                ).fetchone()
                if row is not None:
                    return self._get(tx, row["id"], DRAFT), False  # type: ignore[return-value]
            self._check_name(tx, account, region, definition.name, None)
            new_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
            arn = f"arn:aws:bedrock:{region}:{account}:guardrail/{new_id}"
            now = time.time()
            tx.execute(
                "INSERT INTO guardrails (id, arn, account, region, client_token, created)"
                " VALUES (?,?,?,?,?,?)",
                (new_id, arn, account, region, client_token, now),
            )
            self._write(tx, new_id, DRAFT, 0, definition, None, now, now)
            tx.executemany(
                "INSERT INTO guardrail_tags (guardrail_id, key, value) VALUES (?, ?, ?)",
                [(new_id, key, value) for key, value in tags],
            )
            found = self._get(tx, new_id, DRAFT)
        assert found is not None
        return found, True

    @staticmethod
    def _check_name(tx: sqlite3.Connection, account: str, region: str, name: str, own: str | None) -> None:
        row = tx.execute(
            "SELECT g.id FROM guardrails g JOIN guardrail_versions v ON v.guardrail_id = g.id"
            " WHERE g.account = ? AND g.region = ? AND v.version = ? AND v.name = ?",
            (account, region, DRAFT, name),
        ).fetchone()
        if row is not None and row["id"] != own:
            raise NameTaken(name)

    @staticmethod
    def _write(
        tx: sqlite3.Connection,
        guardrail: str,
        version: str,
        number: int,
        definition: Definition,
        client_token: str | None,
        created: float,
        updated: float,
    ) -> None:
        tx.execute(
            "INSERT INTO guardrail_versions (guardrail_id, version, number, name, description, blocked_input,"
            " blocked_outputs, policies, extra, client_token, created, updated)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (guardrail_id, version) DO UPDATE SET name = excluded.name,"
            " description = excluded.description, blocked_input = excluded.blocked_input,"
            " blocked_outputs = excluded.blocked_outputs, policies = excluded.policies,"
            " extra = excluded.extra, updated = excluded.updated",
            (guardrail, version, number, definition.name, definition.description, definition.blocked_input,
             definition.blocked_outputs, json.dumps(definition.policies), json.dumps(definition.extra),
             client_token, created, updated),
        )  # fmt: skip

    @staticmethod
    def _get(tx: sqlite3.Connection, guardrail: str, version: str) -> StoredVersion | None:
        row = tx.execute(
            f"{_SELECT} WHERE v.guardrail_id = ? AND v.version = ?", (guardrail, version)
        ).fetchone()
        return None if row is None else _version(row)

    def get(self, identifier: str, version: str = DRAFT) -> StoredVersion | None:
        """A version (DRAFT by default) of a guardrail named by id or ARN."""
        with self.db.read() as conn:
            return self._get(conn, guardrail_id(identifier), version)

    def update(self, guardrail: str, definition: Definition) -> StoredVersion:
        """Replace the DRAFT of an existing guardrail (KeyError if it is gone)."""
        with self.db.transaction() as tx:
            draft = self._get(tx, guardrail, DRAFT)
            if draft is None:
                raise KeyError(guardrail)
            self._check_name(tx, draft.account, draft.region, definition.name, guardrail)
            self._write(tx, guardrail, DRAFT, 0, definition, None, draft.created, time.time())
            found = self._get(tx, guardrail, DRAFT)
        assert found is not None
        return found

    def snapshot(
        self, guardrail: str, description: str | None, client_token: str | None
    ) -> tuple[StoredVersion, bool]:
        """A new numbered version copied from the DRAFT and True; for a token already used on this
        guardrail, the version it made and False (KeyError if the guardrail is gone)."""
        with self.db.transaction() as tx:
            if client_token:
                row = tx.execute(
                    "SELECT version FROM guardrail_versions WHERE guardrail_id = ? AND client_token = ?",
                    (guardrail, client_token),
                ).fetchone()
                if row is not None:
                    return self._get(tx, guardrail, row["version"]), False  # type: ignore[return-value]
            draft = self._get(tx, guardrail, DRAFT)
            if draft is None:
                raise KeyError(guardrail)
            number = tx.execute("SELECT next_version FROM guardrails WHERE id = ?", (guardrail,)).fetchone()[
                0
            ]
            tx.execute("UPDATE guardrails SET next_version = ? WHERE id = ?", (number + 1, guardrail))
            base = draft.definition
            definition = Definition(
                base.name, description or base.description, base.blocked_input, base.blocked_outputs,
                base.policies, base.extra,
            )  # fmt: skip
            now = time.time()
            self._write(tx, guardrail, str(number), number, definition, client_token, now, now)
            found = self._get(tx, guardrail, str(number))
        assert found is not None
        return found, True

    def delete(self, guardrail: str, version: str | None = None) -> bool:
        """Delete a whole guardrail (with its versions and tags), or one numbered version; False if absent."""
        with self.db.transaction() as tx:
            if version is None:
                return tx.execute("DELETE FROM guardrails WHERE id = ?", (guardrail,)).rowcount > 0
            deleted = tx.execute(
                "DELETE FROM guardrail_versions WHERE guardrail_id = ? AND version = ?", (guardrail, version)
            )
            return deleted.rowcount > 0

    def drafts(self, account: str, region: str) -> list[StoredVersion]:
        """The DRAFT of every guardrail of an account and region, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"{_SELECT} WHERE g.account = ? AND g.region = ? AND v.version = ? ORDER BY g.created, g.id",
                (account, region, DRAFT),
            ).fetchall()
        return [_version(row) for row in rows]

    def versions(self, guardrail: str) -> list[StoredVersion]:
        """Every version of a guardrail: the DRAFT, then the numbered ones in order."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"{_SELECT} WHERE v.guardrail_id = ? ORDER BY v.number", (guardrail,)
            ).fetchall()
        return [_version(row) for row in rows]

    # -- tags ------------------------------------------------------------------------------------------------

    def tags(self, guardrail: str) -> list[tuple[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT key, value FROM guardrail_tags WHERE guardrail_id = ? ORDER BY key", (guardrail,)
            ).fetchall()
        return [(row["key"], row["value"]) for row in rows]

    def tag(self, guardrail: str, tags: list[tuple[str, str]], limit: int) -> bool:
        """Add or overwrite tags; False (and nothing written) if the guardrail would pass `limit` tags."""
        with self.db.transaction() as tx:
            keys = {
                row["key"]
                for row in tx.execute("SELECT key FROM guardrail_tags WHERE guardrail_id = ?", (guardrail,))
            }
            if len(keys | {key for key, _ in tags}) > limit:
                return False
            tx.executemany(
                "INSERT INTO guardrail_tags (guardrail_id, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (guardrail_id, key) DO UPDATE SET value = excluded.value",
                [(guardrail, key, value) for key, value in tags],
            )
        return True

    def untag(self, guardrail: str, keys: list[str]) -> None:
        with self.db.transaction() as tx:
            tx.executemany(
                "DELETE FROM guardrail_tags WHERE guardrail_id = ? AND key = ?",
                [(guardrail, k) for k in keys],
            )
