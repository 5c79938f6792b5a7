"""Under `auth = "iam"`: what an agent's customer managed key asks of the caller, as Bedrock's guide
"Encryption of agent resources" says. A call that names an agent with a key (or gives it one) needs
kms:GenerateDataKey and kms:Decrypt on that key, with the encryption context `aws:bedrock:arn` = the agent's
ARN; the key's policy decides with the caller's IAM policies, as for any KMS call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outcrop.services.bedrock_agent.agents_sealing import CONTEXT_KEY
from outcrop.services.bedrock_agent.agents_store import AgentStore

KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
Needs = list[tuple[str, str, dict[str, list[str]]]]


def agent_key_needs(agents: Callable[[], AgentStore]) -> Callable[[str, dict[str, Any], str, str], Needs]:
    """The authorizer's dependency for bedrock-agent and bedrock-agent-runtime (`agents` opens the store)."""

    def needs(operation: str, params: dict[str, Any], region: str, account: str) -> Needs:
        agent_id = params.get("agentId")
        given = (
            params.get("customerEncryptionKeyArn") if operation in ("CreateAgent", "UpdateAgent") else None
        )
        keys: list[str] = [given] if isinstance(given, str) and given else []
        if isinstance(agent_id, str) and agent_id:
            stored = agents().customer_key(agent_id)
            if stored and stored not in keys:
                keys.append(stored)
        if not keys:
            return []
        context: dict[str, list[str]] = {}
        if isinstance(agent_id, str) and agent_id:
            arn = f"arn:aws:bedrock:{region}:{account}:agent/{agent_id}"
            context = {
                f"kms:encryptioncontext:{CONTEXT_KEY}": [arn],
                "kms:encryptioncontextkeys": [CONTEXT_KEY],
            }
        return [(action, key, context) for key in keys for action in KMS_ACTIONS]

    return needs
