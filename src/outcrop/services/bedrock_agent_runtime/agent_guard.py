"""An agent's guardrail (`guardrailConfiguration` {guardrailIdentifier, guardrailVersion} of a stored agent or
of InvokeInlineAgent): it reads the user's input before the turn runs and the final answer before it is sent,
as Bedrock Agents apply one; the steps in between (tool calls, observations) are not screened. With
enableTrace, each screening is a `guardrailTrace` event (action, input or output assessments, traceId).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from outcrop.concurrency import run_blocking
from outcrop.guardrails.enforce import Guard, GuardrailEngine, Screening, resolve
from outcrop.guardrails.types import GuardText
from outcrop.inference import Caller
from outcrop.services.bedrock_agent_runtime.agent_actions import AgentSetup
from outcrop.services.bedrock_agent_runtime.agent_loop import AgentTurn, Event

# the actions the agent runtime's assessment shapes can carry (entries with NONE are left out)
_ACTIONS = {"BLOCKED", "ANONYMIZED"}
_POLICIES = {
    "topicPolicy": ("topics",),
    "contentPolicy": ("filters",),
    "wordPolicy": ("customWords", "managedWordLists"),
    "sensitiveInformationPolicy": ("piiEntities", "regexes"),
}


def agent_guard(engine: GuardrailEngine, setup: AgentSetup, text: str, caller: Caller) -> Guard | None:
    config = setup.guardrail
    if not config or not config.get("guardrailIdentifier"):
        return None
    guardrail = resolve(engine, config["guardrailIdentifier"], config.get("guardrailVersion"))
    return Guard(engine, guardrail, [GuardText(text)] if text else [], caller)


def agent_assessment(assessment: dict[str, Any]) -> dict[str, Any]:
    """A runtime GuardrailAssessment in the agent runtime's shape: the policies' entries that acted."""
    shaped: dict[str, Any] = {}
    for policy, lists in _POLICIES.items():
        found = {
            name: [
                entry
                for entry in (assessment.get(policy) or {}).get(name) or []
                if entry.get("action") in _ACTIONS
            ]
            for name in lists
        }
        if any(found.values()):
            shaped[policy] = {name: entries for name, entries in found.items() if entries}
    return shaped


def _trace(turn: AgentTurn, screening: Screening, guard: Guard, source: str) -> Event:
    merged: dict[str, Any] = {}
    for part in screening.evaluation.assessments:
        merged.update(part)
    key = "inputAssessments" if source == "INPUT" else "outputAssessments"
    intervened = screening.evaluation.action == "GUARDRAIL_INTERVENED"
    suffix = "pre" if source == "INPUT" else "post"
    return "trace", {
        "agentId": turn.setup.agent_id,
        "agentAliasId": turn.setup.alias_id,
        "agentVersion": turn.setup.version,
        "sessionId": turn.session.session_id,
        "eventTime": datetime.now(UTC),
        "trace": {
            "guardrailTrace": {
                "action": "INTERVENED" if intervened else "NONE",
                key: [agent_assessment(merged)],
                "traceId": f"{uuid.uuid4().hex[:10]}-{suffix}",
            }
        },
    }


async def guarded_turn(
    guard: Guard, turn: AgentTurn, text: str, returned: list[dict[str, Any]] | None
) -> AsyncIterator[Event]:
    """The turn's events with the input screened first (a blocked input answers the blocked message and
    the agent does not run; an anonymized one runs masked) and the answer screened before it is sent."""
    if text:
        screening = await run_blocking(guard.screen_input_texts)
        if turn.enable_trace and screening is not None:
            yield _trace(turn, screening, guard, "INPUT")
        if guard.input_blocked:
            yield "chunk", {"bytes": guard.blocked_input_message().encode()}
            return
        text = guard.mask(text)
    held: list[dict[str, Any]] = []
    async for kind, payload in turn.events(text, returned):
        if kind == "chunk":
            held.append(payload)
        else:
            yield kind, payload
    answer = b"".join(chunk["bytes"] for chunk in held).decode()
    before = len(guard.output_screenings)
    shown, _ = await run_blocking(lambda: guard.screen_text(answer))
    if turn.enable_trace and len(guard.output_screenings) > before:
        yield _trace(turn, guard.output_screenings[-1], guard, "OUTPUT")
    if shown == answer:
        for chunk in held:
            yield "chunk", chunk
    else:
        yield "chunk", {"bytes": shown.encode()}
