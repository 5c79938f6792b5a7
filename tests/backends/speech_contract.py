"""The Synthesizer and Transcriber contracts: every speech runtime (fakes, piper, espeak-ng, Whisper) passes
these by providing the fixtures each class names."""

from __future__ import annotations

import numpy as np
import pytest

from outcrop.backends.speech.audio import Audio, resample, silence
from outcrop.backends.speech.protocols import SAMPLE_RATE, Samples, Synthesizer, Transcriber

SENTENCE = "The quick brown fox jumps over the lazy dog."


def as_samples(audio: Audio) -> Samples:
    """What a Transcriber takes: float32 at 16 kHz."""
    return (resample(audio, SAMPLE_RATE).samples / 32768.0).astype(np.float32)


class SynthesizerContract:
    """Subclass and provide a `synthesizer` fixture; `voice` is one of its voices (None: the default)."""

    @pytest.fixture
    def voice(self) -> str | None:
        return None

    def test_is_a_synthesizer(self, synthesizer: Synthesizer) -> None:
        assert isinstance(synthesizer, Synthesizer)
        assert isinstance(synthesizer.model_id, str) and synthesizer.model_id

    def test_a_sentence_is_audible_mono_speech(self, synthesizer: Synthesizer, voice: str | None) -> None:
        audio = synthesizer.speak(SENTENCE, 1.0, voice)
        assert audio.samples.dtype == np.int16 and audio.samples.ndim == 1
        assert audio.rate >= 16000
        assert 1.0 < audio.seconds < 8.0
        assert int(np.abs(audio.samples).max()) > 2000

    def test_longer_text_takes_longer(self, synthesizer: Synthesizer, voice: str | None) -> None:
        short = synthesizer.speak("Good morning.", 1.0, voice)
        long = synthesizer.speak("Good morning to everyone who came here today from far away.", 1.0, voice)
        assert long.seconds > 1.5 * short.seconds

    def test_a_slower_rate_takes_longer(self, synthesizer: Synthesizer, voice: str | None) -> None:
        normal = synthesizer.speak(SENTENCE, 1.0, voice)
        slow = synthesizer.speak(SENTENCE, 0.5, voice)
        assert slow.seconds > 1.4 * normal.seconds


class TranscriberContract:
    """Subclass and provide a `transcriber` fixture and a `speaker` fixture (a Synthesizer of English)
    whose speech the transcriber is expected to hear."""

    @pytest.fixture
    def speech(self, speaker: Synthesizer) -> Samples:
        return as_samples(speaker.speak(SENTENCE, 1.0))

    def test_is_a_transcriber(self, transcriber: Transcriber) -> None:
        assert isinstance(transcriber, Transcriber)
        assert isinstance(transcriber.model_id, str) and transcriber.model_id

    def test_languages(self, transcriber: Transcriber) -> None:
        languages = transcriber.languages
        assert "en" in languages and "ckb" not in languages
        if transcriber.multilingual:
            assert {"es", "fr", "de", "ja"} <= set(languages)
        else:
            assert languages == ("en",)

    def test_words_are_timed_within_the_audio(self, transcriber: Transcriber, speech: Samples) -> None:
        result = transcriber.transcribe(speech, "en")
        duration = len(speech) / SAMPLE_RATE
        assert result.language == "en"
        assert abs(result.duration - duration) < 0.01
        words = result.words
        assert 7 <= len(words) <= 11, result.text  # nine words were said
        starts = [w.start for w in words]
        assert starts == sorted(starts)
        for word in words:
            assert word.text and word.text == word.text.strip()
            assert 0.0 <= word.start <= word.end <= duration + 0.1
            assert 0.0 <= word.probability <= 1.0
        assert result.text.strip()
        for segment in result.segments:
            assert segment.start <= segment.end
            assert all(segment.start - 0.5 <= w.start <= segment.end + 0.5 for w in segment.words)

    def test_the_language_of_english_speech_is_found(self, transcriber: Transcriber, speech: Samples) -> None:
        probabilities = transcriber.language_probabilities(speech)
        assert all(0.0 <= p <= 1.0 for p in probabilities.values())
        assert sum(probabilities.values()) <= 1.0001
        assert max(probabilities, key=lambda code: probabilities[code]) == "en"
        if not transcriber.multilingual:
            assert probabilities == {"en": 1.0}
        assert transcriber.transcribe(speech).language == "en"

    def test_speech_spans_split_at_a_pause(self, transcriber: Transcriber, speaker: Synthesizer) -> None:
        first = speaker.speak("Good morning everyone.", 1.0)
        second = speaker.speak("The meeting starts at nine.", 1.0)
        joined = as_samples(first + silence(1500, first.rate) + second)
        spans = transcriber.speech_spans(joined)
        assert len(spans) == 2, spans
        (start1, end1), (start2, end2) = spans
        assert 0 <= start1 < end1 < start2 < end2 <= len(joined)
        pause_start = round(first.seconds * SAMPLE_RATE)
        assert end1 <= pause_start + 0.3 * SAMPLE_RATE
        assert start2 >= pause_start + 1.2 * SAMPLE_RATE
        assert transcriber.speech_spans(np.zeros(SAMPLE_RATE, dtype=np.float32)) == []
