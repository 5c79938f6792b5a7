"""The `/opt/ml` a job's process sees: its own folder mounted there, as inside SageMaker's container.

Processing scripts (and the v3 SDK's training drivers) name `/opt/ml/...` literally, so telling them where
things are through variables is not enough. Where the kernel allows unprivileged user and mount namespaces,
the job's command runs in its own mount namespace with the job's folder bound onto `/opt/ml` (everything
else in `/opt` stays visible), so several jobs each see their own `/opt/ml` at once. Where it does not, the
command, its arguments and its environment have `/opt/ml` rewritten to the job's folder instead, and a
script that spells the path itself will not find its files; the job's log says so.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

from outcrop import sandbox

CONTAINER_ROOT = "/opt/ml"

# Run as `sh -c SCRIPT sh <folder for /opt/ml> <staging folder> <command...>` inside the new namespaces.
_MOUNT_SCRIPT = r"""
set -e
source_dir=$1; stage=$2; shift 2
if [ -d /opt/ml ]; then
    mount --bind "$source_dir" /opt/ml
else
    mkdir -p "$stage/ml"
    for entry in /opt/* /opt/.[!.]*; do
        [ -e "$entry" ] || continue
        name=${entry##*/}
        if [ -d "$entry" ]; then mkdir -p "$stage/$name"; else : > "$stage/$name"; fi
        mount --rbind "$entry" "$stage/$name"
    done
    mount --bind "$source_dir" "$stage/ml"
    mount --rbind "$stage" /opt
fi
cd /opt/ml
exec "$@"
"""


@functools.cache
def namespaces_available() -> bool:
    """Whether `unshare` can give a process its own user and mount namespaces here (checked once)."""
    if shutil.which("unshare") is None or not Path("/opt").is_dir():
        return False
    with tempfile.TemporaryDirectory(prefix="outcrop-ns-") as scratch:
        source, stage = Path(scratch, "ml"), Path(scratch, "stage")
        source.mkdir()
        (source / "probe").write_text("ok")
        try:
            result = subprocess.run(
                [*_unshare(source, stage), "cat", f"{CONTAINER_ROOT}/probe"],
                capture_output=True,
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0 and result.stdout == b"ok"


def _unshare(source: Path, stage: Path) -> list[str]:
    return [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "/bin/sh",
        "-c",
        _MOUNT_SCRIPT,
        "sh",
        str(source),
        str(stage),
    ]


def local_path(container_path: str, folder: Path) -> Path:
    """Where a `/opt/ml/...` path lives in the job's folder (the folder that is mounted as `/opt/ml`)."""
    relative = container_path[len(CONTAINER_ROOT) :].lstrip("/")
    return folder / relative


def rewrite(value: str, folder: Path) -> str:
    """`/opt/ml` in a command-line word or variable replaced by the job's folder (without namespaces)."""
    return value.replace(CONTAINER_ROOT, str(folder))


def contained(
    command: list[str], env: dict[str, str], folder: Path, stage: Path
) -> tuple[list[str], dict[str, str], bool]:
    """The command to run so that `/opt/ml` is `folder`: (command, environment, mounted?). Where the
    server's sandbox boxes jobs, the box mounts `/opt/ml` itself (`job_box`), so the command is unchanged."""
    if sandbox.current().available:
        return command, env, True
    if namespaces_available():
        return [*_unshare(folder, stage), *command], env, True
    return (
        [rewrite(word, folder) for word in command],
        {name: rewrite(value, folder) for name, value in env.items()},
        False,
    )
