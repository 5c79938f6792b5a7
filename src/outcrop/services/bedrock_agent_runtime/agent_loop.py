"""One InvokeAgent turn: the orchestration loop on the agent's model, as an event stream.

Each step asks the model (through the one inference path, offering the agent's tools) what to do; a tool call
runs the action group's Lambda with AWS's documented event, searches a knowledge base, asks the user, or stops
to return control to the caller; the observation goes back to the model; text without a call is the answer.
Arguments are checked against the tool's schema (the local backends decode them under that schema's grammar;
the check keeps any other backend honest), a required value the model left null makes the agent ask the user,
values the user gave reach the tools as the user wrote them (agent_grounding), a call described in words is
asked for again as a call, an answer leaving out the tools' numbers is asked for again (agent_answer), and a
step limit ends a loop that never answers. Lambda failures end the stream as AWS does, after a failure trace:
`dependencyFailedException` (raised, timed out, responseState FAILURE), `badGatewayException` (malformed).
Enabled pre- and post-processing steps (agent_prepost) screen the input first and rewrite the answer last;
returning control, for a result or the user's confirmation, and going on afterwards is agent_control's.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest, GenerationResult, ToolCall
from outcrop.concurrency import run_blocking
from outcrop.inference import Caller, Inference
from outcrop.lambdas.workers import Outcome
from outcrop.protocol.errors import ServiceError
from outcrop.rag.retrieve import reference
from outcrop.services.bedrock_agent.agents_schema import Action
from outcrop.services.bedrock_agent_runtime import agent_answer as answers
from outcrop.services.bedrock_agent_runtime import agent_grounding as grounding
from outcrop.services.bedrock_agent_runtime.agent_actions import (
    ActionResult,
    AgentSetup,
    MalformedResponse,
    call_problem,
    lambda_event,
    read_lambda_response,
    trace_input,
)
from outcrop.services.bedrock_agent_runtime.agent_control import resume, return_control
from outcrop.services.bedrock_agent_runtime.agent_grounding import ground_calls, grounded, not_given, related
from outcrop.services.bedrock_agent_runtime.agent_prepost import REFUSAL, postprocess, preprocess
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSession
from outcrop.storage.vectors import Hit

MAX_STEPS = 10
Event = tuple[str, dict[str, Any]]
LambdaCall = Callable[[str, dict[str, Any]], Awaitable[Outcome | None]]
Search = Callable[[str, str], list[Hit]]
_MARKUP = re.compile(r"</?[a-zA-Z_]+>")
_TOOL_MARKUP = re.compile(r"</?tool_(?:call|response)>")  # a small model echoing its chat template


class DependencyFailedException(ServiceError, service="bedrock-agent-runtime"): ...


class BadGatewayException(ServiceError, service="bedrock-agent-runtime"): ...


@dataclass
class AgentTurn:
    """One turn's run; `events()` yields ("chunk" | "trace" | "returnControl", payload)."""

    setup: AgentSetup
    session: AgentSession
    inference: Inference
    caller: Caller
    call_lambda: LambdaCall
    search: Search
    enable_trace: bool
    memory: list[str] = field(default_factory=list)
    turns_kept: int | None = None
    stream_final: bool = False
    hits: list[Hit] = field(default_factory=list)
    observed: list[tuple[str, str]] = field(default_factory=list)  # (call, result) this turn, for the answer
    model_seconds: float = 0.0
    trace_base: str = field(default_factory=lambda: str(uuid.uuid4()))

    def _trace(self, part: dict[str, Any]) -> Event:
        return "trace", {
            "agentId": self.setup.agent_id,
            "agentAliasId": self.setup.alias_id,
            "agentVersion": self.setup.version,
            "sessionId": self.session.session_id,
            "eventTime": datetime.now(UTC),
            "trace": part,
        }

    def _orchestration(self, step: int, key: str, value: dict[str, Any]) -> Event:
        return self._trace({"orchestrationTrace": {key: {"traceId": f"{self.trace_base}-{step}", **value}}})

    def _failure(self, step: int, reason: str) -> Event:
        return self._trace(
            {"failureTrace": {"traceId": f"{self.trace_base}-{step}", "failureReason": reason}}
        )

    async def events(self, input_text: str, returned: list[dict[str, Any]] | None) -> AsyncIterator[Event]:
        """The turn's events (after the pre-processing step, when enabled, lets the input through); the
        session is saved when the turn ends, however it ends."""
        try:
            if self.setup.pre is not None and not (returned and self.session.pending):
                valid, traces = await preprocess(self, self.setup.pre, input_text)
                for event in traces:
                    yield event
                if not valid:
                    self._remember(input_text, REFUSAL)
                    yield "chunk", {"bytes": REFUSAL.encode()}
                    return
            async for event in self._events(input_text, returned):
                yield event
        finally:
            await run_blocking(self.session.save)

    async def _events(self, input_text: str, returned: list[dict[str, Any]] | None) -> AsyncIterator[Event]:
        session, step = self.session, 0
        messages: list[ChatMessage]
        if returned is not None and session.pending is not None:
            pending, session.pending = session.pending, None
            input_text, messages, step = pending.input_text, pending.messages, pending.step
            async for event in resume(self, pending, returned):
                yield event
        else:
            session.pending = None
            messages = [ChatMessage("user", input_text)]
        done = {_signature(call) for m in messages for call in m.tool_calls}
        while step < MAX_STEPS:
            step += 1
            result = await self._think(step, input_text, messages)
            for event in self._model_traces(step, result):
                yield event
            if not result.tool_calls and not _MARKUP.sub("", result.text).strip() and self.setup.tools:
                # markup alone (a small model half-starting a call): ask for the answer without tools
                result = await self._think(step, input_text, messages, with_tools=False)
                for event in self._model_traces(step, result):
                    yield event
            said, conversation = self._user_text(input_text), self._conversation(input_text, messages)
            called = {call.name for m in messages for call in m.tool_calls}
            made = [call.arguments for m in messages for call in m.tool_calls]
            meant = answers.call_in_words(result.text, self.setup.tools, called) or (
                answers.unused_numbers(input_text, made)
                if self.observed
                else answers.invented_numbers(result.text, conversation)
            )
            if not result.tool_calls and self.setup.tools and meant:
                # a call described in words, or a number only a tool could give: ask with a call required
                forced = await self._think(step, input_text, messages, choice="any")
                for event in self._model_traces(step, forced):
                    yield event
                # its first call is the one meant (the grammar lets it go on), taken if its values were given
                new = [call for call in forced.tool_calls[:1] if _signature(call) not in done]
                if new and grounded(self.setup.actions.get(new[0].name), new[0].arguments, conversation):
                    result = replace(forced, tool_calls=new)
            if not result.tool_calls:
                async for event in self._finish(step, input_text, result.text):
                    yield event
                return
            as_given, notes = ground_calls(self.setup.actions, result.tool_calls, said, conversation)
            if notes and self.enable_trace:
                yield self._orchestration(
                    step, "rationale", {"text": "Values as the user wrote them: " + "; ".join(notes)}
                )
            calls = [  # not made before, nor twice in this reply, nor by reflex
                call
                for index, call in enumerate(as_given)
                if _signature(call) not in done | {_signature(c) for c in as_given[:index]}
                and not self._reflex(call, input_text, messages)
            ]
            if not calls:
                # the same call again after its result, or a call the request has nothing to do with (small
                # models make both): answer from what is known
                result = await self._think(step, input_text, messages, with_tools=False)
                for event in self._model_traces(step, result):
                    yield event
                async for event in self._finish(step, input_text, result.text):
                    yield event
                return
            done.update(_signature(call) for call in calls)
            messages.append(ChatMessage("assistant", result.text, tool_calls=tuple(calls)))
            control: list[tuple[ToolCall, Action]] = []
            for call in calls:
                action = self.setup.actions.get(call.name)
                problem = call_problem(action, call)
                if action is None or problem is not None:
                    if self.enable_trace:
                        yield self._reprompt(step, "PARSER", problem or "unknown tool")
                    messages.append(ChatMessage("tool", f"Error: {problem}", tool_call_id=call.id))
                    continue
                missing = not_given(action, call.arguments, self._conversation(input_text, messages))
                if action.kind == "ask_user" or (missing and "AskUser" in self.setup.actions):
                    question = (
                        str(call.arguments.get("question") or "")
                        if action.kind == "ask_user"
                        else (f"To do that I need {', '.join(missing)}. Could you tell me?")
                    )
                    async for event in self._ask(step, input_text, question):
                        yield event
                    return
                if missing:
                    text = f"Missing required values: {', '.join(missing)}. Ask the user for them."
                    if self.enable_trace:
                        yield self._reprompt(step, "PARSER", text)
                    messages.append(ChatMessage("tool", text, tool_call_id=call.id))
                    continue
                if self.enable_trace:
                    yield self._orchestration(step, "invocationInput", trace_input(action, call.arguments))
                if action.kind == "knowledge_base":
                    text = await self._search(step, action, call)
                    if self.enable_trace:
                        yield self._kb_observation(step, action)
                    messages.append(ChatMessage("tool", text, tool_call_id=call.id))
                elif action.confirm or "customControl" in action.group.get("actionGroupExecutor", {}):
                    control.append((call, action))
                else:
                    outcome = await self._run_lambda(step, action, call, input_text)
                    if isinstance(outcome, tuple):
                        if self.enable_trace:
                            yield self._failure(step, outcome[1].message)
                        raise outcome[1]
                    if self.enable_trace:
                        yield self._observation(step, action, outcome)
                    self._observe(call, outcome)
                    messages.append(ChatMessage("tool", outcome.text, tool_call_id=call.id))
            if control:
                yield return_control(self, input_text, messages, control, step)
                return
        if self.enable_trace:
            yield self._failure(step, f"The agent did not finish within {MAX_STEPS} orchestration steps.")
        yield "chunk", {"bytes": f"Sorry, I could not finish this request within {MAX_STEPS} steps.".encode()}

    def _conversation(self, input_text: str, messages: list[ChatMessage]) -> str:
        """What the user and the tools said (and the agent's instruction): where a call's values come from."""
        said = [m.content for m in self.session.history] + [
            m.content for m in messages if m.role != "assistant"
        ]
        return "\n".join(
            [self.setup.instruction, *self.session.prompt_attributes.values(), input_text, *said]
        )

    def _user_text(self, input_text: str) -> str:
        return "\n".join([m.content for m in self.session.history if m.role == "user"] + [input_text])

    def _observe(self, call: ToolCall, result: ActionResult) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in call.arguments.items())
        self.observed.extend([(f"{call.name}({shown})", result.text)] if result.state is None else [])

    def _reflex(self, call: ToolCall, input_text: str, messages: list[ChatMessage]) -> bool:
        action, conversation = self.setup.actions.get(call.name), self._conversation(input_text, messages)
        return grounding.reflex(
            action, call.arguments, conversation, input_text, after_result=bool(self.observed)
        )

    # -- the model ------------------------------------------------------------------------------------------

    def _request(
        self, input_text: str, messages: list[ChatMessage], with_tools: bool, choice: str | None = None
    ) -> GenerationRequest:
        history = self.session.history
        if self.turns_kept is not None:
            history = history[len(history) - 2 * self.turns_kept :] if self.turns_kept else []
        system = ChatMessage(
            "system", answers.system_prompt(self.setup, self.session, input_text, self.memory)
        )
        config = self.setup.inference
        return GenerationRequest(
            messages=[system, *history, *messages],
            max_tokens=int(config.get("maximumLength") or 2048),
            temperature=config.get("temperature", 0.0),
            top_p=config.get("topP"),
            top_k=config.get("topK"),
            stop=tuple(config.get("stopSequences") or ()),
            tools=self.setup.tools if with_tools else (),
            tool_choice=choice if with_tools else None,
        )

    async def _think(
        self,
        step: int,
        input_text: str,
        messages: list[ChatMessage],
        *,
        with_tools: bool = True,
        choice: str | None = None,
    ) -> GenerationResult:
        return await self._generate(self._request(input_text, messages, with_tools, choice))

    async def _generate(self, request: GenerationRequest) -> GenerationResult:
        self._last_prompt = json.dumps(
            {
                "system": request.messages[0].content,
                "messages": [{"role": m.role, "content": m.content} for m in request.messages[1:]],
                "tools": [{"name": t.name, "parameters": t.parameters} for t in request.tools],
            }
        )
        started = time.time()
        result = await self.inference.generate(self.caller, self.setup.model, request)
        self._started, self._ended = started, time.time()
        self.model_seconds += self._ended - started
        return result

    def _model_traces(self, step: int, result: GenerationResult) -> list[Event]:
        if not self.enable_trace:
            return []
        inference = answers.inference_configuration(self.setup.inference)
        raw = result.text + "".join(
            f"<tool_call>{json.dumps({'name': c.name, 'arguments': c.arguments})}</tool_call>"
            for c in result.tool_calls
        )
        events = [
            self._orchestration(
                step,
                "modelInvocationInput",
                {
                    "text": self._last_prompt,
                    "type": "ORCHESTRATION",
                    "foundationModel": self.setup.model_id,
                    "inferenceConfiguration": inference,
                    "promptCreationMode": "OVERRIDDEN" if self.setup.template else "DEFAULT",
                    "parserMode": "DEFAULT",
                },
            ),
            self._orchestration(
                step,
                "modelInvocationOutput",
                {
                    "rawResponse": {"content": raw},
                    "metadata": {
                        "startTime": datetime.fromtimestamp(self._started, UTC),
                        "endTime": datetime.fromtimestamp(self._ended, UTC),
                        "totalTimeMs": int((self._ended - self._started) * 1000),
                        "usage": {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens},
                    },
                },
            ),
        ]
        if result.tool_calls and result.text.strip():
            events.append(self._orchestration(step, "rationale", {"text": result.text.strip()}))
        return events

    # -- ending a turn --------------------------------------------------------------------------------------

    def _remember(self, input_text: str, answer: str) -> None:
        self.session.history.extend([ChatMessage("user", input_text), ChatMessage("assistant", answer)])

    async def _finish(self, step: int, input_text: str, text: str) -> AsyncIterator[Event]:
        """The answer; one leaving out a number the tools returned is asked for again from their results,
        and results of tools related to the request that it still leaves out are quoted after it."""
        text, said = text.strip(), self._user_text(input_text)
        if self.observed and answers.left_out(text, self.observed, said):
            request = self._request(input_text, [], with_tools=False)
            final = await self._generate(
                replace(request, messages=answers.final_prompt(self.setup, input_text, self.observed))
            )
            for event in self._model_traces(step, final):
                yield event
            tools = [self.setup.actions.get(call.split("(", 1)[0]) for call, _ in self.observed]
            quoted = [o for o, t in zip(self.observed, tools, strict=True) if t and related(t, input_text)]
            text = answers.with_results(final.text.strip() or text, quoted, said)
        async for event in self._answer(step, input_text, text):
            yield event

    async def _answer(self, step: int, input_text: str, text: str) -> AsyncIterator[Event]:
        text = _TOOL_MARKUP.sub("", text).strip() or "Sorry, I don't have an answer to that."
        if self.enable_trace:
            yield self._orchestration(
                step, "observation", {"type": "FINISH", "finalResponse": {"text": text}}
            )
        if self.setup.post is not None:  # the post-processing step rewrites the orchestration's answer
            text, traces = await postprocess(self, self.setup.post, input_text, text)
            for event in traces:
                yield event
        self._remember(input_text, text)
        chunk: dict[str, Any] = {"bytes": text.encode()}
        if self.hits:
            chunk["attribution"] = {
                "citations": [
                    {
                        "generatedResponsePart": {
                            "textResponsePart": {"text": text, "span": {"start": 0, "end": len(text) - 1}}
                        },
                        "retrievedReferences": [reference(hit) for hit in self.hits],
                    }
                ]
            }
        if self.stream_final and not self.hits:
            words = text.split(" ")
            for index in range(0, len(words), 8):
                piece = " ".join(words[index : index + 8]) + (" " if index + 8 < len(words) else "")
                yield "chunk", {"bytes": piece.encode()}
            return
        yield "chunk", chunk

    async def _ask(self, step: int, input_text: str, question: str) -> AsyncIterator[Event]:
        question = question or "Could you tell me more?"
        self._remember(input_text, question)
        if self.enable_trace:
            yield self._orchestration(
                step, "observation", {"type": "ASK_USER", "finalResponse": {"text": question}}
            )
        yield "chunk", {"bytes": question.encode()}

    # -- actions --------------------------------------------------------------------------------------------

    async def _search(self, step: int, action: Action, call: ToolCall) -> str:
        query = str(call.arguments.get("searchQuery", ""))
        kb_id = str(action.knowledge_base_id)
        found = await run_blocking(lambda: self.search(kb_id, query))
        self._found = found
        self.hits.extend(found)
        if not found:
            return "No results were found."
        return "\n\n".join(f"<source {i + 1}>\n{hit.text}\n</source>" for i, hit in enumerate(found))

    def _kb_observation(self, step: int, action: Action) -> Event:
        return self._orchestration(
            step,
            "observation",
            {
                "type": "KNOWLEDGE_BASE",
                "knowledgeBaseLookupOutput": {"retrievedReferences": [reference(h) for h in self._found]},
            },
        )

    def _observation(self, step: int, action: Action, result: ActionResult) -> Event:
        if result.state == "REPROMPT":
            return self._reprompt(step, "ACTION_GROUP", result.text)
        return self._orchestration(
            step,
            "observation",
            {"type": "ACTION_GROUP", "actionGroupInvocationOutput": {"text": result.text}},
        )

    def _reprompt(self, step: int, source: str, text: str) -> Event:
        return self._orchestration(
            step, "observation", {"type": "REPROMPT", "repromptResponse": {"source": source, "text": text}}
        )

    async def _run_lambda(
        self, step: int, action: Action, call: ToolCall, input_text: str
    ) -> ActionResult | tuple[None, ServiceError]:
        """The Lambda's result, or the stream error AWS ends with when the Lambda fails."""
        arn = str(action.group["actionGroupExecutor"]["lambda"])
        event = lambda_event(
            self.setup,
            action,
            call.arguments,
            input_text=input_text,
            session_id=self.session.session_id,
            session_attributes=self.session.session_attributes,
            prompt_attributes=self.session.prompt_attributes,
        )
        outcome = await self.call_lambda(arn, event)
        failed = DependencyFailedException(
            "Received failed response from API execution. Retry the request later.",
            extra={"resourceName": arn},
        )
        if outcome is None:
            failed.message = f"The Lambda function {arn} does not exist any more."
            return None, failed
        if outcome.error is not None or outcome.timed_out:
            detail = "timed out" if outcome.timed_out else str((outcome.error or {}).get("errorMessage", ""))
            failed.message = (
                f"Received failed response from API execution ({detail}). Retry the request later."
            )
            return None, failed
        try:
            result = read_lambda_response(outcome.payload, action)
        except MalformedResponse as error:
            return None, BadGatewayException(
                f"The server encountered an error processing the Lambda response: {error}. Check the Lambda "
                "response and retry the request.",
                extra={"resourceName": arn},
            )
        if result.session_attributes is not None:
            self.session.session_attributes = result.session_attributes
        if result.prompt_attributes is not None:
            self.session.prompt_attributes = result.prompt_attributes
        if result.state == "FAILURE":
            failed.message = (
                f"The action group {action.group['actionGroupName']} reported FAILURE: {result.text}"
            )
            return None, failed
        return result


def _signature(call: ToolCall) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True, default=str)
