"""Crash safety: `kill -9` of a real `outcrop serve` (fake models) during S3 multipart uploads, knowledge-base
ingestion, SageMaker training, SageMaker endpoints and Transcribe jobs, then restart and check.

Each round starts one kind of work (or, with --mixed, all five at once), kills the server after a random
delay, restarts it on the same data dir and checks what tests/durability.py describes: acknowledged writes
(multipart parts and completed objects, ingested documents) neither lost nor corrupted, nothing half-written
visible, every job resumed or FAILED with a reason, no child of the killed server left running. The figures
are printed per kind; the exit status is 1 if anything was violated.

    python bench/bench_durability.py               # 50 kills, 10 per kind
    python bench/bench_durability.py --kills 5     # a quick look
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.durability import Kill, Scenario, kill_round
from tests.durability_jobs import SCENARIOS
from tests.server import RunningServer

FIGURES = [
    ("acked_parts", "acknowledged parts"),
    ("acked_objects", "acknowledged completed objects"),
    ("in_flight_completed", "completions in flight at the kill, found whole"),
    ("completed_after_restart", "uploads completed from their parts after the restart"),
    ("acked_documents", "documents seen INDEXED before a kill, retrieved whole after"),
    ("documents_after_retry", "documents indexed by the retry job after a kill"),
    ("acked_jobs", "job checks after restarts"),
    ("jobs_resumed_or_finished", "jobs running at a kill that then completed"),
    ("jobs_completed", "ingestion jobs that completed before the kill"),
    ("jobs_failed_with_reason", "jobs ended Failed with a reason"),
    ("not_ready_waits", "endpoint calls that first answered ModelNotReadyException (workers restarting)"),
]
VIOLATIONS = [
    "lost",
    "corrupted",
    "half_written_visible",
    "job_stuck",
    "failed_without_reason",
    "verify_error",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="kill -9 count (default 50: 10 per kind)")
    parser.add_argument(
        "--kinds", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--mixed", action="store_true", help="run every kind in every round")
    parser.add_argument("--max-delay", type=float, default=4.0, help="latest kill after the work starts (s)")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kinds = args.kinds.split(",")
    scenarios = {kind: SCENARIOS[kind]() for kind in kinds}
    kills: list[Kill] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        server = RunningServer(Path(tmp) / "data").start()
        try:
            for scenario in scenarios.values():
                scenario.setup(server)
            for index in range(args.kills):
                chosen = list(scenarios.values()) if args.mixed else [scenarios[kinds[index % len(kinds)]]]
                delay = rng.uniform(0.2, args.max_delay)
                kill = kill_round(server, chosen, delay)
                kills.append(kill)
                bad = sum(len(s.tally.violations) for s in chosen)
                during = "+".join(kill.scenarios)
                print(
                    f"kill {index + 1:2}/{args.kills} during {during:<10} after {delay:4.1f} s: "
                    f"restart {kill.restart_s:4.1f} s, violations so far {bad}, orphans {len(kill.orphans)}",
                    flush=True,
                )
        finally:
            server.stop()
    report(scenarios, kills, time.monotonic() - began)
    failed = any(s.tally.violations for s in scenarios.values()) or any(k.orphans for k in kills)
    return 1 if failed else 0


def report(scenarios: dict[str, Scenario], kills: list[Kill], elapsed: float) -> None:
    per_kind = Counter(name for kill in kills for name in kill.scenarios)
    print(
        f"\n{len(kills)} kill -9 in {elapsed / 60:.1f} min; restart p50 "
        f"{statistics.median(k.restart_s for k in kills):.1f} s, max {max(k.restart_s for k in kills):.1f} s"
    )
    for kind, scenario in scenarios.items():
        counts = scenario.tally.counts
        print(f"\n{kind}: {per_kind[kind]} kills")
        for key, label in FIGURES:
            if counts[key]:
                print(f"  {counts[key]:6}  {label}")
        print("  " + ", ".join(f"{key} {counts[key]}" for key in VIOLATIONS))
        waits = getattr(scenario, "ready_waits", [])
        if waits:
            print(f"  endpoint ready after a restart: max {max(waits):.1f} s of ModelNotReadyException")
        for violation in scenario.tally.violations[:20]:
            print(f"    ! {violation}")
    orphans = [o for k in kills for o in k.orphans]
    print(f"\nchildren of a killed server still running after the restart: {len(orphans)}")
    for orphan in orphans[:10]:
        print(f"    ! {orphan}")


if __name__ == "__main__":
    sys.exit(main())
