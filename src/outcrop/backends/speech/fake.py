"""Deterministic speech fakes for `--fake-models`: fast tests and offline demos, no model files.

The fake synthesizer says each word as a tone burst whose length grows with the word's length (and shrinks
with the speaking rate), with short gaps between words; the fake transcriber hears those bursts back as
words, with their real times. Its words come from the hotwords it is primed with, or from a fixed list, so
a transcript is reproducible, word timings are honest, and the number of words matches what was said.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from outcrop.backends.speech.audio import Audio, empty
from outcrop.backends.speech.protocols import SAMPLE_RATE, Samples, Segment, Transcription, Word
from outcrop.backends.speech.whisper import LANGUAGES

FAKE_RATE = 22050  # as the real speech programs write
CHARACTER_MS = 60  # a word lasts 40 ms plus this per character, at rate 1.0
WORD_GAP_MS = 80
FRAME_MS = 10
_VOCABULARY = ("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog")
# A fixed guess over a few languages for the multilingual fake; English wins unless options exclude it.
_GUESS = {"en": 0.82, "es": 0.08, "fr": 0.05, "de": 0.03, "it": 0.02}


class FakeSynthesizer:
    """Tone bursts, one per word; the voice name shifts the pitch so voices differ."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def speak(self, sentence: str, rate: float, voice: str | None = None) -> Audio:
        words = re.findall(r"\w+", sentence)
        if not words:
            return empty(FAKE_RATE)
        pace = max(0.2, min(rate, 4.0))
        base = 180 + zlib.crc32((voice or self.model_id).encode()) % 120
        pieces: list[npt.NDArray[np.float32]] = []
        for index, word in enumerate(words):
            if index:
                pieces.append(np.zeros(_samples(WORD_GAP_MS / pace), dtype=np.float32))
            length = _samples((40 + CHARACTER_MS * len(word)) / pace)
            pitch = base + zlib.crc32(word.lower().encode()) % 400
            t = np.arange(length) / FAKE_RATE
            fade = np.minimum(1.0, np.minimum(np.arange(length), np.arange(length)[::-1]) / 100)
            pieces.append((np.sin(2 * np.pi * pitch * t) * fade).astype(np.float32))
        signal = np.concatenate(pieces) * 0.3 * 32767
        return Audio(signal.astype(np.int16), FAKE_RATE)

    def phonemes(self, words: list[str], voice: str) -> list[str]:
        """Each letter read as the IPA phoneme written alike ("map" → "m_a_p"): deterministic visemes."""
        return ["_".join(c for c in word.lower() if c.isalpha()) for word in words]


def _samples(milliseconds: float, rate: int = FAKE_RATE) -> int:
    return round(rate * milliseconds / 1000)


def _runs(audio: Samples, min_gap_ms: int) -> list[tuple[int, int]]:
    """(start, end) samples of the stretches louder than a whisper, joined across gaps under `min_gap_ms`."""
    frame = SAMPLE_RATE * FRAME_MS // 1000
    count = len(audio) // frame
    if not count:
        return []
    loudness = np.sqrt(np.mean(np.square(audio[: count * frame].reshape(count, frame)), axis=1))
    loud = np.flatnonzero(loudness > 0.01)
    runs: list[tuple[int, int]] = []
    for index in loud:
        if runs and (index - runs[-1][1]) * FRAME_MS < min_gap_ms:
            runs[-1] = (runs[-1][0], int(index) + 1)
        else:
            runs.append((int(index), int(index) + 1))
    return [(start * frame, end * frame) for start, end in runs]


class FakeTranscriber:
    """Hears each burst of sound as a word; segments split at pauses, as the fake synthesizer leaves them."""

    def __init__(self, model_id: str, *, multilingual: bool = True) -> None:
        self.model_id = model_id
        self.multilingual = multilingual

    @property
    def languages(self) -> tuple[str, ...]:
        return LANGUAGES if self.multilingual else ("en",)

    def speech_spans(self, audio: Samples, min_silence_ms: int = 400) -> list[tuple[int, int]]:
        return _runs(audio, min_silence_ms)

    def language_probabilities(self, audio: Samples) -> dict[str, float]:
        return dict(_GUESS) if self.multilingual else {"en": 1.0}

    def transcribe(
        self, audio: Samples, language: str | None = None, *, beam_size: int = 5, hotwords: str | None = None
    ) -> Transcription:
        probabilities = self.language_probabilities(audio)
        if not self.multilingual:
            language = "en"
        found = language or max(probabilities, key=lambda code: probabilities[code])
        vocabulary = tuple((hotwords or "").split()) or _VOCABULARY
        segments: list[Segment] = []
        said = 0
        for start, end in _runs(audio, 400):
            words: list[Word] = []
            for word_start, word_end in _runs(audio[start:end], WORD_GAP_MS // 2):
                text = vocabulary[said % len(vocabulary)]
                said += 1
                begin, finish = (start + word_start) / SAMPLE_RATE, (start + word_end) / SAMPLE_RATE
                words.append(Word(text, round(begin, 3), round(finish, 3), 0.9))
            if words:
                words[-1] = Word(words[-1].text + ".", words[-1].start, words[-1].end, 0.9)
                text = " " + " ".join(w.text for w in words)
                segments.append(Segment(text, words[0].start, words[-1].end, words))
        return Transcription(
            language=found,
            language_probability=probabilities.get(found, 0.0),
            duration=len(audio) / SAMPLE_RATE,
            segments=segments,
            language_probabilities=probabilities,
        )


def fake_synthesizer(name: str, config: Mapping[str, Any]) -> FakeSynthesizer:
    """The text-to-speech kind's fake."""
    return FakeSynthesizer(name)


def fake_transcriber(name: str, config: Mapping[str, Any]) -> FakeTranscriber:
    """The speech-to-text kind's fake; `multilingual` as the catalog entry says."""
    return FakeTranscriber(name, multilingual=bool(config.get("multilingual", True)))
