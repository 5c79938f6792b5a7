"""The bounded fuzz run: every implemented operation, a few mutated requests each, against a server that
checks signatures. No 5xx, no error code outside the operation's model, every answer parsed by botocore."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.fuzzer import SERVER_ENV, Fuzzer, discover_targets
from tests.server import RunningServer

PER_OPERATION = 4  # about 2,200 requests: 3-4 minutes on 2 cores


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("fuzz") / "data", extra_env=SERVER_ENV).start()
    yield running
    running.stop()


def test_every_operation_survives_mutated_requests(fuzz_server: RunningServer) -> None:
    targets = discover_targets()
    assert len({t.service for t in targets}) >= 20 and len(targets) >= 400
    report = Fuzzer(fuzz_server.endpoint, seed=18).run(targets, PER_OPERATION)
    assert report.sent >= 1500, report.summary()
    grouped = Counter(
        (f.target.service, f.target.operation.name, f.mutation, f.problem[:160]) for f in report.findings
    )
    lines = "\n".join(f"{n} {' '.join(k)}" for k, n in grouped.most_common(40))
    assert not report.findings, f"{report.summary()}\n{lines}"
    log = Path(fuzz_server.log_path).read_text(errors="replace")
    assert "unhandled error in" not in log, log[log.index("unhandled error in") :][:3000]
