"""A persisted queue of speech jobs (Polly synthesis tasks, Transcribe jobs) and the thread that runs them.

Every state change is committed to SQLite before it is visible through the API. After a restart, jobs that
were queued or running are run again from the start: both kinds of job are pure functions of their
request, so a rerun gives the same result. One thread per queue: the speech models already use every core.
Each job lives in an account and region (its id is unique there, as a job name is on AWS); the API reads
through `where=`, and the worker runs jobs by their sequence number, whatever their region.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.jobs.partition import Where, rebuild
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration

log = logging.getLogger(__name__)

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"

_MIGRATIONS = [
    (
        "0001-jobs",
        """
        CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL,
            request TEXT NOT NULL,
            result TEXT,
            reason TEXT,
            created REAL NOT NULL,
            started REAL,
            completed REAL
        );
        CREATE INDEX jobs_status ON jobs (status)
        """,
    )
]
_PARTITIONED = """
    CREATE TABLE jobs_new (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        result TEXT,
        reason TEXT,
        created REAL NOT NULL,
        started REAL,
        completed REAL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        UNIQUE (account, region, id)
    )
"""


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with each job placed in an account and region (existing ones in the defaults)."""
    return [
        *_MIGRATIONS,
        (
            "0002-regions",
            lambda tx: rebuild(
                tx,
                "jobs",
                _PARTITIONED,
                (account, region),
                indexes=("CREATE INDEX jobs_status ON jobs (status)",),
            ),
        ),
    ]


class JobExists(Exception):
    """A job with this id is already recorded."""


class JobFailed(Exception):
    """The job cannot complete; the message is the reason its callers are shown."""


@dataclass(frozen=True)
class Job:
    seq: int
    id: str
    status: str
    request: dict[str, Any]
    result: dict[str, Any] | None
    reason: str | None
    created: float
    started: float | None
    completed: float | None
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION

    @property
    def where(self) -> Where:
        return (self.account, self.region)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        seq=row["seq"],
        id=row["id"],
        status=row["status"],
        request=json.loads(row["request"]),
        result=json.loads(row["result"]) if row["result"] else None,
        reason=row["reason"],
        created=row["created"],
        started=row["started"],
        completed=row["completed"],
        account=row["account"],
        region=row["region"],
    )


Handler = Callable[[Job], dict[str, Any]]


class JobWorker:
    """Submit, look up, list and delete jobs; `handler(job)` returns the result or raises JobFailed."""

    def __init__(
        self,
        path: Path,
        handler: Handler,
        name: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        deleted: Callable[[Job], None] = lambda _job: None,
    ) -> None:
        """`account` and `region` are the server's defaults, where jobs from before regions go; `deleted`
        removes what a job wrote when it was deleted while it ran (its delete found nothing to remove)."""
        self.db = Database(path, migrations(account, region))
        self._handler = handler
        self._deleted = deleted
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopping = threading.Event()

    def start(self) -> None:
        """Requeue what a previous process left queued or running, then start working."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE jobs SET status = ?, started = NULL WHERE status = ?", (QUEUED, RUNNING))
            pending = [
                int(r["seq"])
                for r in tx.execute("SELECT seq FROM jobs WHERE status = ? ORDER BY seq", (QUEUED,))
            ]
        for seq in pending:
            self._queue.put(seq)
        self._thread.start()

    def submit(self, job_id: str, request: dict[str, Any], *, where: Where) -> Job:
        try:
            with self.db.transaction() as tx:
                cursor = tx.execute(
                    "INSERT INTO jobs (id, status, request, created, account, region)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (job_id, QUEUED, json.dumps(request), time.time(), *where),
                )
        except sqlite3.IntegrityError:
            raise JobExists(job_id) from None
        seq = int(cursor.lastrowid or 0)
        self._queue.put(seq)
        job = self.by_seq(seq)
        assert job is not None
        return job

    def get(self, job_id: str, *, where: Where) -> Job | None:
        """The job of that id in the account and region."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM jobs WHERE account = ? AND region = ? AND id = ?", (*where, job_id)
            ).fetchone()
        return _job(row) if row else None

    def by_seq(self, seq: int) -> Job | None:
        """The job recorded under that sequence number, if it is still there."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE seq = ?", (seq,)).fetchone()
        return _job(row) if row else None

    def list(self, *, where: Where, status: str | None = None, id_contains: str | None = None) -> list[Job]:
        """The account and region's jobs, newest first."""
        sql, args = "SELECT * FROM jobs WHERE account = ? AND region = ?", list[str](where)
        if status:
            sql, args = sql + " AND status = ?", [*args, status]
        if id_contains:
            sql, args = sql + " AND instr(lower(id), lower(?)) > 0", [*args, id_contains]
        with self.db.read() as conn:
            return [_job(r) for r in conn.execute(sql + " ORDER BY seq DESC", args)]

    def delete(self, job_id: str, *, where: Where) -> bool:
        with self.db.transaction() as tx:
            return (
                tx.execute(
                    "DELETE FROM jobs WHERE account = ? AND region = ? AND id = ?", (*where, job_id)
                ).rowcount
                > 0
            )

    def _set(self, seq: int, sql: str, args: tuple[Any, ...]) -> bool:
        """False when the job is gone (deleted meanwhile): the write recreates nothing."""
        with self.db.transaction() as tx:
            return tx.execute(f"UPDATE jobs SET {sql} WHERE seq = ?", (*args, seq)).rowcount > 0

    def _run(self) -> None:
        while not self._stopping.is_set():
            seq = self._queue.get()
            if seq is None:
                return
            job = self.by_seq(seq)
            if job is None or job.status != QUEUED:
                continue  # deleted meanwhile
            self._set(seq, "status = ?, started = ?", (RUNNING, time.time()))
            try:
                result = self._handler(job)
            except JobFailed as failure:
                self._set(seq, "status = ?, reason = ?, completed = ?", (FAILED, str(failure), time.time()))
            except Exception as error:  # a bug or a broken model: the job fails, the worker goes on
                if self._stopping.is_set():
                    return  # the server is closing under it: left running, so the next start runs it again
                log.exception("job %s failed", job.id)
                reason = f"Internal error while running the job: {type(error).__name__}: {error}"
                self._set(seq, "status = ?, reason = ?, completed = ?", (FAILED, reason[:2000], time.time()))
            else:
                if not self._set(
                    seq,
                    "status = ?, result = ?, completed = ?",
                    (COMPLETED, json.dumps(result), time.time()),
                ):
                    self._deleted(job)  # deleted while it ran: what it wrote goes too

    def close(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.db.close()
