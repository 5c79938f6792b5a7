"""Transcribe through boto3: refusals (fast), then real jobs on audio that Polly spoke (Whisper base)."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import av
import httpx
import numpy as np
import pytest

from outcrop.services.transcribe.provider import parse_media_uri
from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_polly import LEXICON

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length, ignoring case and punctuation."""
    ref = re.findall(r"[a-z0-9']+", reference.lower())
    hyp = re.findall(r"[a-z0-9']+", hypothesis.lower())
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / max(len(ref), 1)


@pytest.fixture
def transcribe(client: Callable[..., Any]) -> Any:
    return client("transcribe")


@pytest.fixture
def media_bucket(client: Callable[..., Any]) -> str:
    name = f"media-{uuid.uuid4().hex[:10]}"
    s3 = client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="notes.txt", Body=b"not audio")
    s3.put_object(Bucket=name, Key="clip.wav", Body=b"RIFF")
    return name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"LanguageCode": None}, "LanguageCode"),
        ({"IdentifyLanguage": True}, "cannot be used"),
        ({"LanguageCode": "ckb-IQ"}, "not supported"),
        ({"Media": {"MediaFileUri": "s3://{bucket}/missing.wav"}}, "doesn't exist"),
        ({"Media": {"MediaFileUri": "s3://no-such-bucket-zz/a.wav"}}, "doesn't exist"),
        ({"Media": {"MediaFileUri": "s3://{bucket}/notes.txt"}}, "not supported"),
        ({"Media": {"MediaFileUri": "https://example.com/a.wav"}}, "not an S3 location"),
        ({"OutputBucketName": "no-such-output-bucket"}, "output bucket"),
        ({"OutputKey": "a.json"}, "OutputBucketName"),
        ({"Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 2}}, "speaker labels"),
    ],
)
def test_bad_requests_get_bad_request(
    transcribe: Any, media_bucket: str, overrides: dict[str, Any], message: str
) -> None:
    request: dict[str, Any] = {
        "TranscriptionJobName": f"bad-{uuid.uuid4().hex[:8]}",
        "Media": {"MediaFileUri": f"s3://{media_bucket}/clip.wav"},
        "LanguageCode": "en-US",
        **overrides,
    }
    request["Media"] = {"MediaFileUri": request["Media"]["MediaFileUri"].format(bucket=media_bucket)}
    request = {k: v for k, v in request.items() if v is not None}
    error = error_of(transcribe.start_transcription_job, **request)
    assert (error["Code"], error["Status"]) == ("BadRequestException", 400)
    assert message in error["Message"]


@pytest.mark.parametrize(
    ("uri", "location"),
    [
        ("s3://bucket/a/b.wav", ("bucket", "a/b.wav")),
        ("https://s3.us-east-1.amazonaws.com/bucket/a/b.wav", ("bucket", "a/b.wav")),
        ("https://bucket.s3.amazonaws.com/a/b%20c.wav", ("bucket", "a/b c.wav")),
        ("https://bucket.s3.eu-west-1.amazonaws.com/x.mp3", ("bucket", "x.mp3")),
        ("http://localhost:4566/bucket/x.mp3", ("bucket", "x.mp3")),
    ],
)
def test_media_uris(uri: str, location: tuple[str, str]) -> None:
    assert parse_media_uri(uri, "http://localhost:4566") == location


def test_unknown_jobs_are_not_found(transcribe: Any) -> None:
    error = error_of(transcribe.get_transcription_job, TranscriptionJobName="never-started")
    assert (error["Code"], error["Status"]) == ("NotFoundException", 404)
    # DeleteTranscriptionJob models no NotFoundException: AWS answers its BadRequestException, same sentence
    error = error_of(transcribe.delete_transcription_job, TranscriptionJobName="never-started")
    assert (error["Code"], error["Status"]) == ("BadRequestException", 400)
    assert "couldn't be found" in error["Message"]


def test_vocabulary_lifecycle(client: Callable[..., Any], transcribe: Any, media_bucket: str) -> None:
    name = f"vocab-{uuid.uuid4().hex[:8]}"
    created = transcribe.create_vocabulary(
        VocabularyName=name, LanguageCode="en-US", Phrases=["Outcrop", "Los-Angeles", "Qwen"]
    )
    assert (created["VocabularyName"], created["VocabularyState"]) == (name, "READY")
    got = transcribe.get_vocabulary(VocabularyName=name)
    assert httpx.get(got["DownloadUri"], timeout=10).text.splitlines() == ["Outcrop", "Los-Angeles", "Qwen"]
    assert name in [
        v["VocabularyName"] for v in transcribe.list_vocabularies(NameContains=name)["Vocabularies"]
    ]
    conflict = error_of(
        transcribe.create_vocabulary, VocabularyName=name, LanguageCode="en-US", Phrases=["x"]
    )
    assert (conflict["Code"], conflict["Status"]) == ("ConflictException", 409)
    table = "Phrase\tSoundsLike\tIPA\tDisplayAs\nKubernetes\t\t\t\nA.I.\t\t\tAI\n"
    client("s3").put_object(Bucket=media_bucket, Key="vocab.txt", Body=table.encode())
    transcribe.update_vocabulary(
        VocabularyName=name, LanguageCode="en-US", VocabularyFileUri=f"s3://{media_bucket}/vocab.txt"
    )
    got = transcribe.get_vocabulary(VocabularyName=name)
    assert httpx.get(got["DownloadUri"], timeout=10).text.splitlines() == ["Kubernetes", "AI"]
    bad: list[dict[str, Any]] = [
        {"Phrases": ["two words"]},
        {"Phrases": ["a"], "VocabularyFileUri": f"s3://{media_bucket}/vocab.txt"},
        {"VocabularyFileUri": f"s3://{media_bucket}/missing.txt"},
    ]
    for overrides in bad:
        request = {"VocabularyName": f"{name}-x", "LanguageCode": "en-US", **overrides}
        assert error_of(transcribe.create_vocabulary, **request)["Code"] == "BadRequestException"
    job = {
        "TranscriptionJobName": f"v-{uuid.uuid4().hex[:8]}",
        "Media": {"MediaFileUri": f"s3://{media_bucket}/clip.wav"},
        "LanguageCode": "es-ES",
        "Settings": {"VocabularyName": name},
    }
    assert "not es-ES" in error_of(transcribe.start_transcription_job, **job)["Message"]
    job |= {"Settings": {"VocabularyName": "no-such-vocabulary"}}
    assert "doesn't exist" in error_of(transcribe.start_transcription_job, **job)["Message"]
    transcribe.delete_vocabulary(VocabularyName=name)
    assert error_of(transcribe.get_vocabulary, VocabularyName=name)["Code"] == "NotFoundException"
    assert error_of(transcribe.delete_vocabulary, VocabularyName=name)["Status"] == 404


# -- real jobs --------------------------------------------------------------------------------------------


def _wait(transcribe: Any, name: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
        if job["TranscriptionJobStatus"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def _spoken(server: RunningServer, text: str, **extra: Any) -> bytes:
    polly = server.client("polly")
    response = polly.synthesize_speech(Text=text, VoiceId="Matthew", OutputFormat="mp3", **extra)
    return bytes(response["AudioStream"].read())


def _reencode(pcm: bytes, container: str, codec: str) -> bytes:
    """16 kHz mono PCM from Polly into another container, as a user's recording might arrive."""
    samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream: Any = out.add_stream(codec, rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=16000)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


@pytest.mark.real
def test_polly_speech_round_trips_through_transcribe(real_server: RunningServer) -> None:
    s3, transcribe = real_server.client("s3"), real_server.client("transcribe")
    s3.create_bucket(Bucket="round-trip")
    s3.put_object(Bucket="round-trip", Key="fox.mp3", Body=_spoken(real_server, SENTENCE))
    real_server.client("polly").put_lexicon(Name="webterms", Content=LEXICON)
    aliased = _spoken(real_server, "The W3C writes standards.", LexiconNames=["webterms"])
    s3.put_object(Bucket="round-trip", Key="w3c.mp3", Body=aliased)

    started = transcribe.start_transcription_job(
        TranscriptionJobName="fox",
        Media={"MediaFileUri": "s3://round-trip/fox.mp3"},
        LanguageCode="en-US",
        OutputBucketName="round-trip",
        OutputKey="transcripts/",
        Subtitles={"Formats": ["vtt", "srt"], "OutputStartIndex": 1},
    )["TranscriptionJob"]
    assert started["TranscriptionJobStatus"] in ("QUEUED", "IN_PROGRESS")
    transcribe.start_transcription_job(
        TranscriptionJobName="w3c",
        Media={"MediaFileUri": "s3://round-trip/w3c.mp3"},
        IdentifyLanguage=True,
        LanguageOptions=["en-US", "es-ES"],
    )
    duplicate = error_of(
        transcribe.start_transcription_job,
        TranscriptionJobName="fox",
        Media={"MediaFileUri": "s3://round-trip/fox.mp3"},
        LanguageCode="en-US",
    )
    assert (duplicate["Code"], duplicate["Status"]) == ("ConflictException", 409)

    job = _wait(transcribe, "fox")
    assert job["TranscriptionJobStatus"] == "COMPLETED", job
    assert job["Transcript"]["TranscriptFileUri"].endswith("/round-trip/transcripts/fox.json")
    document = json.loads(s3.get_object(Bucket="round-trip", Key="transcripts/fox.json")["Body"].read())
    transcript = document["results"]["transcripts"][0]["transcript"]
    wer = word_error_rate(SENTENCE, transcript)
    print(f"\nPolly -> Transcribe word error rate: {wer:.3f} ({transcript!r})")
    assert wer <= 0.2
    words = [i for i in document["results"]["items"] if i["type"] == "pronunciation"]
    starts = [float(w["start_time"]) for w in words]
    assert starts == sorted(starts) and all(float(w["end_time"]) >= float(w["start_time"]) for w in words)
    assert all(0.0 <= float(w["alternatives"][0]["confidence"]) <= 1.0 for w in words)
    assert any(i["type"] == "punctuation" for i in document["results"]["items"])
    assert job["MediaSampleRateHertz"] == 22050
    subtitles = job["Subtitles"]
    assert subtitles["Formats"] == ["srt", "vtt"] and subtitles["OutputStartIndex"] == 1
    srt_uri, vtt_uri = subtitles["SubtitleFileUris"]
    assert srt_uri.endswith("/round-trip/transcripts/fox.srt") and vtt_uri.endswith("fox.vtt")
    vtt = s3.get_object(Bucket="round-trip", Key="transcripts/fox.vtt")["Body"].read().decode()
    assert vtt.startswith("WEBVTT") and "00:00:00.000 --> " in vtt and "fox" in vtt.lower()
    srt = httpx.get(srt_uri, timeout=10).text
    assert srt.startswith("1\n00:00:00,000 --> ")

    identified = _wait(transcribe, "w3c")
    assert identified["TranscriptionJobStatus"] == "COMPLETED", identified
    assert identified["LanguageCode"] == "en-US" and identified["IdentifiedLanguageScore"] > 0.5
    served = httpx.get(
        identified["Transcript"]["TranscriptFileUri"], timeout=10
    )  # a plain GET, as AWS allows
    assert served.status_code == 200
    heard = served.json()["results"]["transcripts"][0]["transcript"].lower()
    # The lexicon alias was spoken; Whisper writes it "world wide web" or "worldwide web".
    assert "worldwideweb" in heard.replace(" ", ""), heard

    names = [
        j["TranscriptionJobName"]
        for j in transcribe.list_transcription_jobs(Status="COMPLETED")["TranscriptionJobSummaries"]
    ]
    assert {"fox", "w3c"} <= set(names)
    transcribe.delete_transcription_job(TranscriptionJobName="w3c")
    assert (
        error_of(transcribe.get_transcription_job, TranscriptionJobName="w3c")["Code"] == "NotFoundException"
    )
    assert httpx.get(identified["Transcript"]["TranscriptFileUri"], timeout=10).status_code == 404


@pytest.mark.real
def test_media_formats_and_corrupt_media(real_server: RunningServer) -> None:
    s3, transcribe = real_server.client("s3"), real_server.client("transcribe")
    s3.create_bucket(Bucket="formats")
    pcm = (
        real_server.client("polly")
        .synthesize_speech(Text="Good morning everyone.", VoiceId="Joanna", OutputFormat="pcm")["AudioStream"]
        .read()
    )
    media = {
        "wav": _reencode(pcm, "wav", "pcm_s16le"),
        "flac": _reencode(pcm, "flac", "flac"),
        "ogg": _reencode(pcm, "ogg", "libopus"),
        "mp4": _reencode(pcm, "mp4", "aac"),
    }
    for extension, data in media.items():
        s3.put_object(Bucket="formats", Key=f"morning.{extension}", Body=data)
        transcribe.start_transcription_job(
            TranscriptionJobName=f"fmt-{extension}",
            Media={"MediaFileUri": f"s3://formats/morning.{extension}"},
            LanguageCode="en-US",
        )
    spanish = (
        real_server.client("polly")
        .synthesize_speech(
            Text="Buenos días. Me gustaría reservar una mesa para dos personas esta noche.",
            VoiceId="Enrique",
            OutputFormat="pcm",
        )["AudioStream"]
        .read()
    )
    one_second = b"\0\0" * 16000
    s3.put_object(
        Bucket="formats", Key="mixed.wav", Body=_reencode(pcm + one_second + spanish, "wav", "pcm_s16le")
    )
    transcribe.start_transcription_job(
        TranscriptionJobName="mixed",
        Media={"MediaFileUri": "s3://formats/mixed.wav"},
        IdentifyMultipleLanguages=True,
        LanguageOptions=["en-US", "es-ES", "fr-FR"],
    )
    s3.put_object(Bucket="formats", Key="broken.mp3", Body=b"\x00\x01 definitely not an mp3 " * 64)
    transcribe.start_transcription_job(
        TranscriptionJobName="broken", Media={"MediaFileUri": "s3://formats/broken.mp3"}, LanguageCode="en-US"
    )
    for extension in media:
        job = _wait(transcribe, f"fmt-{extension}")
        assert job["TranscriptionJobStatus"] == "COMPLETED", job
        uri = job["Transcript"]["TranscriptFileUri"]
        text = httpx.get(uri, timeout=10).json()["results"]["transcripts"][0]["transcript"].lower()
        assert "morning" in text, (extension, text)
    mixed = _wait(transcribe, "mixed")
    assert mixed["TranscriptionJobStatus"] == "COMPLETED", mixed
    assert {c["LanguageCode"] for c in mixed["LanguageCodes"]} == {"en-US", "es-ES"}
    assert mixed["LanguageCode"] == "es-ES"  # the longer stretch of speech
    heard = httpx.get(mixed["Transcript"]["TranscriptFileUri"], timeout=10).json()["results"]
    languages = {i["alternatives"][0]["content"].lower(): i.get("language_code") for i in heard["items"]}
    assert languages.get("morning") == "en-US" and languages.get("mesa") == "es-ES", languages
    broken = _wait(transcribe, "broken")
    assert broken["TranscriptionJobStatus"] == "FAILED"
    assert "could not be decoded" in broken["FailureReason"]


@pytest.mark.real
def test_a_custom_vocabulary_fixes_names(real_server: RunningServer) -> None:
    s3, transcribe = real_server.client("s3"), real_server.client("transcribe")
    s3.create_bucket(Bucket="vocabulary-media")
    spoken = _spoken(real_server, "Outcrop runs real models. Ask Anthropic about Qwen.")
    s3.put_object(Bucket="vocabulary-media", Key="names.mp3", Body=spoken)
    transcribe.create_vocabulary(
        VocabularyName="names", LanguageCode="en-US", Phrases=["Outcrop", "Anthropic", "Qwen"]
    )
    transcribe.start_transcription_job(
        TranscriptionJobName="primed-names",
        Media={"MediaFileUri": "s3://vocabulary-media/names.mp3"},
        LanguageCode="en-US",
        Settings={"VocabularyName": "names"},
    )
    job = _wait(transcribe, "primed-names")
    assert job["TranscriptionJobStatus"] == "COMPLETED", job
    document = httpx.get(job["Transcript"]["TranscriptFileUri"], timeout=10).json()
    text = document["results"]["transcripts"][0]["transcript"]
    # without the vocabulary Whisper base heard "Outcropper runs real models, askingthropic about QN."
    assert job["Settings"]["VocabularyName"] == "names"
    for word in ("Outcrop", "Anthropic", "Qwen"):
        assert word in text, text


@pytest.mark.real
def test_jobs_survive_a_restart(real_server: RunningServer) -> None:
    s3 = real_server.client("s3")
    s3.create_bucket(Bucket="restart-media")
    s3.put_object(Bucket="restart-media", Key="a.mp3", Body=_spoken(real_server, "Jobs outlive the server."))
    transcribe = real_server.client("transcribe")
    for name in ("restart-1", "restart-2"):
        transcribe.start_transcription_job(
            TranscriptionJobName=name,
            Media={"MediaFileUri": "s3://restart-media/a.mp3"},
            LanguageCode="en-US",
        )
    s3.create_bucket(Bucket="restart-speech")
    task = real_server.client("polly").start_speech_synthesis_task(
        Text="Tasks outlive the server too.",
        VoiceId="Joanna",
        OutputFormat="mp3",
        OutputS3BucketName="restart-speech",
    )["SynthesisTask"]
    real_server.restart()  # the jobs and the task were queued or running when the server stopped
    transcribe, polly = real_server.client("transcribe"), real_server.client("polly")
    for name in ("restart-1", "restart-2"):
        job = _wait(transcribe, name)
        assert job["TranscriptionJobStatus"] == "COMPLETED", job
        text = httpx.get(job["Transcript"]["TranscriptFileUri"], timeout=10).json()["results"]["transcripts"]
        assert "server" in text[0]["transcript"].lower()
    deadline = time.monotonic() + 60
    while task["TaskStatus"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        task = polly.get_speech_synthesis_task(TaskId=task["TaskId"])["SynthesisTask"]
    assert task["TaskStatus"] == "completed", task
    assert s3.head_object(Bucket="restart-speech", Key=f"{task['TaskId']}.mp3")["ContentLength"] > 1000
