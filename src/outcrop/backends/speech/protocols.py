"""The two speech kinds of the model registry, as Protocols, and the values they exchange.

`speech-to-text` models (a `Transcriber`) take mono float32 samples at 16 kHz and give timed words;
`text-to-speech` models (a `Synthesizer`) say one sentence at a speaking rate. Nothing here knows about AWS
or about any one runtime: faster-whisper, piper, espeak-ng and the fakes all fit these shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from outcrop.backends.speech.audio import Audio

SAMPLE_RATE = 16000  # what every Transcriber takes
Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Word:
    text: str  # as the model wrote it, without the leading space, punctuation attached
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    text: str
    start: float
    end: float
    words: list[Word]


@dataclass(frozen=True)
class Transcription:
    language: str  # Whisper's code: 'en', 'es'...
    language_probability: float
    duration: float
    segments: list[Segment]
    language_probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


@runtime_checkable
class Transcriber(Protocol):
    """Speech to timed words. Safe to call from several threads (an implementation may serialise)."""

    model_id: str
    multilingual: bool  # False: English only, and `language` is ignored

    @property
    def languages(self) -> tuple[str, ...]:
        """The (Whisper) codes of the languages this model transcribes."""
        ...

    def transcribe(
        self, audio: Samples, language: str | None = None, *, beam_size: int = 5, hotwords: str | None = None
    ) -> Transcription:
        """Words with times and probabilities; `language` None lets the model identify it; `hotwords`
        primes the decoder with spellings to expect."""
        ...

    def language_probabilities(self, audio: Samples) -> dict[str, float]:
        """The probability of each language the model knows, from the first stretch of speech."""
        ...

    def speech_spans(self, audio: Samples, min_silence_ms: int = 400) -> list[tuple[int, int]]:
        """(start, end) sample indices of the stretches of speech, split at pauses of `min_silence_ms`."""
        ...


@runtime_checkable
class Synthesizer(Protocol):
    """Text to speech, one sentence at a time (the caller splits text and inserts pauses)."""

    model_id: str

    def speak(self, sentence: str, rate: float, voice: str | None = None) -> Audio:
        """One sentence (it must hold a letter or digit) at `rate` times the normal speed. `voice` picks
        one of the engine's voices where it has several (espeak-ng: 'fr-fr+f2'); None is its default."""
        ...


@runtime_checkable
class Phonemizer(Protocol):
    """Words to phonemes, for viseme speech marks (espeak-ng's IPA; piper's voices use the same)."""

    def phonemes(self, words: list[str], voice: str) -> list[str]:
        """Each word's IPA phonemes joined by "_" ("k_a_t" style), in `voice`'s language (an espeak-ng
        voice such as 'en-us' or 'fr-fr')."""
        ...
