"""Polly and Transcribe share one registry: each speech model is loaded once per server and counted per use.

The fast tests run on the fake server, whose speech fakes hear the fake voice's words as timed bursts; the
real test proves that one real server holds one Whisper of each kind, used by both services.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.server import RunningServer

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


def _models(server: RunningServer) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = httpx.get(f"{server.endpoint}/_outcrop/health", timeout=10).json()[
        "models"
    ]
    return found


def _word_marks(polly: Any, text: str, voice: str) -> list[dict[str, Any]]:
    response = polly.synthesize_speech(
        Text=text, VoiceId=voice, OutputFormat="json", SpeechMarkTypes=["word", "sentence"]
    )
    marks = [json.loads(line) for line in response["AudioStream"].read().splitlines()]
    return [m for m in marks if m["type"] == "word"]


def _transcribed(client: Callable[..., Any], audio: bytes, **settings: Any) -> dict[str, Any]:
    """Run one transcription job on `audio` and return its transcript document."""
    s3, transcribe = client("s3"), client("transcribe")
    bucket, name = f"speech-{uuid.uuid4().hex[:8]}", f"job-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="said.mp3", Body=audio)
    transcribe.start_transcription_job(
        TranscriptionJobName=name, Media={"MediaFileUri": f"s3://{bucket}/said.mp3"}, **settings
    )
    deadline = time.monotonic() + 180
    while True:
        job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
        if job["TranscriptionJobStatus"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["TranscriptionJobStatus"] == "COMPLETED", job
    document: dict[str, Any] = httpx.get(job["Transcript"]["TranscriptFileUri"], timeout=10).json()
    return document


def test_fake_speech_round_trips_word_for_word(server: RunningServer) -> None:
    polly = server.client("polly")
    audio = polly.synthesize_speech(Text=SENTENCE, VoiceId="Matthew", OutputFormat="mp3")["AudioStream"]
    said = audio.read()
    document = _transcribed(server.client, said, LanguageCode="en-US")
    words = [i for i in document["results"]["items"] if i["type"] == "pronunciation"]
    assert len(words) == len(SENTENCE.split())  # the fake hears one word per word said
    starts = [float(w["start_time"]) for w in words]
    assert starts == sorted(starts) and starts[-1] > starts[0] + 1.0
    vocabulary = f"v-{uuid.uuid4().hex[:8]}"
    server.client("transcribe").create_vocabulary(
        VocabularyName=vocabulary, LanguageCode="en-US", Phrases=["Outcrop"]
    )
    primed = _transcribed(server.client, said, LanguageCode="en-US", Settings={"VocabularyName": vocabulary})
    heard = [
        i["alternatives"][0]["content"] for i in primed["results"]["items"] if i["type"] == "pronunciation"
    ]
    assert heard == ["Outcrop"] * len(SENTENCE.split())  # the fake's words come from the hotwords it is given
    identified = _transcribed(server.client, said, IdentifyLanguage=True, LanguageOptions=["en-US", "es-ES"])
    assert identified["results"]["language_code"] == "en-US"


def test_fake_word_marks_are_timed_in_order(server: RunningServer) -> None:
    polly = server.client("polly")
    for voice, text in (("Matthew", "The cat sat on the mat."), ("Hans", "Guten Morgen, wie geht es?")):
        words = _word_marks(polly, text, voice)
        assert [w["value"] for w in words] == [w.strip(",.?") for w in text.split()]
        times = [w["time"] for w in words]
        assert times == sorted(times) and times[-1] > times[0]
    models = _models(server)
    for name in ("whisper-base", "whisper-tiny.en", "piper-en-us-joe", "espeak-ng"):
        assert models[name]["runtime"] == "fake" and models[name]["loads"] == 1, models[name]


def test_fake_viseme_marks_share_each_words_span(server: RunningServer) -> None:
    """The fake phonemizer reads each letter as the IPA phoneme written alike ("fox": f, o, k), and each
    word's visemes fall inside the span the listener heard for it, then "sil" where speech ends."""
    response = server.client("polly").synthesize_speech(
        Text="The quick brown fox.",
        VoiceId="Matthew",
        OutputFormat="json",
        SpeechMarkTypes=["viseme", "word"],
    )
    marks = [json.loads(line) for line in response["AudioStream"].read().splitlines()]
    assert [m["time"] for m in marks] == sorted(m["time"] for m in marks)
    words = [m for m in marks if m["type"] == "word"]
    per_word: list[list[str]] = []
    for mark in marks:
        if mark["type"] == "word":
            per_word.append([])
        elif mark["value"] != "sil":
            assert set(mark) == {"time", "type", "value"}
            per_word[-1].append(mark["value"])
    assert per_word == [
        ["t", "k", "e"],
        ["k", "u", "i", "t", "k"],
        ["p", "r", "o", "u", "t"],
        ["f", "o", "k"],
    ]
    assert marks[-1] == {"time": marks[-1]["time"], "type": "viseme", "value": "sil"}
    assert marks[-1]["time"] > words[-1]["time"]


@pytest.mark.real
def test_one_server_loads_each_whisper_once(real_server: RunningServer) -> None:
    polly = real_server.client("polly")
    german = _word_marks(polly, "Guten Morgen, wie geht es?", "Hans")  # timed by Whisper base
    assert [w["value"] for w in german] == ["Guten", "Morgen", "wie", "geht", "es"]
    english = _word_marks(polly, "The cat sat on the mat.", "Matthew")  # timed by Whisper tiny.en
    assert len(english) == 6
    said = polly.synthesize_speech(Text=SENTENCE, VoiceId="Matthew", OutputFormat="mp3")["AudioStream"].read()
    document = _transcribed(real_server.client, said, LanguageCode="en-US")  # Whisper base again
    assert "fox" in document["results"]["transcripts"][0]["transcript"].lower()
    models = _models(real_server)
    whispers = {name: entry for name, entry in models.items() if entry["runtime"] == "faster-whisper"}
    assert set(whispers) == {"whisper-base", "whisper-tiny.en"}
    base, tiny = whispers["whisper-base"], whispers["whisper-tiny.en"]
    assert (base["state"], base["loads"]) == ("ready", 1) and base["uses"] >= 2, base
    assert (tiny["state"], tiny["loads"]) == ("ready", 1) and tiny["uses"] >= 1, tiny
    assert models["piper-en-us-joe"]["loads"] == 1 and models["espeak-ng"]["loads"] == 1
