"""Flows (bedrock-agent): a DRAFT definition, PrepareFlow's validation, frozen numbered versions and aliases.

A mixin of the bedrock-agent provider, on the provider's `prompt_flows` store. `TSTALIASID`, the test alias
every flow has, routes to the DRAFT. InvokeFlow (bedrock-agent-runtime) runs what these operations store.
"""

from __future__ import annotations

from typing import Any

from outcrop.inference import Inference
from outcrop.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.flow_validation import refuse_unsupported, require_valid, validations
from outcrop.services.bedrock_agent.paging import PAGES as _PAGES
from outcrop.services.bedrock_agent.prompt_render import stored_prompt
from outcrop.services.bedrock_agent.prompts import check_variant, refuse_encryption_key, resource_id, when
from outcrop.services.bedrock_agent.resource_store import (
    DRAFT,
    AgentResourceStore,
    NameTaken,
    Resource,
    new_resource_id,
)

_FIELDS = ("name", "description", "executionRoleArn", "definition")
_ALIAS_FIELDS = ("name", "description", "routingConfiguration", "concurrencyConfiguration")
TEST_ALIAS = "TSTALIASID"


class FlowOperations:
    prompt_flows: AgentResourceStore
    inference: Inference

    # -- helpers ---------------------------------------------------------------------------------------------

    def _flow(self, ctx: RequestContext, identifier: str, version: str = DRAFT) -> Resource:
        fid = resource_id(identifier, "flow")
        found = self.prompt_flows.get("flow", fid, version, ctx.account_id, ctx.region)
        if found is None:
            detail = "" if version == DRAFT else f" version {version}"
            raise ResourceNotFoundException(f"Flow {fid}{detail} does not exist.")
        return found

    @staticmethod
    def _flow_view(ctx: RequestContext, flow: Resource) -> dict[str, Any]:
        body = {k: v for k, v in flow.body.items() if k in _FIELDS}
        view = {
            **body,
            "id": flow.id,
            "arn": ctx.arn("bedrock", f"flow/{flow.id}"),
            "status": flow.body.get("status", "NotPrepared"),
            "version": flow.version,
            "createdAt": when(flow.created),
        }
        if flow.version == DRAFT:
            view["updatedAt"] = when(flow.updated)
        return view

    @staticmethod
    def _check_flow(params: dict[str, Any]) -> None:
        refuse_encryption_key(params)
        refuse_unsupported(params.get("definition"))

    def _flow_aliases(self, flow_id: str) -> list[Resource]:
        return self.prompt_flows.versions("flow-alias", flow_id)

    # -- flows -----------------------------------------------------------------------------------------------

    def create_flow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._check_flow(params)
        token = params.get("clientToken")
        if token:
            for old in self.prompt_flows.drafts("flow", ctx.account_id, ctx.region):
                if old.body.get("clientToken") == token:
                    return self._flow_view(ctx, old)
        body = {k: params[k] for k in (*_FIELDS, "tags", "clientToken") if k in params}
        body["status"] = "NotPrepared"
        try:
            flow = self.prompt_flows.put("flow", new_resource_id(), DRAFT, ctx.account_id, ctx.region, body)
        except NameTaken as error:
            raise ConflictException(f"A flow named {params['name']} already exists.") from error
        return self._flow_view(ctx, flow)

    def get_flow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        view = self._flow_view(ctx, flow)
        if params.get("includedData") == "METADATA_ONLY":
            view.pop("definition", None)
        return {**view, "validations": validations(flow.body.get("definition"))}

    def update_flow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        self._check_flow(params)
        body = {k: params[k] for k in _FIELDS if k in params}
        body.update({k: flow.body[k] for k in ("tags", "clientToken") if k in flow.body})
        body["status"] = "NotPrepared"
        try:
            saved = self.prompt_flows.put("flow", flow.id, DRAFT, ctx.account_id, ctx.region, body)
        except NameTaken as error:
            raise ConflictException(f"A flow named {params['name']} already exists.") from error
        return self._flow_view(ctx, saved)

    def list_flows(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, token = _PAGES.page(self.prompt_flows.drafts("flow", ctx.account_id, ctx.region), params)
        summaries = [
            {
                k: v
                for k, v in self._flow_view(ctx, flow).items()
                if k in ("name", "description", "id", "arn", "status", "createdAt", "updatedAt", "version")
            }
            for flow in page
        ]
        return {"flowSummaries": summaries, **({"nextToken": token} if token else {})}

    def delete_flow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        if self._flow_aliases(flow.id) and not params.get("skipResourceInUseCheck"):
            raise ConflictException(
                f"Flow {flow.id} has aliases. Delete them first, or set skipResourceInUseCheck."
            )
        self.prompt_flows.delete("flow-alias", flow.id)
        self.prompt_flows.delete("flow", flow.id)
        return {"id": flow.id}

    def prepare_flow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        if not flow.body.get("definition"):
            raise ValidationException(f"Flow {flow.id} has no definition to prepare.")
        require_valid(flow.body["definition"])
        self._check_node_resources(flow.body["definition"])
        self.prompt_flows.put(
            "flow", flow.id, DRAFT, ctx.account_id, ctx.region, {**flow.body, "status": "Prepared"}
        )
        return {"id": flow.id, "status": "Prepared"}

    def _check_node_resources(self, definition: dict[str, Any]) -> None:
        """The prompts and models that Prompt and KnowledgeBase nodes name exist here."""
        for node in definition.get("nodes") or []:
            config = node.get("configuration") or {}
            try:
                if node["type"] == "Prompt":
                    source = config["prompt"]["sourceConfiguration"]
                    if "resource" in source:
                        stored_prompt(self.prompt_flows, source["resource"]["promptArn"])
                    elif "inline" in source:
                        check_variant(self.inference, {"name": node["name"], **source["inline"]})
                    else:
                        raise ValidationException("it needs an inline or a resource sourceConfiguration.")
                model_id = (config.get("knowledgeBase") or {}).get("modelId")
                if model_id and self.inference.find(model_id) is None:
                    raise ValidationException(f"the model {model_id} is not a model of this server.")
            except (ValidationException, ResourceNotFoundException) as error:
                raise ValidationException(
                    f"Flow definition is invalid: node {node['name']}: {error.message}"
                ) from error

    def validate_flow_definition(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        refuse_unsupported(params["definition"])
        return {"validations": validations(params["definition"])}

    # -- versions --------------------------------------------------------------------------------------------

    def create_flow_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        if flow.body.get("status") != "Prepared":
            raise ValidationException(
                f"Flow {flow.id} is not prepared. Prepare the flow, then create a version."
            )
        body = {k: v for k, v in flow.body.items() if k in _FIELDS}
        if "description" in params:
            body["description"] = params["description"]
        version = str(self.prompt_flows.next_version("flow", flow.id))
        saved = self.prompt_flows.put(
            "flow", flow.id, version, ctx.account_id, ctx.region, {**body, "status": "Prepared"}
        )
        return self._flow_view(ctx, saved)

    def get_flow_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self._flow(ctx, params["flowIdentifier"], params["flowVersion"])
        view = self._flow_view(ctx, found)
        if params.get("includedData") == "METADATA_ONLY":
            view.pop("definition", None)
        return view

    def list_flow_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        page, token = _PAGES.page(self.prompt_flows.versions("flow", flow.id), params)
        summaries = [
            {
                k: v
                for k, v in self._flow_view(ctx, row).items()
                if k in ("id", "arn", "status", "createdAt", "version")
            }
            for row in page
        ]
        return {"flowVersionSummaries": summaries, **({"nextToken": token} if token else {})}

    def delete_flow_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self._flow(ctx, params["flowIdentifier"], params["flowVersion"])
        used = [
            alias.version
            for alias in self._flow_aliases(found.id)
            if any(r.get("flowVersion") == found.version for r in alias.body["routingConfiguration"])
        ]
        if used and not params.get("skipResourceInUseCheck"):
            raise ConflictException(
                f"Version {found.version} of flow {found.id} is used by alias {', '.join(used)}."
            )
        self.prompt_flows.delete("flow", found.id, found.version)
        return {"id": found.id, "version": found.version}

    # -- aliases ---------------------------------------------------------------------------------------------

    def _check_routing(self, ctx: RequestContext, flow: Resource, params: dict[str, Any]) -> None:
        routing = params["routingConfiguration"]
        if len(routing) != 1 or "flowVersion" not in routing[0]:
            raise ValidationException("routingConfiguration must hold exactly one item with a flowVersion.")
        self._flow(ctx, flow.id, routing[0]["flowVersion"])
        concurrency = params.get("concurrencyConfiguration")
        if concurrency and concurrency["type"] != "Automatic":
            raise ValidationException(
                "Only Automatic concurrency is supported: this server runs flows as its workers allow."
            )

    def _flow_alias(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[Resource, Resource]:
        flow = self._flow(ctx, params["flowIdentifier"])
        alias_id = params["aliasIdentifier"].rsplit("/", 1)[-1]
        found = self.prompt_flows.get("flow-alias", flow.id, alias_id, ctx.account_id, ctx.region)
        if found is None:
            raise ResourceNotFoundException(f"Alias {alias_id} of flow {flow.id} does not exist.")
        return flow, found

    @staticmethod
    def _flow_alias_view(ctx: RequestContext, alias: Resource) -> dict[str, Any]:
        return {
            **{k: v for k, v in alias.body.items() if k in _ALIAS_FIELDS},
            "flowId": alias.id,
            "id": alias.version,
            "arn": ctx.arn("bedrock", f"flow/{alias.id}/alias/{alias.version}"),
            "createdAt": when(alias.created),
            "updatedAt": when(alias.updated),
        }

    def create_flow_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        self._check_routing(ctx, flow, params)
        body = {k: params[k] for k in (*_ALIAS_FIELDS, "tags") if k in params}
        try:
            alias = self.prompt_flows.put(
                "flow-alias", flow.id, new_resource_id(), ctx.account_id, ctx.region, body
            )
        except NameTaken as error:
            raise ConflictException(f"Flow {flow.id} already has an alias named {params['name']}.") from error
        return self._flow_alias_view(ctx, alias)

    def get_flow_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._flow_alias_view(ctx, self._flow_alias(ctx, params)[1])

    def update_flow_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow, alias = self._flow_alias(ctx, params)
        self._check_routing(ctx, flow, params)
        body = {
            **{k: params[k] for k in _ALIAS_FIELDS if k in params},
            **{k: alias.body[k] for k in ("tags",) if k in alias.body},
        }
        try:
            saved = self.prompt_flows.put(
                "flow-alias", flow.id, alias.version, ctx.account_id, ctx.region, body
            )
        except NameTaken as error:
            raise ConflictException(f"Flow {flow.id} already has an alias named {params['name']}.") from error
        return self._flow_alias_view(ctx, saved)

    def list_flow_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(ctx, params["flowIdentifier"])
        page, token = _PAGES.page(self._flow_aliases(flow.id), params)
        return {
            "flowAliasSummaries": [self._flow_alias_view(ctx, alias) for alias in page],
            **({"nextToken": token} if token else {}),
        }

    def delete_flow_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        flow, alias = self._flow_alias(ctx, params)
        self.prompt_flows.delete("flow-alias", flow.id, alias.version)
        return {"flowId": flow.id, "id": alias.version}


def flow_to_run(
    store: AgentResourceStore, ctx: RequestContext, flow_identifier: str, alias: str
) -> tuple[Resource, str]:
    """The flow version an alias routes to (TSTALIASID: the DRAFT, which must be prepared), and the
    alias ARN."""
    fid = resource_id(flow_identifier, "flow")
    alias_id = alias.rsplit("/", 1)[-1]
    alias_arn = ctx.arn("bedrock", f"flow/{fid}/alias/{alias_id}")
    if alias_id == TEST_ALIAS:
        version = DRAFT
    else:
        routed = store.get("flow-alias", fid, alias_id, ctx.account_id, ctx.region)
        if routed is None:
            raise ResourceNotFoundException(f"Alias {alias_id} of flow {fid} does not exist.")
        version = routed.body["routingConfiguration"][0]["flowVersion"]
    flow = store.get("flow", fid, version, ctx.account_id, ctx.region)
    if flow is None:
        raise ResourceNotFoundException(f"Flow {fid} version {version} does not exist.")
    if flow.body.get("status") != "Prepared":
        raise ValidationException(f"Flow {fid} is not prepared. Call PrepareFlow before invoking it.")
    return flow, alias_arn
