"""Start and stop a real `outcrop serve` process for tests, as users run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

REPOSITORY = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningServer:
    """An Outcrop server in a child process; `restart()` keeps its data dir."""

    def __init__(
        self, data_dir: Path, *, fake_models: bool = True, extra_env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.fake_models = fake_models
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningServer:
        # Real models are assembled once into the repository's data/models, not into every test data dir.
        env = {"OUTCROP_MODEL_DIR": str(REPOSITORY / "data" / "models"), **os.environ, **self.extra_env}
        args = [
            sys.executable,
            "-m",
            "outcrop.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.fake_models:
            args.append("--fake-models")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.endpoint}/_outcrop/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy in 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIAOUTCROPTEST",
            aws_secret_access_key="test-secret",
            config=Config(**{"retries": {"max_attempts": 1}, "read_timeout": 300, **config}),
        )
