"""Four sentiment classes (POSITIVE, NEGATIVE, NEUTRAL, MIXED) from a polarity model's scores of a text
and of its clauses: how VADER alone answers, and features of the fitted head (sentiment_head.py).

VADER scores a whole text on one axis, so a review that praises one thing and blames another comes out
as a weakly positive or negative compound, and the old rule (MIXED from the share of positive and
negative words) called plainly negative reviews MIXED whenever one word was positive ("the support was
awful": "support" is a positive word to VADER). Measured on bench/service_quality_data/sentiment.tsv
(227 labelled sentences, bench/bench_service_quality.py), the rule here works by clauses instead:

- a contrast ("but", "although", "though", "yet", "however", "whereas") whose clauses do not all lean
  the same way, with at least one of them polar, is MIXED (VADER often scores only one side of it: the
  contrast itself says the other side differs);
- clauses separated by commas or semicolons, one clearly positive and one clearly negative, are MIXED;
- otherwise the compound decides, with a neutral band of |compound| < 0.2 (VADER's authors suggest 0.05;
  on the set 0.2 keeps factual sentences with one mildly positive word, "closed on the public holiday",
  neutral without losing polar ones).

The thresholds were set on the whole set; since then the bench splits it into a dev half (where
VADER's domain words, vader_domain.py, were chosen) and a held-out half, and reports both: 0.921 dev,
0.831 held-out for this rule alone, so it is now one input of the fitted head rather than the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from outcrop.backends.nlp.protocols import Polarity

NEUTRAL_BAND = 0.2  # |compound| below it is NEUTRAL
CLAUSE_POLAR = 0.05  # a clause of a contrast counts as leaning one way from here
LIST_POLAR = 0.3  # comma-separated pieces must be clearly polar to make a text MIXED

_CONTRAST = re.compile(
    r"(?i)\s*(?:[,;]\s*)?\b(?:but|yet|although|though|however|whereas)\b\s*,?\s*|\s*[,;]\s*shame about\s*"
)
_PIECES = re.compile(r"[,;]")


def clauses(text: str) -> list[str]:
    """The text cut at contrast markers (the markers dropped); one piece when there is none."""
    return [part for part in _CONTRAST.split(text) if part.strip()]


def classify(text: str, polarity: Callable[[str], Polarity]) -> tuple[str, dict[str, float]]:
    """(Sentiment, SentimentScore) for `text`, scoring it and its clauses with `polarity`."""
    whole = polarity(text)
    mixed = 0.0
    parts = clauses(text)
    if len(parts) > 1:
        compounds = [polarity(part).compound for part in parts]
        leans = {(c >= CLAUSE_POLAR) - (c <= -CLAUSE_POLAR) for c in compounds}
        if leans != {0} and len(leans) > 1:
            mixed = max(abs(c) for c in compounds)
    if not mixed:
        pieces = [piece for piece in _PIECES.split(text) if piece.strip()]
        if len(pieces) > 1:
            compounds = [polarity(piece).compound for piece in pieces]
            if max(compounds) >= LIST_POLAR and min(compounds) <= -LIST_POLAR:
                mixed = min(max(compounds), -min(compounds))
    scores = _scores(whole.compound, mixed)
    label = "MIXED" if mixed else _label(whole.compound)
    return label, scores


def _label(compound: float) -> str:
    if compound >= NEUTRAL_BAND:
        return "POSITIVE"
    if compound <= -NEUTRAL_BAND:
        return "NEGATIVE"
    return "NEUTRAL"


def _scores(compound: float, mixed: float) -> dict[str, float]:
    """Four scores summing to 1 whose largest is the label: a softmax over how far the compound is into
    each side (and how polar the mixed clauses are), so a stronger compound gives a surer score."""
    span = 1 - NEUTRAL_BAND
    logits = {
        "Positive": 4 * (compound - NEUTRAL_BAND) / span,
        "Negative": 4 * (-compound - NEUTRAL_BAND) / span,
        "Neutral": 4 * (NEUTRAL_BAND - abs(compound)) / NEUTRAL_BAND,
        "Mixed": 4 + 4 * mixed if mixed else -4.0,
    }
    top = max(logits.values())
    weights = {name: math.exp(value - top) for name, value in logits.items()}
    total = sum(weights.values())
    return {name: weight / total for name, weight in weights.items()}
