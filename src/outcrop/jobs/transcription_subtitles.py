"""WebVTT and SubRip subtitles from a transcription's timed words, as Transcribe writes beside a transcript.

Cues hold at most `MAX_WORDS` words and end early at a sentence's end, so each stays short on screen.
"""

from __future__ import annotations

from outcrop.backends.speech.protocols import Transcription, Word

MAX_WORDS = 10


def cues(result: Transcription) -> list[tuple[float, float, str]]:
    found: list[tuple[float, float, str]] = []
    current: list[Word] = []

    def close() -> None:
        if current:
            found.append((current[0].start, current[-1].end, " ".join(w.text for w in current)))
            current.clear()

    for word in result.words:
        current.append(word)
        if len(current) >= MAX_WORDS or word.text.endswith((".", "?", "!")):
            close()
    close()
    return found


def _clock(seconds: float, separator: str) -> str:
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{fraction:03d}"


def subtitles(result: Transcription, subtitle_format: str, start_index: int = 0) -> str:
    """`vtt` or `srt` text; cue numbers start at `start_index` (Transcribe's OutputStartIndex)."""
    separator = "." if subtitle_format == "vtt" else ","
    blocks = ["WEBVTT\n"] if subtitle_format == "vtt" else []
    for number, (start, end, text) in enumerate(cues(result), start_index):
        blocks.append(f"{number}\n{_clock(start, separator)} --> {_clock(end, separator)}\n{text}\n")
    return "\n".join(blocks)
