"""Bedrock session management's records in SQLite under the data dir: sessions, their invocations and the
invocation steps that hold checkpoints (what LangGraph's BedrockSessionSaver writes).

A session with `encryptionKeyArn` gets a data key under that KMS key when it is made (encryption context
`aws:bedrock:session:arn` = the session's ARN, as Bedrock gives KMS); its metadata, invocation descriptions
and step payloads are stored only as AES-256-GCM under that data key, and every read or write opens the data
key through KMS again, so a disabled key stops the session at once. Deleting a session deletes its invocations
and steps in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.kms.sealed import CustomerKeys, seal_text, unseal_text
from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001_sessions",
        """
        CREATE TABLE sessions (
            session_id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, arn TEXT NOT NULL,
            ended REAL, metadata TEXT NOT NULL, kms_key TEXT, sealed_key BLOB, tags TEXT NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL
        );
        CREATE INDEX sessions_by_place ON sessions (account, region, created);
        CREATE TABLE invocations (
            session_id TEXT NOT NULL, invocation_id TEXT NOT NULL, description TEXT, created REAL NOT NULL,
            PRIMARY KEY (session_id, invocation_id)
        );
        CREATE TABLE steps (
            session_id TEXT NOT NULL, step_id TEXT NOT NULL, invocation_id TEXT NOT NULL,
            step_time REAL NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL,
            PRIMARY KEY (session_id, step_id)
        );
        CREATE INDEX steps_by_time ON steps (session_id, step_time, created);
        """,
    ),
]
CONTEXT_KEY = "aws:bedrock:session:arn"
SEALED = "sealed:"  # a stored value sealed under the session's data key (base64 after it)


@dataclass(frozen=True)
class Session:
    session_id: str
    account: str
    region: str
    arn: str
    ended: float | None
    metadata: dict[str, str]
    kms_key: str | None
    tags: dict[str, str]
    created: float
    updated: float


@dataclass(frozen=True)
class Step:
    step_id: str
    invocation_id: str
    step_time: float
    payload: dict[str, Any]


class SessionStore:
    """The sessions of every account and region; callers check a session's place before using it."""

    def __init__(self, path: Path, keys: CustomerKeys) -> None:
        self.db = Database(path, MIGRATIONS)
        self.keys = keys

    def close(self) -> None:
        self.db.close()

    # -- sealing ---------------------------------------------------------------------------------------------

    def _data_key(self, row: sqlite3.Row) -> bytes | None:
        """The session's data key, opened through KMS now (KmsError where KMS refuses); None without one."""
        if row["sealed_key"] is None:
            return None
        return self.keys.open_data_key(
            row["account"], row["region"], bytes(row["sealed_key"]), {CONTEXT_KEY: row["arn"]}
        )

    @staticmethod
    def _seal(key: bytes | None, value: Any) -> str:
        text = json.dumps(value)
        return text if key is None else SEALED + seal_text(key, text)

    @staticmethod
    def _open(key: bytes | None, stored: str) -> Any:
        if stored.startswith(SEALED):
            if key is None:
                raise ValueError("A sealed value of a session without a key.")
            return json.loads(unseal_text(key, stored[len(SEALED) :]))
        return json.loads(stored)

    # -- sessions --------------------------------------------------------------------------------------------

    def create(
        self,
        session_id: str,
        where: tuple[str, str],
        arn: str,
        metadata: dict[str, str],
        key_ref: str | None,
        tags: dict[str, str],
    ) -> Session:
        """A new session; with `key_ref`, KMS makes its data key first (KmsError where it refuses)."""
        account, region = where
        kms_key, clear, sealed = None, None, None
        if key_ref:
            kms_key, clear, sealed = self.keys.new_data_key(account, region, key_ref, {CONTEXT_KEY: arn})
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    account,
                    region,
                    arn,
                    self._seal(clear, metadata),
                    kms_key,
                    sealed,
                    json.dumps(tags),
                    now,
                    now,
                ),
            )
        return Session(session_id, account, region, arn, None, metadata, kms_key, tags, now, now)

    def _session(self, row: sqlite3.Row, *, opened: bool) -> Session:
        metadata = self._open(self._data_key(row), row["metadata"]) if opened else {}
        return Session(
            row["session_id"],
            row["account"],
            row["region"],
            row["arn"],
            row["ended"],
            metadata,
            row["kms_key"],
            json.loads(row["tags"]),
            row["created"],
            row["updated"],
        )

    def get(self, session_id: str, *, opened: bool = True) -> Session | None:
        """A session; `opened` reads its metadata (through KMS for a keyed one)."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else self._session(row, opened=opened)

    def sessions(self, where: tuple[str, str]) -> list[Session]:
        """The sessions of one account and region, oldest first (their metadata left sealed)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM sessions WHERE account = ? AND region = ? ORDER BY created, session_id",
                where,
            ).fetchall()
        return [self._session(row, opened=False) for row in rows]

    def update_metadata(self, session_id: str, metadata: dict[str, str]) -> None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            conn.execute(
                "UPDATE sessions SET metadata = ?, updated = ? WHERE session_id = ?",
                (self._seal(self._data_key(row), metadata), time.time(), session_id),
            )

    def end(self, session_id: str) -> None:
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET ended = ?, updated = ? WHERE session_id = ?", (now, now, session_id)
            )

    def touch(self, conn: sqlite3.Connection, session_id: str) -> None:
        conn.execute("UPDATE sessions SET updated = ? WHERE session_id = ?", (time.time(), session_id))

    def delete(self, session_id: str) -> None:
        """The session with its invocations and steps, in one transaction."""
        with self.db.transaction() as conn:
            for table in ("steps", "invocations", "sessions"):
                conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))

    def set_tags(self, session_id: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE sessions SET tags = ? WHERE session_id = ?", (json.dumps(tags), session_id))

    # -- invocations and steps -------------------------------------------------------------------------------

    def add_invocation(self, session_id: str, invocation_id: str, description: str | None) -> float | None:
        """The new invocation's creation time; None where the session already has that invocation."""
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            key = self._data_key(row)  # every write to a keyed session needs its key, description or not
            found = conn.execute(
                "SELECT 1 FROM invocations WHERE session_id = ? AND invocation_id = ?",
                (session_id, invocation_id),
            ).fetchone()
            if found is not None:
                return None
            stored = None if description is None else self._seal(key, description)
            conn.execute(
                "INSERT INTO invocations VALUES (?, ?, ?, ?)", (session_id, invocation_id, stored, now)
            )
            self.touch(conn, session_id)
        return now

    def invocations(self, session_id: str) -> list[tuple[str, float]]:
        """(invocation id, creation time) of a session's invocations, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT invocation_id, created FROM invocations WHERE session_id = ? "
                "ORDER BY created DESC, rowid DESC",
                (session_id,),
            ).fetchall()
        return [(row["invocation_id"], row["created"]) for row in rows]

    def has_invocation(self, session_id: str, invocation_id: str) -> bool:
        with self.db.read() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM invocations WHERE session_id = ? AND invocation_id = ?",
                    (session_id, invocation_id),
                ).fetchone()
                is not None
            )

    def put_step(self, session_id: str, step: Step) -> str | None:
        """Store (or replace) a step; the id of the other invocation where the step id is already one of
        another invocation's steps (nothing stored then)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            other = conn.execute(
                "SELECT invocation_id FROM steps WHERE session_id = ? AND step_id = ?",
                (session_id, step.step_id),
            ).fetchone()
            if other is not None and other["invocation_id"] != step.invocation_id:
                return str(other["invocation_id"])
            conn.execute(
                "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    step.step_id,
                    step.invocation_id,
                    step.step_time,
                    self._seal(self._data_key(row), step.payload),
                    time.time(),
                ),
            )
            self.touch(conn, session_id)
        return None

    def steps(self, session_id: str, invocation_id: str | None) -> list[tuple[str, str, float]]:
        """(step id, invocation id, step time) of a session's steps (or one invocation's), newest first."""
        query = "SELECT step_id, invocation_id, step_time FROM steps WHERE session_id = ?"
        args: tuple[str, ...] = (session_id,)
        if invocation_id is not None:
            query, args = query + " AND invocation_id = ?", (session_id, invocation_id)
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY step_time DESC, created DESC, rowid DESC", args)
            return [(r["step_id"], r["invocation_id"], r["step_time"]) for r in rows.fetchall()]

    def step(self, session_id: str, step_id: str) -> Step | None:
        """One step with its payload opened (through KMS for a keyed session)."""
        with self.db.read() as conn:
            session = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            row = conn.execute(
                "SELECT * FROM steps WHERE session_id = ? AND step_id = ?", (session_id, step_id)
            ).fetchone()
        if session is None or row is None:
            return None
        payload = self._open(self._data_key(session), row["payload"])
        return Step(row["step_id"], row["invocation_id"], row["step_time"], payload)
