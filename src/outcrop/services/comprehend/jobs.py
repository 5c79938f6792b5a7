"""Comprehend's asynchronous operations: topic detection jobs, custom classifiers and classification jobs.

Each trains or runs a real model (see topics.py and classifiers.py) on documents read from the server's
own S3, in a bucket of the request's region, and writes its output.tar.gz where AWS writes it:
`<S3Uri>/<account>-TOPICS-<job id>/output/`, `-CLN-` for classification jobs, `-CLR-` for a classifier's
confusion matrix. What no local part can honour (VPCs, KMS volume keys, PDF and image input, flywheels,
augmented manifests, real-time endpoints) is refused by name.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.comprehend import classifiers, topics
from outcrop.services.comprehend.job_store import (
    CLASSIFICATION,
    CLASSIFIER,
    ENDPOINT,
    TOPICS,
    ComprehendStore,
    JobFailed,
    NameTaken,
    Resource,
    TokenMismatch,
)
from outcrop.services.paging import Pager
from outcrop.services.unserved import as_written, refuse_unserved
from outcrop.storage.objects import ObjectStore, StoreError

Params = dict[str, Any]


class InvalidRequestException(ServiceError, service="comprehend"): ...


class JobNotFoundException(ServiceError, service="comprehend"): ...


class ResourceNotFoundException(ServiceError, service="comprehend"): ...


class ResourceInUseException(ServiceError, service="comprehend"): ...


class ResourceUnavailableException(ServiceError, service="comprehend"): ...


class UnsupportedLanguageException(ServiceError, service="comprehend"): ...


PAGER = Pager(InvalidRequestException, "The NextToken is not valid.", default=100, maximum=500)
MAX_INPUT_BYTES = 200 * 1024 * 1024  # read into memory at once; larger collections are refused by the job
DEFAULT_TOPICS = 10
# The TF-IDF tokenizer splits words on spaces and punctuation: languages written without spaces between
# words would become one token per sentence, so their classifiers are refused rather than trained badly.
UNSPACED_LANGUAGES = ("ja", "zh", "zh-TW", "ko")
SUFFIX = {TOPICS: "TOPICS", CLASSIFICATION: "CLN", CLASSIFIER: "CLR"}
_S3_URI = re.compile(r"s3://([^/]+)/?(.*)", re.DOTALL)


def _split(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of a URI that `_bucket_of` accepted when the job started."""
    match = _S3_URI.fullmatch(uri)
    if match is None:
        raise JobFailed(f"{uri} is not an s3:// URI.")
    return match[1], match[2]


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


_ON_THIS_SERVER = "is not supported by Outcrop: jobs run on this server."
_UNSERVED_ALWAYS = {
    "Tags": "Tags are not supported on Comprehend resources by Outcrop.",
    "OutputDataConfig.KmsKeyId": "OutputDataConfig.KmsKeyId is not supported by Outcrop.",
    "DocumentReaderConfig": "DocumentReaderConfig (PDF, Word and image input) is not supported by Outcrop; "
    "send plain text.",
}


def _refuse_unserved(params: Params, *names: str) -> None:
    """Options that need AWS's own infrastructure are refused by name, never ignored."""
    seen = {
        **params,
        "OutputDataConfig.KmsKeyId": (params.get("OutputDataConfig") or {}).get("KmsKeyId"),
        "DocumentReaderConfig": (params.get("InputDataConfig") or {}).get("DocumentReaderConfig"),
    }
    reasons = {name: f"{name} {_ON_THIS_SERVER}" for name in names} | _UNSERVED_ALWAYS
    refuse_unserved(seen, reasons, InvalidRequestException, message=as_written)


class ComprehendJobs:
    """The asynchronous operations, mixed into the Comprehend provider."""

    objects: ObjectStore
    job_store: ComprehendStore
    model_dir: Path

    def _start_jobs(self, objects: ObjectStore, directory: Path) -> None:
        self.objects = objects
        self.model_dir = directory / "classifiers"
        self.job_store = ComprehendStore(directory)
        self.loaded: dict[
            str, classifiers.Trained
        ] = {}  # the models real-time endpoints serve, by classifier
        self.job_store.handlers.update(
            {TOPICS: self._run_topics, CLASSIFIER: self._train, CLASSIFICATION: self._classify}
        )
        self.job_store.start()

    # -- S3 ------------------------------------------------------------------------------------------------

    def _bucket_of(self, uri: str, region: str, field: str) -> tuple[str, str]:
        """(bucket, prefix) of an s3:// URI whose bucket exists in the request's region."""
        match = _S3_URI.fullmatch(uri or "")
        if match is None:
            raise InvalidRequestException(f"{field} must be an s3:// URI, not {uri!r}.")
        bucket, prefix = match.groups()
        try:
            found = self.objects.get_bucket(bucket)
        except StoreError:
            raise InvalidRequestException(f"{field}: the bucket {bucket} does not exist.") from None
        if found.region != region:
            raise InvalidRequestException(f"{field}: the bucket {bucket} is not in {region}.")
        return bucket, prefix

    def _read(self, uri: str) -> list[tuple[str, bytes]]:
        """Every object under an S3 URI (one object or a prefix), as (file name, bytes)."""
        bucket, prefix = _split(uri)
        try:
            found = [o for o in self.objects.iter_objects(bucket, prefix) if not o.key.endswith("/")]
            if sum(o.size for o in found) > MAX_INPUT_BYTES:
                raise JobFailed(f"The input at {uri} is over {MAX_INPUT_BYTES // 2**20} MiB.")
            files = [(o.key.rsplit("/", 1)[-1], self.objects.read_object(bucket, o.key)) for o in found]
        except StoreError as exc:
            raise JobFailed(f"Cannot read {uri}: {exc}") from None
        if not files:
            raise JobFailed(f"No input files were found at {uri}.")
        return files

    def _documents(self, config: Params) -> list[tuple[str, int | None, str]]:
        """The input's documents as (file, zero-based line or None, text)."""
        per_line = config.get("InputFormat", "ONE_DOC_PER_FILE") == "ONE_DOC_PER_LINE"
        found: list[tuple[str, int | None, str]] = []
        for name, data in self._read(config["S3Uri"]):
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise JobFailed(f"{name} is not UTF-8 text.") from None
            if per_line:
                found.extend((name, line, doc) for line, doc in enumerate(text.splitlines()) if doc.strip())
            elif text.strip():
                found.append((name, None, text))
        if not found:
            raise JobFailed(f"The input at {config['S3Uri']} holds no documents.")
        return found

    def _write(self, uri: str, data: bytes) -> None:
        bucket, key = _split(uri)
        try:
            self.objects.put_object(bucket, key, data)
        except StoreError as exc:
            raise JobFailed(f"Cannot write {uri}: {exc}") from None

    @staticmethod
    def _output_uri(ctx: RequestContext, base: str, kind: str, id: str) -> str:
        return f"{base.rstrip('/')}/{ctx.account_id}-{SUFFIX[kind]}-{id}/output/output.tar.gz"

    # -- shared resource plumbing ---------------------------------------------------------------------------

    def _create(
        self,
        ctx: RequestContext,
        kind: str,
        arn: str,
        name: str | None,
        params: Params,
        doc: Params,
        id: str,
        status: str = "SUBMITTED",
    ) -> Resource:
        request = {k: v for k, v in params.items() if k != "ClientRequestToken"}
        where = (ctx.account_id, ctx.region)
        token = params.get("ClientRequestToken")
        try:
            return self.job_store.create(
                kind, id, arn, name, {"Request": request, **doc}, token, where, status=status
            )
        except TokenMismatch:
            raise InvalidRequestException(
                "The ClientRequestToken was already used with a different request."
            ) from None
        except NameTaken:
            raise ResourceInUseException(f"The resource {arn} already exists.") from None

    def _start_job(
        self, ctx: RequestContext, kind: str, params: Params, extra: Params
    ) -> tuple[Resource, str]:
        input_config = params["InputDataConfig"]
        self._bucket_of(input_config["S3Uri"], ctx.region, "InputDataConfig.S3Uri")
        self._bucket_of(params["OutputDataConfig"]["S3Uri"], ctx.region, "OutputDataConfig.S3Uri")
        id = uuid.uuid4().hex
        name = "topics-detection-job" if kind == TOPICS else "document-classification-job"
        arn = ctx.arn("comprehend", f"{name}/{id}")
        output = {"S3Uri": self._output_uri(ctx, params["OutputDataConfig"]["S3Uri"], kind, id)}
        doc = {
            "InputDataConfig": {"InputFormat": "ONE_DOC_PER_FILE", **input_config},
            "OutputDataConfig": output,
            "DataAccessRoleArn": params["DataAccessRoleArn"],
            **({"JobName": params["JobName"]} if params.get("JobName") else {}),
            **extra,
        }
        resource = self._create(ctx, kind, arn, params.get("JobName"), params, doc, id)
        return resource, resource.status

    def _job(self, ctx: RequestContext, kind: str, id: str) -> Resource:
        found = self.job_store.get(kind, id, (ctx.account_id, ctx.region))
        if found is None:
            raise JobNotFoundException(f"Could not find job with id '{id}'.")
        return found

    @staticmethod
    def _job_properties(job: Resource) -> Params:
        doc = {k: v for k, v in job.doc.items() if k not in ("Request", "EndTime")}
        return {
            "JobId": job.id,
            "JobArn": job.arn,
            "JobStatus": job.status,
            **({"Message": job.message} if job.message else {}),
            "SubmitTime": _time(job.created),
            **({"EndTime": _time(job.doc["EndTime"])} if job.doc.get("EndTime") else {}),
            **doc,
        }

    def _list_jobs(self, ctx: RequestContext, kind: str, params: Params, member: str) -> Params:
        wanted = params.get("Filter") or {}
        jobs = self._filtered(self.job_store.list(kind, (ctx.account_id, ctx.region)), wanted, "JobStatus")
        page, token = PAGER.page(jobs, params)
        return {
            member: [self._job_properties(job) for job in page],
            **({"NextToken": token} if token else {}),
        }

    @staticmethod
    def _filtered(found: list[Resource], wanted: Params, status_field: str) -> list[Resource]:
        name = wanted.get("JobName") or wanted.get("DocumentClassifierName")
        status = wanted.get(status_field)
        before, after = wanted.get("SubmitTimeBefore"), wanted.get("SubmitTimeAfter")
        return [
            r
            for r in found
            if (name is None or r.name == name)
            and (status is None or r.status == status)
            and (before is None or _time(r.created) < before)
            and (after is None or _time(r.created) > after)
        ]

    # -- topic detection ------------------------------------------------------------------------------------

    def start_topics_detection_job(self, ctx: RequestContext, params: Params) -> Params:
        _refuse_unserved(params, "VpcConfig", "VolumeKmsKeyId")
        number = params.get("NumberOfTopics") or DEFAULT_TOPICS
        job, status = self._start_job(ctx, TOPICS, params, {"NumberOfTopics": number})
        return {"JobId": job.id, "JobArn": job.arn, "JobStatus": status}

    def describe_topics_detection_job(self, ctx: RequestContext, params: Params) -> Params:
        job = self._job(ctx, TOPICS, params["JobId"])
        return {"TopicsDetectionJobProperties": self._job_properties(job)}

    def list_topics_detection_jobs(self, ctx: RequestContext, params: Params) -> Params:
        return self._list_jobs(ctx, TOPICS, params, "TopicsDetectionJobPropertiesList")

    def _run_topics(self, job: Resource) -> Params:
        found = self._documents(job.doc["InputDataConfig"])
        documents = [
            topics.Document(name if line is None else f"{name}:{line}", text) for name, line, text in found
        ]
        try:
            fitted = topics.detect_topics(documents, int(job.doc["NumberOfTopics"]))
        except topics.TopicsError as exc:
            raise JobFailed(str(exc)) from None
        self._write(job.doc["OutputDataConfig"]["S3Uri"], topics.archive(fitted))
        return {}

    # -- custom classifiers ---------------------------------------------------------------------------------

    def create_document_classifier(self, ctx: RequestContext, params: Params) -> Params:
        _refuse_unserved(params, "VpcConfig", "VolumeKmsKeyId", "ModelKmsKeyId", "ModelPolicy")
        language = params["LanguageCode"]
        if language in UNSPACED_LANGUAGES:
            raise UnsupportedLanguageException(
                f"Custom classifiers on this server split words on spaces; '{language}' is not served."
            )
        config = params["InputDataConfig"]
        if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV":
            raise InvalidRequestException("Only DataFormat COMPREHEND_CSV is supported by Outcrop.")
        if config.get("DocumentType", "PLAIN_TEXT_DOCUMENT") != "PLAIN_TEXT_DOCUMENT" or config.get(
            "Documents"
        ):
            raise InvalidRequestException("Only plain-text training documents are supported by Outcrop.")
        if not config.get("S3Uri"):
            raise InvalidRequestException(
                "InputDataConfig.S3Uri is required for COMPREHEND_CSV training data."
            )
        self._bucket_of(config["S3Uri"], ctx.region, "InputDataConfig.S3Uri")
        if config.get("TestS3Uri"):
            self._bucket_of(config["TestS3Uri"], ctx.region, "InputDataConfig.TestS3Uri")
        name, version = params["DocumentClassifierName"], params.get("VersionName")
        arn = ctx.arn(
            "comprehend", f"document-classifier/{name}" + (f"/version/{version}" if version else "")
        )
        id = uuid.uuid4().hex
        doc: Params = {
            "LanguageCode": language,
            "InputDataConfig": {"DataFormat": "COMPREHEND_CSV", **config},
            "DataAccessRoleArn": params["DataAccessRoleArn"],
            "Mode": params.get("Mode") or "MULTI_CLASS",
            **({"VersionName": version} if version else {}),
        }
        output = (params.get("OutputDataConfig") or {}).get("S3Uri")
        if output:
            self._bucket_of(output, ctx.region, "OutputDataConfig.S3Uri")
            doc["OutputDataConfig"] = {"S3Uri": self._output_uri(ctx, output, CLASSIFIER, id)}
        classifier = self._create(ctx, CLASSIFIER, arn, name, params, doc, id)
        return {"DocumentClassifierArn": classifier.arn}

    def _classifier(self, ctx: RequestContext, arn: str) -> Resource:
        found = self.job_store.get(CLASSIFIER, arn, (ctx.account_id, ctx.region))
        if found is None or found.arn != arn:
            raise ResourceNotFoundException(f"Could not find the document classifier {arn}.")
        return found

    @staticmethod
    def _classifier_properties(classifier: Resource) -> Params:
        times = ("EndTime", "TrainingStartTime", "TrainingEndTime")
        doc = {k: v for k, v in classifier.doc.items() if k != "Request" and k not in times}
        return {
            "DocumentClassifierArn": classifier.arn,
            "Status": classifier.status,
            **({"Message": classifier.message} if classifier.message else {}),
            "SubmitTime": _time(classifier.created),
            **{name: _time(classifier.doc[name]) for name in times if classifier.doc.get(name)},
            **doc,
        }

    def describe_document_classifier(self, ctx: RequestContext, params: Params) -> Params:
        classifier = self._classifier(ctx, params["DocumentClassifierArn"])
        return {"DocumentClassifierProperties": self._classifier_properties(classifier)}

    def list_document_classifiers(self, ctx: RequestContext, params: Params) -> Params:
        found = self.job_store.list(CLASSIFIER, (ctx.account_id, ctx.region))
        page, token = PAGER.page(self._filtered(found, params.get("Filter") or {}, "Status"), params)
        return {
            "DocumentClassifierPropertiesList": [self._classifier_properties(c) for c in page],
            **({"NextToken": token} if token else {}),
        }

    def delete_document_classifier(self, ctx: RequestContext, params: Params) -> Params:
        classifier = self._classifier(ctx, params["DocumentClassifierArn"])
        with self.job_store.serving_lock:  # no endpoint is made to serve it between the check and the delete
            serving = [
                e.arn
                for e in self.job_store.list(ENDPOINT, (ctx.account_id, ctx.region))
                if e.doc["ModelArn"] == classifier.arn
            ]
            if serving:
                raise ResourceInUseException(
                    f"The document classifier {classifier.arn} is served by the endpoint {serving[0]}; "
                    "delete the endpoint first."
                )
            settled = ("TRAINED", "TRAINED_WITH_WARNING", "IN_ERROR", "STOPPED")
            if not self.job_store.delete(classifier.id, settled):
                raise ResourceInUseException(
                    f"The document classifier {classifier.arn} is {classifier.status}; "
                    "stop its training (StopTrainingDocumentClassifier) before deleting it."
                )
        (self.model_dir / f"{classifier.id}.joblib").unlink(missing_ok=True)
        self.loaded.pop(classifier.id, None)
        return {}

    def stop_training_document_classifier(self, ctx: RequestContext, params: Params) -> Params:
        classifier = self._classifier(ctx, params["DocumentClassifierArn"])
        if not self.job_store.update(
            classifier.id, "STOP_REQUESTED", only_if=("SUBMITTED", "TRAINING", "STOP_REQUESTED")
        ):
            raise InvalidRequestException(
                f"The document classifier {classifier.arn} is {classifier.status}, not in training."
            )
        return {}

    def _train(self, classifier: Resource) -> Params:
        config = classifier.doc["InputDataConfig"]
        multi_label = classifier.doc["Mode"] == "MULTI_LABEL"
        delimiter = config.get("LabelDelimiter") or "|"

        def examples(uri: str) -> list[classifiers.Example]:
            found: list[classifiers.Example] = []
            for name, data in self._read(uri):
                found += classifiers.read_csv(data, name, multi_label=multi_label, delimiter=delimiter)
            return found

        try:
            test = examples(config["TestS3Uri"]) if config.get("TestS3Uri") else None
            trained = classifiers.train(
                examples(config["S3Uri"]), test, multi_label=multi_label, seed_of=classifier.arn
            )
        except classifiers.TrainingError as exc:
            raise JobFailed(str(exc)) from None
        metrics = dict(trained.metrics)
        if not multi_label:
            metrics.pop("HammingLoss")  # AWS reports Hamming loss for multi-label classifiers only
        output = classifier.doc.get("OutputDataConfig", {}).get("S3Uri")
        if output:
            matrix = topics.tar_gz({"confusion_matrix.json": json.dumps(trained.confusion)})
            self._write(output, matrix)
        classifiers.save(trained, self.model_dir / f"{classifier.id}.joblib")
        return {
            "ClassifierMetadata": {
                "NumberOfLabels": len(trained.labels),
                "NumberOfTrainedDocuments": trained.trained,
                "NumberOfTestDocuments": trained.tested,
                "EvaluationMetrics": metrics,
            }
        }

    # -- classification jobs --------------------------------------------------------------------------------

    def start_document_classification_job(self, ctx: RequestContext, params: Params) -> Params:
        _refuse_unserved(params, "VpcConfig", "VolumeKmsKeyId", "FlywheelArn")
        arn = params.get("DocumentClassifierArn")
        if not arn:
            raise InvalidRequestException("DocumentClassifierArn is required (flywheels are not served).")
        classifier = self._classifier(ctx, arn)
        if classifier.status not in ("TRAINED", "TRAINED_WITH_WARNING"):
            raise ResourceUnavailableException(
                f"The document classifier {arn} is {classifier.status}; it must be TRAINED to classify."
            )
        job, status = self._start_job(ctx, CLASSIFICATION, params, {"DocumentClassifierArn": arn})
        return {"JobId": job.id, "JobArn": job.arn, "JobStatus": status, "DocumentClassifierArn": arn}

    def describe_document_classification_job(self, ctx: RequestContext, params: Params) -> Params:
        job = self._job(ctx, CLASSIFICATION, params["JobId"])
        return {"DocumentClassificationJobProperties": self._job_properties(job)}

    def list_document_classification_jobs(self, ctx: RequestContext, params: Params) -> Params:
        return self._list_jobs(ctx, CLASSIFICATION, params, "DocumentClassificationJobPropertiesList")

    def _classify(self, job: Resource) -> Params:
        classifier = self.job_store.get(CLASSIFIER, job.doc["DocumentClassifierArn"], None)
        path = self.model_dir / f"{classifier.id}.joblib" if classifier else None
        if classifier is None or path is None or not path.exists():
            raise JobFailed(f"The document classifier {job.doc['DocumentClassifierArn']} no longer exists.")
        trained = classifiers.load(path)
        found = self._documents(job.doc["InputDataConfig"])
        answers = classifiers.predict(trained, [text for _, _, text in found])
        member = "Labels" if trained.multi_label else "Classes"
        lines = []
        for (name, line, _), answer in zip(found, answers, strict=True):
            entry: Params = {"File": name, **({"Line": str(line)} if line is not None else {})}
            entry[member] = [{"Name": label, "Score": round(score, 4)} for label, score in answer]
            lines.append(json.dumps(entry))
        archive = topics.tar_gz({"predictions.jsonl": "\n".join(lines) + "\n"})
        self._write(job.doc["OutputDataConfig"]["S3Uri"], archive)
        return {}
