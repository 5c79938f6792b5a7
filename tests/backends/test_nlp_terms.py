"""Glossary parsing, placeholders and the terminology store, without a server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from outcrop.backends.translation_engines import html_runs, html_text, map_html_text, sentence_chunks
from outcrop.backends.translation_terms import (
    Glossary,
    GlossaryError,
    StoredTerminology,
    TerminologyStore,
    matching_terms,
    parse_glossary,
    protect_terms,
    render_glossary,
    restore_terms,
    terms_present,
)


def test_csv_tsv_and_tmx_parse_to_the_same_rows() -> None:
    csv = parse_glossary("\ufeffen,es,fr\ncat,gato,chat\ndog,perro\n,solo,\n".encode(), "CSV")
    assert csv.languages == ["en", "es", "fr"]
    assert csv.rows == [{"en": "cat", "es": "gato", "fr": "chat"}, {"en": "dog", "es": "perro"}]
    assert csv.skipped == 1  # a row without its source term
    tsv = parse_glossary(b"en\tes\ncat\tgato\n", "TSV")
    assert tsv.rows == [{"en": "cat", "es": "gato"}]
    tmx = parse_glossary(render_glossary(csv, "TMX"), "TMX")
    assert tmx.languages == ["en", "es", "fr"] and tmx.rows == csv.rows
    with pytest.raises(GlossaryError):
        parse_glossary(b"only-one-language\nword\n", "CSV")


def test_terms_match_whole_words_and_survive_a_round_trip_through_placeholders() -> None:
    glossary = Glossary(["en", "es"], [{"en": "card", "es": "tarjeta"}, {"en": "credit card", "es": "TC"}])
    text = "Pay by credit card, not with the cardboard card."
    terms = matching_terms(glossary, text, "en", "es")
    assert set(terms) == {("card", "tarjeta"), ("credit card", "TC")}
    protected, replacements = protect_terms(text, terms)
    assert "card" not in protected.replace("cardboard", "")
    restored, came_back = restore_terms(protected.upper(), replacements)
    assert came_back == {"TC", "tarjeta"}
    assert "TC" in restored and "tarjeta" in restored and "CARDBOARD" in restored


def test_the_store_persists_and_deletes(tmp_path: Path) -> None:
    store = TerminologyStore(tmp_path)
    stored = StoredTerminology(
        "t-1", "d", "CSV", "UNI", time.time(), time.time(), 10, Glossary(["en", "es"], [])
    )
    store.put(stored)
    again = TerminologyStore(tmp_path).get("t-1")
    assert again is not None and again.glossary.languages == ["en", "es"]
    assert store.names() == ["t-1"]
    assert store.delete("t-1") and store.get("t-1") is None
    assert store.get("../etc/passwd") is None


def test_a_placeholder_the_engine_dropped_is_not_reported_as_applied() -> None:
    protected, replacements = protect_terms("cat and dog", [("cat", "michi"), ("dog", "chucho")])
    dropped = " ".join(word for word in protected.split() if word != sorted(replacements)[0])
    restored, came_back = restore_terms(dropped, replacements)
    assert len(came_back) == 1 and restored.count("chucho") + restored.count("michi") == 1


def test_html_text_pieces_are_translated_and_markup_kept() -> None:
    markup = "<p title='x'>Hello <b>world</b></p><script>var a = 'no';</script>  <i>yes</i>"
    out = map_html_text(markup, str.upper)
    assert out == "<p title='x'>HELLO <b>WORLD</b></p><script>var a = 'no';</script>  <i>YES</i>"
    assert html_text("<p>Caf&eacute;</p><style>p{}</style>").split() == ["Café"]


def test_long_text_is_cut_at_sentence_ends_for_the_chat_model() -> None:
    text = "One short sentence. " * 40 + "x" * 30 + " " + "word " * 200
    chunks = sentence_chunks(text, limit=100)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunks[0].endswith(".")


def test_terms_given_to_a_chat_model_are_checked_in_its_output() -> None:
    assert terms_present("The Kitty and the kitten sleep.", ["kitty", "dog"]) == {"kitty"}


def test_html_runs_keep_inline_tags_inside_the_text_they_mark() -> None:
    markup = "<div><p>The <b>cat</b> sleeps.</p><script>x<1</script><p>Yes</p></div>"
    runs = html_runs(markup)
    assert "".join(chunk for _t, chunk in runs) == markup
    assert [chunk for translatable, chunk in runs if translatable] == ["The <b>cat</b> sleeps.", "Yes"]
