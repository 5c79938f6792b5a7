"""Polly through boto3: voices, lexicons and refusals (fast), then real synthesis with piper and espeak-ng."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import av
import pytest

from tests.errors import error_of
from tests.server import RunningServer

LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
  alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""


@pytest.fixture
def polly(client: Callable[..., Any]) -> Any:
    return client("polly")


def test_describe_voices_lists_only_local_voices(polly: Any) -> None:
    voices = polly.describe_voices()["Voices"]
    by_id = {v["Id"]: v for v in voices}
    assert by_id["Joanna"]["LanguageCode"] == "en-US"
    assert by_id["Joanna"]["SupportedEngines"] == ["standard", "neural"]
    assert by_id["Hans"]["LanguageCode"] == "de-DE" and by_id["Hans"]["SupportedEngines"] == ["standard"]
    spanish = polly.describe_voices(LanguageCode="es-ES")["Voices"]
    assert spanish and all(v["LanguageCode"] == "es-ES" for v in spanish)
    neural = polly.describe_voices(Engine="neural")["Voices"]
    assert neural and all(v["LanguageCode"] == "en-US" for v in neural)


def test_lexicon_lifecycle(polly: Any) -> None:
    name = f"lex{uuid.uuid4().hex[:8]}"
    polly.put_lexicon(Name=name, Content=LEXICON)
    got = polly.get_lexicon(Name=name)
    assert got["Lexicon"] == {"Content": LEXICON, "Name": name}
    attributes = got["LexiconAttributes"]
    assert attributes["Alphabet"] == "ipa" and attributes["LanguageCode"] == "en-US"
    assert attributes["LexemesCount"] == 1 and attributes["Size"] == len(LEXICON)
    assert attributes["LexiconArn"].endswith(f":lexicon/{name}")
    assert name in [x["Name"] for x in polly.list_lexicons()["Lexicons"]]
    polly.delete_lexicon(Name=name)
    assert error_of(polly.get_lexicon, Name=name)["Code"] == "LexiconNotFoundException"
    assert error_of(polly.delete_lexicon, Name=name)["Status"] == 404


def test_lexicon_tags_are_refused_not_ignored(polly: Any) -> None:
    name = f"tagged{uuid.uuid4().hex[:6]}"
    error = error_of(polly.put_lexicon, Name=name, Content=LEXICON, Tags={"team": "speech"})
    assert error["Code"] == "ValidationException" and "tags" in error["Message"]
    assert name not in [lexicon["Name"] for lexicon in polly.list_lexicons()["Lexicons"]]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("<lexicon>not pls</lexicon>", "InvalidLexiconException"),
        ("<lexicon", "InvalidLexiconException"),
        (LEXICON.replace('alphabet="ipa"', 'alphabet="klingon"'), "UnsupportedPlsAlphabetException"),
        (LEXICON.replace('xml:lang="en-US"', 'xml:lang="tlh"'), "UnsupportedPlsLanguageException"),
        (
            LEXICON.replace("</lexicon>", "<!--" + "x" * 4000 + "--></lexicon>"),
            "LexiconSizeExceededException",
        ),
    ],
)
def test_bad_lexicons_are_refused(polly: Any, content: str, code: str) -> None:
    error = error_of(polly.put_lexicon, Name="bad", Content=content)
    assert (error["Code"], error["Status"]) == (code, 400)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"Text": ""}, "ValidationException"),
        ({"Text": "<speak>Hello", "TextType": "ssml"}, "InvalidSsmlException"),
        ({"Text": "<speak><blink>Hi</blink></speak>", "TextType": "ssml"}, "InvalidSsmlException"),
        ({"VoiceId": "Aria"}, "ValidationException"),  # a real Polly voice (en-NZ) with no local voice
        ({"VoiceId": "Nobody"}, "ValidationException"),
        ({"VoiceId": "Hans", "Engine": "neural"}, "EngineNotSupportedException"),
        ({"Engine": "generative"}, "EngineNotSupportedException"),
        ({"LanguageCode": "fr-FR"}, "LanguageNotSupportedException"),
        ({"OutputFormat": "pcm", "SampleRate": "22050"}, "InvalidSampleRateException"),
        ({"SampleRate": "44100"}, "InvalidSampleRateException"),
        ({"SpeechMarkTypes": ["word"]}, "MarksNotSupportedForFormatException"),
        ({"OutputFormat": "json", "SpeechMarkTypes": ["ssml"]}, "SsmlMarksNotSupportedForTextTypeException"),
        ({"Text": "word " * 700}, "TextLengthExceededException"),
        ({"LexiconNames": ["missing"]}, "LexiconNotFoundException"),
    ],
)
def test_bad_requests_get_polly_errors(polly: Any, overrides: dict[str, Any], code: str) -> None:
    request = {"Text": "Hello.", "VoiceId": "Joanna", "OutputFormat": "mp3", **overrides}
    error = error_of(polly.synthesize_speech, **request)
    assert error["Code"] == code
    assert error["Status"] == (404 if code == "LexiconNotFoundException" else 400)


def test_ssml_with_only_a_pause_is_silence(polly: Any) -> None:
    ssml = "<speak><break time='300ms'/></speak>"
    pcm = polly.synthesize_speech(Text=ssml, TextType="ssml", VoiceId="Joanna", OutputFormat="pcm")
    assert len(pcm["AudioStream"].read()) == 2 * 16000 * 300 // 1000
    assert pcm["RequestCharacters"] == 0
    for output_format in ("mp3", "ogg_vorbis"):
        empty = polly.synthesize_speech(
            Text="<speak></speak>", TextType="ssml", VoiceId="Joanna", OutputFormat=output_format
        )
        assert _codec(empty["AudioStream"].read())[0] in ("mp3", "ogg")


def test_task_errors(polly: Any, client: Callable[..., Any]) -> None:
    request = {
        "Text": "Hi.",
        "VoiceId": "Joanna",
        "OutputFormat": "mp3",
        "OutputS3BucketName": "no-such-bucket-x",
    }
    assert error_of(polly.start_speech_synthesis_task, **request)["Code"] == "InvalidS3BucketException"
    bucket = f"polly-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    bad_topic = {**request, "OutputS3BucketName": bucket, "SnsTopicArn": "not-an-arn"}
    assert (
        error_of(polly.start_speech_synthesis_task, **bad_topic)["Code"] == "ValidationException"
    )  # model pattern
    assert error_of(polly.get_speech_synthesis_task, TaskId="not-a-task")["Code"] == "InvalidTaskIdException"
    missing = error_of(polly.get_speech_synthesis_task, TaskId=str(uuid.uuid4()))
    assert missing["Code"] == "SynthesisTaskNotFoundException"


# -- real synthesis ---------------------------------------------------------------------------------------


def _codec(data: bytes) -> tuple[str, str, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return container.format.name, stream.codec_context.name, stream.codec_context.sample_rate


@pytest.mark.real
def test_each_output_format_is_what_it_claims(real_server: RunningServer) -> None:
    polly = real_server.client("polly")
    text = "Every format carries the same sentence."
    mp3 = polly.synthesize_speech(Text=text, VoiceId="Joanna", OutputFormat="mp3")
    assert mp3["ContentType"] == "audio/mpeg" and mp3["RequestCharacters"] == len(text)
    container, codec, rate = _codec(mp3["AudioStream"].read())
    assert (container, rate) == ("mp3", 22050) and codec.startswith("mp3")
    ogg = polly.synthesize_speech(Text=text, VoiceId="Joanna", OutputFormat="ogg_vorbis", SampleRate="16000")
    assert ogg["ContentType"] == "audio/ogg"
    assert _codec(ogg["AudioStream"].read()) == ("ogg", "vorbis", 16000)
    pcm = polly.synthesize_speech(Text=text, VoiceId="Joanna", OutputFormat="pcm")
    assert pcm["ContentType"] == "audio/pcm"
    samples = pcm["AudioStream"].read()
    assert len(samples) % 2 == 0 and 1.0 < len(samples) / 2 / 16000 < 8.0  # 16-bit mono at 16 kHz
    neural = polly.synthesize_speech(Text=text, VoiceId="Joanna", OutputFormat="mp3", Engine="neural")
    assert _codec(neural["AudioStream"].read())[2] == 24000  # Polly's default rate for neural voices
    german = polly.synthesize_speech(Text="Guten Morgen, wie geht es?", VoiceId="Hans", OutputFormat="mp3")
    assert _codec(german["AudioStream"].read())[0] == "mp3"


@pytest.mark.real
def test_speech_marks_follow_the_text_in_time(real_server: RunningServer) -> None:
    polly = real_server.client("polly")
    ssml = (
        "<speak>The cat sat on the mat. <break time='800ms'/><mark name='middle'/>"
        "<prosody rate='slow'>Then it slept all day.</prosody></speak>"
    )
    response = polly.synthesize_speech(
        Text=ssml,
        TextType="ssml",
        VoiceId="Matthew",
        OutputFormat="json",
        SpeechMarkTypes=["sentence", "word", "ssml"],
    )
    assert response["ContentType"] == "application/x-json-stream"
    marks = [json.loads(line) for line in response["AudioStream"].read().splitlines()]
    words = [m for m in marks if m["type"] == "word"]
    assert [w["value"] for w in words] == [
        "The",
        "cat",
        "sat",
        "on",
        "the",
        "mat",
        "Then",
        "it",
        "slept",
        "all",
        "day",
    ]
    times = [w["time"] for w in words]
    assert times == sorted(times) and times[-1] > times[0] + 1000
    for mark in words:
        assert ssml.encode()[mark["start"] : mark["end"]].decode() == mark["value"]
    sentences = [m for m in marks if m["type"] == "sentence"]
    assert [s["value"] for s in sentences] == ["The cat sat on the mat.", "Then it slept all day."]
    (middle,) = [m for m in marks if m["type"] == "ssml"]
    assert middle["value"] == "middle"
    # the mark comes after the 800 ms pause that follows the first sentence, and before the second sentence
    assert words[5]["time"] + 800 < middle["time"] <= sentences[1]["time"]


@pytest.mark.real
def test_viseme_marks_follow_the_phonemes_of_each_word(real_server: RunningServer) -> None:
    """Piper's Matthew and espeak-ng's Celine: each word's espeak-ng phonemes as Polly's visemes, inside the
    word's heard span, and "sil" where the speech ends."""
    polly = real_server.client("polly")
    for voice, text, expected in (
        ("Matthew", "Hello world.", ["k", "@", "t", "o", "u", "E", "t", "sil"]),
        ("Celine", "Bonjour le monde.", ["p", "O", "S", "u", "r", "t", "@", "p", "O", "t", "sil"]),
    ):
        response = polly.synthesize_speech(
            Text=text, VoiceId=voice, OutputFormat="json", SpeechMarkTypes=["word", "viseme"]
        )
        marks = [json.loads(line) for line in response["AudioStream"].read().splitlines()]
        visemes = [m for m in marks if m["type"] == "viseme"]
        words = [m for m in marks if m["type"] == "word"]
        assert [v["value"] for v in visemes] == expected, visemes
        assert all(set(v) == {"time", "type", "value"} for v in visemes)
        times = [m["time"] for m in marks]
        assert times == sorted(times)
        assert visemes[0]["time"] == words[0]["time"]  # a word's first viseme starts with the word
        assert visemes[-1]["time"] > words[-1]["time"] > words[0]["time"]  # "sil" after the last word starts


@pytest.mark.real
def test_a_lexicon_alias_changes_the_audio(real_server: RunningServer) -> None:
    polly = real_server.client("polly")
    polly.put_lexicon(Name="acronyms", Content=LEXICON)
    plain = polly.synthesize_speech(Text="The W3C.", VoiceId="Joanna", OutputFormat="pcm")[
        "AudioStream"
    ].read()
    aliased = polly.synthesize_speech(
        Text="The W3C.", VoiceId="Joanna", OutputFormat="pcm", LexiconNames=["acronyms"]
    )["AudioStream"].read()
    # "World Wide Web Consortium" takes longer to say than "double-u three C"; the transcript is checked
    # in test_transcribe
    assert len(aliased) > 1.2 * len(plain)


@pytest.mark.real
def test_synthesis_task_writes_to_s3(real_server: RunningServer) -> None:
    polly, s3 = real_server.client("polly"), real_server.client("s3")
    s3.create_bucket(Bucket="polly-tasks")
    task = polly.start_speech_synthesis_task(
        Text="Written to a bucket.",
        VoiceId="Joanna",
        OutputFormat="mp3",
        OutputS3BucketName="polly-tasks",
        OutputS3KeyPrefix="speech/",
    )["SynthesisTask"]
    assert task["TaskStatus"] in ("scheduled", "inProgress", "completed")
    deadline = time.monotonic() + 120
    while task["TaskStatus"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        task = polly.get_speech_synthesis_task(TaskId=task["TaskId"])["SynthesisTask"]
    assert task["TaskStatus"] == "completed", task
    key = f"speech/{task['TaskId']}.mp3"
    assert task["OutputUri"].endswith(f"/polly-tasks/{key}")
    body = s3.get_object(Bucket="polly-tasks", Key=key)["Body"].read()
    assert _codec(body)[0] == "mp3"
    listed = polly.list_speech_synthesis_tasks(Status="completed")["SynthesisTasks"]
    assert task["TaskId"] in [t["TaskId"] for t in listed]
