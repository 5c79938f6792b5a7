"""A function's handler runs in its own box: the data dir is empty to it, the system read-only, only the
server's port reachable, its memory capped; where no box can be made the settings decide."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outcrop.sandbox import probe
from tests.server import REPOSITORY, RunningServer

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
PROBE = """
import os, socket, boto3

def _try(action):
    try:
        return "ok:" + str(action())
    except Exception as exc:
        return type(exc).__name__

def _write(path):
    with open(path, "w") as handle:
        handle.write("x")
    return path

def _connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(16).decode()

def handler(event, context):
    here = os.path.dirname(os.path.abspath(__file__))
    return {
        "read_secret": _try(lambda: open(event["secret"]).read()),
        "data_dir": _try(lambda: sorted(os.listdir(event["data_dir"]))),
        "write_outside": _try(lambda: _write(event["outside"])),
        "write_repo": _try(lambda: _write(event["repo"])),
        "write_tmp": _try(lambda: _write("/tmp/scratch.txt")),
        "write_code": _try(lambda: _write(os.path.join(here, "scratch.txt"))),
        "other_port": _try(lambda: _connect(event["port"])),
        "server": _try(lambda: len(boto3.client("s3").list_buckets()["Buckets"]) >= 0),
    }
"""
HOG = """
def handler(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    return len(block)
"""
needs_box = pytest.mark.skipif(not probe()[0], reason=f"no sandbox here: {probe()[1]}")


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", text)
    return buffer.getvalue()


def _create(lam: Any, text: str, **extra: Any) -> str:
    name = f"box-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _zip(text)},
        **extra,
    )
    return name


def _invoke(lam: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


@pytest.fixture
def other_port() -> Iterator[int]:
    """A listener on another loopback port, as another local service (a database, an admin API)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"hello")
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()


def _event(server: RunningServer, tmp_path: Path, port: int) -> dict[str, Any]:
    secret = server.data_dir / f"secret-{uuid.uuid4().hex[:6]}.txt"
    secret.write_text("the server's key")
    return {
        "secret": str(secret),
        "data_dir": str(server.data_dir),
        "outside": str(tmp_path / "escaped.txt"),
        "repo": str(REPOSITORY / f"escaped-{uuid.uuid4().hex[:6]}.txt"),
        "port": port,
    }


@needs_box
def test_handler_cannot_read_data_write_outside_or_reach_other_ports(
    server: RunningServer, tmp_path: Path, other_port: int
) -> None:
    lam = server.client("lambda")
    name = _create(lam, PROBE, Timeout=30)
    event = _event(server, tmp_path, other_port)
    response, result = _invoke(lam, name, event)
    assert "FunctionError" not in response, result
    assert result["read_secret"] == "FileNotFoundError"
    assert result["data_dir"] in ("ok:[]", "ok:['lambda']")  # only the way to its own code
    assert result["write_outside"] in ("OSError", "FileNotFoundError", "PermissionError")
    assert result["write_repo"] == "OSError"  # read-only file system
    assert not (tmp_path / "escaped.txt").exists() and not Path(event["repo"]).exists()
    assert result["write_tmp"] == "ok:/tmp/scratch.txt" and result["write_code"].startswith("ok:")
    assert result["other_port"] in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert result["server"] == "ok:True"  # boto3 in the handler still reaches Outcrop


@needs_box
def test_open_network_setting_reaches_other_ports(
    server: RunningServer, tmp_path: Path, other_port: int
) -> None:
    lam = server.client("lambda")
    name = _create(lam, PROBE, Timeout=30, Environment={"Variables": {"OUTCROP_SANDBOX_NETWORK": "open"}})
    _, result = _invoke(lam, name, _event(server, tmp_path, other_port))
    assert result["other_port"] == "ok:hello"
    assert result["read_secret"] == "FileNotFoundError"  # files stay boxed


@needs_box
def test_memory_size_caps_the_handler(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = _create(lam, HOG, MemorySize=128)
    response, result = _invoke(lam, name, {"mb": 64})
    assert "FunctionError" not in response and result == 64 * 1024 * 1024
    response, result = _invoke(lam, name, {"mb": 1024})
    assert response["FunctionError"] == "Unhandled" and result["errorType"] == "MemoryError"


def test_no_sandbox_and_not_allowed_refuses_to_run(tmp_path: Path) -> None:
    """Without bwrap on the PATH and allow_unsandboxed = false, the server says so and runs nothing."""
    empty = tmp_path / "bin"
    empty.mkdir()
    running = RunningServer(
        tmp_path / "data", extra_env={"PATH": str(empty), "OUTCROP_ALLOW_UNSANDBOXED": "false"}
    ).start()
    try:
        lam = running.client("lambda")
        name = _create(lam, "def handler(event, context):\n    return open('/etc/hostname').read()\n")
        response, result = _invoke(lam, name, {})
        assert response["FunctionError"] == "Unhandled"
        assert result["errorType"] == "Sandbox.Unavailable"
        assert "bubblewrap" in result["errorMessage"]
    finally:
        running.stop()
    log = running.log_path.read_text()
    assert "user code is refused" in log


def test_box_hides_data_dir_from_a_plain_process(tmp_path: Path) -> None:
    """The policy on its own: a shell in a box lists the data dir empty and cannot write the system."""
    if not probe()[0]:
        pytest.skip(probe()[1])
    from outcrop.sandbox import Box, Sandbox

    data = tmp_path / "data"
    (data / "keys").mkdir(parents=True)
    (data / "keys" / "master.key").write_text("k")
    own = data / "jobs" / "one"
    own.mkdir(parents=True)
    policy = Sandbox(data_dir=data, port=1, available=True, reason="")
    command, env = policy.wrap(
        ["/bin/sh", "-c", f"ls -A {data}; cat {data}/keys/master.key; echo hi > {own}/out; touch /usr/x"],
        {"PATH": "/usr/bin:/bin"},
        Box((own,), network="none"),
    )
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["jobs"]
    assert "No such file" in done.stderr and "Read-only" in done.stderr
    assert (own / "out").read_text() == "hi\n"


def test_python_under_tmp_stays_visible_in_the_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A checkout or venv under /tmp (as CI clones make) is bound back over the box's private /tmp.
    from outcrop import sandbox

    venv, source = tmp_path / "venv", tmp_path / "venv" / "lib"
    source.mkdir(parents=True)
    monkeypatch.setattr(sandbox.sys, "path", [str(source), "/usr/lib/python3"])
    monkeypatch.setattr(sandbox.sys, "prefix", str(venv))
    binds = sandbox._python_under_tmp()
    assert binds[binds.index(str(venv.resolve())) - 1] == "--ro-bind"
    assert str(source.resolve()) not in binds  # inside the venv's bind already
    assert "/usr/lib/python3" not in binds
