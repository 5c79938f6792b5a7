"""Bedrock Agents state in SQLite under the data dir: agents, their versions, action groups, knowledge-base
associations and aliases as JSON bodies, the agent runtime's live sessions (so a restart keeps them) and the
session summaries of agents with memory.

Every record is (kind, agent, version, id) -> body; the DRAFT version's parts are edited in place and a
numbered version is a copy of them made when an alias asks for one. Shared by bedrock-agent (which writes it)
and bedrock-agent-runtime (which runs what it describes).
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.kms.sealed import CustomerKeys
from outcrop.services.bedrock_agent import agents_sealing
from outcrop.services.bedrock_agent.agents_sealing import AgentSealer
from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001_records",
        """
        CREATE TABLE records (
            kind TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL, id TEXT NOT NULL,
            body TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
            PRIMARY KEY (kind, agent, version, id)
        );
        CREATE TABLE memories (
            agent TEXT NOT NULL, alias TEXT NOT NULL, memory_id TEXT NOT NULL, session_id TEXT NOT NULL,
            summary TEXT NOT NULL, started REAL NOT NULL, ended REAL NOT NULL,
            PRIMARY KEY (agent, alias, memory_id, session_id)
        );
        """,
    ),
    (
        "0002_sessions",
        """
        CREATE TABLE sessions (
            agent TEXT NOT NULL, alias TEXT NOT NULL, session_id TEXT NOT NULL, body TEXT NOT NULL,
            started REAL NOT NULL, last_used REAL NOT NULL,
            PRIMARY KEY (agent, alias, session_id)
        );
        """,
    ),
    agents_sealing.MIGRATION,
]

_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_agent_id() -> str:
    """Ten upper-case letters and digits, as Bedrock's agent, action group and alias ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class Record:
    kind: str
    agent: str
    version: str
    id: str
    body: dict[str, Any]
    created: float
    updated: float


@dataclass(frozen=True)
class Summary:
    session_id: str
    summary: str
    started: float
    ended: float


@dataclass(frozen=True)
class StoredSession:
    """An agent runtime session as saved: its JSON state and when it started and was last used."""

    body: dict[str, Any]
    started: float
    last_used: float


class AgentStore:
    def __init__(self, path: Path, keys: CustomerKeys | None = None) -> None:
        """`keys`: KMS data keys for agents with a customer managed key (`agents_sealing`)."""
        self.db = Database(path, MIGRATIONS)
        self.sealer = AgentSealer(keys)

    def close(self) -> None:
        self.db.close()

    def _record(self, row: Any, keys: dict[str, bytes | None], conn: Any, *, open_: bool = True) -> Record:
        """A row as a record, its sealed part opened (`keys` keeps the data keys one call opened)."""
        body = json.loads(row["body"])
        if open_ and agents_sealing.MARK in body:
            if row["agent"] not in keys:
                keys[row["agent"]] = self.sealer.data_key(conn, row["agent"])
            body = self.sealer.open_body(body, keys[row["agent"]])
        return Record(
            row["kind"], row["agent"], row["version"], row["id"], body, row["created"], row["updated"]
        )

    def get(self, kind: str, agent: str, version: str, item: str) -> Record | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM records WHERE kind=? AND agent=? AND version=? AND id=?",
                (kind, agent, version, item),
            ).fetchone()
            return self._record(row, {}, conn) if row else None

    def records(self, kind: str, agent: str | None = None, version: str | None = None) -> list[Record]:
        """The records of a kind; agents' own records keep their sealed part sealed (listing needs none)."""
        query, args = "SELECT * FROM records WHERE kind=?", [kind]
        if agent is not None:
            query, args = query + " AND agent=?", [*args, agent]
        if version is not None:
            query, args = query + " AND version=?", [*args, version]
        keys: dict[str, bytes | None] = {}
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY created, id", args).fetchall()
            return [self._record(row, keys, conn, open_=kind != "agent") for row in rows]

    def put(self, kind: str, agent: str, version: str, item: str, body: dict[str, Any]) -> Record:
        """Create or replace; a replaced record keeps its creation time."""
        now = time.time()
        with self.db.transaction() as conn:
            if agents_sealing.MARK in body:  # a record read still sealed (a listing's): stored as it was
                stored = body
            else:
                stored = self.sealer.seal_body(kind, body, self.sealer.data_key(conn, agent))
            row = conn.execute(
                "SELECT created FROM records WHERE kind=? AND agent=? AND version=? AND id=?",
                (kind, agent, version, item),
            ).fetchone()
            created = row["created"] if row else now
            conn.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, agent, version, item, json.dumps(stored), created, now),
            )
        return Record(kind, agent, version, item, body, created, now)

    # -- customer managed keys ---------------------------------------------------------------------------

    def customer_key(self, agent: str) -> str | None:
        """The ARN of the KMS key an agent's data is sealed with, if it has one."""
        with self.db.read() as conn:
            row = conn.execute("SELECT kms_key FROM agent_keys WHERE agent = ?", (agent,)).fetchone()
        return None if row is None else str(row["kms_key"])

    def set_customer_key(
        self, agent: str, where: tuple[str, str], agent_arn: str, key_ref: str | None
    ) -> str | None:
        """Seal everything of the agent under a new data key of `key_ref` (or in the clear for None), and
        answer the key's ARN. KmsError where KMS refuses the new key; AccessDenied where the old one fails."""
        fresh = self.sealer.new_key(where, agent_arn, key_ref) if key_ref else None
        keys: dict[str, bytes | None] = {}
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT * FROM records WHERE agent = ?", (agent,)).fetchall()
            records = [self._record(row, keys, conn) for row in rows]
            old = self.sealer.data_key(conn, agent)
            sessions = conn.execute("SELECT * FROM sessions WHERE agent = ?", (agent,)).fetchall()
            memories = conn.execute("SELECT * FROM memories WHERE agent = ?", (agent,)).fetchall()
            conn.execute("DELETE FROM agent_keys WHERE agent = ?", (agent,))
            new = None
            if fresh is not None:
                conn.execute(
                    "INSERT INTO agent_keys VALUES (?, ?, ?, ?, ?, ?)",
                    (agent, *where, agent_arn, fresh[0], fresh[2]),
                )
                new = fresh[1]
            for r in records:
                conn.execute(
                    "UPDATE records SET body = ? WHERE kind=? AND agent=? AND version=? AND id=?",
                    (json.dumps(self.sealer.seal_body(r.kind, r.body, new)), r.kind, agent, r.version, r.id),
                )
            for s in sessions:
                text = self.sealer.seal_text(self.sealer.open_text(s["body"], old), new)
                conn.execute(
                    "UPDATE sessions SET body = ? WHERE agent=? AND alias=? AND session_id=?",
                    (text, agent, s["alias"], s["session_id"]),
                )
            for m in memories:
                text = self.sealer.seal_text(self.sealer.open_text(m["summary"], old), new)
                conn.execute(
                    "UPDATE memories SET summary = ? "
                    "WHERE agent=? AND alias=? AND memory_id=? AND session_id=?",
                    (text, agent, m["alias"], m["memory_id"], m["session_id"]),
                )
        return None if fresh is None else fresh[0]

    def delete(
        self, kind: str | None, agent: str, version: str | None = None, item: str | None = None
    ) -> None:
        query, args = "DELETE FROM records WHERE agent=?", [agent]
        for column, value in (("kind", kind), ("version", version), ("id", item)):
            if value is not None:
                query, args = f"{query} AND {column}=?", [*args, value]
        with self.db.transaction() as conn:
            conn.execute(query, args)
            if kind is None and version is None:
                conn.execute("DELETE FROM memories WHERE agent=?", (agent,))
                conn.execute("DELETE FROM sessions WHERE agent=?", (agent,))
                conn.execute("DELETE FROM agent_keys WHERE agent=?", (agent,))

    # -- memory ----------------------------------------------------------------------------------------------

    def add_summary(self, agent: str, alias: str, memory_id: str, summary: Summary) -> None:
        with self.db.transaction() as conn:
            text = self.sealer.seal_text(summary.summary, self.sealer.data_key(conn, agent))
            conn.execute(
                "INSERT OR REPLACE INTO memories VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    agent,
                    alias,
                    memory_id,
                    summary.session_id,
                    text,
                    summary.started,
                    summary.ended,
                ),
            )

    def summaries(self, agent: str, alias: str, memory_id: str, since: float = 0.0) -> list[Summary]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM memories WHERE agent=? AND alias=? AND memory_id=? AND ended>=? "
                "ORDER BY ended DESC",
                (agent, alias, memory_id, since),
            ).fetchall()
            key = self.sealer.data_key(conn, agent) if rows else None
        return [
            Summary(
                row["session_id"], self.sealer.open_text(row["summary"], key), row["started"], row["ended"]
            )
            for row in rows
        ]

    def delete_summaries(self, agent: str, alias: str, memory_id: str | None, session_id: str | None) -> None:
        query, args = "DELETE FROM memories WHERE agent=? AND alias=?", [agent, alias]
        if memory_id is not None:
            query, args = query + " AND memory_id=?", [*args, memory_id]
        if session_id is not None:
            query, args = query + " AND session_id=?", [*args, session_id]
        with self.db.transaction() as conn:
            conn.execute(query, args)

    # -- sessions --------------------------------------------------------------------------------------------

    def save_session(self, agent: str, alias: str, session_id: str, state: StoredSession) -> None:
        with self.db.transaction() as conn:
            text = self.sealer.seal_text(json.dumps(state.body), self.sealer.data_key(conn, agent))
            conn.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (agent, alias, session_id, text, state.started, state.last_used),
            )

    def session(self, agent: str, alias: str, session_id: str) -> StoredSession | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM sessions WHERE agent=? AND alias=? AND session_id=?",
                (agent, alias, session_id),
            ).fetchone()
            if row is None:
                return None
            body = self.sealer.open_text(row["body"], self.sealer.data_key(conn, agent))
        return StoredSession(json.loads(body), row["started"], row["last_used"])

    def take_idle_sessions(self, agent: str, alias: str, before: float) -> list[tuple[str, StoredSession]]:
        """Remove and return the sessions of an agent alias last used before `before` (their TTL ran out)."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM sessions WHERE agent=? AND alias=? AND last_used<?", (agent, alias, before)
            ).fetchall()
            key = self.sealer.data_key(conn, agent) if rows else None  # opened before anything is removed
            taken = [
                (row["session_id"], json.loads(self.sealer.open_text(row["body"], key)), row) for row in rows
            ]
            conn.execute(
                "DELETE FROM sessions WHERE agent=? AND alias=? AND last_used<?", (agent, alias, before)
            )
        return [(sid, StoredSession(body, row["started"], row["last_used"])) for sid, body, row in taken]

    def delete_session(self, agent: str, alias: str | None = None, session_id: str | None = None) -> None:
        query, args = "DELETE FROM sessions WHERE agent=?", [agent]
        for column, value in (("alias", alias), ("session_id", session_id)):
            if value is not None:
                query, args = f"{query} AND {column}=?", [*args, value]
        with self.db.transaction() as conn:
            conn.execute(query, args)
