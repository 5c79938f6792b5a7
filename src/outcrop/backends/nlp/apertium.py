"""Runtime "apertium" (kind translation): Debian's apertium pairs, kept running as subprocesses (GPL).

Catalog keys: `modes_dir` (default /usr/share/apertium/modes, where the apertium-* Debian packages put
their pairs). Every installed plain pair whose two languages have an ISO 639-1 code here is served.

Starting a pair's pipeline loads a dozen transducers (about a second); afterwards a sentence takes a few
milliseconds. So each pair runs once, in null-flush mode (every tool flushes its output at a NUL byte),
and requests are fed to it one at a time. Text and HTML are put into apertium's stream format here:
special characters escaped, and markup, entities and line breaks carried as "superblanks" (`[...]`),
which every stage passes through untouched and in place.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from outcrop.backends.base import BackendError, BackendUnavailable
from outcrop.backends.nlp.protocols import Format, Pair
from outcrop.backends.packaged import ModelFiles

MODES_DIR = Path("/usr/share/apertium/modes")
# Plain pair modes only ("eng-spa", "es-pt"): variants ("spa-eng_US") and tool modes are left out.
_PAIR_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_SPECIAL = frozenset("[]^$/<>@\\{}*~#+|")
# A stream must end with a blank before the NUL, or the analyser holds back the last word.
_END = "[][\n]"
_HTML_PIECES = re.compile(r"(?is)(<(script|style)\b.*?</\2\s*>|<!--.*?-->|<[^>]*>|&#?\w+;)")
_LINE_BREAKS = re.compile(r"(\s*\n\s*)")
# Apertium names languages by ISO 639-3 or 639-1 code; only those with an AWS Translate code are offered.
APERTIUM_CODES = {
    "eng": "en", "en": "en", "spa": "es", "es": "es", "cat": "ca", "ca": "ca", "fra": "fr", "fr": "fr",
    "por": "pt", "pt": "pt", "ita": "it", "it": "it", "deu": "de", "de": "de", "nld": "nl", "nl": "nl",
    "glg": "gl", "gl": "gl", "ron": "ro", "ro": "ro", "dan": "da", "swe": "sv", "isl": "is",
}  # fmt: skip


def installed_modes(modes_dir: Path = MODES_DIR) -> list[tuple[str, str, str]]:
    """(mode, source code, target code) of every installed plain pair mode; codes as apertium names them."""
    if shutil.which("apertium-wblank-mode") is None or not modes_dir.is_dir():
        return []
    found = []
    for path in sorted(modes_dir.glob("*.mode")):
        match = _PAIR_MODE.match(path.stem)
        if match:
            found.append((path.stem, match.group(1), match.group(2)))
    return found


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _superblank(raw: str) -> str:
    return "[" + _escape(raw) + "]"


def to_stream(text: str, fmt: Format) -> str:
    """Text or HTML in apertium's stream format: words to translate, everything else as superblanks."""
    if fmt == "html":
        pieces = _HTML_PIECES.split(text)
        out = []
        # split() with two groups yields: text, whole match, inner group, text, ...
        for index in range(0, len(pieces), 3):
            out.append(_text_to_stream(pieces[index]))
            if index + 1 < len(pieces):
                out.append(_superblank(pieces[index + 1]))
        return "".join(out)
    return _text_to_stream(text)


def _text_to_stream(text: str) -> str:
    parts = _LINE_BREAKS.split(text)
    return "".join(_superblank(part) if index % 2 else _escape(part) for index, part in enumerate(parts))


def from_stream(stream: str) -> str:
    """Apertium's output back to plain characters: escapes undone, superblanks unwrapped."""
    if stream.endswith(_END):
        stream = stream[: -len(_END)]
    out: list[str] = []
    index, length = 0, len(stream)
    while index < length:
        char = stream[index]
        if char == "\\" and index + 1 < length:
            out.append(stream[index + 1])
            index += 2
        elif char in "[]":  # superblank brackets; escaped brackets were handled above
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


class ApertiumPipeline:
    """One pair's pipeline, started on first use and restarted if it dies or stalls."""

    def __init__(self, mode: str, modes_dir: Path = MODES_DIR, timeout_s: float = 60.0) -> None:
        self.mode = mode
        self._mode_file = modes_dir / f"{mode}.mode"
        self._timeout_s = timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._pending = bytearray()
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if shutil.which("apertium-wblank-mode") is None:
            raise BackendUnavailable("apertium is not installed: apt-get install apertium apertium-eng-spa")
        script = subprocess.run(
            ["apertium-wblank-mode", "-z", str(self._mode_file)], capture_output=True, text=True, check=False
        )
        if script.returncode != 0 or not script.stdout.strip():
            raise BackendUnavailable(
                f"apertium mode {self.mode} is not usable: {script.stderr.strip()[:300]}"
            )
        # $1 = "-n": generate unknown words as they are (no "*" mark); $2: no extra tagger options.
        process = subprocess.Popen(
            ["bash", "-c", script.stdout, f"apertium-{self.mode}", "-n", ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._pending.clear()
        return process

    def translate(self, text: str, fmt: Format = "txt") -> str:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            try:
                return from_stream(self._exchange(self._process, to_stream(text, fmt) + _END))
            except (OSError, BackendError):
                self._stop()
                raise

    def _exchange(self, process: subprocess.Popen[bytes], stream: str) -> str:
        assert process.stdin is not None and process.stdout is not None
        stdin = process.stdin
        failed: list[OSError] = []

        def feed() -> None:
            # In its own thread: a long document fills the pipes both ways, so writing and reading at
            # once is what keeps the pipeline moving.
            try:
                stdin.write(stream.encode("utf-8") + b"\0")
                stdin.flush()
            except OSError as error:
                failed.append(error)

        writer = threading.Thread(target=feed, name=f"apertium-{self.mode}-feed", daemon=True)
        writer.start()
        try:
            return self._read_answer(process)
        finally:
            writer.join(timeout=1)
            if failed:
                raise BackendError(f"apertium {self.mode} stopped reading its input: {failed[0]}")

    def _read_answer(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + self._timeout_s
        while b"\0" not in self._pending:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise BackendError(f"apertium {self.mode} gave no answer in {self._timeout_s:.0f} s")
            chunk = os.read(process.stdout.fileno(), 1 << 16)
            if not chunk:
                raise BackendError(f"apertium {self.mode} exited (code {process.poll()})")
            self._pending += chunk
        answer, _, rest = bytes(self._pending).partition(b"\0")
        # Some stages echo extra NULs at a flush; they carry nothing.
        self._pending = bytearray(rest.lstrip(b"\0"))
        return answer.decode("utf-8", errors="replace")

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _tidy(translated: str, original: str) -> str:
    """Apertium output with the input's outer whitespace, and no space left where a pronoun was dropped."""
    lines = [re.sub(r"(?<=\S) {2,}", " ", line).lstrip(" ") for line in translated.strip("\n").split("\n")]
    body = "\n".join(lines).strip()
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return lead + body + trail


class Apertium:
    """Every installed pair's pipeline, each started on first use (the Translator of kind translation)."""

    keeps_placeholders = True  # an unknown word passes through untouched

    def __init__(self, model_id: str = "apertium", modes_dir: Path = MODES_DIR) -> None:
        self.model_id = model_id
        self._modes_dir = modes_dir
        self._modes: dict[Pair, str] = {}
        for mode, source, target in installed_modes(modes_dir):
            if source in APERTIUM_CODES and target in APERTIUM_CODES:
                self._modes[(APERTIUM_CODES[source], APERTIUM_CODES[target])] = mode
        self._pipelines: dict[str, ApertiumPipeline] = {}
        self._lock = threading.Lock()

    def pairs(self) -> frozenset[Pair]:
        return frozenset(self._modes)

    def translate(self, text: str, pair: Pair, fmt: Format = "txt") -> str:
        mode = self._modes.get(pair)
        if mode is None:
            raise BackendUnavailable(
                f"no apertium pair {pair[0]}-{pair[1]} is installed here (its Debian package, e.g. "
                "apt-get install apertium-eng-spa, provides one)"
            )
        with self._lock:
            pipeline = self._pipelines.setdefault(mode, ApertiumPipeline(mode, self._modes_dir))
        translated = pipeline.translate(text, fmt)
        return translated if fmt == "html" else _tidy(translated, text)

    def close(self) -> None:
        with self._lock:
            pipelines, self._pipelines = list(self._pipelines.values()), {}
        for pipeline in pipelines:
            pipeline.close()


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> Apertium:
    """The registry's loader: the installed pairs are listed now, each pipeline starts on first use.

    With apertium missing it serves no pair (its pairs are what is installed), rather than failing."""
    return Apertium(name, Path(str(config.get("modes_dir", MODES_DIR))))
