"""The agent's prompts and the checks on a reply that is not a call: whether it is a call described in
words, and whether an answer after tool results carries what they returned.

Small models answer after a tool result with a description of the call they made, an unrelated sentence,
or the answer without its key value (a booking's confirmation number). Numbers are the values a user asks
tools for (prices, temperatures, amounts, codes), so an answer that leaves out a number a tool returned
(and the user did not give) is asked for again, once, from a prompt built on the results alone; the results
it still leaves out are quoted after it. A reply
that names a tool not yet called this turn ("I'll use get_stock_price"), or that writes a tool's result
itself, is a call the model meant to make: the loop asks again with a call required (the tool-call grammar
then decodes it). So does an answer after results while the request holds a number no call was given (a
part left undone), and a first reply that states a number nobody gave (a stock price the model guessed):
the forced call is taken only when all its values were given, so a question a tool cannot answer keeps its
answer ("2 + 2" is 4).
"""

from __future__ import annotations

import json
import re
from typing import Any

from outcrop.backends.base import ChatMessage, ToolSpec
from outcrop.services.bedrock_agent_runtime.agent_actions import AgentSetup
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSession

_PLACEHOLDER = re.compile(r"\$[a-z_]+\$")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_IDENTIFIER = re.compile(r"_|[a-z][A-Z]")
_MADE_UP_RESULT = re.compile(r"<tool_response>")


def system_prompt(setup: AgentSetup, session: AgentSession, question: str, memory: list[str]) -> str:
    attributes = "\n".join(f"{k}: {v}" for k, v in session.prompt_attributes.items())
    if setup.template is not None:
        values = {
            "$instruction$": setup.instruction,
            "$prompt_session_attributes$": attributes,
            "$tools$": json.dumps([{"name": t.name, "description": t.description} for t in setup.tools]),
            "$question$": question,
            "$memory_content$": "\n".join(memory),
        }
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(0), ""), setup.template)
    parts = [f"You are {setup.name}, an AI agent. {setup.instruction}"]
    if memory:
        parts.append("Summaries of earlier sessions with this user:\n" + "\n".join(memory))
    if attributes:
        parts.append(f"Context for this conversation:\n{attributes}")
    if setup.tools:
        ask = " or ask the user with the AskUser tool" if "AskUser" in setup.actions else ""
        parts.append(
            "Use a tool when it helps answer. Give a tool only values the user or an earlier tool result "
            f"gave; when a required value is unknown, leave it null{ask}. When you have the answer, reply "
            "to the user in plain text."
        )
    return "\n\n".join(parts)


def final_prompt(setup: AgentSetup, question: str, results: list[tuple[str, str]]) -> list[ChatMessage]:
    """The final-answer step's messages: the request, the tools' results, and last (where a small model
    heeds it most) the ask to state their values."""
    system = (
        f"You are {setup.name}, an AI agent. {setup.instruction}\n\nAnswer the user's request from the "
        "results below. Give their values (numbers, names, codes) exactly as they are written. Answer "
        "only what was asked, in plain sentences, without mentioning tools or functions."
    )
    shown = "\n".join(f"- {call}: {result}" for call, result in results)
    ask = "Answer the request in one or two sentences that include every number from the results."
    asked = f"Request: {question}\n\nResults:\n{shown}\n\n{ask}"
    return [ChatMessage("system", system), ChatMessage("user", asked)]


def _numbers(text: str) -> set[float]:
    found = set()
    for match in _NUMBER.finditer(text):
        try:
            found.add(float(match.group(0).replace(",", "")))
        except ValueError:
            continue
    return found


def left_out(answer: str, results: list[tuple[str, str]], user_text: str) -> list[str]:
    """The numbers the tools returned (and the user did not give) that the answer does not hold."""
    known = _numbers(answer) | _numbers(user_text)
    missing: list[str] = []
    for _, result in results:
        for match in _NUMBER.finditer(result):
            try:
                value = float(match.group(0).replace(",", ""))
            except ValueError:
                continue
            if value not in known and match.group(0) not in missing:
                missing.append(match.group(0))
    return missing


def with_results(answer: str, results: list[tuple[str, str]], user_text: str) -> str:
    """The answer, followed by the results whose numbers it still leaves out (quoted as the tools gave
    them): what the tools returned always reaches the user."""
    missing = set(left_out(answer, results, user_text))
    kept = [result for _, result in results if any(n in missing for n in _NUMBER.findall(result))]
    return "\n\n".join([answer, *kept]) if kept else answer


def unused_numbers(request: str, arguments: list[dict[str, Any]]) -> bool:
    """Whether the request holds a number that no call this turn was given: a part of it left undone
    ("convert 100 pounds to kg and 5 miles to km" after the first conversion only)."""
    used = _numbers(" ".join(json.dumps(a, default=str) for a in arguments))
    return bool(_numbers(request) - used)


def invented_numbers(text: str, conversation: str) -> bool:
    """Whether a reply states a number the conversation does not hold (a price the model guessed)."""
    return bool(_numbers(text) - _numbers(conversation))


def inference_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """The agent's inference settings as a modelInvocationInput trace shows them."""
    return {
        "temperature": config.get("temperature", 0.0),
        "maximumLength": int(config.get("maximumLength") or 2048),
        **({"topP": config["topP"]} if "topP" in config else {}),
        **({"topK": config["topK"]} if "topK" in config else {}),
        "stopSequences": list(config.get("stopSequences") or []),
    }


def call_in_words(text: str, tools: list[ToolSpec], called: set[str]) -> str | None:
    """Why a reply without a call is one the model meant to make: it names a tool not called yet this turn
    (an identifier, snake_case or camelCase, not a plain word), or it writes a tool's result itself
    (`<tool_response>`: the model made up what a call would return instead of making it)."""
    if _MADE_UP_RESULT.search(text):
        return "the reply made up a tool result"
    for tool in tools:
        if tool.name in called or not _IDENTIFIER.search(tool.name):
            continue
        if re.search(rf"(?<![\w]){re.escape(tool.name)}(?![\w])", text, re.IGNORECASE):
            return f"the reply names {tool.name}"
    return None
