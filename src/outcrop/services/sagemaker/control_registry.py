"""The model registry (model package groups and their numbered versions) and tags on every resource."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.paging import Pager
from outcrop.services.sagemaker.control_common import Conflict, ControlPlane, check_name, listed
from outcrop.services.sagemaker.control_unserved import MODEL_PACKAGE, MODEL_PACKAGE_GROUP, refuse_unserved
from outcrop.services.sagemaker.store import AlreadyExists, Record

GROUP, PACKAGE = "model-package-group", "model-package"
_TAG_PAGES = Pager(ValidationException, "The NextToken is not valid.", default=50)  # ListTags: 50 or more
_PACKAGE_MEMBERS = (
    "ModelPackageDescription",
    "ModelPackageRegistrationType",
    "InferenceSpecification",
    "ValidationSpecification",
    "SourceAlgorithmSpecification",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "MetadataProperties",
    "ModelMetrics",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
    "SecurityConfig",
    "ModelCard",
    "ModelLifeCycle",
)


def _request_digest(params: dict[str, Any]) -> str:
    """What a ClientToken stands for: the request without the token itself."""
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _created_by(ctx: RequestContext) -> dict[str, Any]:
    return {"IamIdentity": {"Arn": f"arn:aws:iam::{ctx.account_id}:user/{ctx.access_key}"}}


class RegistryOperations(ControlPlane):
    # -- groups ----------------------------------------------------------------------------------------------

    def create_model_package_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelPackageGroupName"]
        check_name("ModelPackageGroupName", name)
        refuse_unserved(params, MODEL_PACKAGE_GROUP)
        arn = self.arn(ctx, f"model-package-group/{name.lower()}")
        body = {
            "ModelPackageGroupName": name,
            "ModelPackageGroupArn": arn,
            "ModelPackageGroupDescription": params.get("ModelPackageGroupDescription"),
            "CreatedBy": _created_by(ctx),
        }
        try:
            self.store.insert(
                GROUP, name, arn, "Completed", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise ValidationException(f"Model Package Group already exists: {arn}") from exc
        return {"ModelPackageGroupArn": arn}

    def _group(self, ctx: RequestContext, name_or_arn: str) -> Record:
        return self._named(ctx, GROUP, "ModelPackageGroup", name_or_arn)

    def _named(self, ctx: RequestContext, kind: str, label: str, name_or_arn: str) -> Record:
        """The group or package named by name or ARN; ValidationException (as SageMaker answers) if none."""
        record = self.store.by_arn(name_or_arn, where=self.where(ctx)) or self.store.get(
            kind, name_or_arn, where=self.where(ctx)
        )
        if record is None or record.kind != kind:
            arn = name_or_arn if name_or_arn.startswith("arn:") else self.arn(ctx, f"{kind}/{name_or_arn}")
            raise ValidationException(f"{label} {arn} does not exist.")
        return record

    def describe_model_package_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._group(ctx, params["ModelPackageGroupName"])
        return {**record.body, "CreationTime": record.created, "ModelPackageGroupStatus": record.status}

    def list_model_package_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def summary(r: Record) -> dict[str, Any]:
            return {
                "ModelPackageGroupName": r.name,
                "ModelPackageGroupArn": r.arn,
                "ModelPackageGroupDescription": r.body.get("ModelPackageGroupDescription"),
                "CreationTime": r.created,
                "ModelPackageGroupStatus": r.status,
            }

        # No group is shared from another account here: CrossAccount matches none.
        groups, token = listed(
            self.store.records(GROUP, where=self.where(ctx)),
            params,
            summary,
            keep=lambda _: params.get("CrossAccountFilterOption") != "CrossAccount",
        )
        return {"ModelPackageGroupSummaryList": groups, "NextToken": token}

    def delete_model_package_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._group(ctx, params["ModelPackageGroupName"])
        if self.store.records(PACKAGE, name_prefix=record.name + "/", where=record.where):
            raise Conflict(
                f"Model Package Group {record.arn} cannot be deleted: it still contains model packages."
            )
        self.store.delete(GROUP, record.name, where=record.where)
        return {}

    # -- packages --------------------------------------------------------------------------------------------

    def create_model_package(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group_name, package_name = params.get("ModelPackageGroupName"), params.get("ModelPackageName")
        if bool(group_name) == bool(package_name):
            raise ValidationException("Specify exactly one of ModelPackageName and ModelPackageGroupName.")
        refuse_unserved(params, MODEL_PACKAGE)
        token, digest = params.get("ClientToken"), _request_digest(params)
        if token:  # idempotent: the same token and request answer the package it made
            for earlier in self.store.records(PACKAGE, where=self.where(ctx)):
                if earlier.body.get("_ClientToken") == token:
                    if earlier.body.get("_Request") != digest:
                        raise Conflict("The ClientToken was already used with a different request.")
                    return {"ModelPackageArn": earlier.arn}
        for container in (params.get("InferenceSpecification") or {}).get("Containers", []):
            if not container.get("Image"):
                raise ValidationException("Each InferenceSpecification container must specify an Image.")
        fields = {k: params[k] for k in _PACKAGE_MEMBERS if k in params}
        if token:
            fields.update(_ClientToken=token, _Request=digest)
        tags = params.get("Tags", [])
        if package_name:
            arn = self.arn(ctx, f"model-package/{package_name.lower()}")
            body = {
                "ModelPackageName": package_name,
                "ModelPackageArn": arn,
                "CreatedBy": _created_by(ctx),
                **fields,
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            }
            try:
                self.store.insert(PACKAGE, package_name, arn, "Completed", body, tags, where=self.where(ctx))
            except AlreadyExists as exc:
                raise ValidationException(f"Model Package already exists: {arn}") from exc
            return {"ModelPackageArn": arn}
        assert group_name is not None
        group = self._group(ctx, group_name)
        fields.setdefault("ModelApprovalStatus", "PendingManualApproval")

        def make(version: int) -> tuple[str, str, dict[str, Any]]:
            arn = self.arn(ctx, f"model-package/{group.name.lower()}/{version}")
            body = {
                "ModelPackageName": group.name,
                "ModelPackageGroupName": group.name,
                "ModelPackageVersion": version,
                "ModelPackageArn": arn,
                "CreatedBy": _created_by(ctx),
                **fields,
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            }
            return arn, "Completed", body

        record = self.store.insert_version(PACKAGE, group.name, make, tags, where=self.where(ctx))
        return {"ModelPackageArn": record.arn}

    def _package(self, ctx: RequestContext, name_or_arn: str) -> Record:
        return self._named(ctx, PACKAGE, "ModelPackage", name_or_arn)

    @staticmethod
    def _package_view(record: Record) -> dict[str, Any]:
        return {
            **{k: v for k, v in record.body.items() if not k.startswith("_")},
            "CreationTime": record.created,
            "LastModifiedTime": record.modified,
            "ModelPackageStatus": record.status,
        }

    def describe_model_package(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._package_view(self._package(ctx, params["ModelPackageName"]))

    def list_model_packages(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("ModelPackageGroupName")
        kind = params.get("ModelPackageType") or ("Versioned" if group else "Unversioned")
        records = self.store.records(PACKAGE, where=self.where(ctx))
        if group:
            group_name = self._group(ctx, group).name
            records = [r for r in records if r.body.get("ModelPackageGroupName") == group_name]
        if kind != "Both":
            records = [r for r in records if ("ModelPackageVersion" in r.body) == (kind == "Versioned")]
        approval = params.get("ModelApprovalStatus")

        def summary(r: Record) -> dict[str, Any]:
            keys = (
                "ModelPackageName",
                "ModelPackageGroupName",
                "ModelPackageVersion",
                "ModelPackageArn",
                "ModelPackageDescription",
                "ModelApprovalStatus",
                "ModelLifeCycle",
                "ModelPackageRegistrationType",
            )
            return {
                **{k: r.body[k] for k in keys if k in r.body},
                "CreationTime": r.created,
                "ModelPackageStatus": r.status,
            }

        packages, token = listed(
            records,
            params,
            summary,
            keep=lambda r: approval is None or r.body.get("ModelApprovalStatus") == approval,
        )
        return {"ModelPackageSummaryList": packages, "NextToken": token}

    def update_model_package(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._package(ctx, params["ModelPackageArn"])
        token, digest = params.get("ClientToken"), _request_digest(params)
        if token and record.body.get("_UpdateToken") == token:  # idempotent: applied once already
            if record.body.get("_UpdateRequest") != digest:
                raise Conflict("The ClientToken was already used with a different request.")
            return {"ModelPackageArn": record.arn}

        def change(r: Record) -> None:
            if token:
                r.body.update(_UpdateToken=token, _UpdateRequest=digest)
            for key in (
                "ModelApprovalStatus",
                "ApprovalDescription",
                "ModelPackageRegistrationType",
                "InferenceSpecification",
                "SourceUri",
                "ModelCard",
                "ModelLifeCycle",
            ):
                if key in params:
                    r.body[key] = params[key]
            metadata = {
                **r.body.get("CustomerMetadataProperties", {}),
                **params.get("CustomerMetadataProperties", {}),
            }
            for key in params.get("CustomerMetadataPropertiesToRemove", []):
                metadata.pop(key, None)
            if metadata or "CustomerMetadataProperties" in r.body:
                r.body["CustomerMetadataProperties"] = metadata
            if params.get("AdditionalInferenceSpecificationsToAdd"):
                r.body.setdefault("AdditionalInferenceSpecifications", []).extend(
                    params["AdditionalInferenceSpecificationsToAdd"]
                )
            r.body["LastModifiedBy"] = _created_by(ctx)

        self.store.update(PACKAGE, record.name, change, where=record.where)
        return {"ModelPackageArn": record.arn}

    def delete_model_package(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._package(ctx, params["ModelPackageName"])
        self.store.delete(PACKAGE, record.name, where=record.where)
        return {}

    # -- tags ------------------------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, arn: str) -> Record:
        """A resource of the request's account and region, by ARN: another region's is not found here."""
        record = self.store.by_arn(arn, where=self.where(ctx))
        if record is None:
            raise ValidationException(f"Resource {arn} does not exist.")
        return record

    def add_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tagged(ctx, params["ResourceArn"])
        existing = {t["Key"] for t in self.store.tags(record.arn)}
        if len(existing | {t["Key"] for t in params["Tags"]}) > 50:
            raise ValidationException("A resource can have at most 50 tags.")
        self.store.add_tags(record.arn, params["Tags"])
        return {"Tags": params["Tags"]}

    def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tagged(ctx, params["ResourceArn"])
        tags = self.store.tags(record.arn)
        page, token = _TAG_PAGES.page(tags, params)
        return {"Tags": page, "NextToken": token}

    def delete_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tagged(ctx, params["ResourceArn"])
        self.store.delete_tags(record.arn, params["TagKeys"])
        return {}
