"""Knowledge bases, data sources, ingestion jobs, indexed documents and RAG sessions, kept in SQLite.

Both Bedrock agent services share one `KnowledgeBaseStore` (on `App.knowledge_bases`), so the control plane,
the ingestion threads and Retrieve all see the same state, and it survives a restart. Each knowledge base's
chunks live in its own vector store (LanceDB in the data dir, or the bundled PostgreSQL for RDS), opened
lazily and cached here.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, partition_column
from outcrop.storage.vectors import VectorStore

_ID_ALPHABET = string.ascii_uppercase + string.digits
RESTART_REASON = "The server stopped while this ingestion job was running; start a new ingestion job."

MIGRATIONS: list[Migration] = [
    (
        "0001_knowledge_bases",
        """
        CREATE TABLE knowledge_bases (
            id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, body TEXT NOT NULL, store_kind TEXT NOT NULL,
            dimension INTEGER NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
        CREATE TABLE data_sources (
            id TEXT PRIMARY KEY, kb_id TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL, UNIQUE (kb_id, name));
        CREATE TABLE ingestion_jobs (
            id TEXT PRIMARY KEY, kb_id TEXT NOT NULL, ds_id TEXT NOT NULL, status TEXT NOT NULL,
            description TEXT, statistics TEXT NOT NULL, failure_reasons TEXT NOT NULL,
            started REAL NOT NULL, updated REAL NOT NULL);
        CREATE INDEX ingestion_jobs_ds ON ingestion_jobs (kb_id, ds_id, started);
        CREATE TABLE documents (
            kb_id TEXT NOT NULL, ds_id TEXT NOT NULL, key TEXT NOT NULL, content_hash TEXT NOT NULL,
            metadata_hash TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, updated REAL NOT NULL,
            PRIMARY KEY (kb_id, ds_id, key));
        CREATE TABLE sessions (id TEXT PRIMARY KEY, turns TEXT NOT NULL, updated REAL NOT NULL)
        """,
    ),
]


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with knowledge bases partitioned by account and region (a name is unique within one)."""
    return [*MIGRATIONS, ("0002_regions", lambda tx: _partition(tx, account, region))]


def _partition(tx: Any, account: str, region: str) -> None:
    """Knowledge bases gain account and region, their name unique within them; each existing one goes
    where its ARN (made from the request that created it) says, or else to the server's defaults."""
    tx.execute(
        f"""CREATE TABLE knowledge_bases_new (
            id TEXT PRIMARY KEY, {partition_column("account", account)}, {partition_column("region", region)},
            name TEXT NOT NULL, body TEXT NOT NULL, store_kind TEXT NOT NULL, dimension INTEGER NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL, UNIQUE (account, region, name))"""
    )
    for row in tx.execute("SELECT * FROM knowledge_bases").fetchall():
        fields = str(json.loads(row["body"]).get("knowledgeBaseArn", "")).split(":")
        where = (fields[4], fields[3]) if len(fields) > 5 and fields[3] and fields[4] else (account, region)
        tx.execute(
            "INSERT INTO knowledge_bases_new VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row["id"],
                *where,
                row["name"],
                row["body"],
                row["store_kind"],
                row["dimension"],
                row["created"],
                row["updated"],
            ),
        )
    tx.execute("DROP TABLE knowledge_bases")
    tx.execute("ALTER TABLE knowledge_bases_new RENAME TO knowledge_bases")


STATISTICS = (
    "numberOfDocumentsScanned",
    "numberOfMetadataDocumentsScanned",
    "numberOfNewDocumentsIndexed",
    "numberOfModifiedDocumentsIndexed",
    "numberOfMetadataDocumentsModified",
    "numberOfDocumentsDeleted",
    "numberOfDocumentsFailed",
    "numberOfDocumentsSkipped",
)


def new_id() -> str:
    """A 10-character id in Bedrock's form (`[0-9a-zA-Z]{10}`)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class KnowledgeBase:
    id: str
    body: dict[str, Any]  # the KnowledgeBase shape as Get returns it, less status and timestamps
    store_kind: str  # "lance" or "pgvector"
    dimension: int
    created: float
    updated: float
    account: str = DEFAULT_ACCOUNT  # where it lives
    region: str = DEFAULT_REGION


@dataclass(frozen=True)
class DataSource:
    id: str
    kb_id: str
    body: dict[str, Any]
    created: float
    updated: float


@dataclass(frozen=True)
class IngestionJob:
    id: str
    kb_id: str
    ds_id: str
    status: str
    description: str | None
    statistics: dict[str, int]
    failure_reasons: list[str]
    started: float
    updated: float


@dataclass(frozen=True)
class IndexedDocument:
    key: str
    content_hash: str
    metadata_hash: str
    status: str
    reason: str | None
    updated: float = 0.0


class KnowledgeBaseStore:
    """All Knowledge Bases state under `directory`; jobs left running by a previous process end FAILED
    (STOPPED where a stop was accepted)."""

    def __init__(
        self,
        directory: Path,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        wrap_vectors: Callable[[KnowledgeBase, VectorStore], VectorStore] | None = None,
    ) -> None:
        """`account` and `region` are the server's defaults, where knowledge bases made before regions
        partitioned them go (unless their ARN says otherwise); `wrap_vectors` seals the chunks of data
        sources with a customer managed key (`rag.sealed`)."""
        self.directory = directory
        self._wrap_vectors = wrap_vectors
        self.db = Database(directory / "knowledge_bases.sqlite3", migrations(account, region))
        self._vectors: dict[str, VectorStore] = {}
        self._vectors_lock = threading.Lock()
        self._postgres: Any = None
        self.running: set[str] = set()  # data source ids with a job in progress in this process
        self.running_lock = threading.Lock()
        with self.db.transaction() as tx:  # a stop accepted before the restart is honoured: STOPPED
            tx.execute(
                "UPDATE ingestion_jobs SET status = 'STOPPED', updated = ? WHERE status = 'STOPPING'",
                (time.time(),),
            )
            tx.execute(
                "UPDATE ingestion_jobs SET status = 'FAILED', failure_reasons = ?, updated = ? "
                "WHERE status IN ('STARTING', 'IN_PROGRESS')",
                (json.dumps([RESTART_REASON]), time.time()),
            )

    # -- knowledge bases -------------------------------------------------------------------------------------

    def add_knowledge_base(
        self, body: dict[str, Any], store_kind: str, dimension: int, account: str, region: str
    ) -> KnowledgeBase:
        """A new knowledge base of `account`'s `region`; KeyError if one there has the name."""
        now = time.time()
        with self.db.transaction() as tx:
            if tx.execute(
                "SELECT 1 FROM knowledge_bases WHERE account = ? AND region = ? AND name = ?",
                (account, region, body["name"]),
            ).fetchone():
                raise KeyError(body["name"])
            tx.execute(
                "INSERT INTO knowledge_bases (id, account, region, name, body, store_kind, dimension,"
                " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    body["knowledgeBaseId"],
                    account,
                    region,
                    body["name"],
                    json.dumps(body),
                    store_kind,
                    dimension,
                    now,
                    now,
                ),
            )
        return KnowledgeBase(body["knowledgeBaseId"], body, store_kind, dimension, now, now, account, region)

    def update_knowledge_base(self, kb_id: str, body: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE knowledge_bases SET name = ?, body = ?, updated = ? WHERE id = ?",
                (body["name"], json.dumps(body), time.time(), kb_id),
            )

    def knowledge_base(self, kb_id: str) -> KnowledgeBase | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM knowledge_bases WHERE id = ?", (kb_id,)).fetchone()
        if row is None:
            return None
        return KnowledgeBase(
            row["id"],
            json.loads(row["body"]),
            row["store_kind"],
            row["dimension"],
            row["created"],
            row["updated"],
            row["account"],
            row["region"],
        )

    def knowledge_bases(self, account: str, region: str) -> list[KnowledgeBase]:
        """The knowledge bases of one account's region, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM knowledge_bases WHERE account = ? AND region = ? ORDER BY created",
                (account, region),
            )
            ids = [row["id"] for row in rows]
        return [kb for kb in map(self.knowledge_base, ids) if kb is not None]

    def delete_knowledge_base(self, kb_id: str) -> None:
        kb = self.knowledge_base(kb_id)
        with self.db.transaction() as tx:
            for table in ("data_sources", "ingestion_jobs", "documents"):
                tx.execute(f"DELETE FROM {table} WHERE kb_id = ?", (kb_id,))
            tx.execute("DELETE FROM knowledge_bases WHERE id = ?", (kb_id,))
        if kb is not None:
            with self._vectors_lock:
                store = self._vectors.pop(kb_id, None)
            if store is None:
                with suppress(Exception):
                    store = self._open(kb)
            if store is not None:
                store.drop()
                store.close()

    # -- vector stores ---------------------------------------------------------------------------------------

    def vectors(self, kb: KnowledgeBase) -> VectorStore:
        """The knowledge base's chunk store, opened (and created) on first use."""
        with self._vectors_lock:
            store = self._vectors.get(kb.id)
            if store is None:
                store = self._open(kb)
                if self._wrap_vectors is not None:
                    store = self._wrap_vectors(kb, store)
                self._vectors[kb.id] = store
            return store

    def _open(self, kb: KnowledgeBase) -> VectorStore:
        if kb.store_kind == "pgvector":
            from outcrop.storage.vectors.pgserver import EmbeddedPostgres
            from outcrop.storage.vectors.pgvector import PgVectorStore

            if self._postgres is None:
                self._postgres = EmbeddedPostgres(self.directory / "postgres")
            return PgVectorStore(self._postgres.start(), kb.id, kb.dimension)
        from outcrop.storage.vectors.lance import LanceVectorStore

        return LanceVectorStore(self.directory / "lance", kb.id, kb.dimension)

    # -- data sources ----------------------------------------------------------------------------------------

    def add_data_source(self, kb_id: str, body: dict[str, Any]) -> DataSource:
        now = time.time()
        with self.db.transaction() as tx:
            if tx.execute(
                "SELECT 1 FROM data_sources WHERE kb_id = ? AND name = ?", (kb_id, body["name"])
            ).fetchone():
                raise KeyError(body["name"])
            tx.execute(
                "INSERT INTO data_sources VALUES (?, ?, ?, ?, ?, ?)",
                (body["dataSourceId"], kb_id, body["name"], json.dumps(body), now, now),
            )
        return DataSource(body["dataSourceId"], kb_id, body, now, now)

    def update_data_source(self, ds_id: str, body: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE data_sources SET name = ?, body = ?, updated = ? WHERE id = ?",
                (body["name"], json.dumps(body), time.time(), ds_id),
            )

    def data_source(self, kb_id: str, ds_id: str) -> DataSource | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM data_sources WHERE kb_id = ? AND id = ?", (kb_id, ds_id)
            ).fetchone()
        if row is None:
            return None
        return DataSource(row["id"], row["kb_id"], json.loads(row["body"]), row["created"], row["updated"])

    def data_sources(self, kb_id: str) -> list[DataSource]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM data_sources WHERE kb_id = ? ORDER BY created", (kb_id,)
            ).fetchall()
        return [
            DataSource(r["id"], r["kb_id"], json.loads(r["body"]), r["created"], r["updated"]) for r in rows
        ]

    def delete_data_source(self, kb_id: str, ds_id: str) -> list[str]:
        """Forget the data source; returns its indexed document keys, for the caller to remove or keep."""
        with self.db.transaction() as tx:
            keys = [
                row["key"]
                for row in tx.execute(
                    "SELECT key FROM documents WHERE kb_id = ? AND ds_id = ?", (kb_id, ds_id)
                )
            ]
            for table in ("ingestion_jobs", "documents"):
                tx.execute(f"DELETE FROM {table} WHERE kb_id = ? AND ds_id = ?", (kb_id, ds_id))
            tx.execute("DELETE FROM data_sources WHERE kb_id = ? AND id = ?", (kb_id, ds_id))
        return keys

    # -- ingestion jobs --------------------------------------------------------------------------------------

    def add_job(self, kb_id: str, ds_id: str, description: str | None) -> IngestionJob:
        now = time.time()
        job = IngestionJob(
            new_id(), kb_id, ds_id, "STARTING", description, dict.fromkeys(STATISTICS, 0), [], now, now
        )
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO ingestion_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, kb_id, ds_id, job.status, description, json.dumps(job.statistics), "[]", now, now),
            )
        return job

    def save_job(
        self, job_id: str, status: str, statistics: dict[str, int], failure_reasons: list[str]
    ) -> None:
        """A running job's progress or end, written only while it runs (one statement): once a stop was
        accepted (STOPPING) it stays STOPPING, and ends STOPPED whatever the work came to."""
        stopping = "STOPPING" if status in ("STARTING", "IN_PROGRESS") else "STOPPED"
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE ingestion_jobs SET status = CASE status WHEN 'STOPPING' THEN ? ELSE ? END, "
                "statistics = ?, failure_reasons = ?, updated = ? "
                "WHERE id = ? AND status IN ('STARTING', 'IN_PROGRESS', 'STOPPING')",
                (stopping, status, json.dumps(statistics), json.dumps(failure_reasons), time.time(), job_id),
            )

    def stop_job(self, job_id: str) -> bool:
        """Mark a running job STOPPING (its worker stops at its next document); False if it is not running."""
        with self.db.transaction() as tx:
            return (
                tx.execute(
                    "UPDATE ingestion_jobs SET status = 'STOPPING', updated = ? "
                    "WHERE id = ? AND status IN ('STARTING', 'IN_PROGRESS')",
                    (time.time(), job_id),
                ).rowcount
                > 0
            )

    def stop_requested(self, job_id: str) -> bool:
        with self.db.read() as conn:
            row = conn.execute("SELECT status FROM ingestion_jobs WHERE id = ?", (job_id,)).fetchone()
        return row is not None and row["status"] == "STOPPING"

    def job(self, kb_id: str, ds_id: str, job_id: str) -> IngestionJob | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM ingestion_jobs WHERE kb_id = ? AND ds_id = ? AND id = ?",
                (kb_id, ds_id, job_id),
            ).fetchone()
        return None if row is None else _job(row)

    def jobs(self, kb_id: str, ds_id: str) -> list[IngestionJob]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM ingestion_jobs WHERE kb_id = ? AND ds_id = ? ORDER BY started", (kb_id, ds_id)
            ).fetchall()
        return [_job(row) for row in rows]

    # -- indexed documents -----------------------------------------------------------------------------------

    def documents(self, kb_id: str, ds_id: str) -> dict[str, IndexedDocument]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM documents WHERE kb_id = ? AND ds_id = ?", (kb_id, ds_id)
            ).fetchall()
        return {
            r["key"]: IndexedDocument(
                r["key"], r["content_hash"], r["metadata_hash"], r["status"], r["reason"], r["updated"]
            )
            for r in rows
        }

    def save_document(self, kb_id: str, ds_id: str, document: IndexedDocument) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kb_id,
                    ds_id,
                    document.key,
                    document.content_hash,
                    document.metadata_hash,
                    document.status,
                    document.reason,
                    time.time(),
                ),
            )

    def forget_document(self, kb_id: str, ds_id: str, key: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM documents WHERE kb_id = ? AND ds_id = ? AND key = ?", (kb_id, ds_id, key))

    # -- RetrieveAndGenerate sessions ------------------------------------------------------------------------

    def session_turns(self, session_id: str) -> Any:
        """A RetrieveAndGenerate session's turns as saved: a list, or a sealed session's envelope (a dict)."""
        with self.db.read() as conn:
            row = conn.execute("SELECT turns FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return None if row is None else json.loads(row["turns"])

    def save_session(self, session_id: str, turns: list[dict[str, str]] | dict[str, str]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                (session_id, json.dumps(turns), time.time()),
            )

    def close(self) -> None:
        with self._vectors_lock:
            stores, self._vectors = list(self._vectors.values()), {}
        for store in stores:
            with suppress(Exception):
                store.close()
        if self._postgres is not None:
            with suppress(Exception):
                self._postgres.stop()
        self.db.close()


def _job(row: Any) -> IngestionJob:
    return IngestionJob(
        row["id"],
        row["kb_id"],
        row["ds_id"],
        row["status"],
        row["description"],
        json.loads(row["statistics"]),
        json.loads(row["failure_reasons"]),
        row["started"],
        row["updated"],
    )
