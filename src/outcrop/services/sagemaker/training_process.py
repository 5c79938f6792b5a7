"""A job's child process, shared by training and processing jobs: start, stream its lines, stop, recover.

The server owns each child: its output goes line by line to CloudWatch Logs as it comes, StopXJob and
MaxRuntimeInSeconds end its whole process group (SIGTERM, then SIGKILL after a grace period), and a child that
a stopped server left behind is ended when the next server recovers its jobs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop import sandbox
from outcrop.services.sagemaker.roles import role_environment
from outcrop.services.sagemaker.training_env import local_resources
from outcrop.services.sagemaker.training_io import JobFailure, LogWriter

if TYPE_CHECKING:
    from outcrop.iam.execution import ExecutionRoles
    from outcrop.services.sagemaker.store import Record, SageMakerStore, Where
    from outcrop.storage.logs import LogStore
    from outcrop.storage.objects import ObjectStore

STOP_GRACE_S = 3.0


@dataclass
class RunningJob:
    """A job this server is running: its child process and why it was asked to end, if it was."""

    name: str
    process: subprocess.Popen[bytes] | None = None
    stop_reason: str | None = None  # "Stopped", "MaxRuntimeExceeded" or "Shutdown"
    lock: threading.Lock = field(default_factory=threading.Lock)
    where: Where | None = None  # given for a kind named per region (its account and region)

    @property
    def key(self) -> str:
        """What the runner knows the job by, and its folder: its name, under its region where given."""
        return self.name if self.where is None else f"{self.where[1]}/{self.where[0]}/{self.name}"


def end_status(record: Record, outcome: str) -> str | None:
    """The status a job's worker may end it with, decided in the transaction that writes it: Stopped once a
    stop was accepted (Stopping), whatever the work came to; None if it has already ended."""
    if record.status in ("Completed", "Failed", "Stopped"):
        return None
    return "Stopped" if record.status == "Stopping" else outcome


def signal_job(job: RunningJob, reason: str) -> None:
    """Record why the job ends and end its process group (SIGTERM, then SIGKILL)."""
    with job.lock:
        if job.stop_reason is None:
            job.stop_reason = reason
        process = job.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


class JobRunner:
    """Starts and stops one kind of SageMaker job (training, processing), one thread per running job, at most
    `slots` scripts at once: later jobs wait, as AWS queues them for capacity. Subclasses run one job."""

    thread_prefix = "job"

    def __init__(
        self,
        store: SageMakerStore,
        *,
        objects: ObjectStore,
        logs: LogStore,
        root: Path,
        execution_roles: ExecutionRoles | None = None,
    ) -> None:
        """Jobs read their inputs from and write their outputs to `objects`, log to `logs`, and work in
        folders under `root`; `execution_roles` (under `auth = "iam"`) gives each job's process its RoleArn's
        credentials."""
        self.execution_roles = execution_roles
        self.store = store
        self.objects = objects
        self.logs = logs
        self.root = root
        self._running: dict[str, RunningJob] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))

    def close(self) -> None:
        with self._lock:
            running = list(self._running.values())
        for job in running:
            signal_job(job, "Shutdown")

    def start(self, name: str, *, where: Where | None = None) -> None:
        job = RunningJob(name, where=where)
        with self._lock:
            self._running[job.key] = job
        thread = threading.Thread(
            target=self._run, args=(job,), name=f"{self.thread_prefix}-{name}", daemon=True
        )
        thread.start()

    def stop(self, name: str, *, where: Where | None = None) -> None:
        with self._lock:
            job = self._running.get(RunningJob(name, where=where).key)
        if job is not None:
            signal_job(job, "Stopped")

    def check_role(self, role_arn: str) -> None:
        """Refuse, as CreateTrainingJob and CreateProcessingJob do, a role SageMaker may not assume (only
        under `auth = "iam"`). Raises RoleNotAssumable."""
        role_environment(self.execution_roles, role_arn)

    def role_of(self, spec: dict[str, Any]) -> dict[str, str]:
        """The AWS_* variables of the job's RoleArn session; a role no longer assumable fails the job."""
        from outcrop.iam.execution import RoleNotAssumable

        try:
            return role_environment(self.execution_roles, str(spec.get("RoleArn") or ""))
        except RoleNotAssumable as exc:  # the role changed since the job was created
            raise JobFailure(f"ClientError: {exc}") from exc

    def _run(self, job: RunningJob) -> None:
        raise NotImplementedError


def kill_orphan(record: Record) -> None:
    """End a child a previous server left behind, if that pid is still the job's (by its cwd)."""
    pid, root = record.body.get("_Pid"), record.body.get("_Root")
    if not isinstance(pid, int) or not isinstance(root, str):
        return
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return
    if cwd.startswith(root) or cwd.startswith("/opt/ml"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def run_logged(
    job: RunningJob,
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    writer: LogWriter,
    max_runtime: float | None,
    started: Callable[[int], None],
    on_line: Callable[[str], None] | None = None,
    box: sandbox.Box | None = None,
) -> tuple[deque[str], int]:
    """Run the command to its end (or until stopped): its last lines and its exit code (-1: never started).

    `started(pid)` is called once the process runs, so the caller can record it for recovery. With a `box`
    the command runs in the server's sandbox (`job_box`), as user code always should."""
    lines: deque[str] = deque(maxlen=200)
    if box is not None:
        try:
            command, env = sandbox.current().wrap(command, env, box)
        except sandbox.SandboxUnavailable as exc:
            raise JobFailure(f"ClientError: {exc}") from exc
    with job.lock:
        if job.stop_reason is not None:
            return lines, -1
        try:
            job.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise JobFailure(f"ClientError: Could not start {command[0]!r}: {exc.strerror}") from exc
    process = job.process
    started(process.pid)
    timer = (
        threading.Timer(float(max_runtime), signal_job, args=(job, "MaxRuntimeExceeded"))
        if max_runtime
        else None
    )
    if timer is not None:
        timer.daemon = True
        timer.start()
    assert process.stdout is not None
    try:
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            writer.write(line)
            lines.append(line)
            if on_line is not None:
                on_line(line)
        exit_code = process.wait()
    finally:
        if timer is not None:
            timer.cancel()
    return lines, exit_code


def job_box(spec: dict[str, Any], root: Path, opt_ml: Path, env: dict[str, str]) -> sandbox.Box:
    """A training or processing job's box: its folder writable and seen at /opt/ml, its instance type's
    memory and cores; no network with EnableNetworkIsolation, else the server's port only (unless the job's
    Environment sets OUTCROP_SANDBOX_NETWORK=open)."""
    cluster = spec.get("ProcessingResources", {}).get("ClusterConfig") or spec.get("ResourceConfig") or {}
    instance_type = str(cluster.get("InstanceType") or "ml.m5.large")
    isolated = spec.get("EnableNetworkIsolation") or spec.get("NetworkConfig", {}).get(
        "EnableNetworkIsolation"
    )
    return sandbox.Box(
        writable=(root,),
        memory_mb=sandbox.instance_memory_mb(instance_type),
        cpus=local_resources(instance_type).num_cpus,
        network="none" if isolated else sandbox.Box.network_of(env),
        opt_ml=opt_ml,
    )


def job_python(venv_dir: Path) -> str:
    """A virtual environment for one job over the server's Python: what the job's `pip install` changes
    stays in it, while the server's packages (scikit-learn, pandas, torch, xgboost) remain importable.

    Its bin folder holds `python`, `python3`, `pip` and `pip3`, so it goes first on the job's PATH."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv_dir)],
        check=True,
        capture_output=True,
    )
    site = next((venv_dir / "lib").glob("python*/site-packages"))
    parent = [p for p in sys.path if p.endswith("site-packages")]
    (site / "outcrop-parent.pth").write_text("\n".join(parent) + "\n")
    for name in ("pip", "pip3"):
        pip = venv_dir / "bin" / name
        pip.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
        pip.chmod(0o755)
    return str(venv_dir / "bin" / "python")


def child_environment(endpoint: str | None, extra: dict[str, Any]) -> dict[str, str]:
    """The server's environment (PATH, proxies, locale) less Outcrop's settings and SM_ variables, with AWS
    calls pointed back at this server (as a container's reach its region), then `extra` on top."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "OUTCROP_"))}
    base["AWS_ENDPOINT_URL"] = endpoint or base.get("AWS_ENDPOINT_URL", "")
    base.setdefault("AWS_ACCESS_KEY_ID", "outcrop-training-job")
    base.setdefault("AWS_SECRET_ACCESS_KEY", "outcrop-training-job")
    return {**base, **{k: str(v) for k, v in extra.items()}}
