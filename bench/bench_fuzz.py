"""The long fuzz run (issue 18): >= 100k shape- and wire-mutated requests over every implemented operation,
sent by boto3 with real signatures to a fake-model server that checks them. Prints 5xx, unmodelled codes,
unparseable answers, no-answers and hangs, the server's crashes, and its RSS, open files and threads as
the run goes.

    .venv/bin/python bench/bench_fuzz.py [--requests 100000] [--seed 18]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_soak import open_files
from tests.fuzz.fuzzer import SERVER_ENV, Fuzzer, Report, discover_targets
from tests.server import RunningServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    targets = discover_targets()
    rounds = max(1, args.requests // (len(targets) * 6))
    print(f"{len(targets)} operations of {len({t.service for t in targets})} services, {rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        server = RunningServer(Path(tmp) / "data", extra_env=SERVER_ENV).start()
        rss: list[tuple[int, int]] = []
        files: list[tuple[int, int]] = []
        started = time.monotonic()

        seen: set[tuple[str, str, str]] = set()
        looked = [0]  # findings already looked at

        def sample(report: Report) -> None:
            for finding in report.findings[looked[0] :]:
                key = (finding.target.service, finding.target.operation.name, finding.problem[:140])
                if key not in seen:  # each new kind of finding as it appears, to fix while the run goes on
                    seen.add(key)
                    print(f"  new: {key[0]} {key[1]} [{finding.mutation}]: {key[2]}", flush=True)
            looked[0] = len(report.findings)
            if report.sent - (rss[-1][0] if rss else -10_000) >= 5_000:
                health = httpx.get(f"{server.endpoint}/_outcrop/health", timeout=30).json()
                rss.append((report.sent, int(health["memory_rss_bytes"])))
                files.append(open_files(server.process.pid if server.process else 0))
                print(
                    f"  {report.sent:>7} sent, RSS {rss[-1][1] / 1e6:.0f} MB, "
                    f"{files[-1][0]} open files, {files[-1][1]} threads, {report.summary()}",
                    flush=True,
                )

        fuzzer = Fuzzer(server.endpoint, seed=args.seed)
        crashes = 0
        try:
            while fuzzer.report.sent < args.requests:
                fuzzer.run(targets, 6, sample)
                if server.process is not None and server.process.poll() is not None:
                    crashes += 1
                    server.start()
        except KeyboardInterrupt:  # a run cut short still reports what it sent
            print(f"interrupted after {fuzzer.report.sent} requests")
        finally:
            log = server.log_path.read_text(errors="replace")
            server.stop()
    report = fuzzer.report
    seconds = time.monotonic() - started
    print(f"\n{report.summary()} in {seconds:.0f} s ({report.sent / seconds:.0f} requests/s)")
    print(f"statuses: {dict(sorted(report.statuses.items()))}")
    for kind in ("5xx", "unmodelled", "no-code", "unparseable", "no-answer", "hang"):
        print(f"{kind:>12}: {report.count(kind)}")
    print(f"     crashes: {crashes}; unhandled errors logged: {log.count('unhandled error in')}")
    # background work (jobs, runners) logs its own crashes: a traceback is a finding too
    print(f"  tracebacks logged: {log.count('Traceback (most recent call last)')}")
    for line in [line for line in log.splitlines() if " ERROR " in line][:30]:
        print(f"    {line[:200]}")
    if len(rss) >= 3:
        third = len(rss) // 3  # after the first third: models are loaded by then
        settled = rss[third][1]
        print(
            f"RSS: {rss[0][1] / 1e6:.0f} MB at start of sampling, {settled / 1e6:.0f} MB settled "
            f"(after {rss[third][0]} requests), {rss[-1][1] / 1e6:.0f} MB at the end "
            f"({100 * (rss[-1][1] - settled) / settled:+.1f}% since settled); open files {files[third][0]} "
            f"settled, {files[-1][0]} at the end; threads {files[third][1]}, {files[-1][1]}"
        )
        print("RSS MB every 5,000 requests: " + " ".join(f"{r / 1e6:.0f}" for _, r in rss))
    grouped = Counter((f.target.service, f.target.operation.name, f.problem[:140]) for f in report.findings)
    for (service, operation, problem), count in grouped.most_common(60):
        print(f"{count:>5} {service} {operation}: {problem}")


if __name__ == "__main__":
    main()
