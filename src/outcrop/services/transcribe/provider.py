"""Amazon Transcribe batch jobs on faster-whisper (Whisper base, multilingual).

Jobs read their media from the S3 store in-process, run one at a time on a background thread, and keep
their state in SQLite under the data dir; jobs left queued or running by a stopped server run again when
it starts. The transcript goes to the caller's bucket, or to a bucket Outcrop owns whose object URL (served
by the S3 layer, presigned when signatures are enforced) is the TranscriptFileUri.
Jobs and vocabularies live in the account and region that made them (a name is unique there); the media
must be in a bucket of the job's region, and Outcrop's own bucket is one per region, as AWS's are.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

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
from outcrop.jobs.transcription_vocabulary import VocabularyStore
from outcrop.kms.errors import KmsError
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.transcribe.errors import BadRequestException, ConflictException, NotFoundException
from outcrop.services.transcribe.media import parse_media_uri
from outcrop.services.transcribe.vocabularies import VocabularyOperations
from outcrop.storage.objects import BucketAlreadyOwnedByYou, ObjectAttributes, ObjectStore, StoreError

SERVICE_BUCKET = "outcrop-transcribe-output"
TRANSCRIBER = "whisper-base"  # the catalog's speech-to-text model that transcribes (multilingual)
MEDIA_FORMATS = ("mp3", "mp4", "wav", "flac", "ogg", "amr", "webm", "m4a")
_STATUS = {QUEUED: "QUEUED", RUNNING: "IN_PROGRESS", COMPLETED: "COMPLETED", FAILED: "FAILED"}
_UNSERVED_SETTINGS = {
    "ShowSpeakerLabels": "speaker labels (no diarization model is packaged)",
    "ChannelIdentification": "channel identification",
    "ShowAlternatives": "alternative transcriptions",
    "VocabularyFilterName": "vocabulary filters",
}


_PAGES = Pager(BadRequestException, "The NextToken is not valid", default=5)


def _output_encryption(request: dict[str, Any]) -> dict[str, str]:
    """The SSE-KMS fields of the output objects, as Transcribe writes them with OutputEncryptionKMSKeyId."""
    key = request.get("OutputEncryptionKMSKeyId")
    if not key:
        return {}
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}
    if request.get("KMSEncryptionContext"):
        context = json.dumps(request["KMSEncryptionContext"]).encode()
        encryption["SSEKMSEncryptionContext"] = base64.b64encode(context).decode()
    return encryption


def _subtitle_key(transcript_key: str, subtitle_format: str) -> str:
    return transcript_key.removesuffix(".json") + "." + subtitle_format


class Transcribe(VocabularyOperations, Service):
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
        place = {"account": settings.account_id, "region": settings.region}
        self._jobs = JobWorker(
            data_path("transcribe") / "jobs.sqlite3",
            self._run,
            "transcription-jobs",
            deleted=self._deleted_while_running,
            **place,
        )
        self._vocabularies = VocabularyStore(data_path("transcribe") / "vocabularies.sqlite3", **place)
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
        hotwords = self._hotwords(ctx, params, language)
        if not params["Media"].get("MediaFileUri"):
            raise BadRequestException(
                "Media.MediaFileUri is required: give the S3 location of the audio to transcribe"
            )
        bucket, key = parse_media_uri(params["Media"]["MediaFileUri"], ctx.base_url)
        media_format = params.get("MediaFormat") or self._format_of(key)
        try:
            self.objects.head_object(bucket, key)
            media_region = self.objects.get_bucket(bucket).region
        except StoreError:
            raise BadRequestException(
                "The requested media file doesn't exist or can't be accessed: "
                f"{params['Media'].get('MediaFileUri')}"
            ) from None
        if media_region != ctx.region:
            raise BadRequestException(
                f"The S3 bucket {bucket} is in {media_region}: the media must be in a bucket in the Region "
                f"of the transcription request ({ctx.region})"
            )
        output_bucket, output_key, location = self._output(ctx, params, name)
        if (params.get("OutputEncryptionKMSKeyId") or params.get("KMSEncryptionContext")) and not params.get(
            "OutputBucketName"
        ):
            raise BadRequestException("OutputEncryptionKMSKeyId needs an OutputBucketName")
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
            # Honoured: the output objects are written SSE-KMS with the key and the extra context.
            "OutputEncryptionKMSKeyId": params.get("OutputEncryptionKMSKeyId"),
            "KMSEncryptionContext": params.get("KMSEncryptionContext"),
            # Truthful as given: jobs here always queue (deferred execution) and never hit a job limit.
            "JobExecutionSettings": params.get("JobExecutionSettings"),
        }
        try:
            job = self._jobs.submit(name, request, where=(ctx.account_id, ctx.region))
        except JobExists:
            raise ConflictException(
                "The requested job name already exists. Use a different job name."
            ) from None
        return {"TranscriptionJob": self._describe(ctx, job)}

    def _hotwords(self, ctx: RequestContext, params: dict[str, Any], language: str | None) -> dict[str, str]:
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
            vocabulary = self._vocabularies.get(vocabulary_name, where=(ctx.account_id, ctx.region))
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

    def _service_bucket(self, region: str) -> str:
        """Outcrop's own bucket in `region` (the default region keeps the one from before regions)."""
        bucket = SERVICE_BUCKET if region == self.settings.region else f"{SERVICE_BUCKET}-{region}"
        with contextlib.suppress(BucketAlreadyOwnedByYou):
            self.objects.create_bucket(bucket, region)
        return bucket

    def _output(self, ctx: RequestContext, params: dict[str, Any], name: str) -> tuple[str, str, str]:
        bucket, key = params.get("OutputBucketName"), params.get("OutputKey")
        if not bucket:
            if key:
                raise BadRequestException("OutputKey needs an OutputBucketName")
            service_bucket = self._service_bucket(ctx.region)
            return service_bucket, f"{ctx.account_id}/{name}/asrOutput.json", "SERVICE_BUCKET"
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
        return {"TranscriptionJob": self._describe(ctx, self._job(ctx, params["TranscriptionJobName"]))}

    def delete_transcription_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(ctx, params["TranscriptionJobName"], missing=BadRequestException)  # no NotFound
        self._jobs.delete(job.id, where=job.where)
        if job.request["OutputLocationType"] == "SERVICE_BUCKET":
            self._delete_outputs(job.request)
        return {}

    def _deleted_while_running(self, job: Job) -> None:
        """DeleteTranscriptionJob removed the job before its transcript was written: it goes too."""
        if job.request["OutputLocationType"] == "SERVICE_BUCKET":
            self._delete_outputs(job.request)

    def _delete_outputs(self, request: dict[str, Any]) -> None:
        formats = (request.get("Subtitles") or {}).get("Formats", [])
        for key in [request["OutputKey"], *(_subtitle_key(request["OutputKey"], f) for f in formats)]:
            with contextlib.suppress(StoreError):
                self.objects.delete_object(request["OutputBucket"], key)

    def list_transcription_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("Status")
        wanted = {v: k for k, v in _STATUS.items()}.get(status) if status else None
        jobs = self._jobs.list(
            where=(ctx.account_id, ctx.region), status=wanted, id_contains=params.get("JobNameContains")
        )
        page, token = _PAGES.page(jobs, params)
        output: dict[str, Any] = {"TranscriptionJobSummaries": [self._summary(j) for j in page]}
        if status:
            output["Status"] = status
        if token:
            output["NextToken"] = token
        return output

    def _job(self, ctx: RequestContext, name: str, missing: type[ServiceError] = NotFoundException) -> Job:
        job = self._jobs.get(name, where=(ctx.account_id, ctx.region))
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
        if request.get("JobExecutionSettings"):
            entry["JobExecutionSettings"] = request["JobExecutionSettings"]
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
        encryption = _output_encryption(request)
        for key, text, content_type in outputs:
            try:
                self.objects.put_object(
                    request["OutputBucket"],
                    key,
                    text.encode(),
                    ObjectAttributes(content_type=content_type, encryption=encryption),
                )
            except (StoreError, KmsError) as error:
                raise JobFailed(f"The output could not be written to the output bucket: {error}") from None
        if self._jobs.by_seq(job.seq) is None and request["OutputLocationType"] == "SERVICE_BUCKET":
            self._delete_outputs(request)  # deleted while it ran: leave nothing behind in Outcrop's bucket
        return {
            "SampleRate": sample_rate(media),
            "LanguageCode": outcome.language,
            "Score": outcome.score,
            "Durations": outcome.durations or [(outcome.language, round(result.duration, 3))],
        }
