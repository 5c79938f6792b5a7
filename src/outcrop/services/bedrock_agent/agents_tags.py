"""TagResource, UntagResource and ListTagsForResource for bedrock-agent's taggable resources: agents, agent
aliases, knowledge bases, flows, flow aliases and prompts, named by their ARNs.

Agents and aliases keep their tags in their own records (`_tags`, set by Create); flows, flow aliases and
prompts in their bodies' `tags` (set by Create); knowledge bases, whose store has no place for them, in the
agent store as `tags` records keyed by the ARN. botocore's pattern for these ARNs has a typo (`/d{12}` for
the account) that no real ARN matches; the protocol layer reads it as `\\d{12}`, and this module parses the
ARN itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from outcrop.protocol.errors import (
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent.agents import AgentOperations

if TYPE_CHECKING:
    from outcrop.rag.kbstore import KnowledgeBaseStore
    from outcrop.services.bedrock_agent.resource_store import AgentResourceStore

MAX_TAGS = 50
_ID = "[A-Z0-9]{10}"
_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    rf"(?:(?P<kind>agent|knowledge-base|flow|prompt)/(?P<id>{_ID})(?::\d+)?"
    rf"|agent-alias/(?P<agent>{_ID})/(?P<alias>{_ID})"
    rf"|flow/(?P<flow>{_ID})/alias/(?P<flow_alias>{_ID}))$"
)
_DRAFT = "DRAFT"


class TagOperations(AgentOperations):
    """The tag operations; the provider gives the knowledge-base and prompt/flow stores."""

    store: KnowledgeBaseStore
    prompt_flows: AgentResourceStore

    def _tags_of(self, ctx: RequestContext, arn: str) -> tuple[dict[str, str], Any]:
        """The resource's tags and a function that saves new ones; ResourceNotFound when it is gone."""
        found = _ARN.match(arn)
        if found is None:
            raise ValidationException(
                f"The resource ARN {arn} is not the ARN of an agent, agent alias, knowledge base, flow, flow "
                "alias or prompt."
            )
        if (found["region"], found["account"]) != (ctx.region, ctx.account_id):
            raise ResourceNotFoundException(f"The resource {arn} was not found in this account and region.")
        kind, rid = found["kind"], found["id"]
        if found["alias"]:
            return self._record_tags("alias", found["agent"], found["alias"], arn)
        if kind == "agent":
            return self._record_tags("agent", rid, rid, arn)
        if kind == "knowledge-base":
            if self.store.knowledge_base(rid) is None:
                raise ResourceNotFoundException(f"Knowledge base with id {rid} does not exist")
            saved = self.agents.get("tags", "", "", arn)
            return (saved.body["tags"] if saved else {}), lambda tags: self.keep_knowledge_base_tags(
                arn, tags
            )
        if found["flow_alias"]:
            return self._resource_tags(ctx, "flow-alias", found["flow"], found["flow_alias"], arn)
        return self._resource_tags(ctx, kind, rid, _DRAFT, arn)

    def keep_knowledge_base_tags(self, arn: str, tags: dict[str, str]) -> None:
        """A knowledge base's tags (CreateKnowledgeBase's and later ones), kept by its ARN."""
        if tags or self.agents.get("tags", "", "", arn) is not None:
            self.agents.put("tags", "", "", arn, {"tags": tags})

    def _record_tags(self, kind: str, agent_id: str, item: str, arn: str) -> tuple[dict[str, str], Any]:
        record = self.agents.get(kind, agent_id, "", item)
        if record is None:
            raise ResourceNotFoundException(f"The resource {arn} doesn't exist.")

        def save(tags: dict[str, str]) -> None:
            self.agents.put(kind, agent_id, "", item, {**record.body, "_tags": tags})

        return dict(record.body.get("_tags") or {}), save

    def _resource_tags(
        self, ctx: RequestContext, kind: str, rid: str, version: str, arn: str
    ) -> tuple[dict[str, str], Any]:
        found = self.prompt_flows.get(kind, rid, version, ctx.account_id, ctx.region)
        if found is None:
            raise ResourceNotFoundException(f"The resource {arn} doesn't exist.")

        def save(tags: dict[str, str]) -> None:
            self.prompt_flows.put(
                kind, rid, version, ctx.account_id, ctx.region, {**found.body, "tags": tags}
            )

        return dict(found.body.get("tags") or {}), save

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags, save = self._tags_of(ctx, params["resourceArn"])
        merged = {**tags, **params["tags"]}
        if len(merged) > MAX_TAGS:
            raise ServiceQuotaExceededException(
                f"A resource can have at most {MAX_TAGS} tags; this request would give it {len(merged)}."
            )
        save(merged)
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags, save = self._tags_of(ctx, params["resourceArn"])
        save({k: v for k, v in tags.items() if k not in set(params["tagKeys"])})
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags, _ = self._tags_of(ctx, params["resourceArn"])
        return {"tags": tags}
