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
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def _record(row: Any) -> Record:
        return Record(
            row["kind"],
            row["agent"],
            row["version"],
            row["id"],
            json.loads(row["body"]),
            row["created"],
            row["updated"],
        )

    def get(self, kind: str, agent: str, version: str, item: str) -> Record | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM records WHERE kind=? AND agent=? AND version=? AND id=?",
                (kind, agent, version, item),
            ).fetchone()
        return self._record(row) if row else None

    def records(self, kind: str, agent: str | None = None, version: str | None = None) -> list[Record]:
        query, args = "SELECT * FROM records WHERE kind=?", [kind]
        if agent is not None:
            query, args = query + " AND agent=?", [*args, agent]
        if version is not None:
            query, args = query + " AND version=?", [*args, version]
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY created, id", args).fetchall()
        return [self._record(row) for row in rows]

    def put(self, kind: str, agent: str, version: str, item: str, body: dict[str, Any]) -> Record:
        """Create or replace; a replaced record keeps its creation time."""
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT created FROM records WHERE kind=? AND agent=? AND version=? AND id=?",
                (kind, agent, version, item),
            ).fetchone()
            created = row["created"] if row else now
            conn.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, agent, version, item, json.dumps(body), created, now),
            )
        return Record(kind, agent, version, item, body, created, now)

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

    # -- memory ----------------------------------------------------------------------------------------------

    def add_summary(self, agent: str, alias: str, memory_id: str, summary: Summary) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO memories VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    agent,
                    alias,
                    memory_id,
                    summary.session_id,
                    summary.summary,
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
        return [Summary(row["session_id"], row["summary"], row["started"], row["ended"]) for row in rows]

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
            conn.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (agent, alias, session_id, json.dumps(state.body), state.started, state.last_used),
            )

    def session(self, agent: str, alias: str, session_id: str) -> StoredSession | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM sessions WHERE agent=? AND alias=? AND session_id=?",
                (agent, alias, session_id),
            ).fetchone()
        return StoredSession(json.loads(row["body"]), row["started"], row["last_used"]) if row else None

    def take_idle_sessions(self, agent: str, alias: str, before: float) -> list[tuple[str, StoredSession]]:
        """Remove and return the sessions of an agent alias last used before `before` (their TTL ran out)."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM sessions WHERE agent=? AND alias=? AND last_used<?", (agent, alias, before)
            ).fetchall()
            conn.execute(
                "DELETE FROM sessions WHERE agent=? AND alias=? AND last_used<?", (agent, alias, before)
            )
        return [
            (row["session_id"], StoredSession(json.loads(row["body"]), row["started"], row["last_used"]))
            for row in rows
        ]

    def delete_session(self, agent: str, alias: str | None = None, session_id: str | None = None) -> None:
        query, args = "DELETE FROM sessions WHERE agent=?", [agent]
        for column, value in (("alias", alias), ("session_id", session_id)):
            if value is not None:
                query, args = f"{query} AND {column}=?", [*args, value]
        with self.db.transaction() as conn:
            conn.execute(query, args)
