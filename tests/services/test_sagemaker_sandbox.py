"""SageMaker user code runs boxed: a processing or training script sees its /opt/ml, not the data dir; it
cannot write outside its job, reach another port, or take more memory than its instance type has."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from outcrop.sandbox import probe
from tests.server import REPOSITORY, RunningServer
from tests.services.test_sagemaker_processing import Processing

pytestmark = pytest.mark.skipif(not probe()[0], reason=f"no sandbox here: {probe()[1]}")

PROBE = """
import json, os, socket, boto3
event = json.loads(os.environ["PROBE"])

def attempt(action):
    try:
        return "ok:" + str(action())
    except Exception as exc:
        return type(exc).__name__

def write(path):
    open(path, "w").write("x")
    return path

def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(16).decode()

result = {
    "read_secret": attempt(lambda: open(event["secret"]).read()),
    "data_dir": attempt(lambda: sorted(os.listdir(event["data_dir"]))),
    "write_repo": attempt(lambda: write(event["repo"])),
    "write_opt_ml": attempt(lambda: write("/opt/ml/processing/output/test/mine.txt")),
    "other_port": attempt(lambda: connect(event["port"])),
    "server": attempt(lambda: boto3.client("s3").head_bucket(Bucket=event["bucket"])["ResponseMetadata"]
                      ["HTTPStatusCode"]),
    "hog": attempt(lambda: len(bytearray(event["hog_mb"] * 1024 * 1024))),
}
json.dump(result, open("/opt/ml/processing/output/test/probe.json", "w"))
"""


@pytest.fixture
def other_port() -> Iterator[int]:
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


def _probe(server: RunningServer, port: int, network: str | None = None) -> dict[str, str]:
    processing = Processing(server.client)
    secret = server.data_dir / f"secret-{uuid.uuid4().hex[:6]}.txt"
    secret.write_text("the server's key")
    event: dict[str, str | int] = {
        "secret": str(secret),
        "data_dir": str(server.data_dir),
        "repo": str(REPOSITORY / f"escaped-{uuid.uuid4().hex[:6]}.txt"),
        "port": port,
        "bucket": processing.bucket,
        "hog_mb": 12 * 1024,  # ml.t3.medium has 4 GiB
    }
    environment = {"PROBE": json.dumps(event)}
    if network:
        environment["OUTCROP_SANDBOX_NETWORK"] = network
    name = processing.run(
        PROBE,
        Environment=environment,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 30}
        },
    )
    described = processing.wait(name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert not Path(str(event["repo"])).exists()
    result: dict[str, str] = json.loads(processing.read(f"{name}/output/test/probe.json"))
    assert processing.read(f"{name}/output/test/mine.txt") == b"x"
    return result


def test_processing_script_is_boxed(server: RunningServer, other_port: int) -> None:
    result = _probe(server, other_port)
    assert result["read_secret"] == "FileNotFoundError"
    assert result["data_dir"] == "ok:['sagemaker']"  # only the way to its own job folder
    assert result["write_repo"] == "OSError"  # read-only file system
    assert result["write_opt_ml"].startswith("ok:")
    assert result["other_port"] in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert result["server"] == "ok:200"  # boto3 in the script still reaches Outcrop
    assert result["hog"] == "MemoryError"


def test_open_network_reaches_other_ports(server: RunningServer, other_port: int) -> None:
    result = _probe(server, other_port, network="open")
    assert result["other_port"] == "ok:hello"
    assert result["read_secret"] == "FileNotFoundError"
