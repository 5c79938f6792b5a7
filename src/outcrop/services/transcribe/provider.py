"""Amazon Transcribe batch jobs on faster-whisper (Whisper base, multilingual).

Jobs read their media from the S3 store in-process, run one at a time on a background thread, and keep
their state in SQLite under the data dir; jobs left queued or running by a stopped server run again when
it starts. The transcript goes to the caller's bucket, or to a bucket Outcrop owns whose object URL (served
by the S3 layer, presigned when signatures are enforced) is the TranscriptFileUri.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from outcrop.backends.base import BackendError
from outcrop.backends.registry import ModelRegistry
from outcrop.backends.speech.audio import sample_rate
from outcrop.backends.speech.protocols import Transcriber
from outcrop.config import Settings
from outcrop.jobs.speech_task_worker import (
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    Job,
    JobExists,
    JobFailed,
    JobWorker,
)
from outcrop.jobs.transcription import run_transcription, transcript_document, whisper_language
from outcrop.jobs.transcription_subtitles import subtitles
from outcrop.jobs.transcription_vocabulary import (
    Vocabulary,
    VocabularyError,
    VocabularyStore,
    check_phrases,
    phrases_from_file,
)
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.storage.objects import BucketAlreadyOwnedByYou, ObjectAttributes, ObjectStore, StoreError

SERVICE_BUCKET = "outcrop-transcribe-output"
TRANSCRIBER = "whisper-base"  # the catalog's speech-to-text model that transcribes (multilingual)
MEDIA_FORMATS = ("mp3", "mp4", "wav", "flac", "ogg", "amr", "webm", "m4a")
MAX_VOCABULARY_FILE_BYTES = 50 * 1024  # Transcribe's limit on a custom vocabulary file
_STATUS = {QUEUED: "QUEUED", RUNNING: "IN_PROGRESS", COMPLETED: "COMPLETED", FAILED: "FAILED"}
_UNSERVED_SETTINGS = {
    "ShowSpeakerLabels": "speaker labels (no diarization model is packaged)",
    "ChannelIdentification": "channel identification",
    "ShowAlternatives": "alternative transcriptions",
    "VocabularyFilterName": "vocabulary filters",
}


class BadRequestException(ServiceError, service="transcribe"): ...


class NotFoundException(ServiceError, service="transcribe"): ...


class ConflictException(ServiceError, service="transcribe"): ...


_PAGES = Pager(BadRequestException, "The NextToken is not valid", default=5)


def parse_media_uri(uri: str, base_url: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI, an S3 https URL (path or virtual-host style) or this server's URL."""
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
    else:
        url = urlparse(uri)
        host = url.hostname or ""
        path = unquote(url.path).lstrip("/")
        ours = host == urlparse(base_url).hostname
        virtual = re.match(r"^(.+)\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com$", host)
        if virtual:
            bucket, key = virtual.group(1), path
        elif ours or (host.startswith("s3") and host.endswith("amazonaws.com")):
            bucket, _, key = path.partition("/")
        else:
            raise BadRequestException(f"The media URI {uri} is not an S3 location")
    if not bucket or not key:
        raise BadRequestException(f"The media URI {uri} names no object")
    return bucket, key


def _subtitle_key(transcript_key: str, subtitle_format: str) -> str:
    return transcript_key.removesuffix(".json") + "." + subtitle_format


class Transcribe(Service):
    service_name: ClassVar[str] = "transcribe"

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
        self.settings = settings
        self._jobs = JobWorker(data_path("transcribe") / "jobs.sqlite3", self._run, "transcription-jobs")
        self._vocabularies = VocabularyStore(data_path("transcribe") / "vocabularies.sqlite3")
        self._jobs.start()

    def close(self) -> None:
        self._jobs.close()
        self._vocabularies.close()

    def _transcriber(self) -> Transcriber:
        """The speech-to-text model, from the registry at each use (one instance per server, uses counted)."""
        engine: Transcriber = self.models.get(TRANSCRIBER, "speech-to-text")
        return engine

    def start_transcription_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TranscriptionJobName"]
        language = params.get("LanguageCode")
        identify = bool(params.get("IdentifyLanguage") or params.get("IdentifyMultipleLanguages"))
        options = list(params.get("LanguageOptions") or [])
        if not language and not identify:
            raise BadRequestException(
                "Specify a LanguageCode, or set IdentifyLanguage or IdentifyMultipleLanguages"
            )
        if language and identify:
            raise BadRequestException(
                "LanguageCode cannot be used with IdentifyLanguage or IdentifyMultipleLanguages"
            )
        if options and not identify:
            raise BadRequestException("LanguageOptions can only be used with language identification")
        known = self._transcriber().languages
        for code in [language, *options] if language else options:
            if code and whisper_language(code, known) is None:
                raise BadRequestException(f"The language {code} is not supported by the local Whisper model")
        for member, what in _UNSERVED_SETTINGS.items():
            if (params.get("Settings") or {}).get(member):
                raise BadRequestException(f"Outcrop does not support {what}")
        for member in ("ContentRedaction", "ModelSettings", "ToxicityDetection"):
            if params.get(member):
                raise BadRequestException(f"Outcrop does not support {member}")
        hotwords = self._hotwords(params, language)
        if not params["Media"].get("MediaFileUri"):
            raise BadRequestException(
                "Media.MediaFileUri is required: give the S3 location of the audio to transcribe"
            )
        bucket, key = parse_media_uri(params["Media"]["MediaFileUri"], ctx.base_url)
        media_format = params.get("MediaFormat") or self._format_of(key)
        try:
            self.objects.head_object(bucket, key)
        except StoreError:
            raise BadRequestException(
                "The requested media file doesn't exist or can't be accessed: "
                f"{params['Media'].get('MediaFileUri')}"
            ) from None
        output_bucket, output_key, location = self._output(params, name, ctx.account_id)
        request = {
            "LanguageCode": language,
            "IdentifyLanguage": bool(params.get("IdentifyLanguage")),
            "IdentifyMultipleLanguages": bool(params.get("IdentifyMultipleLanguages")),
            "LanguageOptions": options,
            "MediaFileUri": params["Media"]["MediaFileUri"],
            "MediaBucket": bucket,
            "MediaKey": key,
            "MediaFormat": media_format,
            "MediaSampleRateHertz": params.get("MediaSampleRateHertz"),
            "OutputBucket": output_bucket,
            "OutputKey": output_key,
            "OutputLocationType": location,
            "AccountId": ctx.account_id,
            "Tags": params.get("Tags"),
            "Subtitles": self._subtitles(params.get("Subtitles")),
            "Hotwords": hotwords,
            "VocabularyName": (params.get("Settings") or {}).get("VocabularyName"),
            "LanguageIdSettings": params.get("LanguageIdSettings"),
        }
        try:
            job = self._jobs.submit(name, request)
        except JobExists:
            raise ConflictException(
                "The requested job name already exists. Use a different job name."
            ) from None
        return {"TranscriptionJob": self._describe(ctx, job)}

    def _hotwords(self, params: dict[str, Any], language: str | None) -> dict[str, str]:
        """Per AWS language code, the phrases of the vocabulary the job names for it."""
        wanted: dict[str, str] = {}
        name = (params.get("Settings") or {}).get("VocabularyName")
        if name:
            if not language:
                raise BadRequestException(
                    "With language identification, name vocabularies in LanguageIdSettings"
                )
            wanted[language] = name
        for code, settings in (params.get("LanguageIdSettings") or {}).items():
            if settings.get("VocabularyName"):
                wanted[code] = settings["VocabularyName"]
        hotwords = {}
        for code, vocabulary_name in wanted.items():
            vocabulary = self._vocabularies.get(vocabulary_name)
            if vocabulary is None:
                raise BadRequestException(f"The vocabulary {vocabulary_name} doesn't exist")
            if vocabulary.language != code:
                raise BadRequestException(
                    f"The vocabulary {vocabulary_name} is for {vocabulary.language}, not {code}"
                )
            hotwords[code] = vocabulary.hotwords
        return hotwords

    @staticmethod
    def _subtitles(requested: dict[str, Any] | None) -> dict[str, Any] | None:
        if not requested or not requested.get("Formats"):
            return None
        return {
            "Formats": sorted(set(requested["Formats"])),
            "OutputStartIndex": requested.get("OutputStartIndex", 0),
        }

    @staticmethod
    def _format_of(key: str) -> str | None:
        extension = key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
        extension = {"oga": "ogg", "opus": "ogg", "mpga": "mp3"}.get(extension, extension)
        if extension and extension not in MEDIA_FORMATS:
            raise BadRequestException(
                f"The media format {extension} is not supported; use one of {', '.join(MEDIA_FORMATS)}"
            )
        return extension or None

    def _output(self, params: dict[str, Any], name: str, account: str) -> tuple[str, str, str]:
        bucket, key = params.get("OutputBucketName"), params.get("OutputKey")
        if not bucket:
            if key:
                raise BadRequestException("OutputKey needs an OutputBucketName")
            with contextlib.suppress(BucketAlreadyOwnedByYou):
                self.objects.create_bucket(SERVICE_BUCKET, self.settings.region)
            return SERVICE_BUCKET, f"{account}/{name}/asrOutput.json", "SERVICE_BUCKET"
        try:
            self.objects.get_bucket(bucket)
        except StoreError:
            raise BadRequestException(
                f"The output bucket {bucket} doesn't exist or can't be accessed"
            ) from None
        if not key:
            key = f"{name}.json"
        elif key.endswith("/"):
            key = f"{key}{name}.json"
        elif not key.endswith(".json"):
            key = f"{key}.json"
        return bucket, key, "CUSTOMER_BUCKET"

    def get_transcription_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"TranscriptionJob": self._describe(ctx, self._job(params["TranscriptionJobName"]))}

    def delete_transcription_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["TranscriptionJobName"], missing=BadRequestException)  # no NotFound modelled
        self._jobs.delete(job.id)
        if job.request["OutputLocationType"] == "SERVICE_BUCKET":
            self._delete_outputs(job.request)
        return {}

    def _delete_outputs(self, request: dict[str, Any]) -> None:
        formats = (request.get("Subtitles") or {}).get("Formats", [])
        for key in [request["OutputKey"], *(_subtitle_key(request["OutputKey"], f) for f in formats)]:
            with contextlib.suppress(StoreError):
                self.objects.delete_object(request["OutputBucket"], key)

    def list_transcription_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("Status")
        wanted = {v: k for k, v in _STATUS.items()}.get(status) if status else None
        jobs = self._jobs.list(status=wanted, id_contains=params.get("JobNameContains"))
        page, token = _PAGES.page(jobs, params)
        output: dict[str, Any] = {"TranscriptionJobSummaries": [self._summary(j) for j in page]}
        if status:
            output["Status"] = status
        if token:
            output["NextToken"] = token
        return output

    def _job(self, name: str, missing: type[ServiceError] = NotFoundException) -> Job:
        job = self._jobs.get(name)
        if job is None:
            raise missing(
                "The requested job couldn't be found. Check the job name and try your request again."
            )
        return job

    def _common(self, job: Job) -> dict[str, Any]:
        request, result = job.request, job.result or {}
        entry: dict[str, Any] = {
            "TranscriptionJobName": job.id,
            "TranscriptionJobStatus": _STATUS[job.status],
            "CreationTime": datetime.fromtimestamp(job.created, UTC),
        }
        language = request["LanguageCode"] or result.get("LanguageCode")
        if language:
            entry["LanguageCode"] = language
        if job.started:
            entry["StartTime"] = datetime.fromtimestamp(job.started, UTC)
        if job.completed:
            entry["CompletionTime"] = datetime.fromtimestamp(job.completed, UTC)
        if job.reason:
            entry["FailureReason"] = job.reason
        if request["IdentifyLanguage"]:
            entry["IdentifyLanguage"] = True
        if request["IdentifyMultipleLanguages"]:
            entry["IdentifyMultipleLanguages"] = True
        if "Score" in result and result["Score"] is not None:
            entry["IdentifiedLanguageScore"] = result["Score"]
        if request["IdentifyMultipleLanguages"] and job.status == COMPLETED:
            entry["LanguageCodes"] = [
                {"LanguageCode": c, "DurationInSeconds": d} for c, d in result["Durations"]
            ]
        return entry

    def _summary(self, job: Job) -> dict[str, Any]:
        return self._common(job) | {"OutputLocationType": job.request["OutputLocationType"]}

    def _describe(self, ctx: RequestContext, job: Job) -> dict[str, Any]:
        request = job.request
        entry = self._common(job) | {"Media": {"MediaFileUri": request["MediaFileUri"]}}
        if request["MediaFormat"]:
            entry["MediaFormat"] = request["MediaFormat"]
        if job.result and job.result.get("SampleRate"):
            entry["MediaSampleRateHertz"] = job.result["SampleRate"]
        elif request["MediaSampleRateHertz"]:
            entry["MediaSampleRateHertz"] = request["MediaSampleRateHertz"]
        if request["LanguageOptions"]:
            entry["LanguageOptions"] = request["LanguageOptions"]
        if request.get("Tags"):
            entry["Tags"] = request["Tags"]
        entry["Settings"] = {"ChannelIdentification": False, "ShowAlternatives": False}
        if request.get("VocabularyName"):
            entry["Settings"]["VocabularyName"] = request["VocabularyName"]
        if request.get("LanguageIdSettings"):
            entry["LanguageIdSettings"] = request["LanguageIdSettings"]
        done = job.status == COMPLETED
        entry["Transcript"] = (
            {"TranscriptFileUri": self._uri(ctx, request, request["OutputKey"])} if done else {}
        )
        if request.get("Subtitles"):
            entry["Subtitles"] = dict(request["Subtitles"])
            if done:
                keys = [_subtitle_key(request["OutputKey"], f) for f in request["Subtitles"]["Formats"]]
                entry["Subtitles"]["SubtitleFileUris"] = [self._uri(ctx, request, k) for k in keys]
        return entry

    def _uri(self, ctx: RequestContext, request: dict[str, Any], key: str) -> str:
        return self._object_url(
            ctx, request["OutputBucket"], key, request["OutputLocationType"] == "SERVICE_BUCKET"
        )

    def _object_url(self, ctx: RequestContext, bucket: str, key: str, ours: bool) -> str:
        """The object's URL on this server; presigned for Outcrop's own bucket when signatures are checked."""
        url = f"{ctx.base_url}/{bucket}/{key}"
        credentials = self.settings.credentials
        if not ours or self.settings.auth != "sigv4" or not credentials:
            return url
        access_key, secret = next(iter(credentials.items()))
        presigned = AWSRequest(method="GET", url=url)
        S3SigV4QueryAuth(Credentials(access_key, secret), "s3", ctx.region, expires=900).add_auth(presigned)
        return str(presigned.url)

    def _run(self, job: Job) -> dict[str, Any]:
        request = job.request
        try:
            media = self.objects.read_object(request["MediaBucket"], request["MediaKey"])
        except StoreError:
            raise JobFailed(f"The media file {request['MediaFileUri']} no longer exists") from None
        try:
            engine = self._transcriber()
            outcome = run_transcription(
                media,
                engine,
                language_code=request["LanguageCode"],
                options=request["LanguageOptions"],
                known=engine.languages,
                multiple=request["IdentifyMultipleLanguages"],
                hotwords=request.get("Hotwords"),
            )
        except BackendError as error:
            raise JobFailed(f"The speech model is not available: {error}") from None
        result = outcome.result
        document = transcript_document(job.id, request["AccountId"], outcome)
        outputs = [(request["OutputKey"], json.dumps(document, ensure_ascii=False), "application/json")]
        wanted = request.get("Subtitles") or {}
        for subtitle_format in wanted.get("Formats", []):
            text = subtitles(result, subtitle_format, wanted.get("OutputStartIndex", 0))
            content_type = "text/vtt" if subtitle_format == "vtt" else "application/x-subrip"
            outputs.append((_subtitle_key(request["OutputKey"], subtitle_format), text, content_type))
        for key, text, content_type in outputs:
            try:
                self.objects.put_object(
                    request["OutputBucket"], key, text.encode(), ObjectAttributes(content_type=content_type)
                )
            except StoreError as error:
                raise JobFailed(f"The output could not be written to the output bucket: {error}") from None
        if self._jobs.get(job.id) is None and request["OutputLocationType"] == "SERVICE_BUCKET":
            self._delete_outputs(request)  # deleted while it ran: leave nothing behind in Outcrop's bucket
        return {
            "SampleRate": sample_rate(media),
            "LanguageCode": outcome.language,
            "Score": outcome.score,
            "Durations": outcome.durations or [(outcome.language, round(result.duration, 3))],
        }

    # -- custom vocabularies ---------------------------------------------------------------------------

    def create_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_vocabulary(ctx, params, create=True)

    def update_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_vocabulary(ctx, params, create=False)

    def _put_vocabulary(self, ctx: RequestContext, params: dict[str, Any], *, create: bool) -> dict[str, Any]:
        name, language = params["VocabularyName"], params["LanguageCode"]
        if whisper_language(language, self._transcriber().languages) is None:
            raise BadRequestException(f"The language {language} is not supported by the local Whisper model")
        if bool(params.get("Phrases")) == bool(params.get("VocabularyFileUri")):
            raise BadRequestException("Give either Phrases or a VocabularyFileUri")
        try:
            if params.get("Phrases"):
                phrases = check_phrases(params["Phrases"])
            else:
                bucket, key = parse_media_uri(params["VocabularyFileUri"], ctx.base_url)
                try:
                    size = self.objects.head_object(bucket, key).size
                    if size > MAX_VOCABULARY_FILE_BYTES:
                        raise BadRequestException(
                            f"The vocabulary file {params['VocabularyFileUri']} is {size} bytes; "
                            f"a vocabulary file may hold at most {MAX_VOCABULARY_FILE_BYTES} bytes"
                        )
                    text = self.objects.read_object(bucket, key).decode("utf-8-sig")
                except (StoreError, UnicodeDecodeError):
                    raise BadRequestException(
                        f"The vocabulary file {params['VocabularyFileUri']} doesn't exist or isn't UTF-8 text"
                    ) from None
                phrases = phrases_from_file(text)
        except VocabularyError as error:
            raise BadRequestException(str(error)) from None
        vocabulary = self._vocabularies.put(name, language, phrases, create=create)
        if vocabulary is None and create:
            raise ConflictException("The requested vocabulary name already exists. Use a different name.")
        if vocabulary is None:
            raise NotFoundException(f"The vocabulary {name} doesn't exist")
        with contextlib.suppress(BucketAlreadyOwnedByYou):
            self.objects.create_bucket(SERVICE_BUCKET, self.settings.region)
        body = "\n".join(phrases).encode()
        self.objects.put_object(
            SERVICE_BUCKET, f"vocabularies/{name}.txt", body, ObjectAttributes(content_type="text/plain")
        )
        return self._vocabulary(vocabulary)

    @staticmethod
    def _vocabulary(vocabulary: Vocabulary) -> dict[str, Any]:
        return {
            "VocabularyName": vocabulary.name,
            "LanguageCode": vocabulary.language,
            "VocabularyState": "READY",
            "LastModifiedTime": datetime.fromtimestamp(vocabulary.modified, UTC),
        }

    def get_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vocabulary = self._vocabularies.get(params["VocabularyName"])
        if vocabulary is None:
            raise NotFoundException(f"The vocabulary {params['VocabularyName']} doesn't exist")
        uri = self._object_url(ctx, SERVICE_BUCKET, f"vocabularies/{vocabulary.name}.txt", True)
        return self._vocabulary(vocabulary) | {"DownloadUri": uri}

    def list_vocabularies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self._vocabularies.list(params.get("NameContains"))
        if params.get("StateEquals") not in (None, "READY"):
            found = []  # every vocabulary is ready as soon as it is stored
        page, token = _PAGES.page(found, params)
        output: dict[str, Any] = {"Vocabularies": [self._vocabulary(v) for v in page]}
        if params.get("StateEquals"):
            output["Status"] = params["StateEquals"]
        if token:
            output["NextToken"] = token
        return output

    def delete_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not self._vocabularies.delete(params["VocabularyName"]):
            raise NotFoundException(f"The vocabulary {params['VocabularyName']} doesn't exist")
        with contextlib.suppress(StoreError):
            self.objects.delete_object(SERVICE_BUCKET, f"vocabularies/{params['VocabularyName']}.txt")
        return {}
