"""Processing jobs: the container's command run in a child process over `/opt/ml/processing/*`.

Each input is downloaded from S3 to its LocalPath, the AppSpecification's ContainerEntrypoint and
ContainerArguments run with the job's Environment (`python3` and `pip` are the job's own virtual environment
over the server's Python, as the SKLearn image's interpreter would be), every line goes to CloudWatch Logs
(`/aws/sagemaker/ProcessingJobs`), and each output's LocalPath is uploaded to its S3Uri at the end. The job's
folder is mounted as `/opt/ml` (see `training_mounts`), so the SDK's generated `runproc.sh` and scripts that
name `/opt/ml/processing/...` work unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from outcrop.services.sagemaker.training_env import local_resources
from outcrop.services.sagemaker.training_io import (
    JobFailure,
    LogWriter,
    download_channel,
    split_s3_uri,
)
from outcrop.services.sagemaker.training_mounts import contained, local_path
from outcrop.services.sagemaker.training_process import (
    JobRunner,
    RunningJob,
    child_environment,
    end_status,
    job_box,
    job_python,
    kill_orphan,
    run_logged,
    signal_job,
)
from outcrop.storage.objects import StoreError

if TYPE_CHECKING:
    from outcrop.services.sagemaker.store import Record

log = logging.getLogger("outcrop.sagemaker.processing")

KIND = "processing-job"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
FINISHED = ("Completed", "Failed", "Stopped")
PROCESSING_ROOT = "/opt/ml/processing"
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*)$")


class ProcessingRunner(JobRunner):
    """Starts, stops and recovers processing jobs; one thread per running job."""

    thread_prefix = "processing"

    def recover(self) -> None:
        """Jobs a stopped server left running end Failed (or Stopped, if a stop was asked)."""
        for record in self.store.records(KIND):
            if record.status in FINISHED:
                continue
            kill_orphan(record)
            job = RunningJob(record.name, where=record.where)
            if record.status == "Stopping":
                self._finish(job, "Stopped", None, None)
            else:
                reason = (
                    "InternalServerError: Outcrop stopped while this processing job was running; its "
                    "process ended with the server. Start a new processing job."
                )
                self._finish(job, "Failed", reason, None)

    # -- one job ---------------------------------------------------------------------------------------------

    def _run(self, job: RunningJob) -> None:
        record = self.store.get(KIND, job.name, where=job.where)
        if record is None:
            return
        if record.status == "Stopping":  # stopped before this runner knew the job: its signal came too soon
            signal_job(job, "Stopped")
        logs = self.logs.scoped(*record.where)  # the job's region's log group
        writer = LogWriter(logs, LOG_GROUP, f"{job.name}/algo-1-{int(time.time())}")
        if not self._wait_for_slot(job):  # stopped (or the server closed) before it started
            writer.close()
            with self._lock:
                self._running.pop(job.key, None)
            if job.stop_reason == "Shutdown":
                waited = (
                    "InternalServerError: Outcrop stopped while this processing job was waiting to start."
                )
                self._finish(job, "Failed", waited, None)
            else:
                self._finish(job, "Stopped", None, None)
            return
        exit_message = None
        try:
            status, reason, exit_message = self._execute(job, record, writer)
        except JobFailure as failure:
            status, reason = "Failed", failure.reason
        except Exception as exc:  # the job must end with a status whatever happened
            log.exception("processing job %s crashed the runner", job.name)
            status, reason = "Failed", f"InternalServerError: {type(exc).__name__}: {exc}"
        finally:
            self._slots.release()
            with self._lock:
                self._running.pop(job.key, None)
        if reason:
            writer.write(reason)
        writer.close()
        self._finish(job, status, reason, exit_message)
        if status != "Failed":  # a failed job's folder stays for inspection until its name is reused
            shutil.rmtree(self.root / job.key, ignore_errors=True)

    def _wait_for_slot(self, job: RunningJob) -> bool:
        """Take a slot (at most a job per core runs at once); False if the job was stopped meanwhile."""
        while not self._slots.acquire(timeout=0.5):
            if job.stop_reason is not None:
                return False
        if job.stop_reason is not None:
            self._slots.release()
            return False
        return True

    def _execute(
        self, job: RunningJob, record: Record, writer: LogWriter
    ) -> tuple[str, str | None, str | None]:
        spec = record.body
        root = self.root / job.key
        self.store.update(
            KIND, job.name, lambda r: r.body.update(ProcessingStartTime=time.time()), where=job.where
        )
        shutil.rmtree(root, ignore_errors=True)
        container = root / "ml"  # mounted as /opt/ml
        for folder in ("config", "output", "processing"):
            (container / folder).mkdir(parents=True, exist_ok=True)
        for item in spec.get("ProcessingInputs", []):
            source = item["S3Input"]
            target = local_path(source["LocalPath"], container)
            target.mkdir(parents=True, exist_ok=True)
            if source.get("S3DataType", "S3Prefix") == "ManifestFile":
                size = self._download_manifest(item["InputName"], source["S3Uri"], target)
            else:
                size = download_channel(self.objects, item["InputName"], source["S3Uri"], target)
            writer.write(f"Downloaded {size} bytes for input '{item['InputName']}' from {source['S3Uri']}")
        outputs = spec.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for item in outputs:
            local_path(item["S3Output"]["LocalPath"], container).mkdir(parents=True, exist_ok=True)
        resources = spec["ProcessingResources"]["ClusterConfig"]
        shape = local_resources(resources["InstanceType"])
        (container / "config" / "processingjobconfig.json").write_text(json.dumps(_public(spec), default=str))
        (container / "config" / "resourceconfig.json").write_text(
            json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
        )

        app = spec["AppSpecification"]
        entrypoint = list(app.get("ContainerEntrypoint") or [])
        if not entrypoint:
            raise JobFailure(
                f"ClientError: image {app['ImageUri']} has no entrypoint Outcrop can run: set "
                "AppSpecification.ContainerEntrypoint (the SDK's processors always do)."
            )
        python = job_python(root / "venv")
        env = child_environment(
            spec.get("_Endpoint"),
            {
                "PATH": os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "")]),
                "AWS_REGION": spec["_Region"],
                "AWS_DEFAULT_REGION": spec["_Region"],
                "PYTHONUNBUFFERED": "1",
                "HF_HUB_OFFLINE": "1",
                "OMP_NUM_THREADS": str(shape.num_cpus),
                **spec.get("Environment", {}),
                **self.role_of(spec),  # the RoleArn's session (auth = "iam"), not the server's keys
            },
        )
        command = [*entrypoint, *app.get("ContainerArguments", [])]
        run, env, mounted = contained(command, env, container, root / "opt-view")
        if not mounted:
            writer.write(
                "Outcrop cannot mount the job's folder as /opt/ml here (no user namespaces): /opt/ml in the "
                f"command and environment now reads {container}; a script that names /opt/ml itself will not "
                "find its files."
            )
        writer.write(
            f"Instance {shape.instance_type} -> {shape.num_cpus} local CPU(s); running: {' '.join(command)}"
        )

        def started(pid: int) -> None:
            self.store.update(
                KIND, job.name, lambda r: r.body.update(_Pid=pid, _Root=str(root)), where=job.where
            )

        limit = spec.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
        lines, exit_code = run_logged(
            job,
            run,
            cwd=container,
            env=env,
            writer=writer,
            max_runtime=float(limit) if limit else None,
            started=started,
            box=job_box(spec, root, container, env),
        )
        message_file = container / "output" / "message"
        exit_message = message_file.read_text(errors="replace")[:1024] if message_file.is_file() else None
        if job.stop_reason == "Shutdown":
            raise JobFailure("InternalServerError: Outcrop stopped while this processing job was running.")
        if job.stop_reason is not None:
            return "Stopped", None, exit_message
        if exit_code != 0:
            return "Failed", _failure_reason(lines, exit_code), exit_message
        for item in outputs:
            target = item["S3Output"]
            count = self._upload(local_path(target["LocalPath"], container), target["S3Uri"])
            writer.write(f"Uploaded {count} file(s) of output '{item['OutputName']}' to {target['S3Uri']}")
        return "Completed", None, exit_message

    def _download_manifest(self, name: str, uri: str, target: Path) -> int:
        """A manifest file: its first entry is `{"prefix": ...}`, the others keys relative to it."""
        bucket, key = split_s3_uri(uri)
        try:
            entries = json.loads(self.objects.read_object(bucket, key))
        except (StoreError, ValueError) as exc:
            raise JobFailure(
                f"ClientError: Input '{name}': cannot read the manifest file {uri}: {exc}"
            ) from exc
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
            raise JobFailure(
                f"ClientError: Input '{name}': the manifest {uri} must start with {{\"prefix\": ...}}."
            )
        prefix = str(entries[0].get("prefix", ""))
        total = 0
        for relative in entries[1:]:
            bucket, key = split_s3_uri(prefix + str(relative))
            path = (target / PurePosixPath(str(relative)).name).resolve()
            try:
                data = self.objects.read_object(bucket, key)
            except StoreError as exc:
                raise JobFailure(f"ClientError: Input '{name}': {exc.message} ({prefix}{relative})") from exc
            path.write_bytes(data)
            total += len(data)
        return total

    def _upload(self, folder: Path, uri: str) -> int:
        bucket, prefix = split_s3_uri(uri)
        count = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = "/".join(part for part in (prefix.rstrip("/"), str(path.relative_to(folder))) if part)
            try:
                with path.open("rb") as handle:
                    self.objects.put_object(bucket, key, handle.read())
            except StoreError as exc:
                raise JobFailure(
                    f"ClientError: Could not upload {path.name} to {uri}: {exc.message}"
                ) from exc
            count += 1
        return count

    def _finish(self, job: RunningJob, status: str, reason: str | None, exit_message: str | None) -> None:
        now = time.time()

        def change(record: Record) -> bool:
            ended = end_status(record, status)
            if ended is None:
                return False  # ended already: the first end stands
            record.status = ended  # Stopped where a stop was accepted before this end
            record.body["ProcessingEndTime"] = now
            record.body.setdefault("ProcessingStartTime", record.created)
            record.body.pop("_Pid", None)
            if reason and ended == status:
                record.body["FailureReason"] = reason[:1024]
            if exit_message:
                record.body["ExitMessage"] = exit_message
            return True

        self.store.update(KIND, job.name, change, where=job.where)


def _public(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if not k.startswith("_")}


def _failure_reason(lines: Any, exit_code: int) -> str:
    """SageMaker's words for a container that exited non-zero, with the error line the logs end on."""
    message = next((m.group(1) for line in reversed(lines) if (m := _ERROR_LINE.match(line))), None)
    if message is None:
        message = next((line.strip() for line in reversed(lines) if line.strip()), "")
    code = exit_code if exit_code >= 0 else f"{exit_code} (killed by signal {-exit_code})"
    return f"AlgorithmError: See job logs for more information. ExitCode {code}: {message}"
