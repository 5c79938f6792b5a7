"""Worker processes seen from the server: start, ask, stream, watch, restart.

Each `Instance` is one instance of a production variant: a worker process started with the server's own
Python, a socket to it, and a thread copying its stdout/stderr to CloudWatch Logs. A worker that dies is
restarted by its watcher as soon as its exit is seen, not on the next call; a restart that fails (the
model cannot load) is tried again with a growing pause, as SageMaker replaces a failed container.
Meanwhile the instance answers "not ready".
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import outcrop
from outcrop import sandbox
from outcrop.services.sagemaker.serving import wire
from outcrop.services.sagemaker.training_env import local_resources
from outcrop.storage.logs import LogStore

log = logging.getLogger("outcrop.sagemaker")

RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)  # between failed restarts of a worker; the last repeats
MAX_LOG_LINE = 256 * 1024 - 26  # CloudWatch Logs' largest event, less its per-event overhead
# The folder holding the outcrop package, found from the package itself so moving this module cannot break it.
SOURCE_ROOT = str(Path(outcrop.__file__).resolve().parents[1])


class WorkerFailed(Exception):
    """The worker answered an error, died, or did not answer in time."""

    def __init__(self, message: str, status: int = 500, *, died: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.died = died


class WorkerProcess:
    """One running worker and its channel; not thread-safe (its Instance serializes calls)."""

    def __init__(
        self, env: dict[str, str], log_sink: Callable[[str], None], python: str, instance_type: str = ""
    ) -> None:
        command = [python, "-m", "outcrop.services.sagemaker.serving.worker"]
        try:  # the inference script sees its model folder; the rest of the data dir is empty to it
            command, env = sandbox.current().wrap(command, env, worker_box(env, python, instance_type))
        except sandbox.SandboxUnavailable as exc:
            raise WorkerFailed(str(exc)) from exc
        parent, child = socket.socketpair()
        self.channel = parent
        self.process = subprocess.Popen(
            [*command, "--fd", str(child.fileno())],
            env=env,
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so `stop` ends a sandbox's processes too
        )
        child.close()
        assert self.process.stdout is not None
        self._pump = threading.Thread(
            target=self._copy_output, args=(self.process.stdout, log_sink), daemon=True, name="sm-worker-logs"
        )
        self._pump.start()

    @staticmethod
    def _copy_output(stream: IO[bytes], sink: Callable[[str], None]) -> None:
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").rstrip("\n")
            if text:
                sink(text[:MAX_LOG_LINE])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        try:
            wire.send(self.channel, header, body)
        except OSError as exc:  # it died before this request reached it: not this request's doing
            raise WorkerFailed("The model server worker exited and is restarting.", 503) from exc

    def receive(self, timeout: float) -> tuple[dict[str, Any], bytes]:
        self.channel.settimeout(timeout)
        try:
            return wire.receive(self.channel)
        except TimeoutError as exc:
            self.stop()  # mid-frame state is unknown: start afresh
            raise WorkerFailed(
                f"The model did not answer within {timeout:.0f} seconds; its worker was restarted.",
                died=True,
            ) from exc
        except (wire.ChannelClosed, OSError) as exc:
            code = self.process.wait(5) if self.process.poll() is None else self.process.returncode
            raise WorkerFailed(f"The model server process exited (code {code}).", died=True) from exc

    def call(self, header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes]:
        """Send one request and read its one answer; an error answer raises WorkerFailed."""
        self.send(header, body)
        answer, data = self.receive(timeout)
        if answer.get("type") == "error":
            raise WorkerFailed(str(answer.get("message")), int(answer.get("status", 500)))
        return answer, data

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not exit after SIGKILL", self.process.pid)
        self.channel.close()


def worker_box(env: dict[str, str], python: str, instance_type: str) -> sandbox.Box:
    """A model server's box: its variant's folder (SM_MODEL_DIR's parent) writable, the venv it runs in
    visible read-only, the instance type's memory and cores, the server's port only."""
    model_dir = Path(env.get("SM_MODEL_DIR") or ".")
    venv = Path(python).parent.parent
    instance = instance_type or "ml.m5.large"
    return sandbox.Box(
        writable=(model_dir.parent,),
        readable=(venv,) if venv != Path(sys.executable).parent.parent else (),
        memory_mb=sandbox.instance_memory_mb(instance),
        cpus=local_resources(instance).num_cpus,
        network=sandbox.Box.network_of(env),
    )


class RequirementsFailed(Exception):
    """pip could not install the inference code's requirements.txt."""


def python_with_requirements(requirements: Path, venv: Path, log_line: Callable[[str], None]) -> str:
    """A virtual environment over the server's Python with the code's requirements.txt installed, as the
    framework containers install it at start; the server's packages stay visible beneath the code's own."""
    python = venv / "bin" / "python"
    marker = venv / "installed-requirements.txt"
    if python.exists() and marker.is_file() and marker.read_bytes() == requirements.read_bytes():
        return str(python)  # a restart of the same deployment: installed already
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
        capture_output=True,
    )
    site_packages = next((venv / "lib").glob("python*/site-packages"))
    inherited = [p for p in sys.path if p.endswith("site-packages")]
    (site_packages / "outcrop-server.pth").write_text("\n".join(inherited) + "\n")
    log_line(f"Installing the inference code's requirements from {requirements.name}")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "-r", str(requirements)], capture_output=True, text=True, cwd=requirements.parent
    )
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip():
            log_line(line)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.strip()]
        raise RequirementsFailed(errors[-1] if errors else f"pip exited with code {done.returncode}")
    marker.write_bytes(requirements.read_bytes())
    return str(python)


def worker_environment(variables: dict[str, str]) -> dict[str, str]:
    """The server's environment, the model's Environment on top, and what a worker always needs."""
    env = {**os.environ, **variables}
    env.setdefault("OMP_NUM_THREADS", "1")  # one busy core per instance; the server's cores are shared
    env["PYTHONUNBUFFERED"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SOURCE_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


class Instance:
    """One instance of a variant: its worker, the load request that (re)starts it, and a watcher."""

    def __init__(
        self,
        *,
        load: dict[str, Any],
        env: dict[str, str],
        logs: LogStore,
        log_group: str,
        stream_prefix: str,
        load_timeout: float,
        python: str = sys.executable,
        instance_type: str = "",
    ) -> None:
        self.load = load
        self.instance_type = instance_type
        self.env = env
        self.python = python
        self.logs = logs
        self.log_group = log_group
        self.log_stream = f"{stream_prefix}/i-{secrets.token_hex(8)}"
        self.load_timeout = load_timeout
        self.lock = threading.Lock()  # one request at a time, as one model-server worker
        self.worker: WorkerProcess | None = None
        self.ready = threading.Event()
        self.failure: str | None = None
        self.loaded_models: dict[str, None] = {}  # multi-model: names in use order, oldest first
        self.closing = False
        self._closed = threading.Event()  # wakes a watcher pausing between restarts

    def write_log(self, line: str) -> None:
        try:
            self.logs.put(self.log_group, self.log_stream, [line])
        except Exception:  # losing a log line must not break serving
            log.exception("cannot write worker log line")

    def start(self) -> None:
        """Start the worker and load the model; raise WorkerFailed with the reason if it cannot."""
        worker = WorkerProcess(self.env, self.write_log, self.python, self.instance_type)
        try:
            worker.call({"op": "load", **self.load}, b"", self.load_timeout)
        except WorkerFailed:
            worker.stop()
            raise
        self.worker = worker
        self.loaded_models = {}
        self.failure = None
        self.ready.set()
        threading.Thread(target=self._watch, args=(worker,), daemon=True, name="sm-worker-watch").start()

    def _watch(self, worker: WorkerProcess) -> None:
        """Wait for the worker's exit, then restart it at once (and again, pausing, while that fails)."""
        code = worker.process.wait()
        if self.closing or self.worker is not worker:
            return
        self.ready.clear()
        self.write_log(f"Model server worker exited with code {code}; restarting it.")
        for attempt in itertools.count():
            with self.lock:
                if self.closing or self.worker is not worker:
                    return
                worker.stop()
                try:
                    self.start()
                    return
                except WorkerFailed as exc:
                    self.failure = exc.message
                    pause = RESTART_PAUSES[min(attempt, len(RESTART_PAUSES) - 1)]
                    again = f"trying again in {pause:.0f} s"
                    self.write_log(f"Model server worker could not restart: {exc.message} ({again})")
            if self._closed.wait(pause):
                return

    def ask(self, header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes]:
        """One request/answer; call with `lock` held."""
        worker = self._usable()
        return worker.call(header, body, timeout)

    def open_stream(
        self, header: dict[str, Any], body: bytes, timeout: float
    ) -> tuple[dict[str, Any], Iterator[bytes]]:
        """Start a streamed answer: its first frame (content type...) and its parts; hold `lock` till done."""
        worker = self._usable()
        worker.send({**header, "stream": True}, body)
        first, _ = worker.receive(timeout)
        if first.get("type") == "error":
            raise WorkerFailed(str(first.get("message")), int(first.get("status", 500)))

        def parts() -> Iterator[bytes]:
            while True:
                frame, data = worker.receive(timeout)
                kind = frame.get("type")
                if kind == "end":
                    return
                if kind == "error":
                    raise WorkerFailed(str(frame.get("message")), int(frame.get("status", 500)))
                yield data

        return first, parts()

    def drain(self, parts: Iterator[bytes]) -> None:
        """Read what a stream the client left still sends, so the next request starts on a clean channel."""
        try:
            for _ in parts:
                pass
        except WorkerFailed:
            pass

    def _usable(self) -> WorkerProcess:
        if self.worker is None or not self.worker.alive or not self.ready.is_set():
            raise WorkerFailed(self.failure or "The model server worker is restarting.", 503)
        return self.worker

    def stop(self, *, drain_seconds: float = 0.0) -> None:
        """Stop the worker; with `drain_seconds`, first let a call in flight finish (up to that long)."""
        self.closing = True
        self._closed.set()
        self.ready.clear()
        drained = drain_seconds > 0 and self.lock.acquire(timeout=drain_seconds)
        try:
            if self.worker is not None:
                self.worker.stop()
        finally:
            if drained:
                self.lock.release()
