"""Training jobs that name their container's command: the SageMaker Python SDK v3's ModelTrainer.

v3 sends no `sagemaker_program`: it uploads the source folder as a `code` channel and its own drivers as an
`sm_drivers` channel (`sm_train.sh`, `sourcecode.json`, `scripts/environment.py`, the script drivers), and
sets ContainerEntrypoint `/bin/bash` with arguments that run `/opt/ml/input/data/sm_drivers/sm_train.sh`.
Where the job's folder can be mounted as `/opt/ml` (`training_mounts`), that command runs as is, so the
drivers set the SM_* environment, install requirements, run the entry script with the hyperparameters as
arguments and write `/opt/ml/output/failure` as they do in the container. Where it cannot, Outcrop does
what the drivers would from `sourcecode.json` itself, with the same arguments and SM_* variables.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.services.sagemaker.training_env import JobLayout
from outcrop.services.sagemaker.training_io import JobFailure, LogWriter
from outcrop.services.sagemaker.training_mounts import contained
from outcrop.services.sagemaker.training_process import job_python

DRIVERS_CHANNEL = "sm_drivers"
CODE_CHANNEL = "code"


@dataclass(frozen=True)
class ContainerRun:
    """What to start for a job that names its container's command."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    shown: list[str]  # the command as the request gave it, for the log


def source_code(layout: JobLayout) -> dict[str, Any]:
    """The v3 SDK's `sourcecode.json` (source_dir, requirements, entry_script, command), if there is one."""
    path = layout.channel_dir(DRIVERS_CHANNEL) / "sourcecode.json"
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _cli_value(value: Any) -> str:
    """A hyperparameter as the v3 drivers pass it: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _install(python: str, requirements: Path, writer: LogWriter) -> None:
    writer.write(f"Installing requirements from {requirements.name}")
    result = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", str(requirements)],
        cwd=requirements.parent,
        capture_output=True,
        text=True,
    )
    for line in (result.stdout + result.stderr).splitlines():
        writer.write(line)
    if result.returncode != 0:
        last = [line for line in result.stderr.splitlines() if line.strip()][-1:] or ["pip failed"]
        raise JobFailure(f"ClientError: Could not install {requirements.name}: {last[0]}")


def container_run(
    spec: dict[str, Any],
    layout: JobLayout,
    env: dict[str, str],
    hyperparameters: dict[str, Any],
    writer: LogWriter,
) -> ContainerRun:
    """The command for a job whose request gives ContainerEntrypoint (and no `sagemaker_program`)."""
    algorithm = spec["AlgorithmSpecification"]
    shown = [*algorithm["ContainerEntrypoint"], *algorithm.get("ContainerArguments", [])]
    python = job_python(layout.venv_dir)
    env = {**env, "PATH": os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])}
    stage = layout.root.parent / f".{layout.root.name}-opt"
    command, mounted_env, mounted = contained(shown, env, layout.root, stage)
    if mounted:
        return ContainerRun(command, mounted_env, layout.root, shown)

    source = source_code(layout)
    if not source:
        raise JobFailure(
            "ClientError: The container's command needs its /opt/ml paths, which Outcrop cannot mount here "
            "(no user namespaces), and the job has no sm_drivers/sourcecode.json to run the script from."
        )
    writer.write("Outcrop cannot mount /opt/ml here: running the entry script as the v3 drivers would.")
    code = layout.channel_dir(CODE_CHANNEL)
    requirements = source.get("requirements")
    if requirements:
        _install(python, code / str(requirements), writer)
    args = [item for name, value in hyperparameters.items() for item in (f"--{name}", _cli_value(value))]
    entry = source.get("entry_script")
    if source.get("command"):
        command = ["/bin/sh", "-c", str(source["command"])]
    elif isinstance(entry, str) and entry.endswith(".py"):
        command = [python, entry, *args]
    elif isinstance(entry, str) and entry.endswith(".sh"):
        command = ["/bin/sh", entry, *args]
    else:
        raise JobFailure(
            f"ClientError: Unsupported entry script type: {entry}. Only .py and .sh are supported."
        )
    return ContainerRun(command, {**env, "SM_ENTRY_SCRIPT": str(entry or "")}, code, shown)
