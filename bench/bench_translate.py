"""Translate: latency and throughput through boto3 vs the engines called directly, same sentences.

English→Spanish runs apertium: the baseline drives the same long-running null-flush pipeline Outcrop
keeps (`outcrop.backends.nlp.apertium`), and the one-shot `apertium -u eng-spa` command is shown for
reference (it loads every transducer on each call). French→English runs the local chat model
(Qwen2.5-Coder 1.5B through llama.cpp), in this process for the baseline and in the server for Outcrop.
`--no-llm` skips the second (it loads a 1.1 GB model twice).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, outcrop_server

ENGLISH = [
    "The meeting has been moved to Thursday afternoon.",
    "Our new product helps small companies manage their invoices.",
    "The cat is sleeping on the kitchen table.",
    "Please send me the report before the end of the week.",
    "The train to Madrid leaves from platform four at nine o'clock.",
    "We would like to book a table for four people tonight.",
]
FRENCH = [
    "Le chat dort sur la table de la cuisine.",
    "Nous voudrions réserver une table pour quatre personnes ce soir.",
    "Le train pour Madrid part du quai quatre à neuf heures.",
]


def timed(call: Callable[[str], Any], texts: list[str], rounds: int) -> tuple[float, float]:
    """(calls/s, p50 ms), one call at a time, after one warm-up call."""
    call(texts[0])
    latencies = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            call(text)
            latencies.append(time.perf_counter() - started)
    return len(latencies) / sum(latencies), statistics.median(latencies) * 1000


def one_shot_apertium(text: str) -> str:
    done = subprocess.run(["apertium", "-u", "eng-spa"], input=text.encode(), capture_output=True, check=True)
    return done.stdout.decode()


def raw_llm() -> Callable[[str], str]:
    from outcrop.app import App
    from outcrop.backends.nlp.llm_translate import llm_translate
    from outcrop.config import load_settings

    settings = load_settings(
        overrides={"data_dir": Path("/tmp/outcrop-bench-translate"), "model_dir": ROOT / "data" / "models"}
    )
    model = App(settings).models.generator("qwen2.5-coder-1.5b")
    return lambda text: llm_translate(model, text, "French", "English")


def row(name: str, raw: tuple[float, float], ours: tuple[float, float]) -> None:
    print(f"  {name:<32} {raw[0]:10.2f} {raw[1]:9.1f} {ours[0]:15.2f} {ours[1]:9.1f}  {ours[0] / raw[0]:.2f}")


def main() -> None:
    with_llm = "--no-llm" not in sys.argv
    from outcrop.backends.nlp.apertium import ApertiumPipeline

    pipeline = ApertiumPipeline("eng-spa")
    raw = {"en→es apertium": timed(pipeline.translate, ENGLISH, 20)}
    pipeline.close()
    one_shot = timed(one_shot_apertium, ENGLISH, 1)
    if with_llm:
        raw["fr→en Qwen2.5-Coder 1.5B"] = timed(raw_llm(), FRENCH, 1)
    with outcrop_server(fake_models=False) as server:
        client = server.client("translate")
        ours = {
            "en→es apertium": timed(
                lambda t: client.translate_text(Text=t, SourceLanguageCode="en", TargetLanguageCode="es"),
                ENGLISH,
                20,
            )
        }
        if with_llm:
            ours["fr→en Qwen2.5-Coder 1.5B"] = timed(
                lambda t: client.translate_text(Text=t, SourceLanguageCode="fr", TargetLanguageCode="en"),
                FRENCH,
                1,
            )
    print("\nTranslate, one sentence per call, one call at a time, same run")
    print(
        f"  {'pair, engine':<32} {'raw call/s':>10} {'p50 ms':>9} {'Outcrop call/s':>15} {'p50 ms':>9}  ratio"
    )
    for name in raw:
        row(name, raw[name], ours[name])
    print(f"  (one-shot `apertium -u eng-spa` per call: {one_shot[0]:.2f} call/s, p50 {one_shot[1]:.0f} ms)")


if __name__ == "__main__":
    main()
