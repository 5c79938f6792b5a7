"""A flow node's guardrail: Prompt and KnowledgeBase nodes' `guardrailConfiguration` {guardrailIdentifier,
guardrailVersion} enforced through the same Guard as Converse and RetrieveAndGenerate.

A Prompt node's guardrail reads the rendered prompt (the text of its messages, or only their guardContent
blocks) before the model runs and the completion after it; when it intervenes the node's modelCompletion is
the guardrail's blocked message (or the masked text). A KnowledgeBase node's guardrail goes to
RetrieveAndGenerate's generationConfiguration, which screens the query and the answer. Every guardrail a flow
names is resolved before its stream opens, so an unknown one is a ResourceNotFoundException, not a broken run.
With the trace enabled each screening is a nodeActionTrace of ApplyGuardrail with its assessment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from outcrop.guardrails.enforce import Guard, GuardrailEngine, Screening, resolve
from outcrop.inference import Caller
from outcrop.services.bedrock_runtime.guarded import converse_inputs

GUARDED_KINDS = {"Prompt": "prompt", "KnowledgeBase": "knowledgeBase"}


def node_guardrail(node: dict[str, Any]) -> dict[str, Any] | None:
    """The node's guardrailConfiguration, or None."""
    key = GUARDED_KINDS.get(node.get("type", ""))
    if key is None:
        return None
    settings = (node.get("configuration") or {}).get(key) or {}
    config = settings.get("guardrailConfiguration")
    return config if isinstance(config, dict) else None


def check_guardrails(engine: GuardrailEngine, nodes: Iterable[dict[str, Any]]) -> None:
    """Resolve every node's guardrail (blocking): ResourceNotFoundException or ValidationException now."""
    for node in nodes:
        config = node_guardrail(node)
        if config is not None:
            resolve(engine, config.get("guardrailIdentifier"), config.get("guardrailVersion"))


def prompt_guard(
    engine: GuardrailEngine, config: dict[str, Any], params: dict[str, Any], caller: Caller
) -> Guard:
    """The Guard around a Prompt node's model call (its rendered Converse request in `params`)."""
    guardrail = resolve(engine, config.get("guardrailIdentifier"), config.get("guardrailVersion"))
    return Guard(engine, guardrail, converse_inputs(params), caller)


def rag_guardrail(config: dict[str, Any]) -> dict[str, Any]:
    """A flow's guardrailConfiguration in RetrieveAndGenerate's spelling (guardrailId)."""
    return {"guardrailId": config["guardrailIdentifier"], "guardrailVersion": config["guardrailVersion"]}


def guard_actions(node_name: str, guard: Guard) -> list[dict[str, Any]]:
    """One nodeActionTrace body per screening of the node's guardrail (input first, then output)."""
    screenings: list[tuple[str, Screening]] = []
    if guard.input_screening is not None:
        screenings.append(("INPUT", guard.input_screening))
    screenings += [("OUTPUT", screening) for screening in guard.output_screenings]
    found = []
    for source, screening in screenings:
        evaluation = screening.evaluation
        found.append(
            {
                "nodeName": node_name,
                "serviceName": "bedrock-runtime",
                "operationName": "ApplyGuardrail",
                "operationRequest": {
                    "guardrailIdentifier": guard.guardrail.guardrail_id,
                    "guardrailVersion": guard.guardrail.version,
                    "source": source,
                },
                "operationResponse": {
                    "action": evaluation.action,
                    "actionReason": evaluation.action_reason,
                    "assessments": [guard.assessment(screening)],
                },
            }
        )
    return found
