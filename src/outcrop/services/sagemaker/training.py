"""Training jobs: the user's script in a child process, with SageMaker's files, variables and logs.

A job runs in a background thread of the server, which owns its child process: it downloads the channels and
the source tarball, makes a virtual environment when the code brings a requirements.txt, runs the entry point
as the SageMaker training toolkit would, streams every line to CloudWatch Logs, and uploads `model.tar.gz` and
`output.tar.gz`. Each step is written to the store first, so DescribeTrainingJob always tells where the job
is, and a job that was running when the server stopped ends Failed with a reason on the next start.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.services.sagemaker.training_env import (
    JobLayout,
    command_args,
    decode_hyperparameters,
    framework_of,
    local_resources,
    training_environment,
)
from outcrop.services.sagemaker.training_io import (
    JobFailure,
    LogWriter,
    download_channel,
    extract_source,
    upload_folder_archive,
)
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
from outcrop.services.sagemaker.training_v3 import container_run, source_code

if TYPE_CHECKING:
    from outcrop.services.sagemaker.store import Record, Where

log = logging.getLogger("outcrop.sagemaker.training")

KIND = "training-job"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FINISHED = ("Completed", "Failed", "Stopped")
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*)$")
_EVALUATION = re.compile(r"\b(train|validation)-([\w@.-]+?):([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
BUILTIN_ALGORITHMS = {"xgboost": Path(__file__).parent / "algorithms" / "xgboost_train.py"}


class TrainingRunner(JobRunner):
    """Starts, stops and recovers training jobs; one thread per running job."""

    thread_prefix = "training"

    # -- lifecycle -------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Jobs a stopped server left InProgress end Failed (their process died with it, or is ended now)."""
        for record in self.store.records(KIND):
            if record.status in FINISHED:
                continue
            kill_orphan(record)
            stopping = record.status == "Stopping"
            self._finish(
                record.name,
                "Stopped" if stopping else "Failed",
                "Stopped" if stopping else "Failed",
                "Training job stopped" if stopping else "Training job failed",
                None
                if stopping
                else "InternalServerError: Outcrop stopped while this training job was running; "
                "its process ended with the server. Start a new training job.",
                where=record.where,
            )

    # -- one job ---------------------------------------------------------------------------------------------

    def _run(self, job: RunningJob) -> None:
        record = self.store.get(KIND, job.name, where=job.where)
        if record is None:
            return
        if record.status == "Stopping":  # stopped before this runner knew the job: its signal came too soon
            signal_job(job, "Stopped")
        stream = f"{job.name}/algo-1-{int(time.time())}"
        writer = LogWriter(self.logs.scoped(*record.where), LOG_GROUP, stream)  # the job's region
        if not self._wait_for_slot(job):
            writer.close()
            with self._lock:
                self._running.pop(job.key, None)
            if job.stop_reason == "Shutdown":
                waited = "InternalServerError: Outcrop stopped while this training job was waiting to start."
                self._finish(job.name, "Failed", "Failed", "Training job failed", waited, where=job.where)
            else:
                self._finish(job.name, "Stopped", "Stopped", "Training job stopped", None, where=job.where)
            return
        started = time.time()
        try:
            outcome, reason, metrics = self._execute(job, record, writer)
        except JobFailure as failure:
            outcome, reason, metrics = "Failed", failure.reason, []
        except Exception as exc:  # the job must end with a status whatever happened
            log.exception("training job %s crashed the runner", job.name)
            outcome, reason, metrics = "Failed", f"InternalServerError: {type(exc).__name__}: {exc}", []
        finally:
            self._slots.release()
            writer.close()
            with self._lock:
                self._running.pop(job.key, None)
        if outcome == "Failed" and reason:
            writer.write(reason)
            writer.flush()
        secondary, message = {
            "Completed": ("Completed", "Training job completed"),
            "Stopped": ("Stopped", "Training job stopped"),
            "MaxRuntimeExceeded": (
                "MaxRuntimeExceeded",
                "Training job stopped: it exceeded MaxRuntimeInSeconds",
            ),
        }.get(outcome, ("Failed", "Training job failed"))
        status = "Stopped" if outcome == "MaxRuntimeExceeded" else outcome
        elapsed = time.time() - started
        self._finish(job.name, status, secondary, message, reason, metrics, elapsed, where=job.where)
        if status != "Failed":  # a failed job's folder stays for inspection until its name is reused
            shutil.rmtree(self.root / job.key, ignore_errors=True)

    def _wait_for_slot(self, job: RunningJob) -> bool:
        """Take a training slot; False if the job was stopped while it waited."""
        waiting = False
        while not self._slots.acquire(timeout=0.5):
            if job.stop_reason is not None:
                return False
            if not waiting:
                self._transition(job, "Starting", "Waiting for local capacity: other jobs are training")
                waiting = True
        if job.stop_reason is not None:
            self._slots.release()
            return False
        return True

    def _execute(
        self, job: RunningJob, record: Record, writer: LogWriter
    ) -> tuple[str, str | None, list[dict[str, Any]]]:
        spec = record.body
        layout = JobLayout(self.root / job.key)
        shutil.rmtree(layout.root, ignore_errors=True)
        channels = {c["ChannelName"]: c for c in spec.get("InputDataConfig", [])}
        layout.create(list(channels))

        self._transition(job, "Downloading", "Downloading input data")
        for name, channel in channels.items():
            source = channel["DataSource"].get("S3DataSource")
            if source is None:
                raise JobFailure(f"ClientError: Channel '{name}': Outcrop reads input channels from S3 only.")
            mode = channel.get("InputMode") or spec["AlgorithmSpecification"].get("TrainingInputMode", "File")
            if mode == "Pipe":
                raise JobFailure(
                    f"ClientError: Channel '{name}': Pipe input mode is not supported here; use File."
                )
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise JobFailure(
                    f"ClientError: Channel '{name}': S3DataType {source['S3DataType']} is not supported."
                )
            size = download_channel(self.objects, name, source["S3Uri"], layout.channel_dir(name))
            writer.write(f"Downloaded {size} bytes for channel '{name}' from {source['S3Uri']}")

        hyperparameters = decode_hyperparameters(spec.get("HyperParameters", {}))
        framework = {k: hyperparameters.pop(k) for k in list(hyperparameters) if k.startswith("sagemaker_")}
        program = framework.get("sagemaker_program")
        submit = framework.get("sagemaker_submit_directory")
        image = spec.get("AlgorithmSpecification", {}).get("TrainingImage", "")
        builtin = None
        container = bool(spec["AlgorithmSpecification"].get("ContainerEntrypoint")) and not program
        if container:  # the SDK v3's ModelTrainer: the request gives the container's command
            program = str(source_code(layout).get("entry_script") or "")
        elif not isinstance(program, str) or not program:
            builtin = BUILTIN_ALGORITHMS.get(framework_of(image) or "")
            if builtin is None:
                raise JobFailure(
                    f"ClientError: image {image or '(none)'} has no built-in algorithm here, and no "
                    "'sagemaker_program' hyperparameter names a script to run (the SDK sets it from "
                    "entry_point)."
                )
            program = str(builtin)
        elif isinstance(submit, str) and submit.startswith("s3://"):
            extract_source(self.objects, submit, layout.code_dir)
        entry = (layout.code_dir / program).resolve()
        if (
            builtin is None
            and not container
            and (not entry.is_relative_to(layout.code_dir.resolve()) or not entry.is_file())
        ):
            raise JobFailure(
                f"AlgorithmError: ExecuteUserScriptError: the entry point '{program}' is not in the training "
                f"code ({submit or 'no sagemaker_submit_directory'})."
            )

        self._transition(job, "Training", "Training image download completed. Training in progress.")
        python = sys.executable if container else self._python_for(layout, writer)
        resources = local_resources(spec.get("ResourceConfig", {}).get("InstanceType", "ml.m5.large"))
        env = training_environment(
            layout=layout,
            job_name=job.name,
            region=spec["_Region"],
            program=program,
            hyperparameters=hyperparameters,
            framework_parameters=framework,
            channels=channels,
            resources=resources,
            user_environment=spec.get("Environment", {}),
        )
        # The job's process inherits the server's environment (PATH, proxies, locale), less Outcrop's own
        # settings and any SM_ variables, so that only the job's SageMaker variables describe it.
        base = child_environment(spec.get("_Endpoint"), {})
        base.update(self.role_of(spec))
        args = [] if builtin is not None else command_args(hyperparameters)
        command = (
            [python, "-u", program, *args]
            if program.endswith(".py")
            else ["/bin/sh", "-c", " ".join([f"./{program}", *(_quote(a) for a in args)])]
        )
        writer.write(
            f"Framework: {framework_of(image) or 'unknown'} (image {image or 'none'}); "
            f"instance {resources.instance_type} -> {resources.num_cpus} local CPU(s), 0 GPUs"
        )
        run_env, cwd = {**base, **env}, layout.code_dir
        if container:
            run = container_run(spec, layout, run_env, hyperparameters, writer)
            command, run_env, cwd = run.command, run.env, run.cwd
            writer.write("Invoking the container's command:\n\n" + " ".join(run.shown) + "\n")
        else:
            writer.write("Invoking script with the following command:\n\n" + " ".join(command) + "\n")
        metrics, lines, exit_code = self._run_process(
            job, command, layout, run_env, spec, writer, evaluation_lines=builtin is not None, cwd=cwd
        )
        if job.stop_reason == "Shutdown":
            raise JobFailure("InternalServerError: Outcrop stopped while this training job was running.")
        if job.stop_reason is None and exit_code != 0:
            raise JobFailure(self._failure_reason(layout, lines, exit_code, command))

        self._transition(job, "Uploading", "Uploading generated training model")
        output = spec["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        model_uri = f"{output}/{job.name}/output/model.tar.gz"
        upload_folder_archive(self.objects, layout.model_dir, model_uri)
        if any(layout.output_data_dir.iterdir()):
            upload_folder_archive(
                self.objects, layout.output_data_dir, f"{output}/{job.name}/output/output.tar.gz"
            )
        self.store.update(
            KIND,
            job.name,
            lambda r: r.body.update(ModelArtifacts={"S3ModelArtifacts": model_uri}),
            where=job.where,
        )
        if job.stop_reason is not None:
            return job.stop_reason, None, metrics
        return "Completed", None, metrics

    def _python_for(self, layout: JobLayout, writer: LogWriter) -> str:
        """The server's Python, or a per-job virtual environment over it when the code has requirements."""
        requirements = layout.code_dir / "requirements.txt"
        if not requirements.is_file():
            return sys.executable
        writer.write("Installing dependencies from requirements.txt into the job's virtual environment")
        python = job_python(layout.venv_dir)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                python,
                "install",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ],
            cwd=layout.code_dir,
            capture_output=True,
            text=True,
        )
        for line in (result.stdout + result.stderr).splitlines():
            writer.write(line)
        if result.returncode != 0:
            last = [line for line in result.stderr.splitlines() if line.strip()][-1:] or ["pip failed"]
            raise JobFailure(f"ClientError: Could not install requirements.txt: {last[0]}")
        return python

    def _run_process(
        self,
        job: RunningJob,
        command: list[str],
        layout: JobLayout,
        env: dict[str, str],
        spec: dict[str, Any],
        writer: LogWriter,
        *,
        evaluation_lines: bool = False,
        cwd: Path | None = None,
    ) -> tuple[list[dict[str, Any]], deque[str], int]:
        definitions = [
            (d["Name"], re.compile(d["Regex"]))
            for d in spec.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        ]
        latest: dict[str, dict[str, Any]] = {}

        def metrics_of(line: str) -> None:
            for metric, pattern in definitions:
                found = pattern.search(line)
                if found:
                    with contextlib.suppress(ValueError, IndexError):
                        value = float(found.group(1))
                        latest[metric] = {"MetricName": metric, "Value": value, "Timestamp": time.time()}
            if evaluation_lines:  # built-in algorithms publish `channel:metric` from each round's line
                for channel, name, value in _EVALUATION.findall(line):
                    metric = f"{channel}:{name}"
                    latest[metric] = {"MetricName": metric, "Value": float(value), "Timestamp": time.time()}

        def started(pid: int) -> None:
            self.store.update(
                KIND, job.name, lambda r: r.body.update(_Pid=pid, _Root=str(layout.root)), where=job.where
            )

        limit = spec.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
        lines, exit_code = run_logged(
            job,
            command,
            cwd=cwd or layout.code_dir,
            env=env,
            writer=writer,
            max_runtime=float(limit) if limit else None,
            started=started,
            on_line=metrics_of,
            box=job_box(spec, layout.root, layout.root, env),
        )
        return list(latest.values()), lines, exit_code

    def _failure_reason(
        self, layout: JobLayout, lines: deque[str], exit_code: int, command: list[str]
    ) -> str:
        failure_file = layout.output_dir / "failure"
        if failure_file.is_file():
            written = failure_file.read_text(errors="replace").strip()
            if written:  # the container's own words, which say whose fault it was
                known = written.startswith(("ClientError", "AlgorithmError"))
                return (written if known else f"AlgorithmError: {written}")[:1024]
        message = next((m.group(1) for line in reversed(lines) if (m := _ERROR_LINE.match(line))), None)
        if message is None:
            message = next((line.strip() for line in reversed(lines) if line.strip()), "")
        code = exit_code if exit_code >= 0 else f"{exit_code} (killed by signal {-exit_code})"
        return (
            f'AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{message}"\n'
            f'Command "{" ".join(command)}", exit code: {exit_code}'
        )[:1024]

    # -- signals and status ----------------------------------------------------------------------------------

    def _transition(self, job: RunningJob, secondary: str, message: str) -> None:
        now = time.time()

        def change(record: Record) -> None:
            transitions = record.body.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = now
            transitions.append({"Status": secondary, "StartTime": now, "StatusMessage": message})
            record.body["SecondaryStatus"] = secondary
            if secondary == "Training":
                record.body["TrainingStartTime"] = now

        self.store.update(KIND, job.name, change, where=job.where)

    def _finish(
        self,
        name: str,
        status: str,
        secondary: str,
        message: str,
        reason: str | None,
        metrics: list[dict[str, Any]] | None = None,
        elapsed: float | None = None,
        *,
        where: Where | None = None,
    ) -> None:
        now = time.time()

        def change(record: Record) -> bool:
            ended = end_status(record, status)
            if ended is None:
                return False  # ended already (a restart's recovery): the first end stands
            stopped = ended != status  # a stop accepted before this end wins over the work's outcome
            last, said = ("Stopped", "Training job stopped") if stopped else (secondary, message)
            transitions = record.body.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = now
            transitions.append({"Status": last, "StartTime": now, "EndTime": now, "StatusMessage": said})
            record.status = ended
            record.body["SecondaryStatus"] = last
            record.body["TrainingEndTime"] = now
            record.body.pop("_Pid", None)
            if reason and not stopped:
                record.body["FailureReason"] = reason
            if metrics:
                record.body["FinalMetricDataList"] = metrics
            seconds = int(elapsed if elapsed is not None else now - record.created)
            record.body["TrainingTimeInSeconds"] = max(1, seconds)
            record.body["BillableTimeInSeconds"] = max(1, seconds)
            return True

        self.store.update(KIND, name, change, where=where)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"
