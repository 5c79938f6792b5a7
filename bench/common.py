"""Shared pieces of the benchmarks: start servers, sign raw requests, drive wrk, print comparisons."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server import RunningServer as RunningServer  # noqa: E402  (re-exported for the benches)
from tests.server import free_port as free_port  # noqa: E402


@contextmanager
def outcrop_server(*, fake_models: bool) -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory() as tmp:
        server = RunningServer(Path(tmp) / "data", fake_models=fake_models).start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def signed_headers(
    method: str, url: str, service: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials("AKIABENCH", "secret"), service, "us-east-1").add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


def wrk(
    url: str,
    headers: dict[str, str],
    *,
    connections: int = 32,
    seconds: int = 10,
    method: str = "GET",
    body: bytes = b"",
) -> tuple[float, float]:
    """Requests/s and p99 latency (ms) of `connections` concurrent clients, measured by wrk."""
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        if name.lower() != "content-length":
            args += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as tmp:
        if method != "GET" or body:
            script = Path(tmp) / "request.lua"
            script.write_text(f'wrk.method = "{method}"\nwrk.body = [[{body.decode()}]]\n')
            args += ["-s", str(script)]
        output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99_value, p99_unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} error responses during the run:\n{output}")
    return rps, float(p99_value) * scale


def report(title: str, rows: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    for name, ours, theirs in rows:
        print(f"  {name:<{width}}  {ours:>14}  {theirs:>14}")
