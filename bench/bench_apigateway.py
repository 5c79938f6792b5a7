"""Bench: a trivial Lambda handler behind Outcrop's local API Gateway, vs the same handler called directly
in-process, vs the same answer from a plain Starlette route (uvicorn, same loop and HTTP parser).

The gateway's cost is an HTTP request, building the API Gateway event, a round trip to a warm worker process
over a pipe, and mapping the proxy response back to HTTP. wrk drives both HTTP servers in the same run.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from common import RunningServer, free_port, report, wrk

SECONDS = 10
CONNECTIONS = 16
HANDLER = """
import json


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"hello": "world", "path": event["rawPath"]}),
    }
"""
STARLETTE_APP = """
import json

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


async def hello(request):
    body = json.dumps({"hello": "world", "path": request.url.path})
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/hello", hello)])
"""


def in_process(folder: Path, calls: int = 200_000) -> tuple[float, float]:
    """Calls/s and p99 (ms) of the handler called as a plain function, with an HTTP API event."""
    spec = importlib.util.spec_from_file_location("bench_handler", folder / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event: dict[str, Any] = {"version": "2.0", "rawPath": "/hello", "headers": {}, "requestContext": {}}
    context = SimpleNamespace(aws_request_id="bench", get_remaining_time_in_millis=lambda: 3000)
    durations = []
    started = time.perf_counter()
    for _ in range(calls):
        before = time.perf_counter()
        module.handler(event, context)
        durations.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    return calls / elapsed, 1000 * statistics.quantiles(durations, n=100)[98]


def starlette_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    (folder / "starlette_app.py").write_text(STARLETTE_APP)
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "starlette_app:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    args += ["--loop", "uvloop", "--http", "httptools"]
    process = subprocess.Popen(args, cwd=folder)
    url = f"http://127.0.0.1:{port}/hello"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("starlette did not start")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "app.py").write_text(HANDLER)
        direct = in_process(folder)
        server = RunningServer(
            folder / "data", extra_env={"OUTCROP_FUNCTIONS": f"bench={folder}/app.handler"}
        ).start()
        try:
            url = f"{server.endpoint}/_apps/bench/hello"
            assert httpx.get(url, timeout=30).json() == {"hello": "world", "path": "/hello"}
            gateway = wrk(url, {}, connections=CONNECTIONS, seconds=SECONDS)
            gateway_serial = wrk(url, {}, connections=2, seconds=SECONDS)
        finally:
            server.stop()
        process, starlette_url = starlette_server(folder)
        try:
            starlette = wrk(starlette_url, {}, connections=CONNECTIONS, seconds=SECONDS)
            starlette_serial = wrk(starlette_url, {}, connections=2, seconds=SECONDS)
        finally:
            process.terminate()
            process.wait(10)
    report(
        f"Trivial handler: {CONNECTIONS} concurrent clients (wrk, {SECONDS} s), and 2; same run",
        [
            ("", "API Gateway", "baseline"),
            (f"Outcrop API Gateway, {CONNECTIONS} conns (req/s)", f"{gateway[0]:.0f}", ""),
            (f"Outcrop API Gateway, {CONNECTIONS} conns p99 (ms)", f"{gateway[1]:.2f}", ""),
            ("Outcrop API Gateway, 2 conns (req/s)", f"{gateway_serial[0]:.0f}", ""),
            ("Outcrop API Gateway, 2 conns p99 (ms)", f"{gateway_serial[1]:.2f}", ""),
            (f"Starlette route, {CONNECTIONS} conns (req/s)", "", f"{starlette[0]:.0f}"),
            (f"Starlette route, {CONNECTIONS} conns p99 (ms)", "", f"{starlette[1]:.2f}"),
            ("Starlette route, 2 conns (req/s)", "", f"{starlette_serial[0]:.0f}"),
            ("Starlette route, 2 conns p99 (ms)", "", f"{starlette_serial[1]:.2f}"),
            ("handler called in-process (calls/s)", "", f"{direct[0]:.0f}"),
            ("handler called in-process p99 (ms)", "", f"{direct[1]:.4f}"),
        ],
    )
    print(f"  ratio API Gateway / Starlette: {gateway[0] / starlette[0]:.2f}x req/s at {CONNECTIONS} conns,")
    print(
        f"    {gateway_serial[0] / starlette_serial[0]:.2f}x at 2 conns; p99 {gateway[1] / starlette[1]:.1f}x"
    )
    print(f"  ratio API Gateway / in-process call: {gateway[0] / direct[0]:.4f}x calls/s")


if __name__ == "__main__":
    main()
