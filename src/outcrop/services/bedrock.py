"""Amazon Bedrock's control plane: which foundation models exist here, and batch inference jobs.

Each model's name says which local model serves it, since the API has no field for that. Batch jobs'
logic is in `bedrock_batch`; the methods here hand it their input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from outcrop.catalog import BedrockModel, Catalog
from outcrop.config import Settings
from outcrop.inference import Inference
from outcrop.protocol.errors import ResourceNotFoundException
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock_batch import BatchJobs, decode_slots
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
    ) -> None:
        """The catalog is fixed while serving, so each region's summaries are built once."""
        self.catalog = catalog
        self._summaries: dict[str, list[tuple[BedrockModel, dict[str, Any]]]] = {}
        self.batch = BatchJobs(
            inference=inference,
            objects=objects,
            root=data_path("bedrock", "batch"),
            parallel=decode_slots(catalog, settings),
        )

    def close(self) -> None:
        self.batch.close()

    def _all(self, ctx: RequestContext) -> list[tuple[BedrockModel, dict[str, Any]]]:
        """Every catalog entry's summary for the caller's region; the catalog is fixed while serving."""
        found = self._summaries.get(ctx.region)
        if found is None:
            found = [(model, self._summary(ctx, model)) for model in self.catalog.bedrock.values()]
            self._summaries[ctx.region] = found
        return found

    def _summary(self, ctx: RequestContext, model: BedrockModel) -> dict[str, Any]:
        return {
            "modelArn": model.arn(ctx.region),
            "modelId": model.model_id,
            "modelName": f"{model.name} (served by local {model.local})",
            "providerName": model.provider,
            "inputModalities": list(model.input_modalities),
            "outputModalities": list(model.output_modalities),
            "responseStreamingSupported": model.streaming,
            "customizationsSupported": [],
            "inferenceTypesSupported": ["ON_DEMAND"],
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
            if inference and inference != "ON_DEMAND":
                continue
            if customization:
                continue
            summaries.append(summary)
        return {"modelSummaries": summaries}

    def get_foundation_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        model = self.catalog.find(params["modelIdentifier"])
        if model is None:
            raise ResourceNotFoundException(
                f"The model {params['modelIdentifier']} does not exist in the catalog."
            )
        return {"modelDetails": self._summary(ctx, model)}

    # -- batch inference jobs (logic in bedrock_batch) ------------------------------------------------------

    def create_model_invocation_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.create(ctx, params)

    def get_model_invocation_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.get(params)

    def list_model_invocation_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.list(params)

    def stop_model_invocation_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.batch.stop(params)
