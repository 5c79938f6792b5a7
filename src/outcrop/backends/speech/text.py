"""What to say: plain text or SSML turned into spoken chunks, pauses and marks, keeping where every
character came from (its UTF-8 byte offset in the input, which speech marks report).

A chunk is what one call to a speech program says: at most one sentence, one speaking rate and volume.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field

from outcrop.backends.speech.lexicon import alias_spans


class SsmlError(ValueError):
    """The SSML is not well-formed or uses an element or value outside what is served."""


@dataclass
class Chunk:
    text: str
    offsets: list[int]  # byte offset in the input of each character of `text`
    rate: float = 1.0
    gain_db: float = 0.0
    starts_sentence: bool = True

    @property
    def speakable(self) -> bool:
        return any(c.isalnum() for c in self.text)


@dataclass(frozen=True)
class Pause:
    milliseconds: int


@dataclass(frozen=True)
class MarkPoint:
    name: str
    start: int
    end: int


Piece = Chunk | Pause | MarkPoint


@dataclass(frozen=True)
class WordRef:
    value: str  # as written in the input
    start: int  # byte offsets in the input
    end: int
    spoken: tuple[str, ...]  # the words actually said for it (a lexicon alias may say several)


@dataclass
class Script:
    pieces: list[Piece] = field(default_factory=list)
    characters: int = 0  # characters billed: the text without markup

    @property
    def chunks(self) -> list[Chunk]:
        return [p for p in self.pieces if isinstance(p, Chunk)]


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|(?<=[\u3002\uff01\uff1f])\s*(?=\S)")  # and CJK full stops
_ABBREVIATION = re.compile(r"(?<!\w)(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|Mt|vs|etc|e\.g|i\.e|[A-Z])\.$")
_WORD = re.compile(r"\w+(?:['\u2019.\-]\w+)*")
_BREAK_STRENGTH_MS = {"none": 0, "x-weak": 0, "weak": 250, "medium": 400, "strong": 700, "x-strong": 1200}
_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "fast": 1.25, "x-fast": 1.5}
_VOLUMES_DB = {"silent": -96.0, "x-soft": -10.0, "soft": -6.0, "medium": 0.0, "loud": 6.0, "x-loud": 10.0}
_PASS_THROUGH = {
    "speak",
    "emphasis",
    "lang",
    "phoneme",
    "w",
    "amazon:effect",
    "amazon:auto-breaths",
    "amazon:breath",
    "amazon:domain",
}
_BOUNDARIES = {"p", "s"}
MAX_BREAK_MS = 10_000


def byte_offsets(text: str, start: int = 0) -> list[int]:
    offsets = []
    position = start
    for char in text:
        offsets.append(position)
        position += len(char.encode())
    return offsets


def plain_script(text: str) -> Script:
    script = Script(characters=len(text))
    script.pieces = _split_sentences(Chunk(text, byte_offsets(text)))
    return script


def _split_sentences(chunk: Chunk) -> list[Piece]:
    pieces: list[Piece] = []
    start = 0
    starts = chunk.starts_sentence
    ends = [
        m for m in _SENTENCE_END.finditer(chunk.text) if not _ABBREVIATION.search(chunk.text, 0, m.start())
    ]
    for match in [*ends, None]:
        end = match.start() if match else len(chunk.text)
        text = chunk.text[start:end]
        lead = len(text) - len(text.lstrip())
        if text.strip():
            pieces.append(
                Chunk(
                    text.strip(),
                    chunk.offsets[start + lead : start + lead + len(text.strip())],
                    chunk.rate,
                    chunk.gain_db,
                    starts,
                )
            )
        starts = True
        if match:
            start = match.end()
    return pieces


def _percent(value: str, low: float, high: float, what: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)%\s*", value)
    if not match or not low <= float(match.group(1)) <= high:
        raise SsmlError(f"invalid {what} {value!r}: use a keyword or a percentage from {low:g}% to {high:g}%")
    return float(match.group(1)) / 100.0


def _break_ms(attributes: dict[str, str]) -> int:
    if "time" in attributes:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", attributes["time"])
        if not match:
            raise SsmlError(f"invalid break time {attributes['time']!r}: use e.g. 500ms or 2s")
        milliseconds = float(match.group(1)) * (1000 if match.group(2) == "s" else 1)
        return int(min(milliseconds, MAX_BREAK_MS))
    strength = attributes.get("strength", "medium")
    if strength not in _BREAK_STRENGTH_MS:
        raise SsmlError(f"invalid break strength {strength!r}")
    return _BREAK_STRENGTH_MS[strength]


def _rate(value: str) -> float:
    return _RATES[value] if value in _RATES else _percent(value, 20, 200, "prosody rate")


def _gain_db(value: str) -> float:
    if value in _VOLUMES_DB:
        return _VOLUMES_DB[value]
    match = re.fullmatch(r"\s*([+-]\d+(?:\.\d+)?)dB\s*", value)
    if not match:
        raise SsmlError(f"invalid prosody volume {value!r}")
    return float(match.group(1))


def _say_as(text: str, interpret_as: str) -> str:
    """The cheap say-as kinds: letters and digits one by one; the others are read as written."""
    if interpret_as in ("characters", "spell-out"):
        return " ".join(c for c in text if not c.isspace())
    if interpret_as == "digits":
        return " ".join(c for c in text if c.isdigit())
    if interpret_as == "telephone":
        return ", ".join(" ".join(d for d in group) for group in re.findall(r"\d+", text))
    return text


class _SsmlReader:
    def __init__(self) -> None:
        self.script = Script()
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.stack: list[tuple[str, float, float]] = []  # tag, rate, gain
        self.rate = 1.0
        self.gain_db = 0.0
        self.skip_depth = 0  # inside <sub>, whose alias was said instead
        self.say_as: tuple[str, int, list[str]] | None = None  # interpret-as, start byte, collected text
        self.buffer: Chunk | None = None
        self.boundary = True
        self.root_seen = False

    def flush(self) -> None:
        if self.buffer is not None and self.buffer.text.strip():
            self.script.pieces.extend(_split_sentences(self.buffer))
            if self.buffer.text.rstrip().endswith((".", "!", "?")):
                self.boundary = True
        self.buffer = None

    def emit(self, text: str, offsets: list[int]) -> None:
        self.script.characters += len(text)
        buffer = self.buffer
        if buffer is not None and (buffer.rate, buffer.gain_db) != (self.rate, self.gain_db):
            self.flush()
            buffer = None
        if buffer is None:
            self.buffer = Chunk(text, offsets, self.rate, self.gain_db, self.boundary)
            self.boundary = False
        else:
            buffer.text += text
            buffer.offsets += offsets

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        here = self.parser.CurrentByteIndex
        if not self.root_seen:
            if tag != "speak":
                raise SsmlError("the SSML document must have <speak> as its root element")
            self.root_seen = True
        self.stack.append((tag, self.rate, self.gain_db))
        if self.skip_depth:
            self.skip_depth += 1
            return
        if tag == "break":
            self.flush()
            self.script.pieces.append(Pause(_break_ms(attributes)))
        elif tag == "mark":
            if "name" not in attributes:
                raise SsmlError("<mark> needs a name attribute")
            self.flush()
            self.script.pieces.append(MarkPoint(attributes["name"], here, here))
        elif tag == "prosody":
            if "rate" in attributes:
                self.rate = self.rate * _rate(attributes["rate"])
            if "volume" in attributes:
                self.gain_db = self.gain_db + _gain_db(attributes["volume"])
        elif tag == "sub":
            if "alias" not in attributes:
                raise SsmlError("<sub> needs an alias attribute")
            self.emit(attributes["alias"], [here] * len(attributes["alias"]))
            self.skip_depth = 1
        elif tag == "say-as":
            if "interpret-as" not in attributes:
                raise SsmlError("<say-as> needs an interpret-as attribute")
            self.say_as = (attributes["interpret-as"], here, [])
        elif tag in _BOUNDARIES:
            self.flush()
            self.boundary = True
        elif tag not in _PASS_THROUGH:
            raise SsmlError(f"unsupported SSML element <{tag}>")

    def end(self, tag: str) -> None:
        _, self.rate, self.gain_db = self.stack.pop()
        if self.skip_depth:
            self.skip_depth -= 1
            return
        if tag == "say-as" and self.say_as is not None:
            interpret_as, start, parts = self.say_as
            self.say_as = None
            spoken = _say_as("".join(parts), interpret_as)
            self.emit(f" {spoken} ", [start] * (len(spoken) + 2))
        elif tag in _BOUNDARIES:
            self.flush()
            self.boundary = True

    def text(self, data: str) -> None:
        if self.skip_depth or not self.stack:
            return
        if self.say_as is not None:
            self.say_as[2].append(data)
            return
        self.emit(data, byte_offsets(data, self.parser.CurrentByteIndex))


def ssml_script(document: str) -> Script:
    if "<!DOCTYPE" in document or "<!ENTITY" in document:
        raise SsmlError("document type declarations are not allowed in SSML")
    reader = _SsmlReader()
    try:
        reader.parser.Parse(document.encode(), True)
    except xml.parsers.expat.ExpatError as error:
        raise SsmlError(f"the SSML is not well-formed XML: {error}") from None
    reader.flush()
    return reader.script


def spoken_words(chunk: Chunk, aliases: dict[str, str]) -> tuple[str, list[WordRef]]:
    """The text to say for `chunk` with lexicon aliases applied, and each input word with what is said."""
    spans = alias_spans(chunk.text, aliases)
    said: list[str] = []
    words: list[WordRef] = []
    position = 0

    def keep(start: int, end: int) -> None:
        said.append(chunk.text[start:end])
        for match in _WORD.finditer(chunk.text, start, end):
            words.append(_ref(chunk, match.start(), match.end(), (match.group(0),)))

    for start, end, alias in spans:
        keep(position, start)
        said.append(alias)
        words.append(_ref(chunk, start, end, tuple(_WORD.findall(alias))))
        position = end
    keep(position, len(chunk.text))
    return "".join(said), words


def _ref(chunk: Chunk, start: int, end: int, spoken: tuple[str, ...]) -> WordRef:
    last = chunk.text[end - 1]
    return WordRef(
        chunk.text[start:end], chunk.offsets[start], chunk.offsets[end - 1] + len(last.encode()), spoken
    )
