"""Amazon Polly on local speech programs: piper's US English voice and espeak-ng's voices for other languages.

Every voice listed by DescribeVoices speaks here; the AWS voice ids are names for those local voices (see
`VOICES` and docs/polly-transcribe.md). Lexicons are PLS documents kept in SQLite; their aliases are applied
before synthesis. Synthesis tasks run in the background and write their output to S3 in-process.
Lexicons and tasks live in the account and region that made them; a task speaks with its region's lexicons.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from outcrop.backends.base import BackendError, BackendUnavailable
from outcrop.backends.registry import ModelRegistry
from outcrop.backends.speech.audio import encode, resample
from outcrop.backends.speech.lexicon import LexiconError, parse_lexicon
from outcrop.backends.speech.protocols import Phonemizer, Synthesizer, Transcriber
from outcrop.backends.speech.synth import SynthesisCancelled, marks_json_lines, synthesize
from outcrop.backends.speech.text import Script, SsmlError, plain_script, ssml_script
from outcrop.config import Settings
from outcrop.jobs.partition import Where
from outcrop.jobs.speech_task_worker import COMPLETED, FAILED, QUEUED, RUNNING, JobFailed, JobWorker
from outcrop.protocol.errors import ServiceError, ValidationException
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.polly.errors import (
    EngineNotSupportedException,
    InvalidLexiconException,
    InvalidNextTokenException,
    InvalidS3BucketException,
    InvalidS3KeyException,
    InvalidSampleRateException,
    InvalidSsmlException,
    InvalidTaskIdException,
    LanguageNotSupportedException,
    LexiconNotFoundException,
    LexiconSizeExceededException,
    MarksNotSupportedForFormatException,
    MaxLexemeLengthExceededException,
    MaxLexiconsNumberExceededException,
    ServiceFailureException,
    SsmlMarksNotSupportedForTextTypeException,
    SynthesisTaskNotFoundException,
    TextLengthExceededException,
    UnsupportedPlsAlphabetException,
    UnsupportedPlsLanguageException,
)
from outcrop.services.polly.lexicons import LexiconStore, TooManyLexicons
from outcrop.storage.objects import NoSuchBucket, ObjectAttributes, ObjectStore, StoreError

# The catalog's models Polly speaks and listens with (the bundled catalog names them; see catalog.toml).
PIPER = "piper-en-us-joe"
ESPEAK = "espeak-ng"
ENGLISH_LISTENER = "whisper-tiny.en"
LISTENER = "whisper-base"
MAX_CHARACTERS = 3000  # billed characters (text without SSML tags) per SynthesizeSpeech
MAX_TOTAL_CHARACTERS = 6000  # including SSML tags
MAX_TASK_CHARACTERS = 100_000
MAX_TASK_TOTAL_CHARACTERS = 200_000
MAX_LEXICONS = 100
MAX_LEXICON_CHARACTERS = 4000


_TASK_PAGES = Pager(InvalidNextTokenException, "The NextToken is not valid", default=100)


@dataclass(frozen=True)
class Voice:
    id: str
    gender: str
    language: str
    language_name: str
    espeak: str | None  # None: the piper voice

    @property
    def engines(self) -> list[str]:
        return ["standard"] if self.espeak else ["standard", "neural"]


def _voices() -> dict[str, Voice]:
    piper_us = ["Joanna:F", "Matthew:M", "Joey:M", "Justin:M", "Kevin:M", "Salli:F", "Kimberly:F", "Kendra:F"]
    piper_us += ["Ivy:F", "Ruth:F", "Stephen:M", "Danielle:F", "Gregory:M"]
    espeak = {  # language: (name, espeak-ng voice, ids)
        "en-GB": ("British English", "en-gb", "Amy:F Emma:F Brian:M Arthur:M"),
        "es-ES": ("Castilian Spanish", "es", "Lucia:F Conchita:F Enrique:M Sergio:M"),
        "es-US": ("US Spanish", "es-419", "Lupe:F Penelope:F Miguel:M"),
        "es-MX": ("Mexican Spanish", "es-419", "Mia:F"),
        "fr-FR": ("French", "fr-fr", "Celine:F Lea:F Mathieu:M Remi:M"),
        "de-DE": ("German", "de", "Marlene:F Vicki:F Hans:M Daniel:M"),
        "it-IT": ("Italian", "it", "Carla:F Bianca:F Giorgio:M Adriano:M"),
        "pt-BR": ("Brazilian Portuguese", "pt-br", "Vitoria:F Camila:F Ricardo:M Thiago:M"),
        "pt-PT": ("Portuguese", "pt", "Ines:F Cristiano:M"),
        "nl-NL": ("Dutch", "nl", "Lotte:F Ruben:M"),
        "pl-PL": ("Polish", "pl", "Ewa:F Maja:F Jacek:M Jan:M"),
        "ru-RU": ("Russian", "ru", "Tatyana:F Maxim:M"),
        "sv-SE": ("Swedish", "sv", "Astrid:F"),
        "da-DK": ("Danish", "da", "Naja:F Mads:M"),
        "nb-NO": ("Norwegian", "nb", "Liv:F"),
        "tr-TR": ("Turkish", "tr", "Filiz:F"),
        "ro-RO": ("Romanian", "ro", "Carmen:F"),
        "is-IS": ("Icelandic", "is", "Dora:F Karl:M"),
        "cy-GB": ("Welsh", "cy", "Gwyneth:F"),
        "ja-JP": ("Japanese", "ja", "Mizuki:F Takumi:M"),
        "ko-KR": ("Korean", "ko", "Seoyeon:F"),
        "cmn-CN": ("Chinese Mandarin", "cmn", "Zhiyu:F"),
        "hi-IN": ("Hindi", "hi", "Aditi:F"),
        "arb": ("Arabic", "ar", "Zeina:F"),
    }
    voices = {}
    for entry in piper_us:
        name, sex = entry.split(":")
        voices[name] = Voice(name, "Female" if sex == "F" else "Male", "en-US", "US English", None)
    for language, (language_name, espeak_name, ids) in espeak.items():
        for entry in ids.split():
            name, sex = entry.split(":")
            variant = espeak_name + ("+f2" if sex == "F" else "")
            voices[name] = Voice(name, "Female" if sex == "F" else "Male", language, language_name, variant)
    return voices


VOICES = _voices()

# output format -> (content type, allowed sample rates, default rate)
_FORMATS = {
    "mp3": ("audio/mpeg", ("8000", "16000", "22050", "24000"), "22050"),
    "ogg_vorbis": ("audio/ogg", ("8000", "16000", "22050", "24000"), "22050"),
    "ogg_opus": ("audio/ogg", ("8000", "16000", "24000", "48000"), "48000"),
    "pcm": ("audio/pcm", ("8000", "16000"), "16000"),
    "mulaw": ("audio/basic", ("8000",), "8000"),
    "alaw": ("audio/alaw", ("8000",), "8000"),
    "json": ("application/x-json-stream", ("8000", "16000", "22050", "24000"), "22050"),
}
_EXTENSIONS = {
    "mp3": "mp3",
    "ogg_vorbis": "ogg",
    "ogg_opus": "ogg",
    "pcm": "pcm",
    "mulaw": "ulaw",
    "alaw": "alaw",
}
_TASK_STATUS = {QUEUED: "scheduled", RUNNING: "inProgress", COMPLETED: "completed", FAILED: "failed"}


class Polly(Service):
    service_name: ClassVar[str] = "polly"

    def __init__(
        self,
        *,
        models: ModelRegistry,
        objects: ObjectStore,
        settings: Settings,
        data_path: Callable[..., Path],
    ) -> None:
        self.models = models
        self.objects = objects
        place = {"account": settings.account_id, "region": settings.region}
        self._lexicons = LexiconStore(data_path("polly") / "lexicons.sqlite3", **place)
        self._tasks = JobWorker(
            data_path("polly") / "tasks.sqlite3",
            self._run_task,
            "polly-tasks",
            account=place["account"],
            region=place["region"],
        )
        self._tasks.start()

    def close(self) -> None:
        self._tasks.close()
        self._lexicons.close()

    # -- synthesis -------------------------------------------------------------------------------------

    def synthesize_speech(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        request = self._checked(ctx, params, MAX_CHARACTERS, MAX_TOTAL_CHARACTERS)
        body, content_type, characters = self._render(request, (ctx.account_id, ctx.region), ctx.cancel)
        return {"AudioStream": body, "ContentType": content_type, "RequestCharacters": characters}

    def _checked(
        self, ctx: RequestContext, params: dict[str, Any], limit: int, total_limit: int
    ) -> dict[str, Any]:
        """Every check SynthesizeSpeech and StartSpeechSynthesisTask make before any audio is made."""
        voice = self._voice(params["VoiceId"])
        engine = params.get("Engine", "standard")
        if engine not in voice.engines:
            raise EngineNotSupportedException(
                f"Voice {voice.id} does not support the {engine} engine here; supported: {voice.engines}"
            )
        language = params.get("LanguageCode")
        if language and language != voice.language:
            raise LanguageNotSupportedException(f"Voice {voice.id} does not speak {language}")
        output_format = params["OutputFormat"]
        _, rates, default_rate = _FORMATS[output_format]
        if engine == "neural" and output_format in ("mp3", "ogg_vorbis", "json"):
            default_rate = "24000"  # Polly's default for neural voices
        rate = params.get("SampleRate") or default_rate
        if rate not in rates:
            raise InvalidSampleRateException(
                f"Sample rate {rate} is not valid for {output_format}; valid: {', '.join(rates)}"
            )
        marks = list(params.get("SpeechMarkTypes") or [])
        text_type = params.get("TextType", "text")
        if output_format == "json" and not marks:
            raise ValidationException(
                "SpeechMarkTypes must name at least one mark type when OutputFormat is json"
            )
        if marks and output_format != "json":
            raise MarksNotSupportedForFormatException("Speech marks are only returned with OutputFormat json")
        if "ssml" in marks and text_type != "ssml":
            raise SsmlMarksNotSupportedForTextTypeException("ssml speech marks need TextType ssml")
        text = params["Text"]
        script = self._script(text, text_type)
        if len(text) > total_limit or script.characters > limit:
            raise TextLengthExceededException(
                f"Maximum text length has been exceeded: {script.characters} characters, the limit is {limit}"
            )
        names = list(params.get("LexiconNames") or [])
        self._aliases(names, voice.language, (ctx.account_id, ctx.region))  # LexiconNotFound early
        return {
            "VoiceId": voice.id,
            "Engine": engine,
            "OutputFormat": output_format,
            "SampleRate": rate,
            "SpeechMarkTypes": marks,
            "TextType": text_type,
            "Text": text,
            "LexiconNames": names,
            "LanguageCode": voice.language,
            "Characters": script.characters,
        }

    def _script(self, text: str, text_type: str) -> Script:
        if text_type != "ssml":
            if not text.strip():
                raise ValidationException("Text must not be empty")
            return plain_script(text)
        try:
            return ssml_script(text)
        except SsmlError as error:
            raise InvalidSsmlException(f"Invalid SSML request: {error}") from None

    def _voice(self, voice_id: str) -> Voice:
        voice = VOICES.get(voice_id)
        if voice is None:
            raise ValidationException(
                f"Voice {voice_id} is not available here: Outcrop serves only voices it can speak locally "
                "(DescribeVoices lists them)"
            )
        return voice

    def _speaker(self, voice: Voice) -> Synthesizer:
        engine: Synthesizer = self.models.get(ESPEAK if voice.espeak else PIPER, "text-to-speech")
        return engine

    def _phonemizer(self) -> Phonemizer:
        """espeak-ng's phonemes for viseme marks, whichever program speaks (piper phonemizes with it too)."""
        engine = self.models.get(ESPEAK, "text-to-speech")
        if not isinstance(engine, Phonemizer):
            raise BackendUnavailable(f"{ESPEAK} gives no phonemes for viseme speech marks")
        return engine

    def _listener(self, voice: Voice) -> Transcriber:
        """Whisper, to time the words of speech marks: tiny.en for English, base for other languages."""
        name = ENGLISH_LISTENER if voice.language.startswith("en-") else LISTENER
        listener: Transcriber = self.models.get(name, "speech-to-text")
        return listener

    def _render(
        self, request: dict[str, Any], where: Where, cancel: threading.Event | None = None
    ) -> tuple[bytes, str, int]:
        voice = VOICES[request["VoiceId"]]
        script = self._script(request["Text"], request["TextType"])
        aliases = self._aliases(request["LexiconNames"], voice.language, where)
        marks = frozenset(request["SpeechMarkTypes"])
        try:
            audio, found = synthesize(
                script,
                lambda: self._speaker(voice),
                voice=voice.espeak,
                aliases=aliases,
                mark_types=marks,
                listener=lambda: self._listener(voice),
                phonemizer=self._phonemizer,
                phoneme_voice=voice.espeak or "en-us",  # the piper voice speaks espeak-ng's en-us phonemes
                cancel=cancel,
            )
        except SynthesisCancelled:
            raise ServiceFailureException("Synthesis stopped: the client disconnected") from None
        except BackendUnavailable as error:
            raise ServiceFailureException(f"The speech engine is not available: {error}") from None
        except BackendError as error:
            raise ServiceFailureException(f"Speech synthesis failed: {error}") from None
        output_format = request["OutputFormat"]
        content_type = _FORMATS[output_format][0]
        if output_format == "json":
            return marks_json_lines(found), content_type, request["Characters"]
        body = encode(resample(audio, int(request["SampleRate"])), output_format)
        return body, content_type, request["Characters"]

    # -- voices ----------------------------------------------------------------------------------------

    def describe_voices(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("NextToken"):
            raise InvalidNextTokenException("The NextToken is not valid: every voice fits in one page")
        engine, language = params.get("Engine"), params.get("LanguageCode")
        listed = [
            v
            for v in VOICES.values()
            if (engine is None or engine in v.engines) and (language is None or v.language == language)
        ]
        voices = []
        for voice in sorted(listed, key=lambda v: (v.language, v.id)):
            entry = {
                "Id": voice.id,
                "Name": voice.id,
                "Gender": voice.gender,
                "LanguageCode": voice.language,
                "LanguageName": voice.language_name,
                "SupportedEngines": voice.engines,
            }
            if params.get("IncludeAdditionalLanguageCodes"):
                entry["AdditionalLanguageCodes"] = []
            voices.append(entry)
        return {"Voices": voices}

    # -- lexicons --------------------------------------------------------------------------------------

    def put_lexicon(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, content = params["Name"], params["Content"]
        if params.get("Tags"):
            raise ValidationException(
                "Outcrop does not serve tags on Polly lexicons (no TagResource either)."
            )
        if len(content) > MAX_LEXICON_CHARACTERS:
            raise LexiconSizeExceededException(f"The lexicon is over {MAX_LEXICON_CHARACTERS} characters")
        try:
            lexicon = parse_lexicon(content)
        except LexiconError as error:
            raise {
                "alphabet": UnsupportedPlsAlphabetException,
                "language": UnsupportedPlsLanguageException,
                "lexeme-length": MaxLexemeLengthExceededException,
            }.get(error.kind, InvalidLexiconException)(str(error)) from None
        if lexicon.language not in {v.language for v in VOICES.values()}:
            raise UnsupportedPlsLanguageException(
                f"No voice here speaks the lexicon's language {lexicon.language}"
            )
        try:
            self._lexicons.put(
                name,
                content,
                alphabet=lexicon.alphabet,
                language=lexicon.language,
                lexemes=len(lexicon.lexemes),
                limit=MAX_LEXICONS,
                where=(ctx.account_id, ctx.region),
            )
        except TooManyLexicons:
            raise MaxLexiconsNumberExceededException(
                f"An account holds at most {MAX_LEXICONS} lexicons in a Region"
            ) from None
        return {}

    def get_lexicon(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._lexicon_row(params["Name"], (ctx.account_id, ctx.region))
        return {
            "Lexicon": {"Content": row["content"], "Name": row["name"]},
            "LexiconAttributes": self._attrs(ctx, row),
        }

    def list_lexicons(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("NextToken"):
            raise InvalidNextTokenException("The NextToken is not valid: every lexicon fits in one page")
        rows = self._lexicons.all(where=(ctx.account_id, ctx.region))
        return {"Lexicons": [{"Name": r["name"], "Attributes": self._attrs(ctx, r)} for r in rows]}

    def delete_lexicon(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not self._lexicons.delete(params["Name"], where=(ctx.account_id, ctx.region)):
            raise LexiconNotFoundException(f"Lexicon not found: {params['Name']}")
        return {}

    def _lexicon_row(self, name: str, where: Where) -> Any:
        row = self._lexicons.get(name, where=where)
        if row is None:
            raise LexiconNotFoundException(f"Lexicon not found: {name}")
        return row

    @staticmethod
    def _attrs(ctx: RequestContext, row: Any) -> dict[str, Any]:
        return {
            "Alphabet": row["alphabet"],
            "LanguageCode": row["language"],
            "LastModified": datetime.fromtimestamp(row["modified"], UTC),
            "LexiconArn": ctx.arn("polly", f"lexicon/{row['name']}"),
            "LexemesCount": row["lexemes"],
            "Size": row["size"],
        }

    def _aliases(self, names: list[str], language: str, where: Where) -> dict[str, str]:
        """Aliases of the named lexicons in the voice's language; an earlier lexicon wins, as in Polly."""
        aliases: dict[str, str] = {}
        for name in names:
            row = self._lexicon_row(name, where)
            if row["language"] != language:
                continue
            for grapheme, alias in parse_lexicon(row["content"]).aliases().items():
                aliases.setdefault(grapheme, alias)
        return aliases

    # -- synthesis tasks -------------------------------------------------------------------------------

    def start_speech_synthesis_task(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        request = self._checked(ctx, params, MAX_TASK_CHARACTERS, MAX_TASK_TOTAL_CHARACTERS)
        bucket = params["OutputS3BucketName"]
        try:
            self.objects.get_bucket(bucket)
        except (NoSuchBucket, StoreError):
            raise InvalidS3BucketException(f"The bucket {bucket} does not exist") from None
        prefix = params.get("OutputS3KeyPrefix", "")
        task_id = str(uuid.uuid4())
        extension = "marks" if request["OutputFormat"] == "json" else _EXTENSIONS[request["OutputFormat"]]
        key = (
            f"{prefix}.{task_id}.{extension}"
            if prefix and not prefix.endswith("/")
            else f"{prefix}{task_id}.{extension}"
        )
        if len(key.encode()) > 1024:
            raise InvalidS3KeyException("The output key would be over S3's 1024-byte limit")
        request |= {"Bucket": bucket, "Key": key, "OutputUri": f"{ctx.base_url}/{bucket}/{key}"}
        if params.get("SnsTopicArn"):
            request["SnsTopicArn"] = params["SnsTopicArn"]
        job = self._tasks.submit(task_id, request, where=(ctx.account_id, ctx.region))
        return {"SynthesisTask": self._task(job)}

    def get_speech_synthesis_task(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        task_id = params["TaskId"]
        try:
            uuid.UUID(task_id)
        except ValueError:
            raise InvalidTaskIdException(f"The task id {task_id} is not valid") from None
        job = self._tasks.get(task_id, where=(ctx.account_id, ctx.region))
        if job is None:
            raise SynthesisTaskNotFoundException(f"Synthesis task {task_id} not found")
        return {"SynthesisTask": self._task(job)}

    def list_speech_synthesis_tasks(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = {v: k for k, v in _TASK_STATUS.items()}.get(params.get("Status", ""))
        jobs = self._tasks.list(where=(ctx.account_id, ctx.region), status=wanted)
        page, token = _TASK_PAGES.page(jobs, params)
        output: dict[str, Any] = {"SynthesisTasks": [self._task(j) for j in page]}
        if token:
            output["NextToken"] = token
        return output

    def _task(self, job: Any) -> dict[str, Any]:
        request = job.request
        task = {
            "Engine": request["Engine"],
            "TaskId": job.id,
            "TaskStatus": _TASK_STATUS[job.status],
            "OutputUri": request["OutputUri"],
            "CreationTime": datetime.fromtimestamp(job.created, UTC),
            "RequestCharacters": request["Characters"],
            "LexiconNames": request["LexiconNames"],
            "OutputFormat": request["OutputFormat"],
            "SampleRate": request["SampleRate"],
            "SpeechMarkTypes": request["SpeechMarkTypes"],
            "TextType": request["TextType"],
            "VoiceId": request["VoiceId"],
            "LanguageCode": request["LanguageCode"],
        }
        if "SnsTopicArn" in request:
            task["SnsTopicArn"] = request["SnsTopicArn"]
        if job.reason:
            task["TaskStatusReason"] = job.reason
        return task

    def _run_task(self, job: Any) -> dict[str, Any]:
        request = job.request
        try:
            body, content_type, _ = self._render(request, job.where)
        except ServiceError as error:
            raise JobFailed(error.message) from None
        try:
            self.objects.put_object(
                request["Bucket"], request["Key"], body, ObjectAttributes(content_type=content_type)
            )
        except StoreError as error:
            raise JobFailed(
                f"Could not write the output to s3://{request['Bucket']}/{request['Key']}: {error}"
            ) from None
        return {"Size": len(body)}
