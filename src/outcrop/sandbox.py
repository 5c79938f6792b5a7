"""User code in its own box: Lambda workers, SageMaker jobs and model servers run inside bubblewrap.

User code (a Lambda handler, a training or processing script, an inference script) must not read what the
server keeps: every object, key and log lives in the data dir. Each such process starts under `bwrap`
(bubblewrap, the sandbox Flatpak uses: unprivileged user, mount, pid and network namespaces) with

- the whole system, the venvs included, read-only; a private, empty `/tmp`;
- the data dir hidden under an empty tmpfs, and only the box's own folders (the function's code, the job's
  folder) bound back writable;
- no network but loopback, where a relay (`sandbox_entry.py`) makes 127.0.0.1:<server port> reach the
  server through a Unix socket; a function or job whose environment sets `OUTCROP_SANDBOX_NETWORK=open`
  keeps the host's network instead, and `none` has no relay;
- its address space capped at its memory size (MemorySize, or the instance type's memory) plus 256 MB for
  mappings that are not memory (RLIMIT_AS), and its cores chosen by affinity (a cap the code could lift).

The server probes once at start (`configure`) and says what it found. Where bwrap is missing or the kernel
refuses user namespaces, user code runs with the server's rights only when `allow_unsandboxed` is set (the
default, so the emulator works in containers without user namespaces); otherwise it is refused.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from outcrop.sandbox_entry import pipe

if TYPE_CHECKING:
    from outcrop.config import Settings

log = logging.getLogger("outcrop.sandbox")

ENTRY = str(Path(__file__).with_name("sandbox_entry.py"))
PROBE_ARGS = [
    "bwrap",
    "--unshare-user-try",
    "--unshare-pid",
    "--unshare-net",
    "--ro-bind",
    "/",
    "/",
    "--proc",
    "/proc",
]
NETWORK_VARIABLE = "OUTCROP_SANDBOX_NETWORK"
NETWORKS = ("server", "none", "open")
SOCKET_INSIDE = "/tmp/.outcrop/server.sock"
LAMBDA_MB_PER_VCPU = 1769  # Lambda gives one vCPU's worth of CPU at 1,769 MB
# GiB of memory per vCPU by instance family letter (c: compute, m: general, r/x: memory optimised).
_GIB_PER_VCPU = {"c": 2, "m": 4, "t": 4, "g": 4, "r": 8, "p": 8, "x": 16, "z": 8}


class SandboxUnavailable(Exception):
    """User code cannot be boxed here and the settings do not allow running it unboxed."""


@dataclass(frozen=True)
class Box:
    """What one process of user code may touch."""

    writable: tuple[Path, ...] = ()  # bound read-write at the same path (code, the job's folder)
    readable: tuple[Path, ...] = ()  # bound read-only at the same path (a venv kept in the data dir)
    memory_mb: int | None = None
    cpus: int | None = None
    network: str = "server"  # "server": loopback to the server's port only; "none"; "open": the host's
    opt_ml: Path | None = None  # a SageMaker job's folder, seen at /opt/ml

    @staticmethod
    def network_of(environment: dict[str, str], default: str = "server") -> str:
        value = environment.get(NETWORK_VARIABLE, default).strip().lower()
        return value if value in NETWORKS else default


@dataclass
class Sandbox:
    """The server's policy for user code: where its data lives, its port, and whether boxing works here."""

    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    allow_unsandboxed: bool = True
    available: bool = False
    reason: str = "no server configured the sandbox"
    _relay: _Relay | None = field(default=None, repr=False)
    _cores: itertools.cycle[int] = field(default_factory=lambda: itertools.cycle(_cores()), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_settings(cls, settings: Settings) -> Sandbox:
        available, reason = probe()
        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return cls(
            data_dir=settings.data_dir.resolve(),
            host=host,
            port=settings.port,
            allow_unsandboxed=settings.allow_unsandboxed,
            available=available,
            reason=reason,
        )

    def describe(self) -> str:
        if self.available:
            return "user code (Lambda, SageMaker jobs and models) runs sandboxed with bubblewrap"
        if self.allow_unsandboxed:
            return (
                f"user code runs UNSANDBOXED, with the server's rights ({self.reason}); set "
                "allow_unsandboxed = false to refuse it instead"
            )
        return (
            f"user code is refused: it cannot be sandboxed here ({self.reason}); allow_unsandboxed is false"
        )

    def wrap(self, command: list[str], env: dict[str, str], box: Box) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that run `command` inside `box` (unchanged when unboxed and
        allowed); SandboxUnavailable when it can be neither."""
        if not self.available:
            if self.allow_unsandboxed:
                return command, env
            raise SandboxUnavailable(
                f"User code is not run unsandboxed: {self.reason}. Install bubblewrap, or set "
                "allow_unsandboxed = true."
            )
        args = [
            "bwrap",  # no --die-with-parent: it follows the spawning thread; callers end the process group
            "--unshare-user-try",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            *_python_under_tmp(),
        ]
        if box.network != "open":
            args.append("--unshare-net")
        binds = [("--bind", p.resolve()) for p in box.writable]
        binds += [("--ro-bind", p.resolve()) for p in box.readable]
        hidden = self.data_dir
        for kind, path in binds:  # first, so a folder holding the data dir cannot show it again
            if hidden is None or not path.is_relative_to(hidden):
                args += [kind, str(path), str(path)]
        if hidden is not None:
            args += ["--tmpfs", str(hidden)]
            for kind, path in binds:
                if path.is_relative_to(hidden):
                    args += [kind, str(path), str(path)]
        if box.opt_ml is not None:
            args += _opt_ml(box.opt_ml)
        config: dict[str, object] = {}
        env = {**env, "TMPDIR": "/tmp", "MALLOC_ARENA_MAX": "2"}
        if box.network == "server":
            args += ["--bind", self._relay_socket(), SOCKET_INSIDE]
            config["relay"] = {"port": self.port, "socket": SOCKET_INSIDE}
            for name in ("AWS_ENDPOINT_URL",):
                if env.get(name):
                    env[name] = re.sub(r"//[^/:]+", "//127.0.0.1", env[name], count=1)
        if box.memory_mb:
            config["memory_mb"] = int(box.memory_mb)
        if box.cpus:
            config["cpus"] = self._pick_cores(box.cpus)
        return [*args, "--", sys.executable, "-S", "-I", ENTRY, json.dumps(config), "--", *command], env

    def _pick_cores(self, count: int) -> list[int]:
        """`count` cores, taken in turn, so boxes share the machine's cores rather than all using core 0."""
        with self._lock:
            available = len(_cores())
            return sorted({next(self._cores) for _ in range(min(count, available))})

    def _relay_socket(self) -> str:
        with self._lock:
            if self._relay is None:
                self._relay = _Relay((self.host, self.port))
            return self._relay.path

    def close(self) -> None:
        if self._relay is not None:
            self._relay.close()


class _Relay:
    """A Unix socket (outside the data dir) whose every connection is copied to the server's TCP port."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.folder = tempfile.mkdtemp(prefix="outcrop-sandbox-")
        self.path = os.path.join(self.folder, "server.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        os.chmod(self.path, 0o666)  # the box's user may be another uid
        self.listener.listen(64)
        threading.Thread(target=self._serve, daemon=True, name="outcrop-sandbox-relay").start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.address, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for pair in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=pair, daemon=True, name="outcrop-sandbox-pipe").start()

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _python_under_tmp() -> list[str]:
    """Read-only binds for the interpreter, venv and source folders that live under /tmp (a checkout or venv
    made there, as CI does), which the box's private /tmp would otherwise hide."""
    tmp = Path("/tmp")
    found = {Path(entry).resolve() for entry in (sys.prefix, sys.base_prefix, *sys.path) if entry}
    under = [path for path in found if path.is_relative_to(tmp) and path != tmp and path.exists()]
    roots = sorted(
        path for path in under if not any(path != other and path.is_relative_to(other) for other in under)
    )
    return [arg for path in roots for arg in ("--ro-bind", str(path), str(path))]


def _opt_ml(folder: Path) -> list[str]:
    """Binds that show `folder` at /opt/ml; without an /opt/ml to mount on, /opt becomes a tmpfs holding
    the host's /opt entries again (read-only) beside `ml`."""
    if Path("/opt/ml").is_dir():
        return ["--bind", str(folder), "/opt/ml"]
    args = ["--tmpfs", "/opt"]
    for entry in sorted(Path("/opt").iterdir()) if Path("/opt").is_dir() else []:
        args += ["--ro-bind", str(entry), str(entry)]
    return [*args, "--bind", str(folder), "/opt/ml"]


def _cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


@functools.cache
def probe() -> tuple[bool, str]:
    """(whether bwrap can make a box here, why not); run once per process."""
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (bwrap) is not installed"
    try:
        done = subprocess.run(
            [*PROBE_ARGS, "--", "/bin/true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"bwrap did not run: {exc}"
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        return False, f"bwrap cannot create namespaces here: {message[-1] if message else done.returncode}"
    return True, ""


def lambda_box(code_dir: Path, memory_mb: int, environment: dict[str, str]) -> Box:
    """A function's box: its code writable, MemorySize, one core per 1,769 MB as Lambda gives."""
    cpus = max(1, -(-memory_mb // LAMBDA_MB_PER_VCPU))
    return Box((code_dir,), memory_mb=memory_mb, cpus=cpus, network=Box.network_of(environment))


def instance_memory_mb(instance_type: str) -> int:
    """An ml.* instance type's memory: its vCPUs times its family's GiB per vCPU (4 when unknown)."""
    match = re.fullmatch(r"ml\.([a-z]+)[a-z0-9-]*\.(\d*)(medium|large|xlarge|metal)", instance_type)
    if match is None:
        return 8 * 1024
    family, multiple, size = match.groups()
    vcpus = {"medium": 1, "large": 2, "xlarge": 4, "metal": 96}[size] * (int(multiple) if multiple else 1)
    return vcpus * _GIB_PER_VCPU.get(family[0], 4) * 1024


_current = Sandbox()


def configure(settings: Settings) -> Sandbox:
    """Probe once and make this the policy every user-code process of this server follows; say so."""
    global _current
    _current = Sandbox.for_settings(settings)
    if _current.available:
        log.info(_current.describe())
    else:
        log.warning(_current.describe())
    return _current


def current() -> Sandbox:
    """The server's policy (a process holds one server): unconfigured, code runs as before."""
    return _current
