"""Runs Bedrock batch inference jobs in the background, one job at a time, its records concurrently.

A chat model's records are sent `parallel` at a time, the number of sequences the llama.cpp backend decodes
together, so continuous batching keeps every slot busy; an embedding model's records go to the model
`EMBED_CHUNK` texts per call. Each finished record is appended (and synced) to a staging file per input
file before it counts, so a job that was running when the server stopped resumes at the next start with
the records its staging files do not hold yet. Outputs are written to S3 as Bedrock lays them out:
`<output prefix>/<job id>/<input file name>.out` (JSON lines) and `.../<job id>/manifest.json.out`
(the totals).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import string
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from outcrop.catalog import BedrockModel
from outcrop.guardrails.enforce import GuardrailEngine
from outcrop.inference import Caller, Inference
from outcrop.jobs.batch_guard import converse_record, invoke_record, names_guardrail, refuse_for_embedding
from outcrop.jobs.batch_store import ACTIVE, BatchJob, BatchJobStore, Counts
from outcrop.protocol.errors import ServiceError, ThrottlingException
from outcrop.services.bedrock_runtime.invoke import (
    EMBED_CHUNK,
    Invoked,
    embed_bodies,
)
from outcrop.storage.objects import ObjectAttributes, ObjectStore, StoreError

_STOPPED = "The job was stopped; the records processed before are in the output."
RETRY_AFTER_S = 1.0  # a record throttled (the model's queue is full of interactive calls) waits this long
RECORD_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class InputFile:
    bucket: str
    key: str
    name: str  # the file's path under the input prefix (its name when the input is one file)


@dataclass(frozen=True)
class Record:
    line: int
    record_id: str
    model_input: dict[str, Any]


class InputProblem(Exception):
    """What makes a job fail before its first record: its message becomes the job's message."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def output_prefix(job: BatchJob) -> tuple[str, str]:
    """The bucket and key prefix (ending in '/') under which a job writes its files."""
    bucket, prefix = split_s3_uri(job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/{job.job_id}/" if prefix else f"{job.job_id}/"


class BatchRunner:
    def __init__(
        self,
        store: BatchJobStore,
        *,
        objects: ObjectStore,
        inference: Inference,
        guardrails: GuardrailEngine,
        staging: Path,
        parallel: Callable[[BedrockModel], int],
    ) -> None:
        self.store = store
        self._objects = objects
        self._inference = inference
        self._guardrails = guardrails
        self._staging = staging
        self._parallel = parallel
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outcrop-batch")
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()

    # -- control ---------------------------------------------------------------------------------------------

    def resume(self) -> None:
        """Queue again what a previous process left unfinished, and end the stops it had begun."""
        for job_id in self.store.active():
            self.submit(job_id)
        for job in self.store.all():
            if job.status == "Stopping":
                self.submit(job.job_id)

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._stops.setdefault(job_id, threading.Event())
        self._jobs.submit(self._run, job_id)

    def stop(self, job_id: str) -> bool:
        """Ask a job to stop: False when it was not running or waiting."""
        if not self.store.set_status(
            job_id, "Stopping", only_from=("Submitted", "Validating", "Scheduled", "InProgress")
        ):
            return False
        with self._lock:
            event = self._stops.get(job_id)
        if event is not None:
            event.set()
        return True

    def close(self) -> None:
        """Stop working: records cut short are left out of the staging files, so a restart runs them."""
        self._closing.set()
        with self._lock:
            for event in self._stops.values():
                event.set()
        self._jobs.shutdown(wait=True, cancel_futures=True)

    # -- one job ---------------------------------------------------------------------------------------------

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        with self._lock:
            stop = self._stops.setdefault(job_id, threading.Event())
        try:
            if job is None or self._closing.is_set() or job.status not in (*ACTIVE, "Stopping"):
                return
            if job.status == "Stopping":
                stop.set()
                if not (self._staging / job_id).exists():  # stopped before its first record
                    self.store.set_status(
                        job_id, "Stopped", "The job was stopped before it started.", only_from=("Stopping",)
                    )
                    return
            self._run_job(job, stop)
        except InputProblem as problem:
            self._end(job_id, "Failed", str(problem))
        except Exception as error:  # a bug or a store failure: the job says so instead of hanging
            if not self._closing.is_set():
                self._end(job_id, "Failed", f"The job failed: {error}")
        finally:
            with self._lock:
                self._stops.pop(job_id, None)

    def _run_job(self, job: BatchJob, stop: threading.Event) -> None:
        if not stop.is_set():
            self.store.set_status(
                job.job_id, "Validating", only_from=("Submitted", "Validating", "Scheduled")
            )
        try:
            model = self._inference.resolve(job.model_id)
        except ServiceError as error:
            raise InputProblem(f"The model {job.model_id} cannot be used: {error.message}") from error
        files = self._input_files(job)
        records = {file: read_records(self._objects, file) for file in files}
        self._check_output(job)
        done = {file: self._staged(job, file) for file in files}
        counts = _count(records, done)
        self.store.set_counts(job.job_id, counts)
        if not stop.is_set():
            self.store.set_status(
                job.job_id, "Scheduled", only_from=("Validating", "Scheduled", "InProgress")
            )
            self.store.set_status(job.job_id, "InProgress", only_from=("Scheduled", "InProgress"))
        tally = _Tally(self.store, job.job_id, counts)
        for file in files:
            pending = [record for record in records[file] if record.line not in done[file]]
            if pending and not stop.is_set():
                self._run_records(job, model, file, pending, stop, tally)
        if self._closing.is_set():
            return  # left as it was: the next start resumes it
        current = self.store.get(job.job_id)
        expired = time.time() > job.expires
        message: str | None
        if current is not None and current.status == "Stopping":
            final, message = "Stopped", _STOPPED
        elif expired and tally.counts.processed < (tally.counts.total or 0):
            final, message = "Expired", "The job ran past its timeoutDurationInHours."
        else:
            final, message = _verdict(tally.counts)
        self._write_outputs(job, files, tally.counts)
        self._end(job.job_id, final, message)
        shutil.rmtree(self._staging / job.job_id, ignore_errors=True)

    def _end(self, job_id: str, final: str, message: str | None) -> None:
        """End a job that still runs, from the status it is in (one statement): a stop accepted since the
        outcome was decided ends it Stopped instead, and a job already ended keeps its end."""
        running = (*ACTIVE, "Stopping") if final == "Stopped" else ACTIVE
        if not self.store.set_status(job_id, final, message, only_from=running):
            self.store.set_status(job_id, "Stopped", _STOPPED, only_from=("Stopping",))

    def _run_records(
        self,
        job: BatchJob,
        model: BedrockModel,
        file: InputFile,
        records: Sequence[Record],
        stop: threading.Event,
        tally: _Tally,
    ) -> None:
        caller = Caller(job.principal, stop)
        staging = self._staging_path(job, file)
        staging.parent.mkdir(parents=True, exist_ok=True)
        write_lock = threading.Lock()
        converse = job.request.get("modelInvocationType") == "Converse"
        with staging.open("ab") as sink:

            def keep(lines: list[dict[str, Any]]) -> None:
                if stop.is_set() or time.time() > job.expires:  # cut short: run again on resume
                    stop.set()
                    return
                with write_lock:
                    sink.write(b"".join(_dumps(line) + b"\n" for line in lines))
                    sink.flush()
                    os.fsync(sink.fileno())
                    tally.add(lines)

            if model.kind == "embedding":
                guarded = [record for record in records if names_guardrail(record.model_input)]
                if guarded:  # never embedded unscreened: each says why in its line
                    keep([_line(record, refuse_for_embedding(model)) for record in guarded])
                    records = [record for record in records if not names_guardrail(record.model_input)]
                for start in range(0, len(records), EMBED_CHUNK):
                    chunk = records[start : start + EMBED_CHUNK]
                    answers = _retrying(stop, partial(self._embed, caller, model, chunk))
                    if answers is not None:
                        keep([_line(record, answer) for record, answer in zip(chunk, answers, strict=True)])
                return

            def one(record: Record) -> None:
                def call() -> Invoked:
                    inference, guardrails, given = self._inference, self._guardrails, record.model_input
                    if converse:
                        return converse_record(inference, guardrails, caller, model, given, self._objects)
                    return invoke_record(inference, guardrails, caller, model, given)

                answer = _retrying(stop, lambda: _answer(call))
                if answer is not None:
                    keep([_line(record, answer)])

            with ThreadPoolExecutor(max_workers=max(1, self._parallel(model))) as pool:
                for _ in pool.map(one, records):
                    pass

    def _embed(
        self, caller: Caller, model: BedrockModel, chunk: Sequence[Record]
    ) -> list[Invoked | ServiceError]:
        try:
            return embed_bodies(self._inference, caller, model, [record.model_input for record in chunk])
        except ThrottlingException:
            raise
        except ServiceError as error:
            return [error] * len(chunk)

    # -- files -----------------------------------------------------------------------------------------------

    def _input_files(self, job: BatchJob) -> list[InputFile]:
        """The input's JSONL files: the object the URI names, or every `.jsonl` object under it."""
        bucket, key = split_s3_uri(job.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
        try:
            self._objects.get_bucket(bucket)
            if key and not key.endswith("/"):
                try:
                    self._objects.head_object(bucket, key)
                except StoreError:
                    pass
                else:
                    if not key.endswith(".jsonl"):
                        raise InputProblem(f"The input file s3://{bucket}/{key} must end in .jsonl.")
                    return [InputFile(bucket, key, key.rpartition("/")[2])]
            prefix = f"{key.rstrip('/')}/" if key.strip("/") else ""
            found = [
                InputFile(bucket, info.key, info.key[len(prefix) :])
                for info in self._objects.iter_objects(bucket, prefix)
                if info.key.endswith(".jsonl")
            ]
        except StoreError as error:
            raise InputProblem(
                f"The input S3 location s3://{bucket}/{key} cannot be read: {error}"
            ) from error
        if not found:
            raise InputProblem(f"No .jsonl file was found at s3://{bucket}/{key}.")
        return sorted(found, key=lambda file: file.key)

    def _check_output(self, job: BatchJob) -> None:
        bucket, _ = output_prefix(job)
        try:
            self._objects.get_bucket(bucket)
        except StoreError as error:
            raise InputProblem(f"The output S3 bucket {bucket} cannot be written: {error}") from error

    def _staging_path(self, job: BatchJob, file: InputFile) -> Path:
        digest = hashlib.sha256(f"{file.bucket}/{file.key}".encode()).hexdigest()[:32]
        return self._staging / job.job_id / f"{digest}.jsonl"

    def _staged(self, job: BatchJob, file: InputFile) -> dict[int, dict[str, Any]]:
        """The lines a previous run of this job finished, by input line (a torn last line is dropped)."""
        path = self._staging_path(job, file)
        found: dict[int, dict[str, Any]] = {}
        if path.exists():
            for raw in path.read_bytes().splitlines():
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                found[int(line["line"])] = line
        return found

    def _write_outputs(self, job: BatchJob, files: Sequence[InputFile], counts: Counts) -> None:
        bucket, prefix = output_prefix(job)
        attributes = ObjectAttributes(content_type="application/octet-stream")
        for file in files:
            staged = self._staged(job, file)
            body = b"".join(orjson.dumps(_public(staged[line])) + b"\n" for line in sorted(staged))
            self._objects.put_object(bucket, f"{prefix}{file.name}.out", body, attributes)
        manifest = {
            "totalRecordCount": counts.total or 0,
            "processedRecordCount": counts.processed,
            "successRecordCount": counts.succeeded,
            "errorRecordCount": counts.failed,
            "inputTokenCount": counts.input_tokens,
            "outputTokenCount": counts.output_tokens,
        }
        self._objects.put_object(
            bucket, f"{prefix}manifest.json.out", json.dumps(manifest).encode(), attributes
        )


class _Tally:
    """The job's counts as records finish, written to the store so Get/List show progress."""

    def __init__(self, store: BatchJobStore, job_id: str, counts: Counts) -> None:
        self._store, self._job_id, self.counts = store, job_id, counts
        self._lock = threading.Lock()

    def add(self, lines: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            self.counts = _added(self.counts, lines)
            self._store.set_counts(self._job_id, self.counts)


def read_records(objects: ObjectStore, file: InputFile) -> list[Record]:
    """The records of one JSONL input file; a line that is not a record fails the job, as validation would."""
    try:
        data = objects.read_object(file.bucket, file.key)
    except StoreError as error:
        raise InputProblem(f"s3://{file.bucket}/{file.key} cannot be read: {error}") from error
    records: list[Record] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as error:
            raise InputProblem(f"{file.name} line {number} is not valid JSON.") from error
        if not isinstance(item, dict) or not isinstance(item.get("modelInput"), dict):
            raise InputProblem(f"{file.name} line {number} has no modelInput object.")
        record_id = item.get("recordId")
        if record_id is None:
            record_id = "".join(secrets.choice(RECORD_ID_ALPHABET) for _ in range(11))
        records.append(Record(number, str(record_id), item["modelInput"]))
    return records


def _answer(call: Callable[[], Invoked]) -> Invoked | ServiceError:
    """A record's answer, or the error that belongs in its output line; throttling is raised for a retry."""
    try:
        return call()
    except ThrottlingException:
        raise
    except ServiceError as error:
        return error
    except Exception as error:  # a record's failure goes in its line
        return ServiceError(f"The model failed: {error}")


def _retrying(stop: threading.Event, attempt: Callable[[], Any]) -> Any:
    """`attempt()` until it is not throttled; None once the job is stopping."""
    while not stop.is_set():
        try:
            return attempt()
        except ThrottlingException:
            stop.wait(RETRY_AFTER_S)
    return None


def _line(record: Record, answer: Invoked | ServiceError) -> dict[str, Any]:
    line: dict[str, Any] = {
        "line": record.line,
        "recordId": record.record_id,
        "modelInput": record.model_input,
    }
    if isinstance(answer, ServiceError):
        line["error"] = {"errorCode": answer.status, "errorMessage": answer.message}
    else:
        line["modelOutput"] = answer.body
        line["inputTokens"], line["outputTokens"] = answer.input_tokens, answer.output_tokens
    return line


def _dumps(line: dict[str, Any]) -> bytes:
    return orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY)  # embeddings come as float32 arrays


def _public(line: dict[str, Any]) -> dict[str, Any]:
    """A staged line as the output file shows it."""
    return {key: line[key] for key in ("recordId", "modelInput", "modelOutput", "error") if key in line}


def _added(counts: Counts, lines: Sequence[dict[str, Any]]) -> Counts:
    ok = sum(1 for line in lines if "modelOutput" in line)
    return replace(
        counts,
        processed=counts.processed + len(lines),
        succeeded=counts.succeeded + ok,
        failed=counts.failed + len(lines) - ok,
        input_tokens=counts.input_tokens + sum(line.get("inputTokens", 0) for line in lines),
        output_tokens=counts.output_tokens + sum(line.get("outputTokens", 0) for line in lines),
    )


def _count(
    records: dict[InputFile, list[Record]], done: dict[InputFile, dict[int, dict[str, Any]]]
) -> Counts:
    lines = [line for file in done for line in done[file].values()]
    return _added(Counts(total=sum(len(found) for found in records.values())), lines)


def _verdict(counts: Counts) -> tuple[str, str | None]:
    if counts.failed == 0:
        return "Completed", None
    if counts.succeeded == 0:
        return "Failed", "Every record failed; each record's error is in the output file."
    return "PartiallyCompleted", f"{counts.failed} of {counts.total} records failed; see the output file."
