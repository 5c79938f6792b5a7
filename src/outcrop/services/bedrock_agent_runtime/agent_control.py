"""Returning control to the caller and going on with what it sends back.

A RETURN_CONTROL action group's call stops the run with `returnControl` (actionInvocationType RESULT): the
caller runs it and returns its result. A function with `requireConfirmation` ENABLED (or an OpenAPI
operation with `x-requireConfirmation: ENABLED`) stops the run before the call as AWS does, with
USER_CONFIRMATION (a Lambda action group: the agent runs it once confirmed) or
USER_CONFIRMATION_AND_RESULT (a RETURN_CONTROL group: the caller confirms and returns the result). The next
InvokeAgent carries `sessionState.invocationId` and `returnControlInvocationResults`; each result's
`confirmationState` CONFIRM runs the call, DENY (or none) tells the model the user declined, so it answers
without making the call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.services.bedrock_agent.agents_schema import Action
from outcrop.services.bedrock_agent_runtime.agent_actions import (
    ActionResult,
    invocation_input,
    matching_result,
)
from outcrop.services.bedrock_agent_runtime.agent_sessions import Pending

if TYPE_CHECKING:
    from outcrop.services.bedrock_agent_runtime.agent_loop import AgentTurn, Event

DECLINED = (
    "The user declined this action, so it was not carried out. Do not try it again; tell the user it was "
    "not done."
)


def invocation_type(action: Action) -> str:
    """How AWS describes a returned call: RESULT, or the confirmation it waits for."""
    if not action.confirm:
        return "RESULT"
    returned = "customControl" in action.group.get("actionGroupExecutor", {})
    return "USER_CONFIRMATION_AND_RESULT" if returned else "USER_CONFIRMATION"


def return_control(
    turn: AgentTurn,
    input_text: str,
    messages: list[ChatMessage],
    calls: list[tuple[ToolCall, Action]],
    step: int,
) -> Event:
    """The returnControl event, with the run kept in the session until the caller answers."""
    invocation_id = str(uuid.uuid4())
    waiting = [(call, action.tool.name) for call, action in calls]
    confirming = [call.id for call, action in calls if action.confirm]
    turn.session.pending = Pending(invocation_id, input_text, messages, waiting, step, confirming)
    inputs = []
    for call, action in calls:
        described = {**invocation_input(action, call.arguments), "agentId": turn.setup.agent_id}
        described["actionInvocationType"] = invocation_type(action)
        key = "functionInvocationInput" if action.function is not None else "apiInvocationInput"
        inputs.append({key: described})
    return "returnControl", {"invocationId": invocation_id, "invocationInputs": inputs}


async def resume(turn: AgentTurn, pending: Pending, returned: list[dict[str, Any]]) -> AsyncIterator[Event]:
    """The caller's results (and confirmations) as tool turns appended to the pending run's messages."""
    messages, step = pending.messages, pending.step
    for waiting, tool in pending.calls:
        action = turn.setup.actions.get(tool)
        if action is None:  # the agent was changed since: nothing to match the result to
            messages.append(ChatMessage("tool", "No result was returned.", tool_call_id=waiting.id))
            continue
        observed = matching_result(returned, action)
        if waiting.id in pending.confirming and observed.confirmation != "CONFIRM":
            observed = ActionResult(DECLINED)
        elif waiting.id in pending.confirming and "lambda" in action.group.get("actionGroupExecutor", {}):
            outcome = await turn._run_lambda(step, action, waiting, pending.input_text)
            if isinstance(outcome, tuple):
                if turn.enable_trace:
                    yield turn._failure(step, outcome[1].message)
                raise outcome[1]
            observed = outcome
        if turn.enable_trace:
            yield turn._observation(step, action, observed)
        turn._observe(waiting, observed)
        messages.append(ChatMessage("tool", observed.text, tool_call_id=waiting.id))
