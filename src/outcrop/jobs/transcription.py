"""One transcription job: decode the media, settle the language, transcribe with a speech-to-text model
(Whisper's language codes), and shape the transcript as Amazon Transcribe writes it (results.transcripts,
items, audio_segments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from outcrop.backends.speech.audio import AudioDecodeError, decode
from outcrop.backends.speech.protocols import SAMPLE_RATE, Segment, Transcriber, Transcription, Word
from outcrop.jobs.speech_task_worker import JobFailed

# Whisper language -> the AWS code chosen when identification finds it and no LanguageOptions narrow it.
DEFAULT_REGION = {
    "en": "en-US",
    "es": "es-US",
    "fr": "fr-FR",
    "de": "de-DE",
    "it": "it-IT",
    "pt": "pt-BR",
    "nl": "nl-NL",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "zh": "zh-CN",
    "ru": "ru-RU",
    "ar": "ar-SA",
    "hi": "hi-IN",
    "sv": "sv-SE",
    "tr": "tr-TR",
    "pl": "pl-PL",
    "da": "da-DK",
    "fi": "fi-FI",
    "he": "he-IL",
    "id": "id-ID",
    "ms": "ms-MY",
    "th": "th-TH",
    "vi": "vi-VN",
    "uk": "uk-UA",
    "cs": "cs-CZ",
    "el": "el-GR",
    "ro": "ro-RO",
    "hu": "hu-HU",
    "fa": "fa-IR",
    "ta": "ta-IN",
    "te": "te-IN",
    "no": "no-NO",
    "ca": "ca-ES",
    "cy": "cy-GB",
}
_WHISPER_ALIASES = {"jv": "jw"}  # AWS's Javanese is Whisper's 'jw'
_PUNCTUATION = re.compile(r"^([^\w]*)(.*?)([^\w]*)$", re.DOTALL)


def whisper_language(aws_code: str, known: tuple[str, ...]) -> str | None:
    """Whisper's language for an AWS code such as 'en-GB', or None where Whisper has none."""
    base = aws_code.split("-")[0].lower()
    base = _WHISPER_ALIASES.get(base, base)
    return base if base in known else None


def choose_language(
    probabilities: dict[str, float], options: list[str], known: tuple[str, ...]
) -> tuple[str, float, list[tuple[str, float]]]:
    """The AWS code identified, its score, and every candidate's score (best first).

    With options, only those languages compete and their scores are renormalised among them."""
    if options:
        candidates = [(o, probabilities.get(whisper_language(o, known) or "", 0.0)) for o in options]
        total = sum(p for _, p in candidates) or 1.0
        ranked = sorted(((o, p / total) for o, p in candidates), key=lambda x: -x[1])
    else:
        ranked = sorted(
            ((DEFAULT_REGION[c], p) for c, p in probabilities.items() if c in DEFAULT_REGION),
            key=lambda x: -x[1],
        )
    if not ranked:
        raise JobFailed("The language of the media could not be identified")
    return ranked[0][0], ranked[0][1], ranked


def transcript_document(job_name: str, account_id: str, outcome: Outcome) -> dict[str, Any]:
    result = outcome.result
    language = outcome.language if outcome.score is not None else None
    ranked = outcome.ranked
    items: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    pieces: list[str] = []
    for number, segment in enumerate(result.segments):
        first = len(items)
        segment_language = outcome.segment_languages[number] if outcome.segment_languages else None
        for word in segment.words:
            _, core, trailing = _PUNCTUATION.match(word.text).groups()  # type: ignore[union-attr]
            if core:
                items.append(
                    {
                        "id": len(items),
                        "type": "pronunciation",
                        "alternatives": [{"confidence": f"{word.probability:.3f}", "content": core}],
                        "start_time": f"{word.start:.3f}",
                        "end_time": f"{word.end:.3f}",
                    }
                    | ({"language_code": segment_language} if segment_language else {})
                )
                pieces.append(" " + core)
            for mark in re.findall(r"[.,?!;:]", trailing)[:1]:
                items.append(
                    {
                        "id": len(items),
                        "type": "punctuation",
                        "alternatives": [{"confidence": "0.0", "content": mark}],
                    }
                )
                pieces.append(mark)
        segments.append(
            {
                "id": number,
                "transcript": segment.text.strip(),
                "start_time": f"{segment.start:.3f}",
                "end_time": f"{segment.end:.3f}",
                "items": list(range(first, len(items))),
            }
        )
    results: dict[str, Any] = {
        "transcripts": [{"transcript": "".join(pieces).strip()}],
        "items": items,
        "audio_segments": segments,
    }
    if language:
        results["language_code"] = language
    if outcome.durations:
        results["language_codes"] = [
            {"language_code": c, "duration_in_seconds": d} for c, d in outcome.durations
        ]
    if ranked:
        results["language_identification"] = [{"code": c, "score": f"{s:.4f}"} for c, s in ranked[:5]]
    return {"jobName": job_name, "accountId": account_id, "status": "COMPLETED", "results": results}


@dataclass(frozen=True)
class Outcome:
    result: Transcription
    language: str  # the AWS code (the dominant one with several languages)
    score: float | None  # identification score; None when the caller named the language
    ranked: list[tuple[str, float]]
    durations: list[tuple[str, float]] = field(default_factory=list)  # several languages: seconds each
    segment_languages: list[str] = field(default_factory=list)  # several languages: one per segment


def run_transcription(
    media: bytes,
    engine: Transcriber,
    *,
    language_code: str | None,
    options: list[str],
    known: tuple[str, ...],
    multiple: bool = False,
    hotwords: dict[str, str] | None = None,
) -> Outcome:
    """Transcribe `media` in the named language, the identified one, or (`multiple`) each stretch of speech
    in its own identified language."""
    try:
        audio = decode(media)
    except AudioDecodeError as error:
        raise JobFailed(f"The media file could not be decoded as audio: {error}") from None
    primed = hotwords or {}
    if language_code:
        language = whisper_language(language_code, known)
        return Outcome(
            engine.transcribe(audio, language, hotwords=primed.get(language_code)), language_code, None, []
        )
    if multiple:
        spans = engine.speech_spans(audio)
        if len(spans) > 1:
            return _several_languages(audio, spans, engine, options, known, primed)
    code, score, ranked = choose_language(engine.language_probabilities(audio), options, known)
    result = engine.transcribe(audio, whisper_language(code, known), hotwords=primed.get(code))
    return Outcome(result, code, score, ranked)


def _several_languages(
    audio: npt.NDArray[np.float32],
    spans: list[tuple[int, int]],
    engine: Transcriber,
    options: list[str],
    known: tuple[str, ...],
    primed: dict[str, str],
) -> Outcome:
    """Identify each stretch of speech, join neighbours in the same language, transcribe each run."""
    runs: list[list[Any]] = []  # [code, start sample, end sample, score x seconds]
    for start, end in spans:
        code, score, _ = choose_language(engine.language_probabilities(audio[start:end]), options, known)
        weight = score * (end - start) / SAMPLE_RATE
        if runs and runs[-1][0] == code:
            runs[-1][2], runs[-1][3] = end, runs[-1][3] + weight
        else:
            runs.append([code, start, end, weight])
    segments: list[Segment] = []
    segment_languages: list[str] = []
    seconds: dict[str, float] = {}
    weights: dict[str, float] = {}
    for code, start, end, weight in runs:
        offset = start / SAMPLE_RATE
        part = engine.transcribe(audio[start:end], whisper_language(code, known), hotwords=primed.get(code))
        for segment in part.segments:
            words = [Word(w.text, w.start + offset, w.end + offset, w.probability) for w in segment.words]
            segments.append(Segment(segment.text, segment.start + offset, segment.end + offset, words))
            segment_languages.append(code)
        seconds[code] = seconds.get(code, 0.0) + (end - start) / SAMPLE_RATE
        weights[code] = weights.get(code, 0.0) + weight
    dominant = max(seconds, key=lambda c: seconds[c])
    score = weights[dominant] / seconds[dominant]
    result = Transcription(
        language=whisper_language(dominant, known) or dominant,
        language_probability=score,
        duration=len(audio) / SAMPLE_RATE,
        segments=segments,
    )
    durations = sorted(((c, round(d, 3)) for c, d in seconds.items()), key=lambda x: -x[1])
    ranked = [(c, weights[c] / seconds[c]) for c, _ in durations]
    return Outcome(result, dominant, score, ranked, durations, segment_languages)
