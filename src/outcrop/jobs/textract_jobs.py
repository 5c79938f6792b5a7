"""Textract's asynchronous jobs: persisted in SQLite, run one at a time on a background thread.

A job's blocks are written to a JSON file before its row says SUCCEEDED, so a reader never sees a finished
job without results. Jobs still IN_PROGRESS when the server stopped are run again at the next start (the
document is read again from S3); the job id stays the same. A job lives in the account and region that
started it: another region's Get finds no such job, and a ClientRequestToken is matched within the region.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from outcrop.jobs.partition import Where
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, add_partition

MIGRATIONS = [
    (
        "001-jobs",
        """
        CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, request TEXT NOT NULL,
            client_token TEXT, status_message TEXT, pages INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL, finished REAL
        );
        CREATE UNIQUE INDEX jobs_token ON jobs(kind, client_token) WHERE client_token IS NOT NULL;
        """,
    ),
    ("002-model-version", "ALTER TABLE jobs ADD COLUMN model_version TEXT;"),
]


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with each job in an account and region (existing ones in the server's defaults)."""
    return [*MIGRATIONS, ("003-regions", lambda tx: _partition(tx, account, region))]


def _partition(tx: sqlite3.Connection, account: str, region: str) -> None:
    add_partition(tx, "jobs", account, region)
    tx.execute("DROP INDEX jobs_token")
    tx.execute(
        "CREATE UNIQUE INDEX jobs_token ON jobs(account, region, kind, client_token)"
        " WHERE client_token IS NOT NULL"
    )


@dataclass
class Job:
    job_id: str
    kind: str  # "text" (StartDocumentTextDetection) or "analysis" (StartDocumentAnalysis)
    status: str  # IN_PROGRESS, SUCCEEDED, FAILED
    request: dict[str, Any]
    status_message: str | None
    pages: int
    model_version: str | None = None  # the OCR model's version when the job started (None: an older job)
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION


class TokenMismatch(Exception):
    """A ClientRequestToken reused with different parameters."""


Work = Callable[[Job], tuple[list[dict[str, Any]], int]]
"""Runs a job: its blocks and page count, or raises an exception whose message becomes StatusMessage."""


class TextractJobs:
    def __init__(
        self, directory: Path, work: Work, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> None:
        """`account` and `region` are the server's defaults, where jobs from before regions go."""
        self.db = Database(directory / "jobs.sqlite3", migrations(account, region))
        self.results = directory / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self._work = work
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._closing = False

    def resume(self) -> None:
        """Queue again the jobs a previous process left unfinished."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT job_id FROM jobs WHERE status = 'IN_PROGRESS' ORDER BY created"
            ).fetchall()
        for row in rows:
            self._submit(row["job_id"])

    def start(
        self,
        kind: str,
        request: dict[str, Any],
        client_token: str | None,
        *,
        model_version: str | None,
        where: Where,
    ) -> str:
        """A new job's id, or the existing one for a repeated ClientRequestToken with the same request."""
        encoded = json.dumps(request, sort_keys=True)
        with self.db.transaction() as tx:
            if client_token:
                row = tx.execute(
                    "SELECT job_id, request FROM jobs WHERE account = ? AND region = ? AND kind = ?"
                    " AND client_token = ?",
                    (*where, kind, client_token),
                ).fetchone()
                if row is not None:
                    if row["request"] != encoded:
                        raise TokenMismatch(client_token)
                    return str(row["job_id"])
            job_id = uuid.uuid4().hex + uuid.uuid4().hex[:32]
            tx.execute(
                "INSERT INTO jobs (job_id, kind, status, request, client_token, created, model_version,"
                " account, region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, kind, "IN_PROGRESS", encoded, client_token, time.time(), model_version, *where),
            )
        self._submit(job_id)
        return job_id

    def get(self, job_id: str, kind: str, *, where: Where | None = None) -> Job | None:
        """The job, if it lives in `where` (a request's view) or anywhere (not given: the runner's)."""
        with self.db.read() as tx:
            row = tx.execute("SELECT * FROM jobs WHERE job_id = ? AND kind = ?", (job_id, kind)).fetchone()
        if row is None or (where is not None and (row["account"], row["region"]) != where):
            return None
        return Job(
            row["job_id"],
            row["kind"],
            row["status"],
            json.loads(row["request"]),
            row["status_message"],
            row["pages"],
            row["model_version"],
            row["account"],
            row["region"],
        )

    def blocks(self, job_id: str) -> list[dict[str, Any]]:
        path = self.results / f"{job_id}.json"
        return list(orjson.loads(path.read_bytes())) if path.exists() else []

    def close(self) -> None:
        self._closing = True  # a job that fails from here on failed because the server is stopping
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
        self.db.close()

    def _submit(self, job_id: str) -> None:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outcrop-textract")
            self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        with self.db.read() as tx:
            kind = tx.execute("SELECT kind FROM jobs WHERE job_id = ?", (job_id,)).fetchone()["kind"]
        job = self.get(job_id, kind)
        if job is None or job.status != "IN_PROGRESS":
            return
        try:
            blocks, pages = self._work(job)
        except Exception as exc:
            if self._closing:
                return  # left IN_PROGRESS: the next start runs it again
            self._finish(job_id, "FAILED", str(exc) or type(exc).__name__, 0)
            return
        path = self.results / f"{job_id}.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(orjson.dumps(blocks))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        self._finish(job_id, "SUCCEEDED", None, pages)

    def _finish(self, job_id: str, status: str, message: str | None, pages: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = ?, status_message = ?, pages = ?, finished = ? WHERE job_id = ?",
                (status, message, pages, time.time(), job_id),
            )
