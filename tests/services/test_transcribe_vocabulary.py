"""Transcribe's vocabulary table as AWS's own example writes it (Phrase, IPA, SoundsLike, DisplayAs)."""

from __future__ import annotations

import pytest

from outcrop.jobs.transcription_vocabulary import VocabularyError, phrases_from_file


def test_display_as_may_hold_spaces_and_is_what_the_model_hears() -> None:
    table = "Phrase\tIPA\tSoundsLike\tDisplayAs\nhe-chortled\t\t\the chortled\nOutcrop\t\t\t\n"
    assert phrases_from_file(table) == ["he chortled", "Outcrop"]


def test_the_phrase_column_still_may_not_hold_a_space() -> None:
    with pytest.raises(VocabularyError, match="contains a space"):
        phrases_from_file("Phrase\tIPA\tSoundsLike\tDisplayAs\nhe chortled\t\t\the chortled\n")
