"""Comprehend's asynchronous resources (topic jobs, classifiers, classification jobs) and their worker.

Rows live in SQLite with the account and region that made them; every status change is committed before
the API shows it. One background thread runs the work in submission order. At start, work a stopped
server left SUBMITTED or running is queued again and run from the beginning: outputs are written to S3
in one PutObject and models replaced atomically, so a rerun cannot leave half of either.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.jobs.partition import Where
from outcrop.storage.sqlite import Database

log = logging.getLogger(__name__)

MIGRATIONS = [
    (
        "001-resources",
        """
        CREATE TABLE resources (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, arn TEXT NOT NULL, name TEXT, status TEXT NOT NULL,
            message TEXT, doc TEXT NOT NULL, client_token TEXT, created REAL NOT NULL,
            account TEXT NOT NULL, region TEXT NOT NULL
        );
        CREATE UNIQUE INDEX resources_arn ON resources(arn);
        CREATE UNIQUE INDEX resources_token ON resources(account, region, kind, client_token)
            WHERE client_token IS NOT NULL;
        CREATE INDEX resources_kind ON resources(account, region, kind, created);
        """,
    ),
]

TOPICS, CLASSIFIER, CLASSIFICATION, ENDPOINT = "topics", "classifier", "classification", "endpoint"
RUNNING = {TOPICS: "IN_PROGRESS", CLASSIFIER: "TRAINING", CLASSIFICATION: "IN_PROGRESS"}
LEFT_OVER = ("SUBMITTED", "IN_PROGRESS", "TRAINING", "STOP_REQUESTED")


@dataclass
class Resource:
    id: str
    kind: str
    arn: str
    name: str | None
    status: str
    message: str | None
    doc: dict[str, Any]
    created: float
    account: str
    region: str


class TokenMismatch(Exception):
    """A ClientRequestToken reused with a different request."""


class NameTaken(Exception):
    """The ARN (a classifier's name and version) is already used in this account and region."""


class JobFailed(Exception):
    """Work that ends with a reason for the user (its message is the resource's Message)."""


Handler = Callable[[Resource], dict[str, Any]]
"""Runs a resource's work; returns what to merge into its doc, or raises (JobFailed with a reason)."""


class ComprehendStore:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.db = Database(directory / "comprehend.sqlite3", MIGRATIONS)
        self.handlers: dict[str, Handler] = {}
        self.done: dict[str, str] = {TOPICS: "COMPLETED", CLASSIFIER: "TRAINED", CLASSIFICATION: "COMPLETED"}
        self.failed: dict[str, str] = {TOPICS: "FAILED", CLASSIFIER: "IN_ERROR", CLASSIFICATION: "FAILED"}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closing = False
        # held while a classifier is deleted or an endpoint pointed at one: none serves a deleted model
        self.serving_lock = threading.Lock()

    # -- rows ----------------------------------------------------------------------------------------------

    def create(
        self,
        kind: str,
        id: str,
        arn: str,
        name: str | None,
        doc: dict[str, Any],
        token: str | None,
        where: Where,
        *,
        status: str = "SUBMITTED",
    ) -> Resource:
        """A new resource (queued when SUBMITTED), or the one a repeated ClientRequestToken made."""
        request = json.dumps(doc.get("Request"), sort_keys=True)
        with self.db.transaction() as tx:
            if token:
                row = tx.execute(
                    "SELECT * FROM resources WHERE account = ? AND region = ? AND kind = ?"
                    " AND client_token = ?",
                    (*where, kind, token),
                ).fetchone()
                if row is not None:
                    found = _resource(row)
                    if json.dumps(found.doc.get("Request"), sort_keys=True) != request:
                        raise TokenMismatch(token)
                    return found
            if tx.execute("SELECT 1 FROM resources WHERE arn = ?", (arn,)).fetchone():
                raise NameTaken(arn)
            now = time.time()
            tx.execute(
                "INSERT INTO resources (id, kind, arn, name, status, doc, client_token, created, account,"
                " region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (id, kind, arn, name, status, json.dumps(doc), token, now, *where),
            )
        if status == "SUBMITTED":
            self.submit(id)
        return Resource(id, kind, arn, name, status, None, doc, now, *where)

    def get(self, kind: str, key: str, where: Where | None) -> Resource | None:
        """By id or ARN, if it is of `kind` and lives in `where` (None: anywhere, the worker's view)."""
        with self.db.read() as tx:
            row = tx.execute(
                "SELECT * FROM resources WHERE (id = ? OR arn = ?) AND kind = ?", (key, key, kind)
            )
            found = row.fetchone()
        if found is None or (where is not None and (found["account"], found["region"]) != where):
            return None
        return _resource(found)

    def list(self, kind: str, where: Where) -> list[Resource]:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT * FROM resources WHERE account = ? AND region = ? AND kind = ? ORDER BY created, id",
                (*where, kind),
            ).fetchall()
        return [_resource(row) for row in rows]

    def update(
        self,
        id: str,
        status: str,
        *,
        message: str | None = None,
        doc: dict[str, Any] | None = None,
        only_if: tuple[str, ...] = (),
    ) -> bool:
        """Set the status (and merge `doc`); with `only_if`, only from one of those statuses."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT status, doc FROM resources WHERE id = ?", (id,)).fetchone()
            if row is None or (only_if and row["status"] not in only_if):
                return False
            merged = {**json.loads(row["doc"]), **(doc or {})}
            tx.execute(
                "UPDATE resources SET status = ?, message = ?, doc = ? WHERE id = ?",
                (status, message, json.dumps(merged), id),
            )
        return True

    def delete(self, id: str, only_if: tuple[str, ...]) -> bool:
        with self.db.transaction() as tx:
            marks = ", ".join("?" * len(only_if))
            gone = tx.execute(f"DELETE FROM resources WHERE id = ? AND status IN ({marks})", (id, *only_if))
            return gone.rowcount > 0

    # -- the worker ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Queue the work a previous process left unfinished, then run the queue on one thread."""
        with self.db.read() as tx:
            marks = ", ".join("?" * len(LEFT_OVER))
            rows = tx.execute(
                f"SELECT id FROM resources WHERE status IN ({marks}) ORDER BY created", LEFT_OVER
            ).fetchall()
        for row in rows:
            self._queue.put(row["id"])
        self._thread = threading.Thread(target=self._loop, name="comprehend-jobs", daemon=True)
        self._thread.start()

    def submit(self, id: str) -> None:
        self._queue.put(id)

    def close(self) -> None:
        self._closing = True  # work that fails from here on failed because the server is stopping
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.db.close()

    def _loop(self) -> None:
        while (id := self._queue.get()) is not None:
            with self.db.read() as tx:
                row = tx.execute("SELECT * FROM resources WHERE id = ?", (id,)).fetchone()
            if row is None:
                continue
            resource = _resource(row)
            if resource.status == "STOP_REQUESTED":
                self._stopped(id, {})
                continue
            if resource.status not in LEFT_OVER:
                continue
            self._run(resource)

    def _run(self, resource: Resource) -> None:
        kind, id = resource.kind, resource.id
        started = {"TrainingStartTime": time.time()} if kind == CLASSIFIER else {}
        if not self.update(id, RUNNING[kind], doc=started, only_if=LEFT_OVER[:3]):
            self._stopped(id, {})  # a stop landed between the read and this start
            return
        try:
            result = self.handlers[kind](resource)
        except Exception as exc:
            if self._closing:
                return  # left running: the next start runs it again
            if isinstance(exc, JobFailed):
                self._end(id, kind, self.failed[kind], str(exc), {})
            else:  # a defect must end the work with a reason, not kill the thread
                log.exception("Comprehend %s %s failed", kind, id)
                self._end(id, kind, self.failed[kind], f"Internal error: {exc}", {})
            return
        self._end(id, kind, self.done[kind], None, result)

    def _end(self, id: str, kind: str, status: str, message: str | None, doc: dict[str, Any]) -> None:
        now = time.time()
        ended = {**doc, "EndTime": now}
        if status == "TRAINED" or status == "IN_ERROR":
            ended["TrainingEndTime"] = now
        # A stop may land between any two writes; each write checks the status it expects, so a stop
        # requested before the end is honoured and one requested after it is refused by the operation.
        if self._stopped(id, ended) or self.update(
            id, status, message=message, doc=ended, only_if=(RUNNING[kind],)
        ):
            return
        self._stopped(id, ended)

    def _stopped(self, id: str, doc: dict[str, Any]) -> bool:
        """End work whose stop was requested; False when no stop is pending."""
        return self.update(id, "STOPPED", doc={"EndTime": time.time(), **doc}, only_if=("STOP_REQUESTED",))


def _resource(row: Any) -> Resource:
    return Resource(
        row["id"],
        row["kind"],
        row["arn"],
        row["name"],
        row["status"],
        row["message"],
        json.loads(row["doc"]),
        row["created"],
        row["account"],
        row["region"],
    )
