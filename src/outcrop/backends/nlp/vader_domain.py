"""Outcrop's additions to VADER's lexicon for the texts Comprehend is sent: reviews, support and news.

VADER's lexicon was built from social-media words, so many words that carry a review's or a news item's
verdict score 0 ("the shirt shrank", "shares plunged"), and some words that are plain business or
politeness vocabulary score as praise ("please send the report", "interest rates", "the printer
supports A4"). Valences are on VADER's own scale (-4 to 4, most words within ±2.5).

"credit" comes from AWS's own Comprehend example, a bank letter ("your credit card account") that VADER
called POSITIVE. The rest were chosen from the errors on the development half of
bench/service_quality_data/sentiment.tsv only (every other sentence of each label;
bench/bench_service_quality.py reports the other half as held out), each word with its inflections,
never a word seen only in the held-out half.
"""

from __future__ import annotations

from collections.abc import Mapping

# A thing that fails or a service that lets its customer down.
_DEFECTS = {
    "overheat": -1.8,
    "overheats": -1.8,
    "overheated": -1.8,
    "overheating": -1.8,
    "shrink": -1.2,
    "shrinks": -1.2,
    "shrank": -1.2,
    "shrunk": -1.2,
    "fade": -1.0,
    "fades": -1.0,
    "faded": -1.0,
    "tasteless": -1.9,
    "rubbish": -2.0,
    "murky": -1.4,
    "froze": -1.2,
    "letdown": -2.1,
    "letdowns": -2.1,
}

# Market moves that news reports as losses.
_MARKETS = {
    "plunge": -1.8,
    "plunges": -1.8,
    "plunged": -1.8,
    "plunging": -1.8,
}

# Words VADER scores as praise that are neutral business or politeness vocabulary in these texts: the
# verdict of "please call us", "interest rates" or "the printer supports A4" is nobody's opinion.
_NEUTRAL = {
    "please": 0.0,
    "credit": 0.0,
    "support": 0.0,
    "supports": 0.0,
    "supported": 0.0,
    "interest": 0.0,
    "profit": 0.0,
    "profits": 0.0,
}

DOMAIN_WORDS: Mapping[str, float] = {**_DEFECTS, **_MARKETS, **_NEUTRAL}
