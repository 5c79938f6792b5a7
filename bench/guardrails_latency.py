"""bench_guardrails.py's in-process modes: what a guardrail adds to a chat call, per policy type and per
variant of the embedding path, on long texts' quality, and over the turns of a conversation.

Every mode runs the inference path of an `App` on the catalog's fake chat model (the model's own time out of
the picture) with the real detectors. Variants of the denied-topic/content embedding path, each its own App
so they run in the same process and conditions:
  own     the catalog as shipped: the guardrails' one-thread session, int8 products, a multi-sentence text's
          vector derived from its sentences', a call's batches on two threads (`workers = 2`)
  serial  the same with a call's batches run one after another on the caller's thread
  float   the same without int8 (the packaged model's float32 products)
  whole   the same with each multi-sentence text embedded whole as well as by sentences
  before  float and whole: the embedding path before this round
  shared  no guardrail session in the catalog: the shared all-core embedder
Latency and quality modes turn the vector and verdict caches off (the rounds repeat their texts, which a
cache would answer): they measure a text never seen before. `turns` measures the caches themselves.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import ROOT
from guardrails_data import CASES, CONTENT_TYPES, GUARDRAIL

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
GUARDRAIL_SESSION = "all-minilm-l6-v2-guardrails"
VARIANTS = {  # name: (the guardrail session listed, int8 products, whole text derived from its sentences,
    # a call's batches on the session's `workers` threads)
    "own": (True, True, True, True),
    "serial": (True, True, True, False),
    "float": (True, False, True, True),
    "whole": (True, True, False, True),
    "before": (True, False, False, False),
    "shared": (False, False, True, False),
}


def catalog_text(own_session: bool = True, quantized: bool = True, workers: bool = True) -> str:
    """The bundled catalog, without the guardrails' own embedding session unless `own_session`, with
    that session's int8 products only if `quantized` and its helper threads only if `workers`."""
    text = (ROOT / "src" / "outcrop" / "catalog.toml").read_text()
    table = re.compile(r'^\[local\."' + re.escape(GUARDRAIL_SESSION) + r'"\]\n(?:(?!\[).*\n)*', re.M)
    if not own_session:
        text, count = table.subn("", text)
        assert count == 1, f"the catalog has no {GUARDRAIL_SESSION} entry"
        return text
    found = table.search(text)
    assert found and 'quantize = "int8-dynamic"\n' in found.group(0), "no int8 guardrail session"
    entry = found.group(0)
    if not quantized:
        entry = entry.replace('quantize = "int8-dynamic"\n', "")
    if not workers:
        entry = re.sub(r"^workers = \d+\n", "", entry, flags=re.M)
    return text[: found.start()] + entry + text[found.end() :]


def load_average(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def benign_texts() -> list[str]:
    return [case.text for case in CASES if case.policy in ("CONTENT", "TOPICS") and not case.flagged]


def half_of(items: list[Any], half: str) -> list[Any]:
    """The `half` of `items`: "dev" the even positions, "held-out" the odd ones, "all" every one. Whatever
    is calibrated on the long texts is calibrated on the dev half and checked on the held-out half."""
    if half == "all":
        return items
    return items[{"dev": 0, "held-out": 1}[half] :: 2]


def joined_texts(chars: int, count: int = 30, start: int = 0, half: str = "all") -> list[str]:
    """`count` texts of several sentences, each the bench's benign texts (those of `half`) joined up to
    `chars` characters."""
    benign = half_of(benign_texts(), half)
    texts: list[str] = []
    while len(texts) < count:
        parts: list[str] = []
        while len(" ".join([*parts, benign[start % len(benign)]])) <= chars:
            parts.append(benign[start % len(benign)])
            start += 1
        texts.append(" ".join(parts))
    return texts


@contextmanager
def apps(variants: list[str], cache: bool = False) -> Iterator[dict[str, Any]]:
    """An App per variant on a fake-chat copy of the catalog, the vector cache on only if `cache`."""
    from outcrop.app import App
    from outcrop.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        made: dict[str, Any] = {}
        for variant in variants:
            session, quantized, derive, workers = VARIANTS[variant]
            catalog = catalog_text(session, quantized, workers)
            catalog = catalog.replace('runtime = "llamacpp"', 'runtime = "fake"')
            (Path(tmp) / f"{variant}.toml").write_text(catalog)
            settings = Settings(
                data_dir=Path(tmp) / variant,
                model_dir=ROOT / "data" / "models",
                catalog=Path(tmp) / f"{variant}.toml",
            )
            app = made[variant] = App(settings)
            app.guardrails.engine.derive_whole = derive
            if not cache:
                app.guardrails.engine.vectors = app.guardrails.engine.verdicts = None
        try:
            yield made
        finally:
            for app in made.values():
                app.models.close()


def version(name: str, config: dict[str, Any]) -> Any:
    from outcrop.guardrails.policies import build_policies
    from outcrop.guardrails.types import GuardrailVersion

    policies = build_policies({"name": f"bench-{name}", **config})
    return GuardrailVersion("benchbench000", "arn", "DRAFT", name, "No.", "No.", policies)


def call(app: Any, texts: list[str], guardrail: Any | None) -> None:
    """One chat call on the fake model with `texts` as alternating user/assistant turns, guarded or not
    (as Converse guards a conversation: every turn's text is screened)."""
    from outcrop.backends.base import ChatMessage, GenerationRequest
    from outcrop.guardrails.enforce import Guard
    from outcrop.guardrails.types import GuardText
    from outcrop.inference import Caller

    caller = Caller()
    messages = [ChatMessage("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)]
    guard = None
    if guardrail is not None:
        guard = Guard(app.guardrails, guardrail, [GuardText(text) for text in texts], caller)
    request = GenerationRequest(messages, max_tokens=8)
    app.inference.generate_blocking(caller, app.inference.resolve(MODEL_ID), request, guard)


def added(app: Any, texts: list[str], guardrail: Any) -> tuple[float, float]:
    """The guarded call's wall time minus its two unguarded neighbours' mean, and its CPU time."""
    first = time.perf_counter()
    call(app, texts, None)
    second, processor = time.perf_counter(), time.process_time()
    call(app, texts, guardrail)
    third, used = time.perf_counter(), time.process_time() - processor
    call(app, texts, None)
    fourth = time.perf_counter()
    return (third - second) - ((second - first) + (fourth - third)) / 2, used


def policy_guardrails() -> dict[str, dict[str, Any]]:
    """One CreateGuardrail request body per policy type, and the bench's mixed guardrail."""
    sensitive: dict[str, Any] = GUARDRAIL["sensitiveInformationPolicyConfig"]  # type: ignore[assignment]

    def pii(*types: str) -> dict[str, Any]:
        entities = [{"type": kind, "action": "BLOCK"} for kind in types]
        return {"sensitiveInformationPolicyConfig": {"piiEntitiesConfig": entities}}

    return {
        "words": {"wordPolicyConfig": GUARDRAIL["wordPolicyConfig"]},
        "regex": {"sensitiveInformationPolicyConfig": {"regexesConfig": sensitive["regexesConfig"]}},
        "pii-patterns": pii("EMAIL", "CREDIT_DEBIT_CARD_NUMBER", "US_SOCIAL_SECURITY_NUMBER"),
        "pii-phone": pii("PHONE"),
        "pii-name": pii("NAME"),
        "topics": {"topicPolicyConfig": GUARDRAIL["topicPolicyConfig"]},
        "content": {"contentPolicyConfig": GUARDRAIL["contentPolicyConfig"]},
        "mixed": {key: value for key, value in GUARDRAIL.items() if key.endswith("Config")},
    }


def latency(rounds: int, only: list[str], variants: list[str], chars: int) -> None:
    """Added latency per policy type and variant, in alternating blocks of all the texts (onnxruntime's
    worker threads spin for a while after a run of the shared session, and that CPU would be counted against
    the next call if variants alternated text by text)."""
    texts = joined_texts(chars) if chars else benign_texts()[:30]
    load_average("at start")
    with apps(variants) as made:
        average = sum(map(len, texts)) / len(texts)
        print(
            f"{'guardrail':<20} {'added p50':>10} {'p95':>8}   {'cpu/call p50':>12}  "
            f"({len(texts)} texts of {average:.0f} characters on average)"
        )
        for name, config in policy_guardrails().items():
            if only and name not in only:
                continue
            guardrail = version(name, config)
            loaded: dict[str, float] = {}
            for variant, app in made.items():
                began = time.perf_counter()
                call(app, texts[:1], guardrail)  # loads the detectors
                loaded[variant] = time.perf_counter() - began
            wall: dict[str, list[float]] = defaultdict(list)
            cpu: dict[str, list[float]] = defaultdict(list)
            for round_ in range(rounds):
                order = list(made.items())
                if round_ % 2:
                    order.reverse()  # no variant always runs first
                for variant, app in order:
                    for text in texts:
                        spent, used = added(app, [text], guardrail)
                        wall[variant].append(spent)
                        cpu[variant].append(used)
            for variant in made:
                label = f"{name} ({variant})" if len(made) > 1 else name
                p50, p95 = 1000 * percentile(wall[variant], 0.5), 1000 * percentile(wall[variant], 0.95)
                print(
                    f"{label:<20} {p50:>7.1f} ms {p95:>5.1f} ms   "
                    f"{1000 * percentile(cpu[variant], 0.5):>9.1f} ms"
                    f"  (first call, loading: {loaded[variant]:.1f} s)",
                    flush=True,
                )
        for variant, app in made.items():
            states = app.models.states().items()
            calls = {n: s["uses"] for n, s in states if s["kind"] == "embedding" and s["uses"]}
            print(f"embedding calls ({variant}): {calls}")
    load_average("at end")


def turns(count: int, conversations: int, chars: int) -> None:
    """A conversation of `count` turns screened whole on every call (as Converse does), with and without the
    vector cache: the added latency of each turn, p50 over `conversations` conversations of fresh texts
    (the cache is emptied between conversations, so only the conversation's own earlier turns are reused)."""
    from outcrop.guardrails.vectors import LruCache, VectorCache

    load_average("at start")
    guardrail = version("mixed", policy_guardrails()["mixed"])
    pool = joined_texts(chars, 2 * count * conversations) if chars else benign_texts()
    with apps(["own"], cache=True) as made:
        app = made["own"]
        engine = app.guardrails.engine
        call(app, ["Hello."], guardrail)  # loads the detectors
        per_turn: dict[str, list[list[float]]] = {"cache": [], "no cache": []}
        for conversation in range(conversations):
            offset = 2 * count * conversation
            texts = [pool[(offset + i) % len(pool)] for i in range(2 * count)]
            for label in ("cache", "no cache") if conversation % 2 else ("no cache", "cache"):
                engine.vectors = VectorCache() if label == "cache" else None
                engine.verdicts = LruCache() if label == "cache" else None
                spent = [added(app, texts[: 2 * turn + 1], guardrail)[0] for turn in range(count)]
                per_turn[label].append(spent)
        average = sum(map(len, pool)) / len(pool)
        print(f"{count}-turn conversations ({conversations}; messages of {average:.0f} characters):")
        print("  turn " + " ".join(f"{turn + 1:>6}" for turn in range(count)) + "   mean (added ms, p50)")
        for label, runs in per_turn.items():
            p50s = [1000 * percentile([run[turn] for run in runs], 0.5) for turn in range(count)]
            row = " ".join(f"{value:>6.1f}" for value in p50s)
            print(f"  {label:<9}{row}   {sum(p50s) / count:.1f}")
    load_average("at end")


def long_cases(chars: int, half: str = "all") -> list[tuple[str, str]]:
    """(policy, text) of about `chars` characters: each flagged case of the denied topics and content filters
    placed among benign sentences, and long benign texts ("" policy); `half` as `half_of` (the flagged cases
    and the benign sentences of one half only, so the halves share no sentence)."""
    filler = joined_texts(chars - 120, 60, start=7, half=half)
    flagged = half_of([c for c in CASES if c.flagged and c.policy in (*CONTENT_TYPES, "TOPICS")], half)
    cases: list[tuple[str, str]] = []
    for index, case in enumerate(flagged):
        sentences = re.findall(r"[^.!?]+[.!?]+", filler[index % len(filler)])
        at = index % (len(sentences) + 1)
        cases.append((case.policy, " ".join([*sentences[:at], case.text, *sentences[at:]]).strip()))
    benign = 30 if half == "all" else 15
    return cases + [("", text) for text in joined_texts(chars, benign, start=3, half=half)]


def long_quality(variants: list[str], chars: int, half: str = "all") -> None:
    """Precision/recall of the denied topics and content filters on `long_cases`, per variant (a flagged
    text found by another policy as well counts as that policy's false positive)."""
    from outcrop.guardrails.detectors import topics as topic_detector
    from outcrop.guardrails.types import GuardText

    cases = long_cases(chars, half)
    guardrail = version("mixed", policy_guardrails()["mixed"])
    load_average("at start")
    with apps(variants) as made:
        for variant, app in made.items():
            topic_detector._VECTORS = topic_detector._Vectors()  # anchors, background: this variant's
            tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp fp fn, fp benign
            for policy, text in cases:
                evaluation = app.guardrails.evaluate(
                    guardrail, "INPUT", [GuardText(text, ("guard_content",))]
                )
                found = set()
                for assessment in evaluation.assessments:
                    for entry in assessment.get("contentPolicy", {}).get("filters", []):
                        if entry.get("action") == "BLOCKED":
                            found.add(entry["type"])
                    topics = assessment.get("topicPolicy", {}).get("topics", [])
                    if any(entry.get("action") == "BLOCKED" for entry in topics):
                        found.add("TOPICS")
                for kind in (*CONTENT_TYPES, "TOPICS"):
                    if policy == kind and kind not in found:
                        tally[kind][2] += 1
                    elif kind in found:
                        tally[kind][0 if policy == kind else 1] += 1
                        tally[kind][3] += not policy
            average = sum(len(text) for _, text in cases) / len(cases)
            print(f"{variant}: {len(cases)} texts of {average:.0f} characters on average ({half})")
            print(f"  {'policy':<14} precision recall   tp  fp  fn  (fp on the benign texts)")
            for kind, (tp, fp, fn, benign) in sorted(tally.items()):
                precision = tp / (tp + fp) if tp + fp else 1.0
                print(
                    f"  {kind:<14} {precision:>9.3f} {tp / (tp + fn):>6.3f}  "
                    f"{tp:>3} {fp:>3} {fn:>3}  ({benign})"
                )
    load_average("at end")
