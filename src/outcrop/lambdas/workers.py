"""Warm worker processes per function: one invocation at a time each, reused, killed on timeout.

A worker is a child Python process (`outcrop.lambdas.runtime`) whose stdout and stderr go to a log file;
after each invocation the new lines of that file, framed by Lambda's START / END / REPORT lines, become
CloudWatch Logs events in `/aws/lambda/<function>`, one stream per worker as Lambda has one per
execution environment. Changing a `.py` file under the function's code folder retires its workers, so the
next invocation imports the new code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcrop import sandbox
from outcrop.lambdas.spec import FunctionSpec

LogSink = Callable[[str, str, Sequence[tuple[int, str]]], None]
SKIPPED_FOLDERS = {"__pycache__", "node_modules", ".venv", "venv", ".git", ".aws-sam"}
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit, added to the first invocation's own timeout
TAIL_BYTES = 4096


@dataclass
class Outcome:
    """What one invocation gave: the result's JSON text, or a Lambda error object, and its log lines."""

    request_id: str
    payload: str | None = None
    error: dict[str, Any] | None = None
    timed_out: bool = False
    log_lines: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    def log_tail(self) -> str:
        """The last 4 KB of this invocation's log, base64: what `LogType=Tail` returns."""
        text = "".join(line + "\n" for line in self.log_lines).encode()
        return base64.b64encode(text[-TAIL_BYTES:]).decode()


class WorkerDied(Exception):
    pass


class Worker:
    """One execution environment: a child process, its pipes and its log file."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log_dir: Path, generation: int):
        self.generation = generation
        self.id = uuid.uuid4().hex
        self.log_stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{spec.version}]{self.id}"
        self.log_path = log_dir / f"{self.id}.log"
        self.log_offset = 0
        self.init_ms: float | None = None
        self.spawned = time.perf_counter()
        self.idle_since = time.monotonic()
        self.ready = False
        self.invocations = 0
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        env = {**environment, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream}
        command = [sys.executable, "-m", "outcrop.lambdas.runtime", str(request_read), str(reply_write)]
        box = sandbox.lambda_box(spec.code_dir, spec.memory_mb, spec.environment)
        try:  # the handler sees its code and a private /tmp; the data dir is empty, the server's port only
            command, env = sandbox.current().wrap(command, env, box)
        except sandbox.SandboxUnavailable:
            for fd in (request_read, request_write, reply_read, reply_write):
                os.close(fd)
            raise
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=spec.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(request_read, reply_write),
                start_new_session=True,  # a handler's Ctrl-C or signals to its group never reach the server
            )
        os.close(request_read)
        os.close(reply_write)
        self.requests = os.fdopen(request_write, "wb")
        self.replies = os.fdopen(reply_read, "rb")

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.requests.write(json.dumps(message).encode() + b"\n")
            self.requests.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(str(exc)) from exc

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None when `timeout` seconds pass first."""
        ready, _, _ = select.select([self.replies], [], [], max(0.0, timeout))
        if not ready:  # one message per exchange, so nothing can wait in the reader's buffer
            return None
        line = self.replies.readline()
        if not line:
            raise WorkerDied(f"exit status {self.process.wait()}")
        message: dict[str, Any] = json.loads(line)
        return message

    def new_log_lines(self) -> list[str]:
        """What the handler wrote since the last call; a runtime error event keeps its lines together."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                data = log.read()
        except OSError:
            return []
        complete = data.rfind(b"\n") + 1 if self.alive() else len(data)
        self.log_offset += complete
        text = data[:complete].decode("utf-8", "replace")
        return [line.replace("\r", "\n") for line in text.split("\n") if line.strip()]

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Stop the process; its log file stays until `discard`, so its last lines can still be read."""
        if self.alive():  # the whole group: a sandbox's processes go with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                stream.close()

    def discard(self) -> None:
        self.kill()
        self.log_path.unlink(missing_ok=True)


class FunctionPool:
    """The warm workers of one function, at most `concurrency` busy at once; callers beyond that wait."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: dict[str, str],
        log_dir: Path,
        sink: LogSink,
        concurrency: int,
    ) -> None:
        self.spec = spec
        self.environment = environment
        self.log_dir = log_dir
        self.sink = sink
        self.log_group = f"/aws/lambda/{spec.name}"
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._waiting_room: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self.generation = 0
        self._code_stamp = self._stamp()
        self.last_modified = time.time()
        self.invocations = 0

    # -- code changes --------------------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int]:
        """(newest mtime, file count) of the Python files under the code folder."""
        newest, count = 0, 0
        for folder, dirs, files in os.walk(self.spec.code_dir):
            dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith(".")]
            for name in files:
                if name.endswith(".py"):
                    count += 1
                    with contextlib.suppress(OSError):
                        newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
        return newest, count

    def check_code(self) -> None:
        stamp = self._stamp()
        if stamp == self._code_stamp:
            return
        with self._lock:
            self._code_stamp = stamp
            self.generation += 1
            self.last_modified = time.time()
            stale, self._idle = self._idle, []
        for worker in stale:
            worker.discard()

    # -- invocation ----------------------------------------------------------------------------------------

    def invoke(self, event: Any, *, arn: str, client_context: Any = None) -> Outcome:
        self.check_code()
        request_id = str(uuid.uuid4())
        with self._slots:
            outcome = Outcome(request_id)
            try:
                worker = self._take()
            except sandbox.SandboxUnavailable as exc:  # the settings refuse unboxed code: say why
                outcome.error = {"errorType": "Sandbox.Unavailable", "errorMessage": str(exc)}
                return outcome
            try:
                self._run(worker, event, arn, client_context, outcome)
            finally:
                self._give_back(worker)
        return outcome

    @property
    def waiting_room(self) -> asyncio.Semaphore:
        """Where callers on the event loop wait for a free slot, holding no thread while they wait: a burst
        of requests to one slow function must not take every worker thread the server has."""
        if self._waiting_room is None:
            self._waiting_room = asyncio.Semaphore(self.concurrency)
        return self._waiting_room

    def _take(self) -> Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive() and worker.generation == self.generation:
                    self._busy.add(worker)
                    return worker
                worker.discard()
            worker = Worker(self.spec, self.environment, self.log_dir, self.generation)
            self._busy.add(worker)
            return worker

    def _give_back(self, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive() and worker.generation == self.generation:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
                return
        worker.discard()

    def reap(self, max_idle_seconds: float) -> None:
        """Stop workers idle for longer than `max_idle_seconds`, as Lambda lets idle environments go."""
        cutoff = time.monotonic() - max_idle_seconds
        with self._lock:
            stale = [w for w in self._idle if w.idle_since < cutoff]
            self._idle = [w for w in self._idle if w.idle_since >= cutoff]
        for worker in stale:
            worker.discard()

    def _run(self, worker: Worker, event: Any, arn: str, client_context: Any, outcome: Outcome) -> None:
        started = time.perf_counter()
        start_ms = int(time.time() * 1000)
        request_id = outcome.request_id
        lines = [f"START RequestId: {request_id} Version: {self.spec.version}"]
        timeout = self.spec.timeout
        reply: dict[str, Any] | None = None
        try:
            if not worker.ready:
                ready = worker.receive(INIT_TIMEOUT_SECONDS + timeout)
                if ready is None:
                    raise TimeoutError
                worker.ready = True
                worker.init_ms = 1000 * (time.perf_counter() - worker.spawned)
            deadline = time.time() + timeout
            worker.send(
                {
                    "id": request_id,
                    "event": event,
                    "arn": arn,
                    "deadline_ms": int(deadline * 1000),
                    "client_context": client_context,
                }
            )
            reply = worker.receive(deadline - time.time())
            if reply is None:
                raise TimeoutError
        except TimeoutError:
            worker.kill()
            outcome.timed_out = True
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            message = f"{stamp}.000Z {request_id} Task timed out after {timeout:.2f} seconds"
            outcome.error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
        except WorkerDied as exc:
            worker.kill()
            outcome.error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {exc}",
            }
        else:
            outcome.payload = reply.get("payload")
            outcome.error = reply.get("error")
        outcome.duration_ms = 1000 * (time.perf_counter() - started)
        lines += worker.new_log_lines()
        if outcome.timed_out:
            lines.append(str(outcome.error["errorMessage"]) if outcome.error else "")
        elif outcome.error and outcome.error.get("errorType") == "Runtime.ExitError":
            lines.append(str(outcome.error["errorMessage"]))
        lines.append(f"END RequestId: {request_id}")
        lines.append(self._report(request_id, outcome, reply, worker))
        worker.invocations += 1
        outcome.log_lines = lines
        self.invocations += 1
        events = [(start_ms, lines[0])] + [(int(time.time() * 1000), line) for line in lines[1:]]
        self.sink(self.log_group, worker.log_stream, events)

    def _report(self, request_id: str, outcome: Outcome, reply: dict[str, Any] | None, worker: Worker) -> str:
        memory = int((reply or {}).get("max_memory_mb", 0))
        parts = [
            f"REPORT RequestId: {request_id}",
            f"Duration: {outcome.duration_ms:.2f} ms",
            f"Billed Duration: {int(outcome.duration_ms) + 1} ms",
            f"Memory Size: {self.spec.memory_mb} MB",
            f"Max Memory Used: {memory} MB",
        ]
        if worker.init_ms is not None and worker.invocations == 0:
            parts.append(f"Init Duration: {worker.init_ms:.2f} ms")
        if outcome.timed_out:
            parts.append("Status: timeout")
        return "\t".join(parts)

    # -- state ---------------------------------------------------------------------------------------------

    def workers(self) -> tuple[int, int]:
        with self._lock:
            return len(self._idle), len(self._busy)

    def retire(self) -> None:
        """Stop idle workers now and busy ones when their invocation ends (the function was replaced)."""
        with self._lock:
            self.generation += 1
            stale, self._idle = self._idle, []
        for worker in stale:
            worker.discard()

    def close(self) -> None:
        with self._lock:
            workers, self._idle = [*self._idle, *self._busy], []
            self._busy.clear()
        for worker in workers:
            worker.discard()
