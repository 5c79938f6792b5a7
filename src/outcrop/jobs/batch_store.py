"""Bedrock batch inference jobs' state, in SQLite: what each job asked for, where it stands, its counts.

The records' outputs are not here: the runner keeps them in a staging file per input file (see
`batch_inference`), which is what a resumed job reads to know where it stopped.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database

MIGRATIONS = [
    (
        "001-jobs",
        """
        CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY, arn TEXT NOT NULL, name TEXT NOT NULL, model_id TEXT NOT NULL,
            client_token TEXT, principal TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL,
            message TEXT, submitted REAL NOT NULL, modified REAL NOT NULL, ended REAL, expires REAL NOT NULL,
            total INTEGER, processed INTEGER NOT NULL DEFAULT 0, succeeded INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX jobs_token ON jobs(client_token) WHERE client_token IS NOT NULL;
        CREATE INDEX jobs_submitted ON jobs(submitted);
        """,
    ),
]

ACTIVE = ("Submitted", "Validating", "Scheduled", "InProgress")
"""Statuses of a job the runner still owes work; a server start resumes them."""


@dataclass(frozen=True)
class Counts:
    total: int | None = None
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class BatchJob:
    job_id: str
    arn: str
    name: str
    model_id: str
    client_token: str | None
    principal: str
    request: dict[str, Any]  # the CreateModelInvocationJob input, as given
    status: str
    message: str | None
    submitted: float
    modified: float
    ended: float | None
    expires: float
    counts: Counts


class TokenReused(Exception):
    """A clientRequestToken already used for a different request."""


class NameTaken(Exception):
    """A job name already used by another job."""


def new_id(alphabet: str = string.ascii_lowercase + string.digits, size: int = 12) -> str:
    """A resource id as Bedrock shapes them: 12 lowercase letters and digits."""
    return "".join(secrets.choice(alphabet) for _ in range(size))


class BatchJobStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def create(
        self,
        *,
        arn_prefix: str,
        name: str,
        model_id: str,
        client_token: str | None,
        principal: str,
        request: dict[str, Any],
        timeout_hours: int,
    ) -> tuple[BatchJob, bool]:
        """The new job and True; or, for a repeated token with the same request, the job it made and False."""
        encoded = json.dumps(request, sort_keys=True)
        now = time.time()
        with self.db.transaction() as tx:
            if client_token:
                row = tx.execute("SELECT * FROM jobs WHERE client_token = ?", (client_token,)).fetchone()
                if row is not None:
                    if json.dumps(json.loads(row["request"]), sort_keys=True) != encoded:
                        raise TokenReused(client_token)
                    return _job(row), False
            if tx.execute(  # a name is unique within an account's region: where its ARN says
                "SELECT 1 FROM jobs WHERE name = ? AND substr(arn, 1, ?) = ?",
                (name, len(arn_prefix), arn_prefix),
            ).fetchone():
                raise NameTaken(name)
            job_id = new_id()
            tx.execute(
                "INSERT INTO jobs (job_id, arn, name, model_id, client_token, principal, request, status, "
                "submitted, modified, expires) VALUES (?, ?, ?, ?, ?, ?, ?, 'Submitted', ?, ?, ?)",
                (
                    job_id,
                    arn_prefix + job_id,
                    name,
                    model_id,
                    client_token,
                    principal,
                    encoded,
                    now,
                    now,
                    now + 3600 * timeout_hours,
                ),
            )
            row = tx.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _job(row), True

    def get(self, job_id: str) -> BatchJob | None:
        with self.db.read() as tx:
            row = tx.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def all(self) -> list[BatchJob]:
        """Every job, oldest first (lists filter and page this)."""
        with self.db.read() as tx:
            rows = tx.execute("SELECT * FROM jobs ORDER BY submitted, job_id").fetchall()
        return [_job(row) for row in rows]

    def active(self) -> list[str]:
        marks = ", ".join("?" for _ in ACTIVE)
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT job_id FROM jobs WHERE status IN ({marks}) ORDER BY submitted", ACTIVE
            ).fetchall()
        return [row["job_id"] for row in rows]

    def set_status(
        self, job_id: str, status: str, message: str | None = None, *, only_from: tuple[str, ...] = ()
    ) -> bool:
        """Move a job to `status` (ended when final); with `only_from`, only from one of those statuses.
        False when the job was not in one of them."""
        now = time.time()
        ended = now if status not in (*ACTIVE, "Stopping") else None
        query = (
            "UPDATE jobs SET status = ?, message = COALESCE(?, message), modified = ?, ended = ? "
            "WHERE job_id = ?"
        )
        args: list[Any] = [status, message, now, ended, job_id]
        if only_from:
            query += f" AND status IN ({', '.join('?' for _ in only_from)})"
            args += only_from
        with self.db.transaction() as tx:
            return tx.execute(query, args).rowcount > 0

    def set_counts(self, job_id: str, counts: Counts) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET total = ?, processed = ?, succeeded = ?, failed = ?, input_tokens = ?, "
                "output_tokens = ?, modified = ? WHERE job_id = ?",
                (
                    counts.total,
                    counts.processed,
                    counts.succeeded,
                    counts.failed,
                    counts.input_tokens,
                    counts.output_tokens,
                    time.time(),
                    job_id,
                ),
            )

    def close(self) -> None:
        self.db.close()


def _job(row: Any) -> BatchJob:
    return BatchJob(
        job_id=row["job_id"],
        arn=row["arn"],
        name=row["name"],
        model_id=row["model_id"],
        client_token=row["client_token"],
        principal=row["principal"],
        request=json.loads(row["request"]),
        status=row["status"],
        message=row["message"],
        submitted=row["submitted"],
        modified=row["modified"],
        ended=row["ended"],
        expires=row["expires"],
        counts=Counts(
            row["total"],
            row["processed"],
            row["succeeded"],
            row["failed"],
            row["input_tokens"],
            row["output_tokens"],
        ),
    )
