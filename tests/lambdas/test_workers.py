"""The worker pool on its own: reuse, idle reaping, retiring on replacement, and the log lines it ships."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from outcrop.lambdas.spec import FunctionSpec
from outcrop.lambdas.workers import FunctionPool

HANDLER = """
import uuid

WORKER = uuid.uuid4().int % 2**31  # one per worker process (a sandbox's pid namespace reuses pids)

def handler(event, context):
    print("working on", event["n"])
    return {"pid": WORKER, "n": event["n"]}
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[tuple[FunctionPool, list[tuple[str, str, list[str]]]]]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    shipped: list[tuple[str, str, list[str]]] = []

    def sink(group: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        shipped.append((group, stream, [message for _, message in events]))

    spec = FunctionSpec("fn", "app.handler", code)
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(code),
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    running = FunctionPool(spec, environment, logs, sink, concurrency=2)
    yield running, shipped
    running.close()


def _pid(pool: FunctionPool, n: int = 1) -> int:
    outcome = pool.invoke({"n": n}, arn="arn:aws:lambda:us-east-1:000000000000:function:fn")
    assert outcome.error is None and outcome.payload is not None
    return int(json.loads(outcome.payload)["pid"])


def test_reuse_reap_and_retire(pool: tuple[FunctionPool, list[tuple[str, str, list[str]]]]) -> None:
    running, _ = pool
    first = _pid(running)
    assert _pid(running) == first and running.workers() == (1, 0)
    running.reap(max_idle_seconds=3600)
    assert _pid(running) == first
    running.reap(max_idle_seconds=0)
    assert running.workers() == (0, 0)
    second = _pid(running)
    assert second != first
    running.retire()
    assert running.workers() == (0, 0) and _pid(running) not in (first, second)


def test_log_lines_of_an_invocation(pool: tuple[FunctionPool, list[tuple[str, str, list[str]]]]) -> None:
    running, shipped = pool
    _pid(running, 7)
    _pid(running, 8)
    (group, stream, first), (_, same_stream, second) = shipped
    assert group == "/aws/lambda/fn" and stream == same_stream and "[$LATEST]" in stream
    assert first[0].startswith("START RequestId: ") and first[1] == "working on 7"
    assert first[2].startswith("END RequestId: ") and first[3].startswith("REPORT RequestId: ")
    assert "Init Duration:" in first[3] and "Init Duration:" not in second[3]
    assert second[1] == "working on 8"


def test_report_counts_the_workers_own_memory(
    pool: tuple[FunctionPool, list[tuple[str, str, list[str]]]],
) -> None:
    """A trivial handler in a 128 MB function uses far less than 128 MB, however big the server that
    started its worker is (Linux carries a parent's ru_maxrss across fork and exec; the REPORT must not)."""
    running, shipped = pool
    server_memory = bytearray(400 * 1024 * 1024)
    server_memory[::4096] = b"\1" * len(server_memory[::4096])  # touched: resident in this process
    _pid(running, 1)
    report = shipped[0][2][3]
    fields = dict(part.split(": ", 1) for part in report.split("\t")[1:] if ": " in part)
    assert fields["Memory Size"] == "128 MB"
    used = int(fields["Max Memory Used"].split()[0])
    assert 0 < used < 128, report
    del server_memory
