"""The measures of bench_service_quality: macro-F1, chrF (sacrebleu's definition), character error rate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def _ngrams(text: str, n: int) -> Counter[str]:
    chars = "".join(text.split())  # chrF ignores whitespace
    return Counter(chars[i : i + n] for i in range(len(chars) - n + 1))


def chrf(hypotheses: Sequence[str], references: Sequence[str], order: int = 6, beta: float = 2.0) -> float:
    """Corpus chrF as sacrebleu 2 computes it (character n-grams 1..6, beta 2): match counts summed over
    the corpus per order, an F-beta per order, averaged over the orders both sides have."""
    stats = [[0, 0, 0] for _ in range(order)]
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        for n in range(1, order + 1):
            hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
            stats[n - 1][0] += sum(hyp.values())
            stats[n - 1][1] += sum(ref.values())
            stats[n - 1][2] += sum((hyp & ref).values())
    factor = beta**2
    total, effective = 0.0, 0
    for n_hyp, n_ref, n_match in stats:
        if n_hyp and n_ref:
            effective += 1
            precision, recall = n_match / n_hyp, n_match / n_ref
            if precision + recall:
                total += (1 + factor) * precision * recall / (factor * precision + recall)
    return 100 * total / effective if effective else 0.0


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Character error rate: edits to turn each hypothesis into its reference, over the references' length."""
    edits = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True))
    return edits / max(sum(len(r) for r in references), 1)
