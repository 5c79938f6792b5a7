"""Right answers on plain cases: Comprehend sentiment, Translate and Textract OCR against labelled sets.

Sentiment: 227 sentences across eleven domains (service_quality_data/sentiment.tsv), macro-F1 over
POSITIVE/NEGATIVE/NEUTRAL/MIXED on a dev half and a held-out half, for the head Outcrop serves (a logistic
regression over MiniLM vectors and VADER's reading, fitted on backends/nlp/sentiment_seed.py, never on
these sentences), VADER's clause rule it served before (with and without Outcrop's domain words), the
word-share rule before that, VADER's own thresholds (±0.05, no MIXED) and, with --llm N, the local chat
model on the first N of each class.
Translation: 94 sentences written in eight languages (service_quality_data/parallel.tsv), corpus chrF
per direction for apertium's direct pair, apertium through Spanish, and with --llm N the chat model on
the first N sentences (--llm-pairs en-de,de-en for only those directions); the engine Outcrop serves
each pair with is marked. OCR: 50 generated documents
(service_quality_docs.py), character error rate of the lines Outcrop returns and of the recognizer's
own line text (without Outcrop's word rebuilding), whitespace runs counted as one space.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT
from service_quality_docs import document, render
from service_quality_metrics import cer, chrf, macro_f1

DATA = Path(__file__).parent / "service_quality_data"
LABELS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")
LANGUAGES = ("en", "es", "fr", "pt", "it", "ca", "de", "nl")
OCR_DOCUMENTS = 50


def rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def app_models() -> Any:
    from outcrop.app import App
    from outcrop.config import load_settings

    settings = load_settings(
        overrides={"data_dir": Path("/tmp/outcrop-bench-quality"), "model_dir": ROOT / "data" / "models"}
    )
    return App(settings).models


def old_rule(polarity: Any) -> str:
    """The mapping Outcrop served before (MIXED from how evenly positive and negative words split)."""
    polar = polarity.positive + polarity.negative
    balance = 2 * min(polarity.positive, polarity.negative) / polar if polar > 0 else 0.0
    raw = {
        "POSITIVE": max(polarity.compound, 0.0) * (1 - balance),
        "NEGATIVE": max(-polarity.compound, 0.0) * (1 - balance),
        "NEUTRAL": max((1 - abs(polarity.compound)) ** 3, 0.01),
        "MIXED": balance * min(1.0, 2 * polar),
    }
    return max(raw, key=lambda name: raw[name])


def llm_sentiment(model: Any, text: str) -> str:
    from outcrop.backends.base import ChatMessage, GenerationRequest, generate

    prompt = (
        "Classify the sentiment of this text as POSITIVE, NEGATIVE, NEUTRAL (no opinion) or MIXED "
        f"(both positive and negative). Answer with the one word.\n\n{text}"
    )
    request = GenerationRequest(messages=[ChatMessage("user", prompt)], max_tokens=4, temperature=0.0, seed=0)
    answer = generate(model, request, None).text.upper()
    return next((label for label in LABELS if label in answer), "NEUTRAL")


def halves(gold: list[str]) -> list[str]:
    """'dev' or 'held-out' per sentence: every other sentence of each label, in file order. Outcrop's
    mapping and domain words are tuned on the dev half only; the held-out half is reported beside it."""
    seen: dict[str, int] = {}
    parts = []
    for label in gold:
        parts.append("dev" if seen.get(label, 0) % 2 == 0 else "held-out")
        seen[label] = seen.get(label, 0) + 1
    return parts


def sentiment(models: Any, llm: Any, sample: int) -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from outcrop.backends.nlp.sentiment import VaderSentiment
    from outcrop.backends.nlp.sentiment_rule import classify

    data = rows("sentiment.tsv")
    gold = [row[0] for row in data]
    parts = halves(gold)
    vader = models.get("vader-en", "sentiment")
    plain = VaderSentiment("vader-plain", SentimentIntensityAnalyzer())  # VADER's lexicon alone
    polarities = [plain.polarity(row[2]) for row in data]
    started = time.perf_counter()
    vader.classify("warm-up: the encoder loads and the head is fitted (or read from the cache)")
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    served = [vader.classify(row[2])[0] for row in data]
    head_ms = 1000 * (time.perf_counter() - started) / len(data)
    started = time.perf_counter()
    rule = [classify(row[2], vader.polarity)[0] for row in data]
    rule_ms = 1000 * (time.perf_counter() - started) / len(data)
    lexicon_only = [classify(row[2], plain.polarity)[0] for row in data]
    standard = [
        "POSITIVE" if p.compound >= 0.05 else "NEGATIVE" if p.compound <= -0.05 else "NEUTRAL"
        for p in polarities
    ]
    before = [old_rule(p) for p in polarities]

    def scores(predicted: list[str]) -> str:
        figures = []
        for part in ("dev", "held-out"):
            index = [i for i, name in enumerate(parts) if name == part]
            figures.append(macro_f1([gold[i] for i in index], [predicted[i] for i in index], LABELS))
        return f"{figures[0]:>6.3f} {figures[1]:>9.3f} {macro_f1(gold, predicted, LABELS):>6.3f}"

    print(f"\nSentiment, {len(data)} labelled sentences, macro-F1 over {', '.join(LABELS)}")
    sizes = f"({parts.count('dev')} / {parts.count('held-out')})"
    print(f"  {'':<52} {'dev':>6} {'held-out':>9} {'all':>6}   {sizes}")
    print(f"  {'MiniLM + VADER logistic head (served)':<52} {scores(served)}")
    print(f"  {'VADER + domain words + clause rule (served before)':<52} {scores(rule)}")
    print(f"  {'VADER lexicon alone + clause rule':<52} {scores(lexicon_only)}")
    print(f"  {'VADER + previous word-share rule':<52} {scores(before)}")
    print(f"  {'VADER compound ±0.05 (its authors), no MIXED':<52} {scores(standard)}")
    held = [i for i, name in enumerate(parts) if name == "held-out"]
    print("  served on held-out, rows gold, columns answered: " + " ".join(f"{x[:3]:>4}" for x in LABELS))
    for label in LABELS:
        counts = [sum(1 for i in held if gold[i] == label and served[i] == other) for other in LABELS]
        print(f"  {label:>48} " + " ".join(f"{n:>4}" for n in counts))
    per_class = [macro_f1([gold[i] for i in held], [served[i] for i in held], [label]) for label in LABELS]
    print(
        "  served, F1 per class on held-out: "
        + ", ".join(f"{x} {f:.3f}" for x, f in zip(LABELS, per_class, strict=True))
    )
    print(
        f"  ({head_ms:.1f} ms a sentence for the head, {rule_ms:.2f} ms for the rule alone; first use "
        f"{fit_seconds:.1f} s: encoder load and fit, or the kept fit)"
    )
    if llm is not None and sample:
        picked = [i for label in LABELS for i in [j for j, g in enumerate(gold) if g == label][:sample]]
        started = time.perf_counter()
        answers = [llm_sentiment(llm, data[i][2]) for i in picked]
        seconds = (time.perf_counter() - started) / len(picked)
        sub_gold = [gold[i] for i in picked]
        print(
            f"  {'Qwen2.5-Coder 1.5B zero-shot':<52} {macro_f1(sub_gold, answers, LABELS):.3f}"
            f"   (first {sample} of each class; served rule on the same: "
            f"{macro_f1(sub_gold, [served[i] for i in picked], LABELS):.3f}; {seconds:.1f} s a sentence)"
        )


def translation(models: Any, llm: Any, sample: int, llm_pairs: set[tuple[str, str]] | None = None) -> None:
    from outcrop.backends.nlp.llm_translate import llm_translate
    from outcrop.backends.translation_engines import LANGUAGE_NAMES, TranslationEngines

    data = rows("parallel.tsv")
    column = {code: [row[i] for row in data] for i, code in enumerate(LANGUAGES)}
    apertium = models.get("apertium", "translation")
    served = TranslationEngines(apertium, llm).pairs()
    direct = apertium.pairs()
    print(f"\nTranslation, corpus chrF on {len(data)} sentences a direction (chrF as sacrebleu defines it)")
    print(f"  {'pair':<7} {'served by':<10} {'apertium':>9} {'via es':>7} {'LLM':>6}")
    for source, target in itertools.permutations(LANGUAGES, 2):
        pair = (source, target)
        scores: dict[str, str] = {}
        if pair in direct:
            out = [apertium.translate(text, pair) for text in column[source]]
            scores["apertium"] = f"{chrf(out, column[target]):.1f}"
        if source != "es" and target != "es" and (source, "es") in direct and ("es", target) in direct:
            out = [apertium.translate(t, (source, "es")) for t in column[source]]
            out = [apertium.translate(t, ("es", target)) for t in out]
            scores["pivot"] = f"{chrf(out, column[target]):.1f}"
        asked = pair in llm_pairs if llm_pairs else "en" in pair and "es" not in pair
        if llm is not None and sample and asked:
            names = LANGUAGE_NAMES[source], LANGUAGE_NAMES[target]
            out = [llm_translate(llm, text, *names) for text in column[source][:sample]]
            scores["llm"] = f"{chrf(out, column[target][:sample]):.1f}"
            if pair in direct:  # the same subset, so the two compare
                same = [apertium.translate(text, pair) for text in column[source][:sample]]
                scores["llm"] += f" (apertium {chrf(same, column[target][:sample]):.1f})"
        if not scores and pair not in served:
            continue
        engine = served[pair].kind if pair in served else "-"
        print(
            f"  {source}→{target:<4} {engine:<10} {scores.get('apertium', '-'):>9}"
            f" {scores.get('pivot', '-'):>7} {scores.get('llm', '-'):>6}"
        )


def ocr(models: Any) -> None:
    reader = models.get("rapidocr-pp-ocrv4", "ocr")
    truths, served, recognizer = [], [], []
    started = time.perf_counter()
    for seed in range(OCR_DOCUMENTS):
        lines = document(seed)
        pixels = render(lines, seed)
        truths.append(" ".join(" ".join(line.split()) for line in lines))
        page = reader.read(pixels)
        served.append(" ".join(" ".join(line.text.split()) for line in page.lines))
        raw, _ = reader._engine(pixels[:, :, ::-1].copy())
        recognizer.append(" ".join(" ".join(str(item[1]).split()) for item in raw or []))
    seconds = (time.perf_counter() - started) / OCR_DOCUMENTS
    size = sum(map(len, truths))
    print(f"\nOCR, {OCR_DOCUMENTS} generated documents ({size} characters), character error rate")
    print(f"  {'RapidOCR lines, Outcrop word rebuilding (served)':<52} {100 * cer(served, truths):.2f}%")
    print(f"  {'RapidOCR recognizer line text as it comes':<52} {100 * cer(recognizer, truths):.2f}%")
    print(f"  ({seconds:.1f} s a document for both reads)")
    worst = sorted(zip(served, truths, strict=True), key=lambda pair: -cer([pair[0]], [pair[1]]))[:2]
    for hypothesis, truth in worst:
        print(f"  worst: {hypothesis[:100]!r}\n     vs  {truth[:100]!r}")


def main() -> None:
    sample = int(sys.argv[sys.argv.index("--llm") + 1]) if "--llm" in sys.argv else 0
    # --llm-pairs en-de,de-en: the chat model on those directions only (default: every pair with English
    # and without Spanish, about 20 minutes a direction on a busy 2-core machine)
    chosen = sys.argv[sys.argv.index("--llm-pairs") + 1] if "--llm-pairs" in sys.argv else ""
    llm_pairs = {(code[:2], code[3:]) for code in chosen.split(",") if code}
    models = app_models()
    llm: Callable[..., Any] | None = models.generator("qwen2.5-coder-1.5b") if sample else None
    parts = [arg for arg in sys.argv[1:] if arg in ("sentiment", "translation", "ocr")] or [
        "sentiment", "translation", "ocr"
    ]  # fmt: skip
    if "sentiment" in parts:
        sentiment(models, llm, sample)
    if "translation" in parts:
        translation(models, llm, sample, llm_pairs)
    if "ocr" in parts:
        ocr(models)


if __name__ == "__main__":
    main()
