"""Bedrock Agents control plane: action groups and knowledge-base associations of an agent's DRAFT.

An action group runs a function of the local Lambda service (its ARN must name one) or returns control to
the caller; its schema is a function schema or an OpenAPI 3 document (inline or in the local S3), checked here
so the runtime can always build tools from it. `AMAZON.UserInput` lets the agent ask the user;
`AMAZON.CodeInterpreter` and Anthropic's computer-use tools are refused, as nothing here runs them sandboxed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outcrop.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.agents import check_name, page, settled, stamp
from outcrop.services.bedrock_agent.agents_schema import SchemaError, check_functions, parse_openapi
from outcrop.services.bedrock_agent.agents_store import Record, new_agent_id
from outcrop.services.bedrock_agent.agents_tags import TagOperations

if TYPE_CHECKING:
    from outcrop.lambdas.registry import FunctionRegistry
    from outcrop.rag.kbstore import KnowledgeBaseStore
    from outcrop.storage.objects import ObjectStore


def api_schema_text(schema: dict[str, Any], objects: ObjectStore) -> str:
    """The OpenAPI document's text, inline or read from the local S3."""
    if "payload" in schema:
        return str(schema["payload"])
    s3 = schema.get("s3") or {}
    try:
        return objects.read_object(s3["s3BucketName"], s3["s3ObjectKey"]).decode()
    except Exception as error:
        raise ValidationException(
            f"Failed to read the API schema from s3://{s3.get('s3BucketName')}/"
            f"{s3.get('s3ObjectKey')}: {error}"
        ) from error


class ActionGroupOperations(TagOperations):
    """Action group and knowledge-base association operations (a base class of the bedrock-agent provider)."""

    lambda_functions: FunctionRegistry
    objects: ObjectStore
    store: KnowledgeBaseStore

    def _check_group(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate and return the group's stored body (schema text resolved from S3 is checked, not kept)."""
        signature = params.get("parentActionGroupSignature")
        name = params["actionGroupName"]
        check_name(name, "actionGroupName")
        if signature == "AMAZON.CodeInterpreter":
            raise ValidationException(
                "AMAZON.CodeInterpreter is not supported by Outcrop: it has no sandbox to run generated code "
                "in. Use an action group with a Lambda function instead."
            )
        if signature and signature != "AMAZON.UserInput":
            raise ValidationException(f"{signature} (computer use) is not supported by Outcrop.")
        has_schema = "apiSchema" in params or "functionSchema" in params
        if signature == "AMAZON.UserInput":
            if has_schema or params.get("actionGroupExecutor") or params.get("description"):
                raise ValidationException(
                    "An action group with parentActionGroupSignature AMAZON.UserInput must leave the "
                    "description, apiSchema, functionSchema and actionGroupExecutor fields blank."
                )
        else:
            executor = params.get("actionGroupExecutor") or {}
            if not executor:
                raise ValidationException(f"Action group {name} needs an actionGroupExecutor.")
            if "lambda" in executor and self.lambda_functions.find(executor["lambda"]) is None:
                raise ValidationException(
                    f"Lambda function {executor['lambda']} was not found. Create it in the Lambda service "
                    "of this server first."
                )
            if ("apiSchema" in params) == ("functionSchema" in params):
                raise ValidationException(
                    f"Action group {name} must have exactly one of apiSchema or functionSchema."
                )
            try:
                if "functionSchema" in params:
                    check_functions(params["functionSchema"].get("functions") or [])
                else:
                    parse_openapi(api_schema_text(params["apiSchema"], self.objects))
            except SchemaError as error:
                raise ValidationException(f"Action group {name}: {error}") from error
        body: dict[str, Any] = {
            "actionGroupName": name,
            "actionGroupState": params.get("actionGroupState", "ENABLED"),
        }
        for optional in (
            "description",
            "actionGroupExecutor",
            "apiSchema",
            "functionSchema",
            "clientToken",
            "parentActionGroupSignatureParams",
        ):
            if optional in params:
                body[optional] = params[optional]
        if signature:
            body["parentActionSignature"] = signature
        return body

    def _group(self, ctx: RequestContext, agent_id: str, version: str, group_id: str) -> Record:
        self._agent(ctx, agent_id)
        record = self.agents.get("group", agent_id, version, group_id)
        if record is None:
            raise ResourceNotFoundException(
                f"Action group {group_id} doesn't exist for agent {agent_id} version {version}."
            )
        return record

    @staticmethod
    def _group_view(record: Record) -> dict[str, Any]:
        return {**record.body, "createdAt": stamp(record.created), "updatedAt": stamp(record.updated)}

    def _unique_group_name(self, agent_id: str, name: str, group_id: str | None) -> None:
        for record in self.agents.records("group", agent_id, "DRAFT"):
            if record.body["actionGroupName"] == name and record.id != group_id:
                raise ConflictException(f"An action group named {name} already exists for agent {agent_id}.")

    def _draft_changed(self, agent: Record) -> None:
        """DRAFT's parts changed: the agent needs preparing again, as on AWS."""
        if settled(agent.body["_state"]) == "PREPARED":
            body = {**agent.body, "_state": {"status": "NOT_PREPARED"}}
            self.agents.put("agent", agent.id, "", agent.id, body)

    def create_agent_action_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent(ctx, params["agentId"])
        body = self._check_group(params)
        self._unique_group_name(agent.id, body["actionGroupName"], None)
        group_id = new_agent_id()
        body.update({"agentId": agent.id, "agentVersion": "DRAFT", "actionGroupId": group_id})
        record = self.agents.put("group", agent.id, "DRAFT", group_id, body)
        self._draft_changed(agent)
        return {"agentActionGroup": self._group_view(record)}

    def get_agent_action_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._group(ctx, params["agentId"], params["agentVersion"], params["actionGroupId"])
        return {"agentActionGroup": self._group_view(record)}

    def update_agent_action_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._group(ctx, params["agentId"], params["agentVersion"], params["actionGroupId"])
        body = self._check_group(params)
        self._unique_group_name(record.agent, body["actionGroupName"], record.id)
        body.update({"agentId": record.agent, "agentVersion": "DRAFT", "actionGroupId": record.id})
        updated = self.agents.put("group", record.agent, "DRAFT", record.id, body)
        self._draft_changed(self._agent(ctx, record.agent))
        return {"agentActionGroup": self._group_view(updated)}

    def delete_agent_action_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._group(ctx, params["agentId"], params["agentVersion"], params["actionGroupId"])
        if record.body.get("actionGroupState") == "ENABLED" and not params.get("skipResourceInUseCheck"):
            raise ConflictException(
                f"Action group {record.id} is ENABLED. Disable it first or set skipResourceInUseCheck."
            )
        self.agents.delete("group", record.agent, "DRAFT", record.id)
        self._draft_changed(self._agent(ctx, record.agent))
        return {}

    def list_agent_action_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._agent(ctx, params["agentId"])
        records = self.agents.records("group", params["agentId"], params["agentVersion"])
        summaries = [
            {
                "actionGroupId": r.id,
                "actionGroupName": r.body["actionGroupName"],
                "actionGroupState": r.body["actionGroupState"],
                "updatedAt": stamp(r.updated),
                **({"description": r.body["description"]} if "description" in r.body else {}),
            }
            for r in records
        ]
        found, token = page(summaries, params)
        return {"actionGroupSummaries": found, **({"nextToken": token} if token else {})}

    # -- knowledge bases -------------------------------------------------------------------------------------

    def _agent_kb(self, ctx: RequestContext, agent_id: str, version: str, kb_id: str) -> Record:
        self._agent(ctx, agent_id)
        record = self.agents.get("kb", agent_id, version, kb_id)
        if record is None:
            raise ResourceNotFoundException(
                f"Knowledge base {kb_id} is not associated with agent {agent_id} version {version}."
            )
        return record

    @staticmethod
    def _kb_link_view(record: Record) -> dict[str, Any]:
        return {**record.body, "createdAt": stamp(record.created), "updatedAt": stamp(record.updated)}

    def associate_agent_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent(ctx, params["agentId"])
        kb_id = params["knowledgeBaseId"]
        if self.store.knowledge_base(kb_id) is None:
            raise ResourceNotFoundException(f"Knowledge base with id {kb_id} does not exist")
        if self.agents.get("kb", agent.id, "DRAFT", kb_id) is not None:
            raise ConflictException(f"Knowledge base {kb_id} is already associated with agent {agent.id}.")
        body = {
            "agentId": agent.id,
            "agentVersion": "DRAFT",
            "knowledgeBaseId": kb_id,
            "description": params["description"],
            "knowledgeBaseState": params.get("knowledgeBaseState", "ENABLED"),
        }
        record = self.agents.put("kb", agent.id, "DRAFT", kb_id, body)
        self._draft_changed(agent)
        return {"agentKnowledgeBase": self._kb_link_view(record)}

    def get_agent_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._agent_kb(ctx, params["agentId"], params["agentVersion"], params["knowledgeBaseId"])
        return {"agentKnowledgeBase": self._kb_link_view(record)}

    def update_agent_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._agent_kb(ctx, params["agentId"], params["agentVersion"], params["knowledgeBaseId"])
        body = dict(record.body)
        for optional in ("description", "knowledgeBaseState"):
            if optional in params:
                body[optional] = params[optional]
        updated = self.agents.put("kb", record.agent, "DRAFT", record.id, body)
        self._draft_changed(self._agent(ctx, record.agent))
        return {"agentKnowledgeBase": self._kb_link_view(updated)}

    def disassociate_agent_knowledge_base(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._agent_kb(ctx, params["agentId"], params["agentVersion"], params["knowledgeBaseId"])
        self.agents.delete("kb", record.agent, "DRAFT", record.id)
        self._draft_changed(self._agent(ctx, record.agent))
        return {}

    def list_agent_knowledge_bases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._agent(ctx, params["agentId"])
        records = self.agents.records("kb", params["agentId"], params["agentVersion"])
        summaries = [
            {
                "knowledgeBaseId": r.id,
                "description": r.body["description"],
                "knowledgeBaseState": r.body["knowledgeBaseState"],
                "updatedAt": stamp(r.updated),
            }
            for r in records
        ]
        found, token = page(summaries, params)
        return {"agentKnowledgeBaseSummaries": found, **({"nextToken": token} if token else {})}
