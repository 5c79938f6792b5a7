"""Bad input to Comprehend, Translate, Polly and Transcribe, and the AWS-shaped refusal each must get.

Every call here is one the botocore model lets through (empty or wrong-but-well-typed values, unknown names,
corrupt bytes, calls out of order). Each must answer the operation's modelled error code with a 4xx status
and a readable message, never a 500 or a traceback, and must not damage what is already stored. The last
test reads the server log for unhandled errors raised by these calls. These services load their real (small)
models even on the fake-model server; the calls here mostly fail before any model runs.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.bad_inputs import bad_inputs_bucket, refused, unhandled_errors, unique, wait_for

LONE_SURROGATE = "caf\ud800e"  # JSON may carry it as an escape; it has no UTF-8 form


@pytest.fixture(scope="module", autouse=True)
def log_start(server: RunningServer) -> int:
    """Where the server log stood before this module's calls."""
    return server.log_path.stat().st_size


@pytest.fixture(scope="module")
def bucket(server: RunningServer) -> str:
    return bad_inputs_bucket(server)


# -- Comprehend ----------------------------------------------------------------------------------------------


def test_comprehend_refuses_empty_unsupported_and_custom_inputs(server: RunningServer, bucket: str) -> None:
    comprehend = server.client("comprehend")
    unchecked = server.client("comprehend", parameter_validation=False)
    refused(unchecked.detect_dominant_language, "ValidationException", Text="")
    refused(unchecked.detect_entities, "ValidationException", Text="hi", LanguageCode="")
    refused(unchecked.batch_detect_sentiment, "ValidationException", TextList=[], LanguageCode="en")
    refused(unchecked.batch_detect_entities, "ValidationException", TextList=[""], LanguageCode="en")
    refused(unchecked.detect_toxic_content, "ValidationException", TextSegments=[], LanguageCode="en")
    refused(
        comprehend.detect_toxic_content,
        "UnsupportedLanguageException",
        TextSegments=[{"Text": "hallo"}],
        LanguageCode="de",
    )
    refused(comprehend.detect_key_phrases, "UnsupportedLanguageException", Text="ciao", LanguageCode="it")
    refused(comprehend.detect_syntax, "TextSizeLimitExceededException", Text="a " * 2501, LanguageCode="en")
    endpoint = "arn:aws:comprehend:us-east-1:000000000000:entity-recognizer-endpoint/mine"
    unserved = refused(
        comprehend.detect_entities, "ResourceUnavailableException", 404, Text="hi", EndpointArn=endpoint
    )
    assert endpoint in unserved["Message"]
    document = refused(
        comprehend.detect_entities, "InvalidRequestException", Bytes=b"%PDF-1.7 junk", LanguageCode="en"
    )
    assert "Text" in document["Message"]


def test_comprehend_refuses_text_with_a_lone_surrogate(server: RunningServer) -> None:
    comprehend = server.client("comprehend")
    error = error_of(comprehend.detect_pii_entities, Text=LONE_SURROGATE, LanguageCode="en")
    assert error["Status"] == 400


# -- Translate -----------------------------------------------------------------------------------------------


def test_translate_refuses_bad_pairs_documents_and_terminologies(server: RunningServer) -> None:
    translate = server.client("translate")
    unchecked = server.client("translate", parameter_validation=False)
    refused(
        unchecked.translate_text,
        "ValidationException",
        Text="",
        SourceLanguageCode="es",
        TargetLanguageCode="en",
    )
    pair = refused(
        translate.translate_text,
        "UnsupportedLanguagePairException",
        Text="hola",
        SourceLanguageCode="es",
        TargetLanguageCode="xx",
    )
    assert "es to xx" in pair["Message"]
    missing = refused(
        translate.translate_text,
        "ResourceNotFoundException",
        404,
        Text="hola",
        SourceLanguageCode="es",
        TargetLanguageCode="en",
        TerminologyNames=["no-such-terminology"],
    )
    assert "no-such-terminology" in missing["Message"]
    pdf = refused(
        translate.translate_document,
        "InvalidRequestException",
        Document={"Content": b"%PDF-1.7", "ContentType": "application/pdf"},
        SourceLanguageCode="es",
        TargetLanguageCode="en",
    )
    assert "application/pdf" in pdf["Message"]
    refused(
        translate.translate_document,
        "InvalidRequestException",
        Document={"Content": b"\xff\xfe\x00 binary", "ContentType": "text/plain"},
        SourceLanguageCode="es",
        TargetLanguageCode="en",
    )

    name = unique("terms")
    translate.import_terminology(
        Name=name,
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": b"es,en\nhola,hello\n", "Format": "CSV"},
    )
    for data in (
        {"File": b"\x00\xff\xfe junk", "Format": "CSV"},
        {"File": b"<tmx><broken", "Format": "TMX"},
        {"File": b"es\nhola\n", "Format": "CSV"},
        {"File": b"es,es\nhola,hola\n", "Format": "CSV"},
    ):
        refused(
            translate.import_terminology,
            "InvalidParameterValueException",
            Name=name,
            MergeStrategy="OVERWRITE",
            TerminologyData=data,
        )
    kept = translate.get_terminology(Name=name, TerminologyDataFormat="CSV")["TerminologyProperties"]
    assert kept["SourceLanguageCode"] == "es" and kept["TermCount"] == 1  # a refused import changes nothing
    refused(translate.get_terminology, "ResourceNotFoundException", 404, Name=unique("none"))
    refused(translate.delete_terminology, "ResourceNotFoundException", 404, Name=unique("none"))
    refused(translate.list_terminologies, "InvalidParameterValueException", NextToken="not-a-token")


def test_translate_refuses_text_with_a_lone_surrogate(server: RunningServer) -> None:
    translate = server.client("translate")
    error = error_of(
        translate.translate_text, Text=LONE_SURROGATE, SourceLanguageCode="es", TargetLanguageCode="en"
    )
    assert error["Status"] == 400


# -- Polly ---------------------------------------------------------------------------------------------------

LEXICON = (
    '<?xml version="1.0" encoding="UTF-8"?><lexicon version="1.0" '
    'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="{alphabet}" xml:lang="{lang}">'
    "<lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme></lexicon>"
)


def test_polly_refuses_bad_text_voices_formats_and_lexicons(server: RunningServer) -> None:
    polly = server.client("polly")
    unchecked = server.client("polly", parameter_validation=False)
    speak: dict[str, Any] = {"VoiceId": "Joanna", "OutputFormat": "mp3"}
    refused(
        unchecked.synthesize_speech, "ValidationException", Text="hi", VoiceId="Nobody", OutputFormat="mp3"
    )
    refused(polly.synthesize_speech, "ValidationException", Text="   ", **speak)
    refused(polly.synthesize_speech, "InvalidSsmlException", Text="<speak>hi", TextType="ssml", **speak)
    refused(polly.synthesize_speech, "InvalidSsmlException", Text="plain words", TextType="ssml", **speak)
    refused(polly.synthesize_speech, "InvalidSampleRateException", Text="hi", SampleRate="abc", **speak)
    refused(
        polly.synthesize_speech, "LanguageNotSupportedException", Text="hi", LanguageCode="fr-FR", **speak
    )
    refused(polly.synthesize_speech, "EngineNotSupportedException", Text="hi", Engine="generative", **speak)
    refused(polly.synthesize_speech, "TextLengthExceededException", Text="a" * 3001, **speak)
    refused(
        polly.synthesize_speech, "LexiconNotFoundException", 404, Text="hi", LexiconNames=["nolex"], **speak
    )
    refused(
        polly.synthesize_speech,
        "MarksNotSupportedForFormatException",
        Text="hi",
        SpeechMarkTypes=["word"],
        **speak,
    )

    refused(polly.put_lexicon, "InvalidLexiconException", Name="junk", Content="not xml at all")
    refused(polly.put_lexicon, "InvalidLexiconException", Name="junk", Content="<foo/>")
    refused(
        polly.put_lexicon,
        "UnsupportedPlsAlphabetException",
        Name="klingon",
        Content=LEXICON.format(alphabet="klingon", lang="en-US"),
    )
    refused(
        polly.put_lexicon,
        "UnsupportedPlsLanguageException",
        Name="nowhere",
        Content=LEXICON.format(alphabet="ipa", lang="xx-XX"),
    )
    refused(polly.get_lexicon, "LexiconNotFoundException", 404, Name="nolex")
    refused(polly.delete_lexicon, "LexiconNotFoundException", 404, Name="nolex")
    refused(polly.describe_voices, "InvalidNextTokenException", NextToken="zzz")


def test_polly_tasks_refuse_missing_buckets_and_unknown_ids(server: RunningServer) -> None:
    polly = server.client("polly")
    missing = refused(
        polly.start_speech_synthesis_task,
        "InvalidS3BucketException",
        Text="hi",
        VoiceId="Joanna",
        OutputFormat="mp3",
        OutputS3BucketName=unique("no-bucket"),
    )
    assert "does not exist" in missing["Message"]
    refused(polly.get_speech_synthesis_task, "InvalidTaskIdException", TaskId="not-a-task-id")
    never = str(uuid.uuid4())
    refused(polly.get_speech_synthesis_task, "SynthesisTaskNotFoundException", TaskId=never)
    refused(polly.list_speech_synthesis_tasks, "InvalidNextTokenException", NextToken="zz")


# -- Transcribe ----------------------------------------------------------------------------------------------


def test_transcribe_refuses_missing_media_languages_and_vocabularies(
    server: RunningServer, bucket: str
) -> None:
    transcribe = server.client("transcribe")
    media = {"MediaFileUri": f"s3://{bucket}/noise.wav"}

    def start(**kwargs: Any) -> dict[str, Any]:
        arguments = {"TranscriptionJobName": unique("job"), "LanguageCode": "en-US", "Media": media, **kwargs}
        return refused(transcribe.start_transcription_job, "BadRequestException", **arguments)

    no_language = refused(
        transcribe.start_transcription_job,
        "BadRequestException",
        TranscriptionJobName=unique("job"),
        Media=media,
    )
    assert "LanguageCode" in no_language["Message"]
    assert "MediaFileUri" in start(Media={})["Message"]
    assert "MediaFileUri" in start(Media={"RedactedMediaFileUri": f"s3://{bucket}/noise.wav"})["Message"]
    assert "doesn't exist" in start(Media={"MediaFileUri": f"s3://{unique('nobucket')}/a.wav"})["Message"]
    assert "doesn't exist" in start(Media={"MediaFileUri": f"s3://{bucket}/absent.wav"})["Message"]
    assert "not an S3 location" in start(Media={"MediaFileUri": "https://example.com/a.wav"})["Message"]
    assert "xyz" in start(Media={"MediaFileUri": f"s3://{bucket}/notes.xyz"})["Message"]
    assert "output bucket" in start(OutputBucketName=unique("nobucket"))["Message"]
    assert "novocab" in start(Settings={"VocabularyName": "novocab"})["Message"]

    name = unique("vocab")
    transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["Outcrop"])
    refused(
        transcribe.create_vocabulary,
        "ConflictException",
        409,
        VocabularyName=name,
        LanguageCode="en-US",
        Phrases=["x"],
    )
    wrong = start(LanguageCode="fr-FR", Settings={"VocabularyName": name})
    assert "en-US" in wrong["Message"]
    refused(
        transcribe.create_vocabulary, "BadRequestException", VocabularyName=unique("v"), LanguageCode="en-US"
    )
    refused(
        transcribe.create_vocabulary,
        "BadRequestException",
        VocabularyName=unique("v"),
        LanguageCode="en-US",
        VocabularyFileUri=f"s3://{unique('nobucket')}/words.txt",
    )
    server.client("s3").put_object(Bucket=bucket, Key="huge-words.txt", Body=b"word\n" * 20_000)
    huge = refused(
        transcribe.create_vocabulary,
        "BadRequestException",
        VocabularyName=unique("v"),
        LanguageCode="en-US",
        VocabularyFileUri=f"s3://{bucket}/huge-words.txt",
    )
    assert "100000 bytes" in huge["Message"]
    for call in (transcribe.get_vocabulary, transcribe.delete_vocabulary):
        refused(call, "NotFoundException", 404, VocabularyName=unique("never"))
    refused(
        transcribe.update_vocabulary,
        "NotFoundException",
        404,
        VocabularyName=unique("never"),
        LanguageCode="en-US",
        Phrases=["x"],
    )
    assert transcribe.get_vocabulary(VocabularyName=name)["VocabularyState"] == "READY"
    refused(transcribe.get_transcription_job, "NotFoundException", 404, TranscriptionJobName=unique("never"))
    # DeleteTranscriptionJob models no NotFoundException (issue 18): its BadRequestException
    refused(transcribe.delete_transcription_job, "BadRequestException", 400, TranscriptionJobName=unique("x"))
    refused(transcribe.list_transcription_jobs, "BadRequestException", NextToken="zz")


def test_transcribe_job_on_bytes_that_are_not_audio_fails_with_a_reason(
    server: RunningServer, bucket: str
) -> None:
    transcribe = server.client("transcribe")
    name = unique("noise")
    transcribe.start_transcription_job(
        TranscriptionJobName=name, LanguageCode="en-US", Media={"MediaFileUri": f"s3://{bucket}/noise.wav"}
    )
    refused(
        transcribe.start_transcription_job,
        "ConflictException",
        409,
        TranscriptionJobName=name,
        LanguageCode="en-US",
        Media={"MediaFileUri": f"s3://{bucket}/noise.wav"},
    )
    job = wait_for(
        lambda: transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"],
        lambda j: j["TranscriptionJobStatus"] in ("FAILED", "COMPLETED"),
    )
    assert job["TranscriptionJobStatus"] == "FAILED"
    assert "decoded" in job["FailureReason"]


# -- the log -------------------------------------------------------------------------------------------------


def test_the_server_log_shows_no_unhandled_error(server: RunningServer, log_start: int) -> None:
    """Runs last: every refusal above was a modelled error, not an unhandled exception."""
    assert not unhandled_errors(server, log_start)
