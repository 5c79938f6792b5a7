"""Bedrock Guardrails: precision and recall per policy on a labelled set (bench/guardrails_data.py), and the
latency a guardrail adds to a Converse call.

Default: a real-model server; one guardrail holding every policy is created with boto3, each case goes
through ApplyGuardrail, and a case counts as flagged by a policy when that policy's assessment intervened.
The baseline, measured in the same run, is a word list (the content classifier's fake, which matches words,
not meaning) on the content cases. Latency: Converse with and without the guardrail, texts under 1,000
characters, p50/p95 of the difference; the chat models are the catalog's fakes (every detector is real), so
the model's own time, which varies by far more than the guardrail costs on a shared machine, is out of the
difference (`--real-chat`: the small real model, 1 output token).

--direct measures the content and topic detectors in this process, without a server (no ApplyGuardrail).

--latency measures, in this process, what a guardrail of each policy type (and the mixed one) adds to a
chat call through the inference path (input and output screened), on the fake chat model and the real
detectors: each guarded call is timed between two unguarded ones of the same text, over `--rounds` rounds of
short benign texts (`--text-chars N`: those texts joined into texts of several sentences, up to N characters
each; several values run in turn, 0 the short texts); it prints p50/p95 of the wall-clock difference and the
guarded evaluations' CPU time (less sensitive to the machine's load). The quick re-measure of the latency
target, alone (about a minute): `bench_guardrails.py --latency --text-chars 0 950 --compare own serial`.
`--compare V ...` runs each guardrail on several variants of the embedding path (guardrails_latency.py: own,
serial, float, whole, before, shared; bare `--compare`: own and shared) in alternating blocks, so all see the
same load. `--long` prints the denied topics' and content filters' precision/recall on texts of about
`--text-chars` characters (default 950) per variant (`--half dev|held-out`: one half of the texts); `--turns
N` the added latency of each turn of N-turn conversations with and without the vector cache.

`--shared-embedder` runs the server mode on a catalog without that guardrail session (the "before" figure).
Every mode prints the load average when it starts and ends.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, RunningServer
from guardrails_data import CASES, CONTENT_TYPES, GUARDRAIL, TOPICS, Case
from guardrails_latency import catalog_text, load_average, long_quality, percentile, turns
from guardrails_latency import latency as policy_latency

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"  # the 0.5B model
FILTERS = GUARDRAIL["contentPolicyConfig"]["filtersConfig"]  # type: ignore[index]


class Tally:
    """True/false positives and negatives per policy."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp fp fn tn

    def add(self, policy: str, expected: bool, flagged: bool) -> None:
        index = (0 if flagged else 2) if expected else (1 if flagged else 3)
        self.counts[policy][index] += 1

    def rows(self) -> Iterable[tuple[str, float, float, list[int]]]:
        for policy, (tp, fp, fn, tn) in sorted(self.counts.items()):
            precision = tp / (tp + fp) if tp + fp else 1.0
            recall = tp / (tp + fn) if tp + fn else 1.0
            yield policy, precision, recall, [tp, fp, fn, tn]

    def print(self, title: str) -> None:
        print(f"\n{title}")
        print(f"  {'policy':<14} {'precision':>9} {'recall':>7}   tp  fp  fn  tn")
        for policy, precision, recall, (tp, fp, fn, tn) in self.rows():
            print(f"  {policy:<14} {precision:>9.3f} {recall:>7.3f}  {tp:>3} {fp:>3} {fn:>3} {tn:>3}")


def score_content(tally: Tally, flagged_types: Callable[[Case], set[str]], cases: Iterable[Case]) -> None:
    """Each content category's precision and recall: a case of category C must be flagged as C; a benign
    content case (or a case of another category) flagged as C is a false positive of C."""
    for case in cases:
        found = flagged_types(case)
        for kind in CONTENT_TYPES:
            expected = case.policy == kind
            if expected or case.policy == "CONTENT":
                tally.add(kind, expected, kind in found)


# ---- in-process detectors ----------------------------------------------------------------------------------
def direct() -> None:
    import tomllib

    from outcrop.backends.nlp.content_safety import FakeContentClassifier
    from outcrop.backends.registry import ModelRegistry
    from outcrop.guardrails.detectors.content import assess_content, content_scores
    from outcrop.guardrails.detectors.topics import assess_topics

    catalog = tomllib.loads((ROOT / "src" / "outcrop" / "catalog.toml").read_text())["local"]
    models = ModelRegistry(catalog, ROOT / "data" / "models")
    started = time.perf_counter()
    classify = content_scores(models)
    embedder = models.embedder("all-minilm-l6-v2")
    print(f"content classifier loaded and fitted in {time.perf_counter() - started:.1f} s")
    seconds: list[float] = []

    def flagged(classifier: Any) -> Callable[[Case], set[str]]:
        def run(case: Case) -> set[str]:
            began = time.perf_counter()
            entries, _ = assess_content(classifier, case.text, FILTERS, "INPUT", tagged=True)
            seconds.append(time.perf_counter() - began)
            return {entry["type"] for entry in entries if entry["action"] == "BLOCKED"}

        return run

    content = [case for case in CASES if case.policy in (*CONTENT_TYPES, "CONTENT")]
    ours, baseline = Tally(), Tally()
    score_content(ours, flagged(classify), content)
    content_seconds = list(seconds)
    score_content(baseline, flagged(FakeContentClassifier("word-list")), content)
    topic_seconds = []
    for case in CASES:
        if case.policy == "TOPICS":
            began = time.perf_counter()
            _, blocked = assess_topics(embedder.embed, case.text, TOPICS, "INPUT")
            topic_seconds.append(time.perf_counter() - began)
            ours.add("TOPICS", case.flagged, blocked)
            if blocked != case.flagged:
                print(f"  topics {'missed' if case.flagged else 'false hit'}: {case.text!r}")
    ours.print("Outcrop detectors (in process)")
    baseline.print("Baseline: word lists")
    for name, values in (("content", content_seconds), ("topics", topic_seconds)):
        p50, p95 = 1000 * percentile(values, 0.5), 1000 * percentile(values, 0.95)
        print(f"  {name} latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")


# ---- through a server --------------------------------------------------------------------------------------
def served(repeats: int, own_session: bool, real_chat: bool) -> None:
    from outcrop.backends.nlp.content_safety import FakeContentClassifier
    from outcrop.guardrails.detectors.content import assess_content

    ours, baseline = Tally(), Tally()
    load_average("at start")
    with tempfile.TemporaryDirectory() as tmp:
        catalog = catalog_text(own_session)
        if not real_chat:
            catalog = catalog.replace('runtime = "llamacpp"', 'runtime = "fake"')
        (Path(tmp) / "catalog.toml").write_text(catalog)
        env = {
            "OUTCROP_MODEL_DIR": str(ROOT / "data" / "models"),
            "OUTCROP_CATALOG": str(Path(tmp) / "catalog.toml"),
        }
        server = RunningServer(Path(tmp) / "data", fake_models=False, extra_env=env).start()
        try:
            control, runtime = server.client("bedrock"), server.client("bedrock-runtime")
            created = control.create_guardrail(**GUARDRAIL)
            guardrail = {"guardrailIdentifier": created["guardrailId"], "guardrailVersion": "DRAFT"}
            apply(runtime, guardrail, Case("CONTENT", "Hello.", False))  # load the detectors
            content_types: dict[str, set[str]] = {}
            apply_seconds = []
            for case in CASES:
                began = time.perf_counter()
                policies = apply(runtime, guardrail, case)
                apply_seconds.append(time.perf_counter() - began)
                content_types[case.text] = {p for p in policies if p in CONTENT_TYPES}
                if case.policy not in (*CONTENT_TYPES, "CONTENT"):
                    ours.add(case.policy, case.flagged, case.policy in policies)
                if case.policy in ("CONTENT", "TOPICS") and not case.flagged and policies:
                    print(f"  benign look-alike flagged by {sorted(policies)}: {case.text!r}")
            content = [case for case in CASES if case.policy in (*CONTENT_TYPES, "CONTENT")]
            score_content(ours, lambda case: content_types[case.text], content)
            fake = FakeContentClassifier("word-list")
            score_content(
                baseline,
                lambda case: {
                    e["type"] for e in assess_content(fake, case.text, FILTERS, "INPUT", tagged=True)[0]
                },
                content,
            )
            added = converse_latency(runtime, guardrail, repeats)
        finally:
            server.stop()
    ours.print(f"Outcrop ApplyGuardrail ({len(CASES)} cases)")
    baseline.print("Baseline: word lists (content cases)")
    print(
        f"\nApplyGuardrail latency: p50 {1000 * percentile(apply_seconds, 0.5):.1f} ms, "
        f"p95 {1000 * percentile(apply_seconds, 0.95):.1f} ms"
    )
    print(
        f"Added to a Converse call: p50 {1000 * percentile(added, 0.5):.1f} ms, "
        f"p95 {1000 * percentile(added, 0.95):.1f} ms (target p50 <= 30 ms; "
        f"{'the guardrails own' if own_session else 'the shared'} embedding session; "
        f"{'real' if real_chat else 'fake'} chat model)"
    )
    load_average("at end")


def apply(runtime: Any, guardrail: dict[str, str], case: Case) -> set[str]:
    """The policies (a content type, TOPICS, WORDS, PROFANITY, PII, REGEX, GROUNDING) that intervened."""
    # input tagged as guard content, so the prompt-attack filter evaluates it as AWS does tagged input
    content: list[dict[str, Any]] = [{"text": {"text": case.text, "qualifiers": ["guard_content"]}}]
    if case.policy == "GROUNDING":
        content = [
            {"text": {"text": case.source, "qualifiers": ["grounding_source"]}},
            {"text": {"text": case.query, "qualifiers": ["query"]}},
            {"text": {"text": case.text, "qualifiers": ["guard_content"]}},
        ]
    source = "OUTPUT" if case.policy == "GROUNDING" else "INPUT"
    response = runtime.apply_guardrail(**guardrail, source=source, content=content)
    found: set[str] = set()
    for assessment in response["assessments"]:
        for entry in assessment.get("contentPolicy", {}).get("filters", []):
            if entry.get("action") == "BLOCKED":
                found.add(entry["type"])
        if any(t.get("action") == "BLOCKED" for t in assessment.get("topicPolicy", {}).get("topics", [])):
            found.add("TOPICS")
        words = assessment.get("wordPolicy", {})
        if any(w.get("action") == "BLOCKED" for w in words.get("customWords", [])):
            found.add("WORDS")
        if any(w.get("action") == "BLOCKED" for w in words.get("managedWordLists", [])):
            found.add("PROFANITY")
        sensitive = assessment.get("sensitiveInformationPolicy", {})
        if any(p.get("action") in ("BLOCKED", "ANONYMIZED") for p in sensitive.get("piiEntities", [])):
            found.add("PII")
        if any(r.get("action") in ("BLOCKED", "ANONYMIZED") for r in sensitive.get("regexes", [])):
            found.add("REGEX")
        grounding = assessment.get("contextualGroundingPolicy", {}).get("filters", [])
        if any(g.get("action") == "BLOCKED" for g in grounding):
            found.add("GROUNDING")
    return found


def converse_latency(runtime: Any, guardrail: dict[str, str], repeats: int) -> list[float]:
    """Per benign short text: Converse time with the guardrail minus without it (1 output token). Each text
    is numbered so the server's vector cache has never seen it (the precision/recall pass sent them all)."""
    benign = [case.text for case in CASES if case.policy == "CONTENT" and not case.flagged]
    texts = [f"Note {index}: {benign[index % len(benign)]}" for index in range(repeats)]
    config = {"maxTokens": 1, "temperature": 0.0}
    added = []
    for text in texts:
        messages = [{"role": "user", "content": [{"text": text}]}]
        timings = []
        for extra in ({}, {"guardrailConfig": guardrail}, {}):
            began = time.perf_counter()
            runtime.converse(modelId=MODEL_ID, messages=messages, inferenceConfig=config, **extra)
            timings.append(time.perf_counter() - began)
        added.append(timings[1] - (timings[0] + timings[2]) / 2)
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--direct", action="store_true", help="the detectors in process, no server")
    parser.add_argument("--latency", nargs="*", metavar="GUARDRAIL", help="added latency per policy type")
    parser.add_argument("--rounds", type=int, default=2, help="--latency: rounds over the texts")
    parser.add_argument("--repeats", type=int, default=60, help="Converse calls timed with and without")
    parser.add_argument(
        "--compare", nargs="*", metavar="VARIANT", help="--latency/--long: embedding-path variants"
    )
    parser.add_argument("--long", action="store_true", help="topics/content quality on long texts")
    parser.add_argument(
        "--half",
        choices=("all", "dev", "held-out"),
        default="all",
        help="--long: the texts of one half (calibrate on dev, check on held-out)",
    )
    parser.add_argument("--turns", type=int, default=0, help="added latency per turn, cache on/off")
    parser.add_argument("--conversations", type=int, default=6, help="--turns: conversations")
    parser.add_argument(
        "--text-chars",
        type=int,
        nargs="+",
        default=[0],
        help="--latency: join the texts into texts of up to N characters (several: each in turn; 0: short)",
    )
    parser.add_argument(
        "--shared-embedder", action="store_true", help="server mode without the guardrails' embedding session"
    )
    parser.add_argument(
        "--real-chat", action="store_true", help="server mode: Converse on the real 0.5B model"
    )
    arguments = parser.parse_args()
    variants = ["own"] if arguments.compare is None else arguments.compare or ["own", "shared"]
    if arguments.latency is not None:
        for chars in arguments.text_chars:
            policy_latency(arguments.rounds, arguments.latency, variants, chars)
    elif arguments.long:
        long_quality(variants, max(arguments.text_chars) or 950, arguments.half)
    elif arguments.turns:
        turns(arguments.turns, arguments.conversations, arguments.text_chars[0])
    elif arguments.direct:
        direct()
    else:
        served(arguments.repeats, not arguments.shared_embedder, arguments.real_chat)


if __name__ == "__main__":
    main()
