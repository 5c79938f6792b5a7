"""bench_soak's verdict (issue 18): RSS growth is measured from the first sample after warm-up, and the exit
status fails a run over 10% or with any error other than modelled throttling."""

from __future__ import annotations

import argparse
import os

import pytest
from bench.bench_soak import Soak, open_files, report


def soak_with(latencies: dict[str, list[float]], errors: dict[str, int]) -> Soak:
    soak = Soak(server=None)  # type: ignore[arg-type]  # the verdict reads only the tallies
    for name, values in latencies.items():
        soak.latencies[name].extend(values)
    soak.errors.update(errors)
    return soak


ARGS = argparse.Namespace(clients=2, minutes=1.0, warmup=0.2, real=False)
FILES = [(100, 10)] * 12


@pytest.mark.parametrize(
    ("rss", "errors", "status"),
    [
        ([500.0, 300.0, 300.0, 320.0, 329.0], {}, 0),  # start-up growth before warm-up does not count
        ([300.0, 300.0, 300.0, 320.0, 331.0], {}, 1),  # +10.3% after warm-up fails
        ([300.0, 300.0, 300.0, 300.0, 300.0], {"get_object: AccessDenied": 1}, 1),
    ],
)
def test_the_verdict(
    rss: list[float], errors: dict[str, int], status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = [(at * 15.0, value) for at, value in enumerate(rss)]  # warm-up ends at 12 s: the second sample
    soak = soak_with({"get_object": [0.01, 0.02]}, errors)
    assert report(soak, samples, FILES[: len(samples)], ARGS) == status
    out = capsys.readouterr().out
    assert "open files 100 after warm-up, 100 at the end" in out
    assert f"{rss[1]:.0f} after warm-up, {rss[-1]:.0f} at the end" in out


def test_open_files_counts_this_process() -> None:
    files, threads = open_files(os.getpid())
    assert files > 0 and threads >= 1
    assert open_files(2**22 + 1) == (0, 0)  # a pid that is gone reads as nothing open
