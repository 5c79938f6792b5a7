"""The AI services' stored resources live in the account and region that made them: Transcribe's jobs and
vocabularies, Polly's lexicons and synthesis tasks, Textract's jobs, Translate's terminologies and
Rekognition's collections are not found or listed from another region (their ARNs say where), their names
are free again there, and an input in another region's bucket is refused as AWS refuses it."""

from __future__ import annotations

import io
import math
import struct
import time
import uuid
import wave
from typing import Any

from tests.errors import error_of
from tests.fixtures.vision.photos import sign, to_bytes
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, arn_region, regional, regional_bucket

LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa"
 xml:lang="en-US"><lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""


def _tone(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A short WAV file: a quiet 440 Hz tone."""
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return out.getvalue()


def _bucket(server: RunningServer, region: str, **objects: bytes) -> str:
    return regional_bucket(server, region, "regional-ai", **objects)


def _finished(call: Any, field: str, done: set[str], **params: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while True:
        answer: dict[str, Any] = call(**params)
        status = answer
        for part in field.split("."):
            status = status[part]
        if status in done or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_transcription_jobs_and_vocabularies_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "transcribe", HOME), regional(server, "transcribe", AWAY)
    name = f"regional-{uuid.uuid4().hex[:8]}"
    media = _bucket(server, HOME, **{"tone.wav": _tone()})
    home.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["Outcrop"])
    started = home.start_transcription_job(
        TranscriptionJobName=name,
        LanguageCode="en-US",
        Media={"MediaFileUri": f"s3://{media}/tone.wav"},
        Settings={"VocabularyName": name},
    )["TranscriptionJob"]
    assert started["TranscriptionJobName"] == name

    assert error_of(away.get_transcription_job, TranscriptionJobName=name)["Code"] == "NotFoundException"
    assert error_of(away.delete_transcription_job, TranscriptionJobName=name)["Code"] == "BadRequestException"
    assert error_of(away.get_vocabulary, VocabularyName=name)["Code"] == "NotFoundException"
    listed = away.list_transcription_jobs(JobNameContains=name)["TranscriptionJobSummaries"]
    assert listed == []
    assert away.list_vocabularies(NameContains=name)["Vocabularies"] == []
    # a vocabulary of eu-west-1 cannot serve a us-east-1 job, and eu-west-1's media is not us-east-1's
    refused = error_of(
        away.start_transcription_job,
        TranscriptionJobName=name,
        LanguageCode="en-US",
        Media={"MediaFileUri": f"s3://{media}/tone.wav"},
    )
    assert refused["Code"] == "BadRequestException" and HOME in refused["Message"]

    # the names are free in us-east-1
    away_media = _bucket(server, AWAY, **{"tone.wav": _tone()})
    away.create_vocabulary(VocabularyName=name, LanguageCode="en-GB", Phrases=["Elsewhere"])
    away.start_transcription_job(
        TranscriptionJobName=name, LanguageCode="en-GB", Media={"MediaFileUri": f"s3://{away_media}/tone.wav"}
    )
    assert home.get_vocabulary(VocabularyName=name)["LanguageCode"] == "en-US"
    assert away.get_vocabulary(VocabularyName=name)["LanguageCode"] == "en-GB"

    done = _finished(
        home.get_transcription_job,
        "TranscriptionJob.TranscriptionJobStatus",
        {"COMPLETED", "FAILED"},
        TranscriptionJobName=name,
    )["TranscriptionJob"]
    assert done["TranscriptionJobStatus"] == "COMPLETED", done.get("FailureReason")
    assert done["LanguageCode"] == "en-US"
    # the transcript is written to Outcrop's bucket of eu-west-1
    uri = done["Transcript"]["TranscriptFileUri"]
    bucket = uri.split("/")[3]
    location = regional(server, "s3", HOME).get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert location == HOME, uri
    home.delete_transcription_job(TranscriptionJobName=name)
    assert (
        away.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]["LanguageCode"] == "en-GB"
    )


def test_polly_lexicons_and_synthesis_tasks_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "polly", HOME), regional(server, "polly", AWAY)
    name = f"lex{uuid.uuid4().hex[:8]}"
    home.put_lexicon(Name=name, Content=LEXICON)
    attributes = home.get_lexicon(Name=name)["LexiconAttributes"]
    assert arn_region(attributes["LexiconArn"]) == HOME
    assert error_of(away.get_lexicon, Name=name)["Code"] == "LexiconNotFoundException"
    assert error_of(away.delete_lexicon, Name=name)["Code"] == "LexiconNotFoundException"
    assert name not in [lexicon["Name"] for lexicon in away.list_lexicons()["Lexicons"]]
    spoken = error_of(
        away.synthesize_speech, Text="W3C", VoiceId="Joanna", OutputFormat="pcm", LexiconNames=[name]
    )
    assert spoken["Code"] == "LexiconNotFoundException"

    bucket = _bucket(server, HOME)
    task = home.start_speech_synthesis_task(
        Text="The W3C writes standards.",
        VoiceId="Joanna",
        OutputFormat="mp3",
        OutputS3BucketName=bucket,
        LexiconNames=[name],
    )["SynthesisTask"]
    task_id = task["TaskId"]
    refused = error_of(away.get_speech_synthesis_task, TaskId=task_id)
    assert refused["Code"] == "SynthesisTaskNotFoundException"
    assert task_id not in [t["TaskId"] for t in away.list_speech_synthesis_tasks()["SynthesisTasks"]]
    assert task_id in [t["TaskId"] for t in home.list_speech_synthesis_tasks()["SynthesisTasks"]]
    finished = _finished(
        home.get_speech_synthesis_task, "SynthesisTask.TaskStatus", {"completed", "failed"}, TaskId=task_id
    )["SynthesisTask"]
    assert finished["TaskStatus"] == "completed", finished.get("TaskStatusReason")  # with eu-west-1's lexicon

    # the lexicon's name is free in us-east-1, and each region keeps its own
    away.put_lexicon(Name=name, Content=LEXICON.replace("World Wide Web Consortium", "W three C"))
    assert "Consortium" in home.get_lexicon(Name=name)["Lexicon"]["Content"]
    assert "Consortium" not in away.get_lexicon(Name=name)["Lexicon"]["Content"]
    away.delete_lexicon(Name=name)
    assert home.get_lexicon(Name=name)["Lexicon"]["Name"] == name


def test_textract_jobs_live_in_their_region_and_read_only_its_buckets(server: RunningServer) -> None:
    home, away = regional(server, "textract", HOME), regional(server, "textract", AWAY)
    bucket = _bucket(server, HOME, **{"sign.png": to_bytes(sign("REGION 42"))})
    location = {"S3Object": {"Bucket": bucket, "Name": "sign.png"}}
    job_id = home.start_document_text_detection(DocumentLocation=location, ClientRequestToken="same")["JobId"]
    assert error_of(away.get_document_text_detection, JobId=job_id)["Code"] == "InvalidJobIdException"
    for call, params in (
        (away.start_document_text_detection, {"DocumentLocation": location}),
        (away.detect_document_text, {"Document": location}),
    ):
        refused = error_of(call, **params)
        assert refused["Code"] == "InvalidS3ObjectException" and "region" in refused["Message"]
    # a ClientRequestToken is matched within the region: the same token in us-east-1 is another job
    away_bucket = _bucket(server, AWAY, **{"sign.png": to_bytes(sign("REGION 42"))})
    away_location = {"S3Object": {"Bucket": away_bucket, "Name": "sign.png"}}
    other = away.start_document_text_detection(DocumentLocation=away_location, ClientRequestToken="same")
    assert other["JobId"] != job_id
    done = _finished(home.get_document_text_detection, "JobStatus", {"SUCCEEDED", "FAILED"}, JobId=job_id)
    assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
    assert any(block["BlockType"] == "LINE" for block in done["Blocks"])


def test_translate_terminologies_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "translate", HOME), regional(server, "translate", AWAY)
    name = f"terms-{uuid.uuid4().hex[:8]}"
    imported = home.import_terminology(
        Name=name, MergeStrategy="OVERWRITE", TerminologyData={"File": b"en,es\ncat,michi\n", "Format": "CSV"}
    )["TerminologyProperties"]
    assert arn_region(imported["Arn"]) == HOME
    assert error_of(away.get_terminology, Name=name)["Code"] == "ResourceNotFoundException"
    assert error_of(away.delete_terminology, Name=name)["Code"] == "ResourceNotFoundException"
    assert name not in [t["Name"] for t in away.list_terminologies()["TerminologyPropertiesList"]]
    used = error_of(
        away.translate_text,
        Text="cat",
        SourceLanguageCode="en",
        TargetLanguageCode="es",
        TerminologyNames=[name],
    )
    assert used["Code"] == "ResourceNotFoundException"

    away.import_terminology(
        Name=name, MergeStrategy="OVERWRITE", TerminologyData={"File": b"en,fr\ncat,chat\n", "Format": "CSV"}
    )
    assert home.get_terminology(Name=name)["TerminologyProperties"]["TargetLanguageCodes"] == ["es"]
    fetched = away.get_terminology(Name=name)
    assert fetched["TerminologyProperties"]["TargetLanguageCodes"] == ["fr"]
    assert arn_region(fetched["TerminologyProperties"]["Arn"]) == AWAY
    away.delete_terminology(Name=name)
    assert home.get_terminology(Name=name)["TerminologyProperties"]["Name"] == name


def test_rekognition_collections_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "rekognition", HOME), regional(server, "rekognition", AWAY)
    name = f"faces-{uuid.uuid4().hex[:8]}"
    arn = home.create_collection(CollectionId=name)["CollectionArn"]
    assert arn.split(":")[2] == HOME  # Rekognition's collection ARNs start "aws:rekognition:<region>"
    assert error_of(away.describe_collection, CollectionId=name)["Code"] == "ResourceNotFoundException"
    assert error_of(away.list_faces, CollectionId=name)["Code"] == "ResourceNotFoundException"
    assert error_of(away.delete_collection, CollectionId=name)["Code"] == "ResourceNotFoundException"
    assert name not in away.list_collections()["CollectionIds"]
    assert name in home.list_collections()["CollectionIds"]
    tagged = error_of(away.tag_resource, ResourceArn=f"arn:{arn}", Tags={"team": "x"})
    assert tagged["Code"] == "ResourceNotFoundException"

    again = away.create_collection(CollectionId=name)["CollectionArn"]
    assert again.split(":")[2] == AWAY
    away.tag_resource(ResourceArn=f"arn:{again}", Tags={"team": "away"})
    assert home.list_tags_for_resource(ResourceArn=f"arn:{arn}")["Tags"] == {}
    away.delete_collection(CollectionId=name)
    assert home.describe_collection(CollectionId=name)["CollectionARN"] == arn
