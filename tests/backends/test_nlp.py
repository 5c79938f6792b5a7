"""The NLP runtimes on their own: overlap resolution, sentiment scores, offline tldextract, apertium modes."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from outcrop.backends.nlp.apertium import Apertium, from_stream, installed_modes, to_stream
from outcrop.backends.nlp.pii import PiiFinding, _offline_tldextract, resolve_overlaps
from outcrop.backends.nlp.sentiment import Polarity
from outcrop.backends.nlp.sentiment_head import SentimentHead
from outcrop.backends.nlp.sentiment_rule import classify


def test_overlapping_pii_keeps_the_strongest_finding() -> None:
    email = PiiFinding("EMAIL_ADDRESS", 10, 30, 1.0)
    url_inside = PiiFinding("URL", 15, 30, 0.5)
    phone = PiiFinding("PHONE_NUMBER", 40, 52, 0.75)
    assert resolve_overlaps([url_inside, phone, email]) == [email, phone]


# Polarities as VADER gives them for each text and clause of the cases below.
_POLARITY = {
    "A great day.": Polarity(0.6, 0.4, 0.0, 0.85),
    "A terrible, broken product and the support was awful.": Polarity(0.14, 0.37, 0.49, -0.76),
    "The shop opens at nine.": Polarity(0.0, 1.0, 0.0, 0.0),
    "The food was great but the service was slow.": Polarity(0.3, 0.7, 0.0, 0.4),
    "The food was great": Polarity(0.5, 0.5, 0.0, 0.62),
    "the service was slow.": Polarity(0.0, 1.0, 0.0, 0.0),
    "Great pizza, terrible coffee.": Polarity(0.4, 0.2, 0.4, 0.25),
    "Great pizza": Polarity(0.8, 0.2, 0.0, 0.62),
    " terrible coffee.": Polarity(0.0, 0.3, 0.7, -0.48),
}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("A great day.", "POSITIVE"),
        ("A terrible, broken product and the support was awful.", "NEGATIVE"),
        ("The shop opens at nine.", "NEUTRAL"),
        ("The food was great but the service was slow.", "MIXED"),
        ("Great pizza, terrible coffee.", "MIXED"),
    ],
)
def test_sentiment_scores_sum_to_one_and_pick_the_label(text: str, label: str) -> None:
    """One positive word in a negative text is not MIXED; a contrast or opposed clauses are."""
    found, scores = classify(text, lambda piece: _POLARITY.get(piece, Polarity(0.0, 1.0, 0.0, 0.0)))
    assert found == label
    assert math.isclose(sum(scores.values()), 1.0)
    assert all(value >= 0 for value in scores.values())
    assert max(scores, key=lambda name: scores[name]).upper() == label


def test_the_sentiment_head_fits_deterministically_and_a_later_one_reads_the_kept_fit(tmp_path: Path) -> None:
    """Two fits on the seed set give the same weights; a head with the same cache file loads, not fits."""
    from outcrop.backends.fake import fake_embedder
    from outcrop.backends.nlp.fakes import fake_sentiment

    reader = fake_sentiment("fake-sentiment", {})

    def describe(text: str) -> list[float]:
        polarity = reader.polarity(text)
        return [polarity.positive, polarity.neutral, polarity.negative, polarity.compound]

    def head(cache: Path) -> SentimentHead:
        return SentimentHead(describe, lambda: fake_embedder("fake", {}).embed, cache=cache)

    texts = ["What a wonderful day, I love it.", "The shop opens at nine."]
    first = head(tmp_path / "a.npz").probabilities(texts)
    assert head(tmp_path / "b.npz").probabilities(texts) == first
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()

    kept = head(tmp_path / "a.npz")

    def no_fit(encoder: Any) -> Any:
        raise AssertionError("fitted again instead of reading the kept fit")

    kept._fit = no_fit  # type: ignore[method-assign]
    assert kept.probabilities(texts) == first
    for shares in first:
        assert set(shares) == {"POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"}
        assert math.isclose(sum(shares.values()), 1.0) and min(shares.values()) > 0


def test_tldextract_reads_its_bundled_suffix_list_without_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests
    import tldextract

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tldextract tried to fetch the suffix list")

    monkeypatch.setattr(requests.Session, "get", no_network)
    monkeypatch.setattr(tldextract.tldextract, "TLD_EXTRACTOR", tldextract.tldextract.TLD_EXTRACTOR)
    _offline_tldextract()
    parts = tldextract.extract("mail.example.co.uk")
    assert (parts.domain, parts.suffix) == ("example", "co.uk")


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")
def test_apertium_pairs_are_found_and_translate() -> None:
    modes = {mode for mode, _, _ in installed_modes()}
    assert "eng-spa" in modes
    assert "spa-eng_US" not in modes  # variants are not offered as pairs
    apertium = Apertium()
    try:
        assert "gato" in apertium.translate("The cat sleeps.", ("en", "es")).lower()
        # the pipeline stays up: a second request is answered by the same process
        html = apertium.translate(
            '<p class="a">The <b>dog</b> &amp; the cat.</p>\n<p>Yes</p>', ("en", "es"), "html"
        )
        assert html.startswith('<p class="a">') and "<b>perro</b>" in html and "&amp;" in html
        assert html.endswith("</p>\n<p>Sí</p>")
    finally:
        apertium.close()


def test_stream_format_round_trips_special_characters_and_markup() -> None:
    text = "Price: $5 [net] <b>bold</b> a/b @home ^x\n\nnext"
    assert from_stream(to_stream(text, "txt")) == text
    markup = "<p>x &lt; y</p><script>if (a < b) {}</script>"
    assert from_stream(to_stream(markup, "html")) == markup
