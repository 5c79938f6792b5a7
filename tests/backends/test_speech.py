"""The speech backends' pure parts: SSML and plain-text scripts, PLS lexicons, word timing, audio codecs."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from outcrop.backends.packaged import ModelFiles
from outcrop.backends.speech.audio import Audio, AudioDecodeError, decode, encode, probe_format, resample
from outcrop.backends.speech.engines import load_espeak, load_piper
from outcrop.backends.speech.lexicon import LexiconError, alias_spans, parse_lexicon
from outcrop.backends.speech.synth import _fill_gaps
from outcrop.backends.speech.text import (
    Chunk,
    MarkPoint,
    Pause,
    SsmlError,
    plain_script,
    spoken_words,
    ssml_script,
)

LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
  alphabet="x-sampa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme>t@"mA:toU</phoneme></lexeme>
</lexicon>"""


def test_plain_text_splits_sentences_and_keeps_byte_offsets() -> None:
    script = plain_script("Dr. Smith arrived. Café is open! Fine")
    texts = [c.text for c in script.chunks]
    assert texts == ["Dr. Smith arrived.", "Café is open!", "Fine"]
    cafe = script.chunks[1]
    assert cafe.offsets[0] == 19
    assert script.chunks[2].offsets[0] == 19 + len("Café is open! ".encode())


def test_cjk_sentences_split_at_full_stops() -> None:
    text = "\u3053\u3093\u306b\u3061\u306f\u3002\u5143\u6c17\u3067\u3059\u304b\uff1f"
    chunks = plain_script(text).chunks
    assert len(chunks) == 2 and chunks[1].offsets[0] == len(text[:6].encode())


def test_ssml_breaks_marks_prosody_sub_and_say_as() -> None:
    document = (
        '<speak>Hello <break time="1.5s"/> world. <mark name="here"/>'
        '<prosody rate="50%" volume="loud">Slowly.</prosody> <sub alias="World Wide Web">WWW</sub> '
        '<say-as interpret-as="characters">abc</say-as></speak>'
    )
    pieces = ssml_script(document).pieces
    assert isinstance(pieces[1], Pause) and pieces[1].milliseconds == 1500
    mark = next(p for p in pieces if isinstance(p, MarkPoint))
    assert mark.name == "here" and document.encode()[mark.start :].startswith(b"<mark")
    slow = next(p for p in pieces if isinstance(p, Chunk) and p.text == "Slowly.")
    assert slow.rate == 0.5 and slow.gain_db == 6.0 and slow.starts_sentence
    last = [p for p in pieces if isinstance(p, Chunk)][-1]
    assert "World Wide Web" in last.text and "a b c" in last.text
    assert ssml_script(document).characters < len(document)


@pytest.mark.parametrize(
    "document",
    [
        "<speak>unclosed",
        "plain text",
        "<voice>wrong root</voice>",
        "<speak><unknown>x</unknown></speak>",
        '<speak><break time="soon"/></speak>',
        '<speak><prosody rate="500%">x</prosody></speak>',
        '<!DOCTYPE speak [<!ENTITY a "b">]><speak>&a;</speak>',
    ],
)
def test_invalid_ssml_is_refused(document: str) -> None:
    with pytest.raises(SsmlError):
        ssml_script(document)


def test_lexicon_aliases_apply_to_whole_words_only() -> None:
    lexicon = parse_lexicon(LEXICON)
    assert lexicon.language == "en-US" and len(lexicon.lexemes) == 2
    assert lexicon.aliases() == {"W3C": "World Wide Web Consortium"}
    assert alias_spans("The W3C and W3Cx", lexicon.aliases()) == [(4, 7, "World Wide Web Consortium")]
    chunk = plain_script("The W3C met.").chunks[0]
    said, words = spoken_words(chunk, lexicon.aliases())
    assert said == "The World Wide Web Consortium met."
    assert [w.value for w in words] == ["The", "W3C", "met"]
    assert words[1].spoken == ("World", "Wide", "Web", "Consortium")
    assert (words[1].start, words[1].end) == (4, 7)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("<lexicon/>", "invalid"),
        (LEXICON.replace('alphabet="x-sampa"', 'alphabet="arpabet"'), "alphabet"),
        (LEXICON.replace(' xml:lang="en-US"', ""), "language"),
        (LEXICON.replace("World Wide Web Consortium", "x" * 150), "lexeme-length"),
    ],
)
def test_bad_lexicons(content: str, kind: str) -> None:
    with pytest.raises(LexiconError) as info:
        parse_lexicon(content)
    assert info.value.kind == kind


def test_unheard_words_are_placed_between_heard_neighbours() -> None:
    times: list[float | None] = [0.0, None, None, 3.0, None]
    _fill_gaps(times, [2, 2, 2, 2, 2], 5.0)
    assert times[1] is not None and times[2] is not None and times[4] is not None
    assert 0.0 < times[1] < times[2] < 3.0 < times[4] <= 5.0


def _tone(seconds: float = 1.0, rate: int = 22050) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    return Audio((np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16), rate)


@pytest.mark.parametrize(
    ("output_format", "container", "codec"),
    [
        ("mp3", "mp3", "mp3"),
        ("ogg_vorbis", "ogg", "vorbis"),
        ("ogg_opus", "ogg", "opus"),
        ("wav", "wav", None),
    ],
)
def test_each_container_decodes_as_what_it_claims(
    output_format: str, container: str, codec: str | None
) -> None:
    tone = _tone()
    rate = 48000 if output_format == "ogg_opus" else tone.rate
    data = encode(resample(tone, rate), output_format)
    assert probe_format(data) == container
    with av.open(io.BytesIO(data)) as opened:
        if codec:
            assert opened.streams.audio[0].codec_context.name.startswith(codec)
    decoded = decode(data)
    assert abs(len(decoded) / 16000 - 1.0) < 0.1
    assert np.abs(decoded).max() > 0.1


def test_raw_formats_have_the_expected_sizes() -> None:
    tone = resample(_tone(), 8000)
    assert len(encode(tone, "pcm")) == 2 * len(tone.samples)
    assert len(encode(tone, "mulaw")) == len(tone.samples)


def test_garbage_is_not_audio() -> None:
    with pytest.raises(AudioDecodeError):
        decode(b"this is not audio at all" * 50)


@pytest.mark.real
def test_piper_child_recovers_from_a_line_it_cannot_say(tmp_path: Path) -> None:
    voice = load_piper("piper", {}, ModelFiles(tmp_path))
    try:
        assert (
            voice.speak("\u0663", 1.0).seconds == 0.0
        )  # an Arabic-Indic digit: no English phonemes, no audio
        first = voice.speak("Still speaking.", 1.0)
        slower = voice.speak("Still speaking.", 0.5)
        assert first.rate == 22050 and first.seconds > 0.4
        assert slower.seconds > 1.5 * first.seconds  # half the rate takes about twice as long
    finally:
        voice.close()


def test_espeak_voice_speaks(tmp_path: Path) -> None:
    audio = load_espeak("espeak-ng", {}, ModelFiles(tmp_path)).speak("Guten Morgen.", 1.0, "de")
    assert audio.rate == 22050 and 0.3 < audio.seconds < 5
