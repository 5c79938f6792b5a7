"""Amazon Bedrock's control plane: which foundation models exist here, inference profiles, batch
inference jobs and guardrails.

Each model's name says which local model serves it, since the API has no field for that. Batch jobs'
logic is in `bedrock_batch`, inference profiles' in `bedrock_profiles` and guardrails' in `guardrails`;
the methods here hand them their input. Tags go to the guardrails for a guardrail ARN, else to profiles.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from outcrop.catalog import BedrockModel, Catalog
from outcrop.config import Settings
from outcrop.guardrails.guardrails import Guardrails
from outcrop.inference import Inference
from outcrop.protocol.errors import ResourceNotFoundException
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock.batch import BatchJobs, decode_slots
from outcrop.services.bedrock.guardrails import GuardrailsControl, is_guardrail_arn
from outcrop.services.bedrock.profile_store import InferenceProfileStore
from outcrop.services.bedrock.profiles import InferenceProfiles
from outcrop.storage.objects import ObjectStore


class Bedrock(Service):
    service_name = "bedrock"

    def __init__(
        self,
        *,
        catalog: Catalog,
        inference: Inference,
        objects: ObjectStore,
        settings: Settings,
        data_path: Callable[..., Path],
        inference_profiles: InferenceProfileStore,
        guardrails: Guardrails,
    ) -> None:
        """The catalog is fixed while serving, so each region's summaries are built once."""
        self.catalog = catalog
        self._summaries: dict[str, list[tuple[BedrockModel, dict[str, Any]]]] = {}
        self.profiles = InferenceProfiles(catalog=catalog, store=inference_profiles)
        self.guardrails = GuardrailsControl(guardrails)
        self.batch = BatchJobs(
            inference=inference,
            objects=objects,
            guardrails=guardrails,
            root=data_path("bedrock", "batch"),
            parallel=decode_slots(catalog, settings),
        )

    def close(self) -> None:
        self.batch.close()

    def _all(self, ctx: RequestContext) -> list[tuple[BedrockModel, dict[str, Any]]]:
        """Every catalog entry's summary for the caller's region; the catalog is fixed while serving."""
        found = self._summaries.get(ctx.region)
        if found is None:
            models = [*self.catalog.bedrock.values(), *self.catalog.unserved.values()]
            found = [(model, self._summary(ctx, model)) for model in models]
            self._summaries[ctx.region] = found
        return found

    def _summary(self, ctx: RequestContext, model: BedrockModel) -> dict[str, Any]:
        return {
            "modelArn": model.arn(ctx.region),
            "modelId": model.model_id,
            "modelName": f"{model.name} ({_served_by(model)})",
            "providerName": model.provider,
            "inputModalities": list(model.input_modalities),
            "outputModalities": list(model.output_modalities),
            "responseStreamingSupported": model.streaming,
            "customizationsSupported": [],
            "inferenceTypesSupported": model.inference_types,
            "modelLifecycle": {"status": model.lifecycle},
        }

    def list_foundation_models(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        provider = (params.get("byProvider") or "").lower()
        modality = params.get("byOutputModality")
        inference = params.get("byInferenceType")
        customization = params.get("byCustomizationType")
        summaries = []
        for model, summary in self._all(ctx):
            if provider and provider not in (model.provider.lower(), model.model_id.split(".")[0]):
                continue
            if modality and modality not in model.output_modalities:
                continue
            if inference and inference not in model.inference_types:
                continue
            if customization:
                continue
            summaries.append(summary)
        return {"modelSummaries": summaries}

    def get_foundation_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        identifier = params["modelIdentifier"]
        model = self.catalog.find(identifier) or self.catalog.find_unserved(identifier)
        if model is None:
            raise ResourceNotFoundException(
                f"The model {params['modelIdentifier']} does not exist in the catalog."
            )
        return {"modelDetails": self._summary(ctx, model)}

    # -- inference profiles (logic in bedrock_profiles) -----------------------------------------------------

    def create_inference_profile(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.profiles.create(ctx, params)

    def get_inference_profile(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.profiles.get(ctx, params)

    def list_inference_profiles(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.profiles.list(ctx, params)

    def delete_inference_profile(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.profiles.delete(ctx, params)

    # -- tags (a guardrail's in `guardrails`, an application profile's in `bedrock_profiles`) ---------------

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if is_guardrail_arn(params["resourceARN"]):
            return self.guardrails.tag_resource(ctx, params)
        return self.profiles.tag_resource(ctx, params)

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if is_guardrail_arn(params["resourceARN"]):
            return self.guardrails.untag_resource(ctx, params)
        return self.profiles.untag_resource(ctx, params)

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if is_guardrail_arn(params["resourceARN"]):
            return self.guardrails.list_tags_for_resource(ctx, params)
        return self.profiles.list_tags_for_resource(ctx, params)

    # -- guardrails (logic in guardrails) --------------------------------------------------------------------

    def create_guardrail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.guardrails.create(ctx, params)

    def get_guardrail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.guardrails.get(ctx, params)

    def update_guardrail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.guardrails.update(ctx, params)

    def delete_guardrail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.guardrails.delete(ctx, params)

    def list_guardrails(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.guardrails.list(ctx, params)

    def create_guardrail_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.guardrails.create_version(ctx, params)

    # -- batch inference jobs (logic in bedrock_batch) ------------------------------------------------------

    def create_model_invocation_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.create(ctx, params)

    def get_model_invocation_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.get(ctx, params)

    def list_model_invocation_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.list(ctx, params)

    def stop_model_invocation_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.stop(ctx, params)


def _served_by(model: BedrockModel) -> str:
    if model.local:
        return f"served by local {model.local}"
    return f"{model.kind} generation: not served locally"
