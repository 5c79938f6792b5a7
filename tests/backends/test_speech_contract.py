"""The speech contracts run against the fakes and against the bundled catalog's real speech models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from outcrop.backends.registry import ModelRegistry
from outcrop.backends.speech.fake import FakeSynthesizer, FakeTranscriber
from outcrop.backends.speech.protocols import Synthesizer, Transcriber
from outcrop.catalog import BUNDLED, load_catalog

from .conftest import model_dir
from .speech_contract import SENTENCE, SynthesizerContract, TranscriberContract, as_samples

SPEECH_KINDS = ("speech-to-text", "text-to-speech")
real = pytest.mark.real


@pytest.fixture(scope="session")
def speech_registry() -> Iterator[ModelRegistry]:
    """The bundled catalog's speech models, real, loaded once for the whole session."""
    local = {n: t for n, t in load_catalog(BUNDLED).local.items() if t.get("kind") in SPEECH_KINDS}
    registry = ModelRegistry(local, model_dir())
    yield registry
    registry.close()


class TestFakeSynthesizer(SynthesizerContract):
    @pytest.fixture(params=[None, "fr-fr+f2"])
    def voice(self, request: pytest.FixtureRequest) -> str | None:
        value: str | None = request.param
        return value

    @pytest.fixture
    def synthesizer(self) -> Synthesizer:
        return FakeSynthesizer("fake-voice")


@real
class TestPiper(SynthesizerContract):
    @pytest.fixture
    def synthesizer(self, speech_registry: ModelRegistry) -> Synthesizer:
        found: Synthesizer = speech_registry.get("piper-en-us-joe", "text-to-speech")
        return found


class TestEspeak(SynthesizerContract):
    """espeak-ng is a Debian program that starts in milliseconds: fast enough for every run."""

    @pytest.fixture(params=[None, "de", "es+f2"])
    def voice(self, request: pytest.FixtureRequest) -> str | None:
        value: str | None = request.param
        return value

    @pytest.fixture
    def synthesizer(self, speech_registry: ModelRegistry) -> Synthesizer:
        found: Synthesizer = speech_registry.get("espeak-ng", "text-to-speech")
        return found


class TestFakeTranscriber(TranscriberContract):
    @pytest.fixture(params=[True, False], ids=["multilingual", "english"])
    def transcriber(self, request: pytest.FixtureRequest) -> Transcriber:
        return FakeTranscriber("fake-whisper", multilingual=request.param)

    @pytest.fixture
    def speaker(self) -> Synthesizer:
        return FakeSynthesizer("fake-voice")


@real
class TestWhisper(TranscriberContract):
    @pytest.fixture(params=["whisper-base", "whisper-tiny.en"])
    def transcriber(self, request: pytest.FixtureRequest, speech_registry: ModelRegistry) -> Transcriber:
        found: Transcriber = speech_registry.get(request.param, "speech-to-text")
        return found

    @pytest.fixture
    def speaker(self, speech_registry: ModelRegistry) -> Synthesizer:
        found: Synthesizer = speech_registry.get("piper-en-us-joe", "text-to-speech")
        return found


def test_the_fakes_hear_what_they_say_word_for_word() -> None:
    audio = FakeSynthesizer("voice").speak(SENTENCE, 1.0)
    heard = FakeTranscriber("ears").transcribe(as_samples(audio), hotwords="alpha beta")
    assert [w.text for w in heard.words] == ["alpha", "beta"] * 4 + ["alpha."]
    again = FakeTranscriber("ears").transcribe(as_samples(audio), hotwords="alpha beta")
    assert again == heard  # deterministic
    assert FakeSynthesizer("voice").speak("", 1.0).seconds == 0.0


def test_fake_mode_serves_the_speech_fakes(tmp_path: Path) -> None:
    local = {n: t for n, t in load_catalog(BUNDLED).local.items() if t.get("kind") in SPEECH_KINDS}
    registry = ModelRegistry(local, tmp_path, fake=True)
    english = registry.get("whisper-tiny.en", "speech-to-text")
    assert isinstance(english, FakeTranscriber) and not english.multilingual
    assert registry.get("whisper-base", "speech-to-text").multilingual
    assert isinstance(registry.get("piper-en-us-joe", "text-to-speech"), FakeSynthesizer)
    assert list(tmp_path.iterdir()) == []  # nothing assembled


@real
def test_whisper_languages_are_faster_whispers(speech_registry: ModelRegistry) -> None:
    tokenizer = pytest.importorskip("faster_whisper.tokenizer")
    base: Transcriber = speech_registry.get("whisper-base", "speech-to-text")
    assert base.languages == tuple(tokenizer._LANGUAGE_CODES)


@real
def test_the_joined_whisper_weights_are_cached_once_and_checked(speech_registry: ModelRegistry) -> None:
    speech_registry.get("whisper-base", "speech-to-text")
    folder = model_dir() / "whisper-base"
    assert (folder / "model.bin").is_file() and (folder / "model.bin.verified").is_file()
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    assert not [p for p in model_dir().iterdir() if p.name.startswith(".whisper-base.")]  # no staging left


def test_a_bad_digest_is_refused(tmp_path: Path) -> None:
    entry = dict(load_catalog(BUNDLED).local["whisper-tiny.en"]) | {"sha256": "0" * 64}
    registry = ModelRegistry({"tiny": entry}, tmp_path)
    with pytest.raises(Exception, match="SHA-256"):
        registry.get("tiny", "speech-to-text")
    assert registry.states()["tiny"]["state"] == "failed"


def test_silence_has_no_words() -> None:
    assert FakeTranscriber("ears").transcribe(np.zeros(16000, dtype=np.float32)).words == []
