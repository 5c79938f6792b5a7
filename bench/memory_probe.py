"""Where the server's memory goes (issue 18): an `outcrop serve` with probe routes added by this script only
(nothing in the server changes), driven by the fuzz and soak mixes, with tracemalloc snapshots, glibc heap
figures (mallinfo2), pymalloc's block count, threads, file descriptors and live objects by type compared
between phases, and what malloc_trim gives back.

    .venv/bin/python bench/memory_probe.py [--mix fuzz|soak] [--phases 4] [--trace] [--frames 8]
    MALLOC_ARENA_MAX=2 .venv/bin/python bench/memory_probe.py ...   # the allocator's arenas, compared
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server import RunningServer

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    return libc


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def heap() -> dict[str, float]:
    """glibc's view: `in_use` is what malloc handed out and not freed, `free_held` what it keeps freed."""
    info = _libc().mallinfo2()
    mib = 1024**2
    return {
        "arena_mib": info.arena / mib,
        "mmapped_mib": info.hblkhd / mib,
        "in_use_mib": (info.uordblks + info.hblkhd) / mib,
        "free_held_mib": info.fordblks / mib,
    }


class Probe:
    """The server's ASGI app with `/_probe/stats`, `/_probe/snapshot` and `/_probe/trim` in front of it."""

    def __init__(self, app: Asgi) -> None:
        self.app = app
        self.snapshot: tracemalloc.Snapshot | None = None
        self.types: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/_probe/"):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode())
        body = getattr(self, path.removeprefix("/_probe/"))(query)
        data = json.dumps(body, indent=1).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"json")]})
        await send({"type": "http.response.body", "body": data})

    def stats(self, query: dict[str, list[str]]) -> dict[str, Any]:
        gc.collect()
        types = Counter(type(o).__name__ for o in gc.get_objects())
        grown = {k: v for k, v in (types - self.types).most_common(25)}
        self.types = types
        traced = tracemalloc.get_traced_memory()[0] / 1024**2 if tracemalloc.is_tracing() else None
        return {
            "rss_mib": rss_mib(),
            **heap(),
            "pymalloc_blocks": sys.getallocatedblocks(),
            "traced_mib": traced,
            "threads": threading.active_count(),
            "tasks": len(os.listdir("/proc/self/task")),
            "fds": len(os.listdir("/proc/self/fd")),
            "objects": sum(types.values()),
            "types_grown": grown,
        }

    def snapshot_diff(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The allocations that grew since the last call, by where they were made (tracing only)."""
        if not tracemalloc.is_tracing():  # from now on: imports and model loads before it stay untraced
            tracemalloc.start(int(query.get("frames", ["8"])[0]))
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen*")]
        )
        previous, self.snapshot = self.snapshot, snapshot
        if previous is None:
            return {"first": True}
        group = query.get("by", ["traceback"])[0]
        diff = snapshot.compare_to(previous, group)
        return {
            "top": [
                {
                    "kib": round(d.size_diff / 1024, 1),
                    "count": d.count_diff,
                    "where": [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in d.traceback][
                        -8:
                    ],
                }
                for d in diff[:30]
            ]
        }

    def trim(self, query: dict[str, list[str]]) -> dict[str, Any]:
        gc.collect()
        before = {"rss_mib": rss_mib(), **heap()}
        _libc().malloc_trim(0)
        return {"before": before, "after": {"rss_mib": rss_mib(), **heap()}}


def serve(argv: list[str]) -> None:
    """`outcrop serve` with the probe routes in front (run as a child by `drive`)."""
    import outcrop.server

    build = outcrop.server.build_app
    outcrop.server.build_app = lambda settings: Probe(build(settings))  # type: ignore[assignment,return-value]
    from outcrop.cli import main

    main(["serve", *argv])


class ProbedServer(RunningServer):
    def start(self) -> ProbedServer:
        env = {**os.environ, **self.extra_env, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        env.setdefault("OUTCROP_MODEL_DIR", str(Path(__file__).resolve().parents[1] / "data" / "models"))
        args = [sys.executable, __file__, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        args += ["--fake-models"] if self.fake_models else []
        self.process = subprocess.Popen(
            args, env=env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.endpoint}/_outcrop/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def probe(self, name: str, **query: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.endpoint}/_probe/{name}", params=query, timeout=600).json())


def fuzz_phase(server: ProbedServer, state: dict[str, Any], per_operation: int) -> str:
    from tests.fuzz.fuzzer import Fuzzer, discover_targets

    if "fuzzer" not in state:
        state["fuzzer"] = Fuzzer(server.endpoint, seed=len(state) + 18)
        state["targets"] = discover_targets()
    report = state["fuzzer"].run(state["targets"], per_operation)
    return str(report.summary())


def soak_phase(server: ProbedServer, state: dict[str, Any], seconds: float, clients: int) -> str:
    """The soak's clients run from the first phase to the last (making 64 boto3 clients takes a while);
    a phase is `seconds` of their traffic."""
    from bench.bench_soak import Soak

    if "soak" not in state:
        state["soak"] = soak = Soak(server)
        soak.setup()
        state["until"] = until = time.monotonic() + 1e6
        state["threads"] = [
            threading.Thread(target=soak.client_loop, args=(i, until), daemon=True) for i in range(clients)
        ]
        for thread in state["threads"]:
            thread.start()
    time.sleep(seconds)
    soak = state["soak"]
    done = sum(len(v) for v in soak.latencies.values())
    return f"{done} requests so far, errors {sum(soak.errors.values())}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", choices=("fuzz", "soak"), default="fuzz")
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument("--per-operation", type=int, default=3, help="fuzz requests per operation a phase")
    parser.add_argument("--seconds", type=float, default=60, help="soak seconds a phase")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--trace", action="store_true", help="tracemalloc in the server (slower)")
    parser.add_argument("--frames", type=int, default=6)
    args = parser.parse_args()
    from tests.fuzz.fuzzer import SERVER_ENV

    env = dict(SERVER_ENV) if args.mix == "fuzz" else {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ProbedServer(Path(tmp) / "data", extra_env=env).start()
        state: dict[str, Any] = {}
        try:
            for phase in range(args.phases + 1):
                started = time.monotonic()
                if args.mix == "fuzz":
                    done = fuzz_phase(server, state, args.per_operation)
                else:
                    done = soak_phase(server, state, args.seconds, args.clients)
                print(f"== phase {phase} ({time.monotonic() - started:.0f} s): {done}", flush=True)
                print(json.dumps(server.probe("stats")), flush=True)
                if args.trace:  # the first call starts tracing, after the warm-up phase
                    diff = server.probe("snapshot_diff", frames=str(args.frames))
                    print(json.dumps(diff, indent=1), flush=True)
            print("trim:", json.dumps(server.probe("trim")), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
    os._exit(0)  # the soak mix leaves its client threads running
