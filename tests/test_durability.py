"""`kill -9` of a real server during multipart uploads, ingestion, training, endpoints and Transcribe jobs,
all at once, a few times (bench/bench_durability.py does it 50 times): after each restart nothing the server
acknowledged is lost or corrupted, nothing half-written is visible, every job it left running resumes or ends
Failed with a reason, and none of its children outlive it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability import kill_round
from tests.durability_jobs import SCENARIOS
from tests.server import RunningServer

DELAYS_S = (1.0, 2.5)  # the first kill lands while the work starts, the second while jobs run


@pytest.fixture(scope="module")
def crashing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(tmp_path_factory.mktemp("durability") / "data").start()
    yield server
    server.stop()


def test_kill_9_during_durable_work_loses_nothing_acknowledged(crashing_server: RunningServer) -> None:
    scenarios = [make() for make in SCENARIOS.values()]
    for scenario in scenarios:
        scenario.setup(crashing_server)
    orphans: list[str] = []
    for delay in DELAYS_S:
        orphans += kill_round(crashing_server, scenarios, delay).orphans
    violations = [v for s in scenarios for v in s.tally.violations]
    assert violations == []
    assert orphans == [], "children of the killed server outlived it"
    seen: Counter[str] = Counter()
    for scenario in scenarios:
        seen.update({f"{scenario.name}.{k}": v for k, v in scenario.tally.counts.items()})
    # the kills must have hit real work, or the test proves nothing
    assert seen["multipart.acked_parts"] > 0
    assert seen["ingestion.acked_documents"] + seen["ingestion.documents_after_retry"] > 0
    for kind in ("training", "transcribe", "endpoint"):
        assert seen[f"{kind}.acked_jobs"] > 0, seen
    assert Path(crashing_server.log_path).exists()
