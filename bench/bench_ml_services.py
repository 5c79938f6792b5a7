"""The three trained ML services against their libraries called directly, in one table.

Runs bench_personalize, bench_forecast and bench_frauddetector (each `run() -> dict`, one after the other,
never at once: the machine has two cores) and prints, per service, the training time on each side, the
throughput ratio (library seconds / Outcrop seconds, target >= 0.9) and the quality on each side with its
ratio (higher is better for NDCG and AUC, lower for MASE, so the ratio is oriented to read 1.0 = same).

    .venv/bin/python bench/bench_ml_services.py [--only personalize,forecast,frauddetector] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET = 0.9  # throughput ratio the issue asks for
SAME_QUALITY = 0.99  # quality within 1% of the library's counts as the same


@dataclass
class Row:
    service: str
    training: str  # what was timed
    outcrop_s: float
    library_s: float
    metric: str
    outcrop_quality: float
    library_quality: float
    higher_is_better: bool
    library: str
    reference: bool = False  # shown for context, not judged: the two sides do different work
    outcrop_cpu_s: float = 0.0  # CPU seconds beside the wall seconds (0: not measured)
    library_cpu_s: float = 0.0

    @property
    def throughput_ratio(self) -> float:
        return self.library_s / self.outcrop_s if self.outcrop_s else float("inf")

    @property
    def cpu_ratio(self) -> float | None:
        """Library CPU seconds / Outcrop CPU seconds: on a loaded machine, less at the mercy of the load."""
        if not (self.outcrop_cpu_s and self.library_cpu_s):
            return None
        return self.library_cpu_s / self.outcrop_cpu_s

    @property
    def quality_ratio(self) -> float:
        ours, theirs = self.outcrop_quality, self.library_quality
        if self.higher_is_better:
            return ours / theirs if theirs else float("inf")
        return theirs / ours if ours else float("inf")

    @property
    def meets(self) -> bool | None:
        if self.reference:
            return None
        return self.throughput_ratio >= TARGET and self.quality_ratio >= SAME_QUALITY


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def personalize(f: dict[str, Any]) -> list[Row]:
    fit = Row(  # means over the rounds, whose sums the bench's ratios are of
        "Personalize",
        "ALS fit (trainingHours)",
        _mean(f["outcrop_fit_runs"]),
        _mean(f["library_fit_runs"]),
        "NDCG@10",
        f["outcrop_ndcg_at_10"],
        f["library_ndcg_at_10"],
        True,
        "implicit ALS",
        outcrop_cpu_s=_mean(f["outcrop_fit_cpu_runs"]),
        library_cpu_s=_mean(f["library_fit_cpu_runs"]),
    )
    whole = Row(
        "Personalize",
        "version create to ACTIVE",
        f["outcrop_version_seconds"],
        f["library_fit_seconds"],
        "NDCG@10",
        f["outcrop_ndcg_at_10"],
        f["library_ndcg_at_10"],
        True,
        "implicit ALS",
        reference=True,  # adds the server's job, S3 read and metrics to the same fit
    )
    return [fit, whole]


def forecast(f: dict[str, Any]) -> list[Row]:
    ours, theirs = f["outcrop"], f["statsforecast"]
    return [
        Row(
            "Forecast",
            "backtest + choose + forecast",
            ours["seconds"],
            theirs["seconds"],
            "MASE",
            ours["mase"],
            theirs["mase"],
            False,
            "statsforecast",
            outcrop_cpu_s=ours["cpu_seconds"],
            library_cpu_s=theirs["cpu_seconds"],
        )
    ]


def frauddetector(f: dict[str, Any]) -> list[Row]:
    ours = f["outcrop"]
    rows = [
        Row(
            "Fraud Detector",
            "train from rows",
            ours["seconds"],
            f["sklearn_direct_from_rows"]["seconds"],
            "AUC",
            ours["auc"],
            f["sklearn_direct_from_rows"]["auc"],
            True,
            "scikit-learn HGB (rows)",
            outcrop_cpu_s=ours["cpu_seconds"],
            library_cpu_s=f["sklearn_direct_from_rows"]["cpu_seconds"],
        )
    ]
    rows.append(
        Row(
            "Fraud Detector",
            "train (library fit only)",
            ours["seconds"],
            f["sklearn_direct"]["seconds"],
            "AUC",
            ours["auc"],
            f["sklearn_direct"]["auc"],
            True,
            "scikit-learn HGB (matrix)",
            reference=True,  # the library is handed a ready numeric matrix; Outcrop parses the rows
            outcrop_cpu_s=ours["cpu_seconds"],
            library_cpu_s=f["sklearn_direct"]["cpu_seconds"],
        )
    )
    return rows


BENCHES: dict[str, tuple[str, Callable[[dict[str, Any]], list[Row]]]] = {
    "personalize": ("bench_personalize", personalize),
    "forecast": ("bench_forecast", forecast),
    "frauddetector": ("bench_frauddetector", frauddetector),
}


def table(rows: list[Row]) -> str:
    head = (
        "service",
        "timed",
        "library",
        "Outcrop s",
        "library s",
        "ratio",
        "CPU ratio",
        "quality",
        "Outcrop",
        "library",
        "q ratio",
        f">= {TARGET}",
    )
    body = [
        (
            r.service,
            r.training,
            r.library,
            f"{r.outcrop_s:.2f}",
            f"{r.library_s:.2f}",
            f"{r.throughput_ratio:.3f}",
            "" if r.cpu_ratio is None else f"{r.cpu_ratio:.3f}",
            r.metric,
            f"{r.outcrop_quality:.4f}",
            f"{r.library_quality:.4f}",
            f"{r.quality_ratio:.3f}",
            "ref" if r.meets is None else "yes" if r.meets else "NO",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    parser.add_argument("--json", type=Path, help="also write every bench's figures here")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown bench {unknown[0]}; choose from {', '.join(BENCHES)}")
    rows: list[Row] = []
    figures: dict[str, Any] = {}
    for name in chosen:
        module_name, to_rows = BENCHES[name]
        print(f"== {name} ({module_name}.run)", flush=True)
        started = time.perf_counter()
        found = importlib.import_module(module_name).run()
        figures[name] = found | {"bench_wall_seconds": round(time.perf_counter() - started, 1)}
        rows += to_rows(found)
        load = found.get("load_average", {})
        print(f"   done in {time.perf_counter() - started:.0f} s, load average {load}", flush=True)
    print()
    print(table(rows))
    print(
        f"\nratio = library seconds / Outcrop seconds (target >= {TARGET}, judged on wall seconds); CPU ratio"
        " the same of CPU seconds (each side takes turns with the other, so both see the same load);"
        " q ratio oriented so 1.0 = same"
        f" quality (>= {SAME_QUALITY} counts as same); 'ref' rows are context, not judged."
        " 2 shared cores: timings are noisy."
    )
    summary = [
        asdict(r)
        | {
            "throughput_ratio": round(r.throughput_ratio, 3),
            "cpu_ratio": None if r.cpu_ratio is None else round(r.cpu_ratio, 3),
            "quality_ratio": round(r.quality_ratio, 4),
            "meets": r.meets,
        }
        for r in rows
    ]
    if args.json:
        args.json.write_text(json.dumps({"rows": summary, "figures": figures}, indent=2, default=str))


if __name__ == "__main__":
    main()
