"""Comprehend's real-time endpoints for custom classifiers: ClassifyDocument answered by the trained model.

An endpoint here is the classifier's model loaded in this process (on first use, then kept), so it is
IN_SERVICE as soon as it is made; inference units are recorded but do not change the capacity of this
one machine. Entity recognizer models and flywheels are not trained here, so endpoints for them are
refused.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.comprehend import classifiers
from outcrop.services.comprehend.job_store import CLASSIFIER, ENDPOINT, Resource
from outcrop.services.comprehend.jobs import (
    PAGER,
    ComprehendJobs,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
    ResourceUnavailableException,
    _time,
)

Params = dict[str, Any]
MAX_TEXT_BYTES = 10_000  # AWS's limit for a document sent to a custom classification endpoint
_load_lock = threading.Lock()


class TextSizeLimitExceededException(ServiceError, service="comprehend"): ...


class ComprehendEndpoints(ComprehendJobs):
    """The endpoint operations and ClassifyDocument, mixed into the Comprehend provider."""

    def _trained_classifier(self, ctx: RequestContext, arn: str | None) -> Resource:
        if not arn or ":document-classifier/" not in arn:
            raise InvalidRequestException(
                "ModelArn must name a document classifier: Outcrop serves endpoints for custom classifiers "
                "only."
            )
        found = self.job_store.get(CLASSIFIER, arn, (ctx.account_id, ctx.region))
        if found is None or found.arn != arn:
            raise ResourceNotFoundException(f"Could not find the document classifier {arn}.")
        if found.status not in ("TRAINED", "TRAINED_WITH_WARNING"):
            raise ResourceUnavailableException(
                f"The document classifier {arn} is {found.status}, not TRAINED."
            )
        return found

    def _endpoint(self, ctx: RequestContext, arn: str) -> Resource:
        found = self.job_store.get(ENDPOINT, arn, (ctx.account_id, ctx.region))
        if found is None or found.arn != arn:
            raise ResourceNotFoundException(f"Could not find the endpoint {arn}.")
        return found

    @staticmethod
    def _endpoint_properties(endpoint: Resource) -> Params:
        doc = {k: v for k, v in endpoint.doc.items() if k not in ("Request", "LastModifiedTime")}
        return {
            "EndpointArn": endpoint.arn,
            "Status": endpoint.status,
            **({"Message": endpoint.message} if endpoint.message else {}),
            "CreationTime": _time(endpoint.created),
            "LastModifiedTime": _time(endpoint.doc.get("LastModifiedTime", endpoint.created)),
            **doc,
        }

    def create_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        if params.get("FlywheelArn"):
            raise InvalidRequestException("Flywheels are not supported by Outcrop; give the ModelArn.")
        if params.get("Tags"):
            raise InvalidRequestException("Tags are not supported on Comprehend resources by Outcrop.")
        with self.job_store.serving_lock:  # the classifier is not deleted while its endpoint is made
            return self._create_endpoint(ctx, params)

    def _create_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        classifier = self._trained_classifier(ctx, params.get("ModelArn"))
        arn = ctx.arn("comprehend", f"document-classifier-endpoint/{params['EndpointName']}")
        units = params["DesiredInferenceUnits"]
        doc: Params = {
            "ModelArn": classifier.arn,
            "DesiredModelArn": classifier.arn,
            "DesiredInferenceUnits": units,
            "CurrentInferenceUnits": units,
            **({"DataAccessRoleArn": params["DataAccessRoleArn"]} if params.get("DataAccessRoleArn") else {}),
        }
        name = params["EndpointName"]
        endpoint = self._create(ctx, ENDPOINT, arn, name, params, doc, uuid.uuid4().hex, "IN_SERVICE")
        return {"EndpointArn": endpoint.arn, "ModelArn": endpoint.doc["ModelArn"]}

    def describe_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        return {"EndpointProperties": self._endpoint_properties(self._endpoint(ctx, params["EndpointArn"]))}

    def list_endpoints(self, ctx: RequestContext, params: Params) -> Params:
        wanted = params.get("Filter") or {}
        model, status = wanted.get("ModelArn"), wanted.get("Status")
        before, after = wanted.get("CreationTimeBefore"), wanted.get("CreationTimeAfter")
        found = [
            e
            for e in self.job_store.list(ENDPOINT, (ctx.account_id, ctx.region))
            if (model is None or e.doc["ModelArn"] == model)
            and (status is None or e.status == status)
            and (before is None or _time(e.created) < before)
            and (after is None or _time(e.created) > after)
        ]
        page, token = PAGER.page(found, params)
        return {
            "EndpointPropertiesList": [self._endpoint_properties(e) for e in page],
            **({"NextToken": token} if token else {}),
        }

    def update_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        endpoint = self._endpoint(ctx, params["EndpointArn"])
        if params.get("FlywheelArn"):
            raise InvalidRequestException("Flywheels are not supported by Outcrop; give the DesiredModelArn.")
        changes: Params = {}
        if params.get("DesiredModelArn"):
            model = self._trained_classifier(ctx, params["DesiredModelArn"]).arn
            changes.update(ModelArn=model, DesiredModelArn=model)
        if params.get("DesiredInferenceUnits"):
            units = params["DesiredInferenceUnits"]
            changes.update(DesiredInferenceUnits=units, CurrentInferenceUnits=units)
        if params.get("DesiredDataAccessRoleArn"):
            role = params["DesiredDataAccessRoleArn"]
            changes.update(DataAccessRoleArn=role, DesiredDataAccessRoleArn=role)
        changes["LastModifiedTime"] = time.time()
        with self.job_store.serving_lock:  # the new model is not deleted while the endpoint moves to it
            if changes.get("ModelArn"):
                self._trained_classifier(ctx, changes["ModelArn"])
            if not self.job_store.update(endpoint.id, "IN_SERVICE", doc=changes, only_if=("IN_SERVICE",)):
                raise ResourceInUseException(f"The endpoint {endpoint.arn} is {endpoint.status}.")
        return {"DesiredModelArn": changes.get("DesiredModelArn", endpoint.doc["DesiredModelArn"])}

    def delete_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        endpoint = self._endpoint(ctx, params["EndpointArn"])
        self.job_store.delete(endpoint.id, ("IN_SERVICE", "FAILED", "CREATING", "UPDATING"))
        return {}

    def classify_document(self, ctx: RequestContext, params: Params) -> Params:
        if params.get("Bytes") is not None or params.get("DocumentReaderConfig") is not None:
            raise InvalidRequestException(
                "Bytes and DocumentReaderConfig (PDF, Word and image input) are not supported by Outcrop; "
                "send Text."
            )
        text = params.get("Text")
        if not text:
            raise InvalidRequestException("Text is required.")
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            raise TextSizeLimitExceededException(
                "Input text size exceeds limit. Max length of request text allowed is "
                f"{MAX_TEXT_BYTES} bytes while in this request the text size is {size} bytes"
            )
        arn = params["EndpointArn"]
        endpoint = self.job_store.get(ENDPOINT, arn, (ctx.account_id, ctx.region))
        if endpoint is None or endpoint.arn != arn or endpoint.status != "IN_SERVICE":
            raise ResourceUnavailableException(f"The endpoint {arn} is not available.")
        classifier = self.job_store.get(CLASSIFIER, endpoint.doc["ModelArn"], None)
        if classifier is None:
            raise ResourceUnavailableException(f"The model of the endpoint {arn} no longer exists.")
        trained = self._served_model(classifier)
        (answer,) = classifiers.predict(trained, [text])
        member = "Labels" if trained.multi_label else "Classes"
        return {member: [{"Name": name, "Score": score} for name, score in answer]}

    def _served_model(self, classifier: Resource) -> classifiers.Trained:
        """The classifier's model, loaded once per process."""
        with _load_lock:
            model = self.loaded.get(classifier.id)
            if model is None:
                path = self.model_dir / f"{classifier.id}.joblib"
                if not path.exists():
                    raise ResourceUnavailableException(
                        f"The model of {classifier.arn} is not on this server."
                    )
                model = self.loaded[classifier.id] = classifiers.load(path)
            return model
