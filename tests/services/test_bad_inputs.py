"""What a careless user sends to the newer services, and the AWS- or OpenAI-shaped refusal they must get.

Every call here is one the botocore model lets through (empty or wrong-but-well-typed values, unknown names,
corrupt bytes, calls out of order). Each must answer the operation's modelled error code with a 4xx status
and a readable message, never a 500 or a traceback, and must not damage what is already stored. The last
test reads the server log for unhandled errors raised by these calls.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker import IMAGE, ROLE, scaler_archive

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED = "amazon.titan-embed-text-v2:0"
HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
LONE_SURROGATE = "caf\ud800e"  # JSON may carry it as an escape; it has no UTF-8 form
SURROGATES_NEED_PROTOCOL = pytest.mark.xfail(
    strict=True,
    reason="a lone surrogate escape reaches the services and fails at .encode(); the JSON parser "
    "(protocol/parse.py _loads_json) should refuse it with SerializationException",
)


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def refused(call: Any, code: str, status: int = 400, **kwargs: Any) -> dict[str, Any]:
    """The error of a call that must fail with `code`/`status` and a message a person can read."""
    error = error_of(call, **kwargs)
    assert (error["Code"], error["Status"]) == (code, status), error
    message = error.get("Message") or error.get("message") or ""
    assert len(message) > 10 and "Traceback" not in message and "internal error" not in message.lower()
    return error


@pytest.fixture(scope="module")
def log_start(server: RunningServer) -> int:
    """Where the server log stood before this module's calls."""
    return server.log_path.stat().st_size


@pytest.fixture(scope="module")
def bucket(server: RunningServer, log_start: int) -> str:
    s3 = server.client("s3")
    name = unique("bad-inputs")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="noise.wav", Body=b"this is not audio " * 64)
    s3.put_object(Bucket=name, Key="notes.xyz", Body=b"x")
    s3.put_object(Bucket=name, Key="model/model.tar.gz", Body=scaler_archive(1))
    s3.put_object(Bucket=name, Key="junk/model.tar.gz", Body=b"not a tarball")
    return name


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


@SURROGATES_NEED_PROTOCOL
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


@SURROGATES_NEED_PROTOCOL
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
    speak = {"VoiceId": "Joanna", "OutputFormat": "mp3"}
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
    for call in (transcribe.get_transcription_job, transcribe.delete_transcription_job):
        refused(call, "NotFoundException", 404, TranscriptionJobName=unique("never"))
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


# -- SageMaker control plane and runtime ---------------------------------------------------------------------


def _model(sm: Any, url: str) -> str:
    name = unique("model")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": url,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    return name


def _config(sm: Any, model: str, **extra: Any) -> str:
    name = unique("config")
    variant = {
        "VariantName": "main",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], **extra)
    return name


def test_sagemaker_refuses_unknown_duplicate_and_inconsistent_resources(
    server: RunningServer, bucket: str
) -> None:
    sm = server.client("sagemaker")
    unchecked = server.client("sagemaker", parameter_validation=False)
    model = _model(sm, f"s3://{bucket}/model/model.tar.gz")
    again = refused(
        sm.create_model,
        "ValidationException",
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
    )
    assert "already existing" in again["Message"]
    refused(
        unchecked.create_model,
        "ValidationException",
        ModelName=unique("m"),
        ExecutionRoleArn=ROLE,
        Containers=[],
    )
    refused(
        sm.create_model,
        "ValidationException",
        ModelName=unique("m"),
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"ModelPackageName": "no-such-package"},
    )
    variant = {"VariantName": "main", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    unknown = refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=unique("c"),
        ProductionVariants=[{**variant, "ModelName": unique("nomodel")}],
    )
    assert "Could not find model" in unknown["Message"]
    refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=unique("c"),
        ProductionVariants=[{**variant, "ModelName": model}] * 2,
    )
    refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=unique("c"),
        ProductionVariants=[{**variant, "ModelName": model, "InitialVariantWeight": 0}],
    )
    config = _config(sm, model)
    refused(
        sm.create_endpoint_config,
        "ValidationException",
        EndpointConfigName=config,
        ProductionVariants=[{**variant, "ModelName": model}],
    )
    refused(
        sm.create_endpoint, "ValidationException", EndpointName=unique("e"), EndpointConfigName=unique("none")
    )
    for call, field in (
        (sm.describe_model, "ModelName"),
        (sm.delete_model, "ModelName"),
        (sm.describe_endpoint_config, "EndpointConfigName"),
        (sm.delete_endpoint_config, "EndpointConfigName"),
        (sm.describe_endpoint, "EndpointName"),
        (sm.delete_endpoint, "EndpointName"),
    ):
        assert "Could not find" in refused(call, "ValidationException", **{field: unique("never")})["Message"]
    refused(sm.list_models, "ValidationException", NextToken="garbage")
    refused(sm.describe_training_job, "ResourceNotFound", TrainingJobName=unique("never"))
    refused(sm.stop_training_job, "ResourceNotFound", TrainingJobName=unique("never"))
    refused(sm.describe_model_package_group, "ValidationException", ModelPackageGroupName=unique("never"))
    refused(
        sm.add_tags,
        "ValidationException",
        ResourceArn=f"arn:aws:sagemaker:us-east-1:000000000000:model/{unique('never')}",
        Tags=[{"Key": "team", "Value": "a"}],
    )
    assert sm.describe_model(ModelName=model)["ModelName"] == model  # the refusals left it alone


def test_sagemaker_calls_out_of_order_are_refused(server: RunningServer, bucket: str) -> None:
    sm = server.client("sagemaker")
    runtime = server.client("sagemaker-runtime")
    config = _config(sm, _model(sm, f"s3://{bucket}/model/model.tar.gz"))
    endpoint = unique("early")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    if sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating":
        early = refused(
            runtime.invoke_endpoint, "ValidationError", EndpointName=endpoint, Body=b'{"values": [1]}'
        )
        assert endpoint in early["Message"]
        busy = refused(
            sm.update_endpoint, "ValidationException", EndpointName=endpoint, EndpointConfigName=config
        )
        assert "in-progress" in busy["Message"]
    refused(sm.create_endpoint, "ValidationException", EndpointName=endpoint, EndpointConfigName=config)
    sm.delete_endpoint(EndpointName=endpoint)

    broken = unique("broken")
    sm.create_endpoint(
        EndpointName=broken, EndpointConfigName=_config(sm, _model(sm, f"s3://{bucket}/junk/model.tar.gz"))
    )
    described = wait_for(
        lambda: sm.describe_endpoint(EndpointName=broken), lambda d: d["EndpointStatus"] != "Creating"
    )
    assert described["EndpointStatus"] == "Failed"
    assert "tar.gz" in described["FailureReason"]
    refused(runtime.invoke_endpoint, "ValidationError", EndpointName=broken, Body=b'{"values": [1]}')
    sm.delete_endpoint(EndpointName=broken)

    for call in (runtime.invoke_endpoint, runtime.invoke_endpoint_with_response_stream):
        refused(call, "ValidationError", EndpointName=unique("never"), Body=b"{}")
    refused(
        runtime.invoke_endpoint_async,
        "ValidationError",
        EndpointName=unique("never"),
        InputLocation=f"s3://{bucket}/in.json",
    )
    refused(
        runtime.invoke_endpoint,
        "ValidationError",
        EndpointName=unique("never"),
        Body=b"{}",
        InferenceComponentName="component",
    )


# -- CloudWatch ----------------------------------------------------------------------------------------------

METRIC = {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}


def test_cloudwatch_refuses_bad_windows_periods_tokens_and_query_ids(server: RunningServer) -> None:
    cloudwatch = server.client("cloudwatch")
    now = datetime.now(UTC)
    hour = {"StartTime": now - timedelta(hours=1), "EndTime": now}
    refused(cloudwatch.get_metric_statistics, "MissingParameter", Period=60, **METRIC, **hour)
    refused(
        cloudwatch.get_metric_statistics,
        "InvalidParameterValue",
        Period=7,
        Statistics=["Sum"],
        **METRIC,
        **hour,
    )
    refused(
        cloudwatch.get_metric_statistics,
        "InvalidParameterValue",
        Period=60,
        Statistics=["Sum"],
        StartTime=now,
        EndTime=now - timedelta(hours=1),
        **METRIC,
    )
    too_many = refused(
        cloudwatch.get_metric_statistics,
        "InvalidParameterCombination",
        Period=60,
        Statistics=["Sum"],
        StartTime=now - timedelta(days=30),
        EndTime=now,
        **METRIC,
    )
    assert "43200" in too_many["Message"] and "1440" in too_many["Message"]
    day = cloudwatch.get_metric_statistics(
        Period=60, Statistics=["Sum"], StartTime=now - timedelta(days=1), EndTime=now, **METRIC
    )
    assert day["Datapoints"] == []  # exactly 1440 minutes is allowed

    def query(query_id: str, **stat: Any) -> dict[str, Any]:
        return {"Id": query_id, "MetricStat": {"Metric": METRIC, "Period": 60, "Stat": "Sum", **stat}}

    refused(
        cloudwatch.get_metric_data,
        "InvalidNextToken",
        MetricDataQueries=[query("calls")],
        NextToken="zz",
        **hour,
    )
    bad_id = refused(
        cloudwatch.get_metric_data, "InvalidParameterValue", MetricDataQueries=[query("Bad-Id")], **hour
    )
    assert "Bad-Id" in bad_id["Message"]
    twice = refused(
        cloudwatch.get_metric_data, "InvalidParameterValue", MetricDataQueries=[query("calls")] * 2, **hour
    )
    assert "calls" in twice["Message"]
    refused(
        cloudwatch.get_metric_data,
        "InvalidParameterValue",
        MetricDataQueries=[query("p", Stat="p99")],
        **hour,
    )
    refused(cloudwatch.list_metrics, "InvalidParameterValue", NextToken="zz")


# -- Lambda --------------------------------------------------------------------------------------------------


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _damaged_zip() -> bytes:
    """A zip whose directory reads fine but whose one member's compressed bytes are garbage."""
    package = bytearray(_zip({"app.py": HANDLER * 40}))
    for index in range(45, 60):
        package[index] ^= 0xFF
    return bytes(package)


def test_lambda_refuses_bad_packages_and_keeps_the_deployed_code(server: RunningServer) -> None:
    lam = server.client("lambda")
    name = unique("fn")
    create = {"Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler"}
    lam.create_function(FunctionName=name, Code={"ZipFile": _zip({"app.py": HANDLER})}, **create)
    refused(
        lam.create_function,
        "ResourceConflictException",
        409,
        FunctionName=name,
        Code={"ZipFile": b"x"},
        **create,
    )
    damaged = refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"ZipFile": _damaged_zip()},
        **create,
    )
    assert "unzip" in damaged["Message"]
    refused(
        lam.create_function, "InvalidParameterValueException", FunctionName=unique("fn"), Code={}, **create
    )
    refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"S3Bucket": unique("nobucket"), "S3Key": "code.zip"},
        **create,
    )
    refused(
        lam.create_function,
        "InvalidParameterValueException",
        FunctionName=unique("fn"),
        Code={"ZipFile": _zip({"app.py": HANDLER})},
        **{**create, "Runtime": "nodejs20.x"},
    )
    refused(
        lam.update_function_code, "InvalidParameterValueException", FunctionName=name, ZipFile=_damaged_zip()
    )
    refused(
        lam.update_function_code, "InvalidParameterValueException", FunctionName=name, ZipFile=b"not a zip"
    )
    refused(
        lam.update_function_configuration,
        "InvalidParameterValueException",
        FunctionName=name,
        Runtime="java21",
    )
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ok": True}  # the refused updates kept the old code

    refused(lam.invoke, "InvalidRequestContentException", FunctionName=name, Payload=b"{not json")
    refused(
        lam.invoke, "InvalidRequestContentException", FunctionName=name, Payload=b"{}", ClientContext="!!!"
    )
    refused(lam.invoke, "ResourceNotFoundException", 404, FunctionName=name, Qualifier="prod")
    for call in (lam.invoke, lam.get_function, lam.delete_function, lam.invoke_with_response_stream):
        missing = refused(call, "ResourceNotFoundException", 404, FunctionName=unique("never"))
        assert "Function not found" in missing["Message"]


# -- OpenAI-compatible API -----------------------------------------------------------------------------------


def _openai_error(response: httpx.Response, status: int, param: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and len(error["message"]) > 10
    if param is not None:
        assert error["param"] == param
    message: str = error["message"]
    return message


def test_openai_chat_refuses_malformed_bodies(server: RunningServer) -> None:
    url = server.endpoint + "/v1/chat/completions"
    hi = [{"role": "user", "content": "hi"}]

    def post(**kwargs: Any) -> httpx.Response:
        return httpx.post(url, timeout=60, **kwargs)

    _openai_error(post(content=b"\xff\xfe not json"), 400)
    _openai_error(post(content=b""), 400)
    _openai_error(post(json=[1, 2]), 400)
    _openai_error(post(json={"messages": hi}), 400, "model")
    assert "gpt-9" in _openai_error(post(json={"model": "gpt-9", "messages": hi}), 404, "model")
    _openai_error(post(json={"model": EMBED, "messages": hi}), 400, "model")
    _openai_error(post(json={"model": CHAT, "messages": []}), 400, "messages")
    _openai_error(post(json={"model": CHAT, "messages": "hi"}), 400)
    _openai_error(post(json={"model": CHAT, "messages": [{"content": "hi"}]}), 400)
    _openai_error(post(json={"model": CHAT, "messages": hi, "temperature": 99}), 400, "temperature")
    _openai_error(post(json={"model": CHAT, "messages": hi, "max_tokens": -1}), 400, "max_tokens")
    _openai_error(post(json={"model": CHAT, "messages": hi, "n": 2}), 400, "n")
    _openai_error(post(json={"model": CHAT, "messages": hi, "stream": "yes"}), 400)
    _openai_error(post(json={"model": CHAT, "messages": hi, "response_format": {"type": "xml"}}), 400)
    _openai_error(
        post(
            json={
                "model": CHAT,
                "messages": hi,
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            }
        ),
        400,
    )
    _openai_error(httpx.get(url, timeout=10), 405)


def test_openai_chat_refuses_parts_it_would_otherwise_drop(server: RunningServer) -> None:
    url = server.endpoint + "/v1/chat/completions"
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}
    look = [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}]
    message = _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": look}, timeout=60),
        400,
        "messages[0].content[1].type",
    )
    assert "text only" in message
    odd = [{"role": "user", "content": [{"type": "weird"}]}]
    _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": odd}, timeout=60), 400, "messages[0].content[0]"
    )
    orphan = [{"role": "user", "content": "hi"}, {"role": "tool", "content": "18 degrees"}]
    _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": orphan}, timeout=60), 400, "messages[1].tool_call_id"
    )
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert httpx.post(url, json={"model": CHAT, "messages": parts}, timeout=60).status_code == 200


def test_openai_embeddings_and_models_refuse_bad_inputs(server: RunningServer) -> None:
    url = server.endpoint + "/v1/embeddings"

    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(url, json=body, timeout=60)

    _openai_error(httpx.post(url, content=b"nope", timeout=10), 400)
    _openai_error(post({"model": EMBED}), 400, "input")
    _openai_error(post({"model": EMBED, "input": ""}), 400, "input")
    _openai_error(post({"model": EMBED, "input": [1, 2, 3]}), 400, "input")
    _openai_error(post({"model": EMBED, "input": ["a"] * 3000}), 400, "input")
    _openai_error(post({"model": EMBED, "input": "a", "dimensions": 100_000}), 400, "dimensions")
    _openai_error(post({"model": EMBED, "input": "a", "encoding_format": "hex"}), 400, "encoding_format")
    _openai_error(post({"model": "nope", "input": "a"}), 404, "model")
    _openai_error(post({"model": CHAT, "input": "a"}), 400, "model")
    _openai_error(httpx.get(server.endpoint + "/v1/models/nope", timeout=10), 404, "model")
    _openai_error(httpx.post(server.endpoint + "/v1/models", timeout=10), 405)
    _openai_error(httpx.post(server.endpoint + "/v1/completions", json={"model": CHAT}, timeout=10), 404)


# -- API Gateway and the console -----------------------------------------------------------------------------


def test_api_gateway_and_console_answer_unknown_paths_plainly(server: RunningServer) -> None:
    def get(path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(server.endpoint + path, timeout=10, **kwargs)

    for response in (
        get("/restapis/nosuchapi0/v1/_user_request_/x"),
        get("/restapis/abc"),
        get("/_apps/nosuch/x"),
        get("/x", headers={"Host": "nosuchapi0.execute-api.localhost.localstack.cloud:4566"}),
    ):
        assert response.status_code == 404
        assert len(response.json()["message"]) > 10  # API Gateway's {"message": ...} shape
    assert get("/_outcrop/console/no-such-asset.js").status_code == 404
    escape = get("/_outcrop/console/%2e%2e/%2e%2e/pyproject.toml")
    assert escape.status_code == 404 and b"[project]" not in escape.content


# -- the log -------------------------------------------------------------------------------------------------


def test_the_server_log_shows_no_unhandled_error(server: RunningServer, log_start: int) -> None:
    """Runs last: every refusal above must have been a modelled error, not an unhandled exception."""
    text = Path(server.log_path).read_bytes()[log_start:].decode(errors="replace")
    blocks = text.split("unhandled error in ")[1:]
    # Lone surrogates still fail inside the services until the JSON parser refuses them (see the xfails).
    unexpected = [block[:2000] for block in blocks if "surrogates not allowed" not in block[:4000]]
    assert not unexpected, unexpected
