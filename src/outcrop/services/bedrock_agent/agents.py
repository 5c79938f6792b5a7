"""Bedrock Agents control plane: agents, PrepareAgent, versions and aliases (action groups and knowledge bases
in agents_groups.py).

Status changes happen as on AWS, a moment after the call that starts them (CREATING -> NOT_PREPARED,
PREPARING -> PREPARED, alias CREATING -> PREPARED): the stored state names the status it settles to and when,
so a client polling GetAgent sees both. PrepareAgent snapshots DRAFT (the agent, its action groups and
knowledge bases): the test alias TSTALIASID runs that snapshot. An alias created without a routing
configuration makes the next numbered version from it, as AWS does; versions are never made otherwise.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from outcrop.kms.errors import KmsError
from outcrop.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.agents_store import AgentStore, Record, new_agent_id
from outcrop.services.bedrock_agent.paging import PAGES as _PAGES

if TYPE_CHECKING:
    from outcrop.inference import Inference

SETTLE_SECONDS = 0.5
TEST_ALIAS = "TSTALIASID"
ROLE_PREFIX = "AmazonBedrockExecutionRoleForAgents_"
DEFAULT_TTL = 600
_AGENT_FIELDS = (
    "instruction",
    "foundationModel",
    "description",
    "orchestrationType",
    "customerEncryptionKeyArn",
    "promptOverrideConfiguration",
    "guardrailConfiguration",
    "memoryConfiguration",
    "agentCollaboration",
    "clientToken",
)
_NAME = re.compile(r"([0-9a-zA-Z][_-]?){1,100}")
_PROMPT_TYPES_RUN = (
    "PRE_PROCESSING",
    "ORCHESTRATION",
    "KNOWLEDGE_BASE_RESPONSE_GENERATION",
    "POST_PROCESSING",
    "MEMORY_SUMMARIZATION",
)


def check_name(value: str, member: str) -> None:
    """Names must match AWS's pattern whole (botocore's patterns are not anchored; AWS checks them whole)."""
    if not _NAME.fullmatch(value):
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}"
        )


def stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def settled(state: dict[str, Any]) -> str:
    """The status a stored state shows now: its target once the settling moment has passed."""
    if state.get("to") and time.time() >= state.get("at", 0):
        return str(state["to"])
    return str(state["status"])


def moving(status: str, to: str) -> dict[str, Any]:
    return {"status": status, "to": to, "at": time.time() + SETTLE_SECONDS}


def page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    return _PAGES.page(items, params)


def _lives_here(ctx: RequestContext, record: Record) -> bool:
    """Whether an agent lives in the request's account and region, as its ARN (made at creation) says."""
    fields = str(record.body.get("agentArn", "")).split(":")
    return len(fields) > 5 and (fields[3], fields[4]) == (ctx.region, ctx.account_id)


class AgentOperations:
    """The agent operations of the bedrock-agent provider (a base class of it)."""

    agents: AgentStore
    inference: Inference

    # -- lookups ---------------------------------------------------------------------------------------------

    def _agent(self, ctx: RequestContext, agent_id: str) -> Record:
        """An agent of the request's account and region (its ARN, made at creation, says where it lives)."""
        record = self.agents.get("agent", agent_id, "", agent_id)
        if record is None or not _lives_here(ctx, record):
            raise ResourceNotFoundException(f"Agent {agent_id} doesn't exist.")
        return record

    def _agent_view(self, record: Record) -> dict[str, Any]:
        body = {k: v for k, v in record.body.items() if not k.startswith("_")}
        view = {
            **body,
            "agentVersion": "DRAFT",
            "agentStatus": settled(record.body["_state"]),
            "idleSessionTTLInSeconds": body.get("idleSessionTTLInSeconds", DEFAULT_TTL),
            "createdAt": stamp(record.created),
            "updatedAt": stamp(record.updated),
        }
        if record.body.get("_preparedAt"):
            view["preparedAt"] = stamp(record.body["_preparedAt"])
        return view

    def _check_agent(self, params: dict[str, Any]) -> None:
        check_name(params["agentName"], "agentName")
        model_id = params.get("foundationModel")
        if model_id:
            model = self.inference.find(model_id)
            if model is None or model.kind != "chat":
                raise ValidationException(
                    f"The foundation model {model_id} is not a text generation model of this server's "
                    "catalog. Use a model id from ListFoundationModels."
                )
        if params.get("orchestrationType") == "CUSTOM_ORCHESTRATION" or "customOrchestration" in params:
            raise ValidationException(
                "CUSTOM_ORCHESTRATION is not supported by Outcrop: agents use the DEFAULT orchestration."
            )
        if params.get("agentCollaboration") not in (None, "DISABLED"):
            raise ValidationException("Multi-agent collaboration is not supported by Outcrop: use DISABLED.")
        memory = params.get("memoryConfiguration")
        if memory and any(kind != "SESSION_SUMMARY" for kind in memory["enabledMemoryTypes"]):
            raise ValidationException("enabledMemoryTypes must be SESSION_SUMMARY.")
        override = params.get("promptOverrideConfiguration")
        if override:
            check_prompt_override(override)

    def _use_key(self, ctx: RequestContext, agent_id: str, agent_arn: str, params: dict[str, Any]) -> None:
        """Seal the agent's data under the request's customerEncryptionKeyArn (in the clear without one),
        resealing what it has when the key changes; a key KMS refuses is a ValidationException."""
        wanted = params.get("customerEncryptionKeyArn")
        if wanted == self.agents.customer_key(agent_id):
            return
        try:
            self.agents.set_customer_key(agent_id, (ctx.account_id, ctx.region), agent_arn, wanted)
        except KmsError as exc:
            raise ValidationException(
                f"The KMS key {wanted} cannot be used to encrypt the agent: {exc.code}: {exc.message}"
            ) from exc

    # -- agents ----------------------------------------------------------------------------------------------

    def create_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._check_agent(params)
        existing = [r for r in self.agents.records("agent") if _lives_here(ctx, r)]
        token = params.get("clientToken")
        repeated = next((r for r in existing if token and r.body.get("clientToken") == token), None)
        if repeated is not None:  # the same request again: its agent (opened), as AWS answers a retried call
            return {"agent": self._agent_view(self._agent(ctx, repeated.id))}
        if any(r.body["agentName"] == params["agentName"] for r in existing):
            raise ConflictException(
                f"Could not create agent. An agent named {params['agentName']} already exists."
            )
        agent_id = new_agent_id()
        self._use_key(ctx, agent_id, ctx.arn("bedrock", f"agent/{agent_id}"), params)
        body: dict[str, Any] = {
            "agentId": agent_id,
            "agentName": params["agentName"],
            "agentArn": ctx.arn("bedrock", f"agent/{agent_id}"),
            "agentResourceRoleArn": params.get("agentResourceRoleArn")
            or f"arn:aws:iam::{ctx.account_id}:role/service-role/{ROLE_PREFIX}{agent_id}",
            "idleSessionTTLInSeconds": params.get("idleSessionTTLInSeconds", DEFAULT_TTL),
            "orchestrationType": "DEFAULT",
            "_state": moving("CREATING", "NOT_PREPARED"),
            "_tags": params.get("tags") or {},
        }
        body.update({k: params[k] for k in _AGENT_FIELDS if k in params})
        record = self.agents.put("agent", agent_id, "", agent_id, body)
        self.agents.put(
            "alias",
            agent_id,
            "",
            TEST_ALIAS,
            {
                "agentId": agent_id,
                "agentAliasId": TEST_ALIAS,
                "agentAliasName": "AgentTestAlias",
                "agentAliasArn": ctx.arn("bedrock", f"agent-alias/{agent_id}/{TEST_ALIAS}"),
                "description": "Test Alias for Agent",
                "routingConfiguration": [{"agentVersion": "DRAFT"}],
                "_state": {"status": "PREPARED"},
            },
        )
        return {"agent": self._agent_view(record)}

    def get_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"agent": self._agent_view(self._agent(ctx, params["agentId"]))}

    def list_agents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found, token = page([r for r in self.agents.records("agent") if _lives_here(ctx, r)], params)
        summaries = []
        for record in found:
            view = self._agent_view(record)
            versions = self.agents.records("version", record.id)
            summary = {
                "agentId": record.id,
                "agentName": view["agentName"],
                "agentStatus": view["agentStatus"],
                "updatedAt": view["updatedAt"],
                "latestAgentVersion": versions[-1].version if versions else "DRAFT",
            }
            for optional in ("description", "guardrailConfiguration"):
                if optional in view:
                    summary[optional] = view[optional]
            summaries.append(summary)
        return {"agentSummaries": summaries, **({"nextToken": token} if token else {})}

    def update_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._agent(ctx, params["agentId"])
        self._check_agent(params)
        if settled(record.body["_state"]) in ("CREATING", "PREPARING"):
            raise ConflictException(f"Agent {record.id} is busy; try again when its status settles.")
        if any(
            r.body["agentName"] == params["agentName"] and r.id != record.id
            for r in self.agents.records("agent")
            if _lives_here(ctx, r)
        ):
            raise ConflictException(f"An agent named {params['agentName']} already exists.")
        self._use_key(ctx, record.id, record.body["agentArn"], params)
        body = {k: v for k, v in record.body.items() if k.startswith("_") or k in ("agentId", "agentArn")}
        body.update(
            {
                "agentName": params["agentName"],
                "agentResourceRoleArn": params["agentResourceRoleArn"],
                "idleSessionTTLInSeconds": params.get("idleSessionTTLInSeconds", DEFAULT_TTL),
                "orchestrationType": "DEFAULT",
                "_state": moving("UPDATING", "NOT_PREPARED"),
            }
        )
        body.update({k: params[k] for k in _AGENT_FIELDS if k in params})
        return {"agent": self._agent_view(self.agents.put("agent", record.id, "", record.id, body))}

    def delete_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._agent(ctx, params["agentId"])
        aliases = [a for a in self.agents.records("alias", record.id) if a.id != TEST_ALIAS]
        if aliases and not params.get("skipResourceInUseCheck"):
            raise ConflictException(
                f"Agent {record.id} is in use by aliases {', '.join(a.id for a in aliases)}. Delete them "
                "first or set skipResourceInUseCheck."
            )
        self.agents.delete(None, record.id)
        return {"agentId": record.id, "agentStatus": "DELETING"}

    def prepare_agent(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._agent(ctx, params["agentId"])
        status = settled(record.body["_state"])
        if status in ("CREATING", "PREPARING", "UPDATING", "VERSIONING"):
            raise ConflictException(f"Agent {record.id} is {status}; prepare it when its status settles.")
        if not record.body.get("foundationModel"):
            raise ValidationException("Agent must have a foundation model to be prepared. Update the agent.")
        if not record.body.get("instruction"):
            raise ValidationException("Agent must have an instruction to be prepared. Update the agent.")
        now = time.time()
        body = {**record.body, "_state": moving("PREPARING", "PREPARED"), "_preparedAt": now}
        self.agents.put("agent", record.id, "", record.id, body)
        self.agents.put("prepared", record.id, "DRAFT", "DRAFT", self._snapshot(record.id, body))
        return {
            "agentId": record.id,
            "agentStatus": "PREPARING",
            "agentVersion": "DRAFT",
            "preparedAt": stamp(now),
        }

    def _snapshot(self, agent_id: str, agent_body: dict[str, Any]) -> dict[str, Any]:
        return {
            "agent": agent_body,
            "groups": [r.body for r in self.agents.records("group", agent_id, "DRAFT")],
            "kbs": [r.body for r in self.agents.records("kb", agent_id, "DRAFT")],
        }

    # -- versions --------------------------------------------------------------------------------------------

    def _version_view(self, record: Record) -> dict[str, Any]:
        agent = {k: v for k, v in record.body["agent"].items() if not k.startswith("_")}
        agent.pop("clientToken", None)
        return {
            **agent,
            "version": record.version,
            "agentStatus": "PREPARED",
            "createdAt": stamp(record.created),
            "updatedAt": stamp(record.updated),
        }

    def _version(self, ctx: RequestContext, agent_id: str, version: str) -> Record:
        self._agent(ctx, agent_id)
        record = self.agents.get("version", agent_id, version, version)
        if record is None:
            raise ResourceNotFoundException(f"Agent {agent_id} version {version} doesn't exist.")
        return record

    def get_agent_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "agentVersion": self._version_view(self._version(ctx, params["agentId"], params["agentVersion"]))
        }

    def list_agent_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._agent(ctx, params["agentId"])
        draft = self._agent_view(record)
        entries = [
            {
                "agentName": draft["agentName"],
                "agentStatus": draft["agentStatus"],
                "agentVersion": "DRAFT",
                "createdAt": draft["createdAt"],
                "updatedAt": draft["updatedAt"],
            }
        ]
        for version in sorted(self.agents.records("version", record.id), key=lambda r: int(r.version)):
            view = self._version_view(version)
            entries.append(
                {
                    "agentName": view["agentName"],
                    "agentStatus": "PREPARED",
                    "agentVersion": version.version,
                    "createdAt": view["createdAt"],
                    "updatedAt": view["updatedAt"],
                }
            )
        found, token = page(entries, params)
        return {"agentVersionSummaries": found, **({"nextToken": token} if token else {})}

    def delete_agent_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        version = self._version(ctx, params["agentId"], params["agentVersion"])
        routed = [
            a.id
            for a in self.agents.records("alias", version.agent)
            if any(r.get("agentVersion") == version.version for r in a.body["routingConfiguration"])
        ]
        if routed and not params.get("skipResourceInUseCheck"):
            raise ConflictException(
                f"Agent version {version.version} is in use by aliases {', '.join(routed)}."
            )
        for kind in ("version", "group", "kb"):
            self.agents.delete(kind, version.agent, version.version)
        return {"agentId": version.agent, "agentVersion": version.version, "agentStatus": "DELETING"}

    def _new_version(self, agent_id: str) -> str:
        prepared = self.agents.get("prepared", agent_id, "DRAFT", "DRAFT")
        if prepared is None:
            raise ValidationException(
                f"Agent {agent_id} has not been prepared. Call PrepareAgent before creating an alias."
            )
        versions = [int(r.version) for r in self.agents.records("version", agent_id)]
        number = str(max(versions, default=0) + 1)
        self.agents.put("version", agent_id, number, number, {"agent": prepared.body["agent"]})
        for group in prepared.body["groups"]:
            self.agents.put(
                "group", agent_id, number, group["actionGroupId"], {**group, "agentVersion": number}
            )
        for kb in prepared.body["kbs"]:
            self.agents.put("kb", agent_id, number, kb["knowledgeBaseId"], {**kb, "agentVersion": number})
        return number

    # -- aliases ---------------------------------------------------------------------------------------------

    def _alias(self, ctx: RequestContext, agent_id: str, alias_id: str) -> Record:
        self._agent(ctx, agent_id)
        record = self.agents.get("alias", agent_id, "", alias_id)
        if record is None:
            raise ResourceNotFoundException(f"Agent alias {alias_id} of agent {agent_id} doesn't exist.")
        return record

    @staticmethod
    def _alias_view(record: Record) -> dict[str, Any]:
        body = {k: v for k, v in record.body.items() if not k.startswith("_")}
        return {
            **body,
            "agentAliasStatus": settled(record.body["_state"]),
            "aliasInvocationState": body.get("aliasInvocationState", "ACCEPT_INVOCATIONS"),
            "createdAt": stamp(record.created),
            "updatedAt": stamp(record.updated),
        }

    def _routing(
        self, ctx: RequestContext, agent_id: str, routing: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        if not routing:
            return [{"agentVersion": self._new_version(agent_id)}]
        if len(routing) != 1 or "provisionedThroughput" in routing[0]:
            raise ValidationException(
                "routingConfiguration must name one agentVersion (provisioned throughput is not supported)."
            )
        version = routing[0].get("agentVersion")
        if version is None or version == "DRAFT":
            raise ValidationException("An alias must route to a numbered agent version, not DRAFT.")
        self._version(ctx, agent_id, version)
        return [{"agentVersion": version}]

    def create_agent_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent(ctx, params["agentId"])
        if any(
            a.body["agentAliasName"] == params["agentAliasName"]
            for a in self.agents.records("alias", agent.id)
        ):
            raise ConflictException(
                f"An alias named {params['agentAliasName']} already exists for this agent."
            )
        alias_id = new_agent_id()
        body = {
            "agentId": agent.id,
            "agentAliasId": alias_id,
            "agentAliasName": params["agentAliasName"],
            "agentAliasArn": ctx.arn("bedrock", f"agent-alias/{agent.id}/{alias_id}"),
            "routingConfiguration": self._routing(ctx, agent.id, params.get("routingConfiguration")),
            "_state": moving("CREATING", "PREPARED"),
            "_tags": params.get("tags") or {},
        }
        for optional in ("description", "clientToken"):
            if optional in params:
                body[optional] = params[optional]
        return {"agentAlias": self._alias_view(self.agents.put("alias", agent.id, "", alias_id, body))}

    def get_agent_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"agentAlias": self._alias_view(self._alias(ctx, params["agentId"], params["agentAliasId"]))}

    def list_agent_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._agent(ctx, params["agentId"])
        views = [self._alias_view(r) for r in self.agents.records("alias", params["agentId"])]
        keys = (
            "agentAliasId",
            "agentAliasName",
            "description",
            "routingConfiguration",
            "agentAliasStatus",
            "createdAt",
            "updatedAt",
            "aliasInvocationState",
        )
        found, token = page([{k: v[k] for k in keys if k in v} for v in views], params)
        return {"agentAliasSummaries": found, **({"nextToken": token} if token else {})}

    def update_agent_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._alias(ctx, params["agentId"], params["agentAliasId"])
        if record.id == TEST_ALIAS:
            raise ValidationException("The test alias TSTALIASID cannot be updated.")
        body = {
            **record.body,
            "agentAliasName": params["agentAliasName"],
            "routingConfiguration": self._routing(ctx, record.agent, params.get("routingConfiguration")),
            "_state": moving("UPDATING", "PREPARED"),
        }
        for optional in ("description", "aliasInvocationState"):
            if optional in params:
                body[optional] = params[optional]
        return {"agentAlias": self._alias_view(self.agents.put("alias", record.agent, "", record.id, body))}

    def delete_agent_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._alias(ctx, params["agentId"], params["agentAliasId"])
        if record.id == TEST_ALIAS:
            raise ValidationException("The test alias TSTALIASID cannot be deleted.")
        self.agents.delete("alias", record.agent, "", record.id)
        return {"agentId": record.agent, "agentAliasId": record.id, "agentAliasStatus": "DELETING"}


def check_prompt_override(override: dict[str, Any]) -> None:
    """Refuse what the runtime would not honour: custom parsers (parserMode OVERRIDDEN, overrideLambda),
    per-prompt models, templates of prompt types it does not run. PRE_PROCESSING and POST_PROCESSING run
    when ENABLED (agent_prepost)."""
    if override.get("overrideLambda"):
        raise ValidationException(
            "overrideLambda (a custom parser Lambda) is not supported by Outcrop; use parserMode DEFAULT."
        )
    seen = set()
    for config in override["promptConfigurations"]:
        kind = config.get("promptType")
        if kind is None:
            raise ValidationException("Each promptConfiguration needs a promptType.")
        if kind in seen:
            raise ValidationException(f"promptType {kind} is configured twice.")
        seen.add(kind)
        if config.get("parserMode") == "OVERRIDDEN":
            raise ValidationException(
                f"parserMode OVERRIDDEN ({kind}) needs a parser Lambda, not supported here."
            )
        if config.get("promptCreationMode") == "OVERRIDDEN":
            if kind not in _PROMPT_TYPES_RUN:
                raise ValidationException(f"An OVERRIDDEN {kind} template is not used by Outcrop.")
            if not config.get("basePromptTemplate"):
                raise ValidationException(
                    f"promptCreationMode OVERRIDDEN ({kind}) needs a basePromptTemplate."
                )
        if config.get("foundationModel"):
            raise ValidationException("A per-prompt foundationModel is not supported; set the agent's.")
