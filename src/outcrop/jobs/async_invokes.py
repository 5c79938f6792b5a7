"""Bedrock Runtime's asynchronous invocations: persisted in SQLite, run in the background through the
shared invoke path, the answer written to S3 at `<output prefix>/<invocation id>/output.json`.

An invocation still InProgress when the server stopped is run again at the next start (the body is kept);
its id stays the same, and its output object is written whole, so a rerun never leaves half a file.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from outcrop.inference import Caller, Inference
from outcrop.jobs.batch_store import new_id
from outcrop.protocol.errors import ServiceError, ThrottlingException
from outcrop.services.bedrock_runtime.invoke import invoke_body
from outcrop.storage.objects import ObjectAttributes, ObjectStore, StoreError
from outcrop.storage.sqlite import Database

RETRY_AFTER_S = 1.0

MIGRATIONS = [
    (
        "001-invocations",
        """
        CREATE TABLE invocations (
            invocation_id TEXT PRIMARY KEY, arn TEXT NOT NULL, model_id TEXT NOT NULL,
            model_arn TEXT NOT NULL, client_token TEXT, principal TEXT NOT NULL, model_input TEXT NOT NULL,
            output_config TEXT NOT NULL, tags TEXT NOT NULL, status TEXT NOT NULL, failure_message TEXT,
            submitted REAL NOT NULL, modified REAL NOT NULL, ended REAL
        );
        CREATE UNIQUE INDEX invocations_token ON invocations(client_token) WHERE client_token IS NOT NULL;
        CREATE INDEX invocations_submitted ON invocations(submitted);
        """,
    ),
]


@dataclass(frozen=True)
class AsyncInvocation:
    invocation_id: str
    arn: str
    model_id: str
    model_arn: str
    client_token: str | None
    principal: str
    model_input: Any
    output_config: dict[str, Any]
    tags: list[dict[str, str]]
    status: str  # InProgress, Completed, Failed
    failure_message: str | None
    submitted: float
    modified: float
    ended: float | None


class TokenReused(Exception):
    """A clientRequestToken already used for a different request."""


def output_key(invocation: AsyncInvocation) -> tuple[str, str]:
    """Where an invocation's answer goes: its bucket and `<prefix>/<invocation id>/output.json`."""
    bucket, _, prefix = (
        invocation.output_config["s3OutputDataConfig"]["s3Uri"].removeprefix("s3://").partition("/")
    )
    prefix = prefix.strip("/")
    name = f"{invocation.invocation_id}/output.json"
    return bucket, f"{prefix}/{name}" if prefix else name


class AsyncInvocations:
    """The store and the workers: `workers` invocations run at once (the model's decoding slots)."""

    def __init__(self, path: Path, *, objects: ObjectStore, inference: Inference, workers: int) -> None:
        self.db = Database(path, MIGRATIONS)
        self._objects = objects
        self._inference = inference
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="outcrop-async")
        self._closing = threading.Event()

    def resume(self) -> None:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT invocation_id FROM invocations WHERE status = 'InProgress' ORDER BY submitted"
            ).fetchall()
        for row in rows:
            self._pool.submit(self._run, row["invocation_id"])

    def start(
        self,
        *,
        arn_prefix: str,
        model_id: str,
        model_arn: str,
        client_token: str | None,
        principal: str,
        model_input: Any,
        output_config: dict[str, Any],
        tags: list[dict[str, str]],
    ) -> AsyncInvocation:
        """A new invocation, or the one a repeated token made for the same request."""
        request = json.dumps([model_id, model_input, output_config, tags], sort_keys=True)
        now = time.time()
        with self.db.transaction() as tx:
            if client_token:
                row = tx.execute(
                    "SELECT * FROM invocations WHERE client_token = ?", (client_token,)
                ).fetchone()
                if row is not None:
                    found = _invocation(row)
                    same = [found.model_id, found.model_input, found.output_config, found.tags]
                    if json.dumps(same, sort_keys=True) != request:
                        raise TokenReused(client_token)
                    return found
            invocation_id = new_id()
            tx.execute(
                "INSERT INTO invocations (invocation_id, arn, model_id, model_arn, client_token, principal, "
                "model_input, output_config, tags, status, submitted, modified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'InProgress', ?, ?)",
                (
                    invocation_id,
                    arn_prefix + invocation_id,
                    model_id,
                    model_arn,
                    client_token,
                    principal,
                    json.dumps(model_input),
                    json.dumps(output_config),
                    json.dumps(tags),
                    now,
                    now,
                ),
            )
            row = tx.execute("SELECT * FROM invocations WHERE invocation_id = ?", (invocation_id,)).fetchone()
        self._pool.submit(self._run, invocation_id)
        return _invocation(row)

    def get(self, invocation_id: str) -> AsyncInvocation | None:
        with self.db.read() as tx:
            row = tx.execute("SELECT * FROM invocations WHERE invocation_id = ?", (invocation_id,)).fetchone()
        return None if row is None else _invocation(row)

    def all(self) -> list[AsyncInvocation]:
        """Every invocation, oldest first."""
        with self.db.read() as tx:
            rows = tx.execute("SELECT * FROM invocations ORDER BY submitted, invocation_id").fetchall()
        return [_invocation(row) for row in rows]

    def close(self) -> None:
        self._closing.set()  # a call cut short now is left InProgress and run again at the next start
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.db.close()

    def _run(self, invocation_id: str) -> None:
        invocation = self.get(invocation_id)
        if invocation is None or invocation.status != "InProgress" or self._closing.is_set():
            return
        caller = Caller(invocation.principal, self._closing)
        try:
            body = self._answer(invocation, caller, invocation.model_input)
            if body is None:
                return
            bucket, key = output_key(invocation)
            data = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
            self._objects.put_object(bucket, key, data, ObjectAttributes(content_type="application/json"))
        except Exception as error:
            if self._closing.is_set():
                return  # cut short by the server closing: left InProgress, run again at the next start
            self._fail(invocation_id, error)
        else:
            self._finish(invocation_id, "Completed", None)

    def _fail(self, invocation_id: str, error: Exception) -> None:
        if isinstance(error, ServiceError):
            self._finish(invocation_id, "Failed", error.message)
        elif isinstance(error, StoreError):
            self._finish(invocation_id, "Failed", f"The output could not be written to S3: {error}")
        else:  # a bug: the invocation says so instead of staying InProgress
            self._finish(invocation_id, "Failed", f"The invocation failed: {error}")

    def _answer(self, invocation: AsyncInvocation, caller: Caller, body: Any) -> dict[str, Any] | None:
        """The model's response body, waiting out throttling; None when the server is stopping."""
        model = self._inference.resolve(invocation.model_id)
        while not self._closing.is_set():
            try:
                answer = invoke_body(self._inference, caller, model, body).body
            except ThrottlingException:
                self._closing.wait(RETRY_AFTER_S)
                continue
            return None if self._closing.is_set() else answer
        return None

    def _finish(self, invocation_id: str, status: str, message: str | None) -> None:
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE invocations SET status = ?, failure_message = ?, modified = ?, ended = ? "
                "WHERE invocation_id = ? AND status = 'InProgress'",  # an end is written once
                (status, message, now, now, invocation_id),
            )


def _invocation(row: Any) -> AsyncInvocation:
    return AsyncInvocation(
        invocation_id=row["invocation_id"],
        arn=row["arn"],
        model_id=row["model_id"],
        model_arn=row["model_arn"],
        client_token=row["client_token"],
        principal=row["principal"],
        model_input=json.loads(row["model_input"]),
        output_config=json.loads(row["output_config"]),
        tags=json.loads(row["tags"]),
        status=row["status"],
        failure_message=row["failure_message"],
        submitted=row["submitted"],
        modified=row["modified"],
        ended=row["ended"],
    )
