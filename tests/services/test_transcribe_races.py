"""Transcribe's job worker (shared with Polly's tasks): a job deleted while its handler runs is not brought
back by the worker's end, and what the handler wrote goes too; a handler that fails because the server is
closing leaves the job for the next start. The handler blocks on an event, so each order is replayed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from outcrop.jobs.speech_task_worker import QUEUED, RUNNING, Job, JobWorker

WHERE = ("000000000000", "us-east-1")


class Blocking:
    """A handler that says when it runs and waits to be let go (then answers or raises)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.running, self.go, self.error = threading.Event(), threading.Event(), error

    def __call__(self, job: Job) -> dict[str, Any]:
        self.running.set()
        assert self.go.wait(10)
        if self.error is not None:
            raise self.error
        return {"written": job.id}


def test_a_job_deleted_while_it_runs_stays_deleted_and_its_output_goes(tmp_path: Path) -> None:
    handler, removed = Blocking(), []
    worker = JobWorker(
        tmp_path / "jobs.sqlite3", handler, "test-jobs", deleted=lambda job: removed.append(job.id)
    )
    worker.start()
    worker.submit("first", {}, where=WHERE)
    assert handler.running.wait(10)
    assert worker.delete("first", where=WHERE)  # DeleteTranscriptionJob while the handler runs
    handler.go.set()
    worker.close()  # joins the worker thread: its end has been written (or not) by now
    assert removed == ["first"]
    reopened = JobWorker(tmp_path / "jobs.sqlite3", handler, "test-jobs")
    assert reopened.get("first", where=WHERE) is None
    reopened.db.close()


def test_a_job_failing_as_the_server_closes_is_run_again_at_the_next_start(tmp_path: Path) -> None:
    handler = Blocking(error=RuntimeError("the model was closed"))
    worker = JobWorker(tmp_path / "jobs.sqlite3", handler, "test-jobs")
    worker.start()
    worker.submit("cut", {}, where=WHERE)
    assert handler.running.wait(10)
    closing = threading.Thread(target=worker.close)
    worker._stopping.set()  # what close() does first, before the handler sees its models go
    handler.go.set()
    closing.start()
    closing.join(10)
    reopened = JobWorker(tmp_path / "jobs.sqlite3", handler, "test-jobs")
    job = reopened.get("cut", where=WHERE)
    assert job is not None and job.status in (RUNNING, QUEUED) and job.reason is None  # not FAILED
    reopened.db.close()
