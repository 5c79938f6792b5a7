"""Saying a script: each chunk through a speech program, pauses as silence, and the speech marks of it all.

Sentence and SSML mark times are exact (where each chunk's audio starts). Neither speech program reports
word timings, so word times come from listening: Whisper transcribes each chunk's audio with word
timestamps, its words are matched to the words that were said, and a word Whisper did not hear is placed
between its heard neighbours in proportion to its length.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from outcrop.backends.speech.audio import Audio, empty, resample, silence
from outcrop.backends.speech.protocols import SAMPLE_RATE, Phonemizer, Synthesizer, Transcriber
from outcrop.backends.speech.text import Chunk, MarkPoint, Pause, Script, WordRef, spoken_words
from outcrop.backends.speech.visemes import SILENCE, word_visemes

ENGINE_RATE = 22050  # what both speech programs write; other rates are resampled to it


class SynthesisCancelled(Exception):
    """Synthesis stopped because nobody waits for it any more."""


@dataclass(frozen=True)
class Mark:
    time_ms: int
    type: str
    start: int
    end: int
    value: str

    def as_json(self) -> dict[str, Any]:
        if self.type == "viseme":  # Polly's viseme marks carry no text offsets
            return {"time": self.time_ms, "type": self.type, "value": self.value}
        return {
            "time": self.time_ms,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "value": self.value,
        }


def _normal(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def word_times(audio: Audio, words: list[WordRef], listener: Transcriber) -> list[float]:
    """Seconds from the start of `audio` at which each word begins (see the module docstring)."""
    return word_spans(audio, words, listener)[0]


def word_spans(audio: Audio, words: list[WordRef], listener: Transcriber) -> tuple[list[float], list[float]]:
    """Seconds at which each word begins and ends; an unheard word ends where the next one begins."""
    said = [(index, token) for index, word in enumerate(words) for token in word.spoken]
    if not said:
        return [0.0 for _ in words], [0.0 for _ in words]
    samples = (resample(audio, SAMPLE_RATE).samples / 32768.0).astype(np.float32)
    heard = listener.transcribe(samples, "en" if not listener.multilingual else None, beam_size=1).words
    heard_tokens = [_normal(h.text) for h in heard]
    matcher = difflib.SequenceMatcher(a=[_normal(t) for _, t in said], b=heard_tokens, autojunk=False)
    token_start: list[float | None] = [None] * len(said)
    token_end: list[float | None] = [None] * len(said)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            token_start[block.a + k] = heard[block.b + k].start
            token_end[block.a + k] = heard[block.b + k].end
    _fill_gaps(token_start, [len(t) for _, t in said], audio.seconds)
    starts: list[float] = [0.0] * len(words)
    heard_ends: list[float | None] = [None] * len(words)
    seen: set[int] = set()
    for (index, _), start, end in zip(said, token_start, token_end, strict=True):
        if index not in seen:
            seen.add(index)
            starts[index] = start or 0.0
        heard_ends[index] = end  # the word's last token decides
    starts = _increasing(starts)
    nexts = [*starts[1:], audio.seconds]
    ends = [
        min(following, end) if end is not None and end > start else following
        for start, end, following in zip(starts, heard_ends, nexts, strict=True)
    ]
    return starts, ends


def _fill_gaps(times: list[float | None], lengths: list[int], total: float) -> None:
    """Place unheard tokens between the heard ones around them, in proportion to their lengths."""
    index = 0
    while index < len(times):
        if times[index] is not None:
            index += 1
            continue
        end = index
        while end < len(times) and times[end] is None:
            end += 1
        before = times[index - 1] if index > 0 else 0.0
        after = times[end] if end < len(times) else total
        assert before is not None and after is not None
        span = max(after - before, 0.0)
        weights = lengths[index - 1 : end] if index > 0 else [0, *lengths[index:end]]
        total_weight = sum(weights) or 1
        running = 0
        for k in range(index, end):
            running += weights[k - index]
            times[k] = before + span * running / total_weight
        index = end


def _increasing(times: list[float]) -> list[float]:
    out: list[float] = []
    for value in times:
        out.append(max(value, out[-1]) if out else value)
    return out


def synthesize(
    script: Script,
    speaker: Callable[[], Synthesizer],
    *,
    voice: str | None = None,
    aliases: dict[str, str] | None = None,
    mark_types: frozenset[str] = frozenset(),
    listener: Callable[[], Transcriber] | None = None,
    phonemizer: Callable[[], Phonemizer] | None = None,
    phoneme_voice: str = "en-us",
    cancel: threading.Event | None = None,
) -> tuple[Audio, list[Mark]]:
    """The whole script's audio at ENGINE_RATE, and the marks of `mark_types` in time order.

    `speaker()` and `listener()` give the models (asked for only when a chunk is said or timed) and `voice`
    is the speaker's voice to use; `phonemizer()` gives visemes their phonemes in `phoneme_voice`.
    Setting `cancel` (the caller hung up) stops before the next chunk with SynthesisCancelled."""
    audio = empty(ENGINE_RATE)
    marks: list[Mark] = []
    for piece in script.pieces:
        if cancel is not None and cancel.is_set():
            raise SynthesisCancelled("the caller went away")
        time_ms = round(audio.seconds * 1000)
        if isinstance(piece, Pause):
            audio = audio + silence(piece.milliseconds, ENGINE_RATE)
        elif isinstance(piece, MarkPoint):
            if "ssml" in mark_types:
                marks.append(Mark(time_ms, "ssml", piece.start, piece.end, piece.name))
        elif isinstance(piece, Chunk):
            said, words = spoken_words(piece, aliases or {})
            if "sentence" in mark_types and piece.starts_sentence and piece.speakable:
                end = piece.offsets[-1] + len(piece.text[-1].encode())
                marks.append(Mark(time_ms, "sentence", piece.offsets[0], end, piece.text))
            if not any(c.isalnum() for c in said):
                continue
            spoken = speaker().speak(said, piece.rate, voice)
            if piece.gain_db:
                spoken = spoken.scaled(10 ** (piece.gain_db / 20))
            timed = mark_types & {"word", "viseme"}
            if timed and words and listener is not None:
                starts, ends = word_spans(spoken, words, listener())
                if "word" in mark_types:
                    marks += [
                        Mark(time_ms + round(s * 1000), "word", w.start, w.end, w.value)
                        for w, s in zip(words, starts, strict=True)
                    ]
                if "viseme" in mark_types and phonemizer is not None:
                    phonemes = phonemizer().phonemes([" ".join(w.spoken) for w in words], phoneme_voice)
                    marks += _visemes(time_ms, phonemes, starts, ends)
            audio = audio + spoken
    marks.sort(key=lambda mark: mark.time_ms)  # stable: sentence, word, viseme at one time stay in order
    return audio, marks


def _visemes(time_ms: int, phonemes: list[str], starts: list[float], ends: list[float]) -> list[Mark]:
    """Each word's visemes spread evenly over its span, repeats merged, "sil" where its speech ends."""
    marks: list[Mark] = []
    for said, start, end in zip(phonemes, starts, ends, strict=True):
        visemes = word_visemes(said)
        step = (end - start) / max(len(visemes), 1)
        for k, viseme in enumerate(visemes):
            if marks and marks[-1].value == viseme:
                continue
            marks.append(Mark(time_ms + round((start + k * step) * 1000), "viseme", 0, 0, viseme))
    if marks:
        marks.append(Mark(time_ms + round(ends[-1] * 1000), "viseme", 0, 0, SILENCE))
    return marks


def marks_json_lines(marks: list[Mark]) -> bytes:
    return b"".join(orjson.dumps(m.as_json()) + b"\n" for m in marks)
