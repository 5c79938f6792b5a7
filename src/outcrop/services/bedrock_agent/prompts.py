"""Prompt management (bedrock-agent): prompts with variants, an editable DRAFT and frozen numbered versions.

A mixin of the bedrock-agent provider: it uses the provider's `prompt_flows` store and `inference` (to check
that a variant's model is one this server runs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from outcrop.inference import Inference
from outcrop.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.paging import PAGES as _PAGES
from outcrop.services.bedrock_agent.prompt_render import template_variables
from outcrop.services.bedrock_agent.resource_store import (
    DRAFT,
    AgentResourceStore,
    NameTaken,
    Resource,
    new_resource_id,
)

_FIELDS = ("name", "description", "defaultVariant", "variants")


def when(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def resource_id(identifier: str, kind: str) -> str:
    """The id in an id or an ARN (`...:<kind>/<id>[:version]`)."""
    if identifier.startswith("arn:"):
        return identifier.split(f":{kind}/", 1)[-1].split(":", 1)[0].split("/", 1)[0]
    return identifier


def refuse_encryption_key(params: dict[str, Any]) -> None:
    if params.get("customerEncryptionKeyArn"):
        raise ValidationException(
            "customerEncryptionKeyArn is not supported by this server: it has no KMS keys to encrypt with."
        )


def check_variant(inference: Inference, variant: dict[str, Any]) -> None:
    """A variant (of a prompt, or inline in a flow's Prompt node) that this server can run."""
    kind = variant["templateType"]
    config = variant["templateConfiguration"]
    key = "text" if kind == "TEXT" else "chat"
    if key not in config:
        raise ValidationException(
            f"The variant {variant['name']} has templateType {kind}, so its templateConfiguration must "
            f"contain {key}."
        )
    if variant.get("genAiResource"):
        raise ValidationException(
            "Prompts that run an agent (genAiResource) are not supported by this server; name a modelId."
        )
    model_id = variant.get("modelId")
    if model_id:
        model = inference.find(model_id)
        if model is None or model.kind != "chat":
            raise ValidationException(
                f"The modelId {model_id} of variant {variant['name']} is not a text model of this server."
            )
    declared = [v["name"] for v in config[key].get("inputVariables") or [] if "name" in v]
    missing = [name for name in template_variables(variant) if name not in declared]
    if declared and missing:
        raise ValidationException(
            f"The template of variant {variant['name']} uses {', '.join(missing)}, which inputVariables "
            "does not declare."
        )


class PromptOperations:
    prompt_flows: AgentResourceStore
    inference: Inference

    # -- helpers ---------------------------------------------------------------------------------------------

    def _prompt(self, ctx: RequestContext, identifier: str, version: str = DRAFT) -> Resource:
        pid = resource_id(identifier, "prompt")
        if identifier.startswith("arn:") and identifier.count(":") == 6 and version == DRAFT:
            version = identifier.rsplit(":", 1)[1]
        found = self.prompt_flows.get("prompt", pid, version, ctx.account_id, ctx.region)
        if found is None:
            detail = "" if version == DRAFT else f" version {version}"
            raise ResourceNotFoundException(f"Prompt {pid}{detail} does not exist.")
        return found

    @staticmethod
    def _prompt_arn(ctx: RequestContext, resource: Resource) -> str:
        arn = ctx.arn("bedrock", f"prompt/{resource.id}")
        return arn if resource.version == DRAFT else f"{arn}:{resource.version}"

    def _prompt_view(
        self, ctx: RequestContext, resource: Resource, *, metadata_only: bool = False
    ) -> dict[str, Any]:
        body = {k: v for k, v in resource.body.items() if k in _FIELDS}
        if metadata_only:
            body.pop("variants", None)
        return {
            **body,
            "id": resource.id,
            "arn": self._prompt_arn(ctx, resource),
            "version": resource.version,
            "createdAt": when(resource.created),
            "updatedAt": when(resource.updated),
        }

    def _check_variants(self, params: dict[str, Any]) -> None:
        refuse_encryption_key(params)
        variants = params.get("variants") or []
        names = [variant["name"] for variant in variants]  # the model allows one variant
        default = params.get("defaultVariant")
        if default is not None and default not in names:
            raise ValidationException(f"The defaultVariant {default} is not the name of one of the variants.")
        for variant in variants:
            check_variant(self.inference, variant)

    # -- operations ------------------------------------------------------------------------------------------

    def create_prompt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._check_variants(params)
        token = params.get("clientToken")
        if token:
            for old in self.prompt_flows.drafts("prompt", ctx.account_id, ctx.region):
                if old.body.get("clientToken") == token:
                    return self._prompt_view(ctx, old)
        body = {k: params[k] for k in (*_FIELDS, "tags", "clientToken") if k in params}
        if "variants" in body and "defaultVariant" not in body:
            body["defaultVariant"] = body["variants"][0]["name"]
        try:
            created = self.prompt_flows.put(
                "prompt", new_resource_id(), DRAFT, ctx.account_id, ctx.region, body
            )
        except NameTaken as error:
            raise ConflictException(f"A prompt named {params['name']} already exists.") from error
        return self._prompt_view(ctx, created)

    def get_prompt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self._prompt(ctx, params["promptIdentifier"], params.get("promptVersion") or DRAFT)
        return self._prompt_view(ctx, found, metadata_only=params.get("includedData") == "METADATA_ONLY")

    def update_prompt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        draft = self._prompt(ctx, params["promptIdentifier"])
        self._check_variants(params)
        body = {k: params[k] for k in _FIELDS if k in params}
        if "variants" in body and "defaultVariant" not in body:
            body["defaultVariant"] = body["variants"][0]["name"]
        body.update({k: draft.body[k] for k in ("tags", "clientToken") if k in draft.body})
        try:
            saved = self.prompt_flows.put("prompt", draft.id, DRAFT, ctx.account_id, ctx.region, body)
        except NameTaken as error:
            raise ConflictException(f"A prompt named {params['name']} already exists.") from error
        return self._prompt_view(ctx, saved)

    def list_prompts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("promptIdentifier"):
            draft = self._prompt(ctx, params["promptIdentifier"])
            rows = self.prompt_flows.versions("prompt", draft.id)
        else:
            rows = self.prompt_flows.drafts("prompt", ctx.account_id, ctx.region)
        page, token = _PAGES.page(rows, params)
        summaries = [
            {
                k: v
                for k, v in self._prompt_view(ctx, row).items()
                if k in ("name", "description", "id", "arn", "version", "createdAt", "updatedAt")
            }
            for row in page
        ]
        return {"promptSummaries": summaries, **({"nextToken": token} if token else {})}

    def delete_prompt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        version = params.get("promptVersion")
        draft = self._prompt(ctx, params["promptIdentifier"])
        if version is None:
            self.prompt_flows.delete("prompt", draft.id)
            return {"id": draft.id}
        self._prompt(ctx, draft.id, version)
        self.prompt_flows.delete("prompt", draft.id, version)
        return {"id": draft.id, "version": version}

    def create_prompt_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        draft = self._prompt(ctx, params["promptIdentifier"])
        body = {k: v for k, v in draft.body.items() if k in _FIELDS}
        if "description" in params:
            body["description"] = params["description"]
        version = str(self.prompt_flows.next_version("prompt", draft.id))
        saved = self.prompt_flows.put("prompt", draft.id, version, ctx.account_id, ctx.region, body)
        return self._prompt_view(ctx, saved)
