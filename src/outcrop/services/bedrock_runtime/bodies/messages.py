"""Chat turns out of the two request styles several families share: raw prompts and OpenAI-style messages.

Titan, Llama, Mistral, Cohere Command and Jurassic take one raw prompt string, often already wrapped in
the original model's chat markup (Llama 3 headers, [INST] blocks, ChatML, "User:/Bot:" transcripts).
The local model has its own template, so the markup is read back into turns instead of being fed to it
verbatim; a prompt without markup is one user turn. Mistral Large and Jamba take OpenAI-style messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationResult, Role, ToolCall, ToolSpec
from outcrop.services.bedrock_runtime.bodies import structured
from outcrop.services.bedrock_runtime.bodies.common import Fields, malformed, named_tool

_LLAMA3_HEADER = re.compile(r"<\|start_header_id\|>\s*(\w+)\s*<\|end_header_id\|>")
_LLAMA3_MARKS = re.compile(r"<\|(?:begin_of_text|eot_id|eom_id|end_of_text)\|>")
_INST = re.compile(r"\[INST\](.*?)\[/INST\]", re.S)
_LLAMA2_SYS = re.compile(r"<<SYS>>(.*?)<</SYS>>", re.S)
_SENTENCE_MARKS = re.compile(r"</?s>")
_CHATML = re.compile(r"<\|im_start\|>\s*(\w+)\n?(.*?)(?:<\|im_end\|>|\Z)", re.S)
_LABEL = re.compile(r"^[ \t]*(User|Human|Bot|Assistant|System)[ \t]*:", re.M)
_LABEL_ROLES: dict[str, Role] = {
    "user": "user",
    "human": "user",
    "bot": "assistant",
    "assistant": "assistant",
    "system": "system",
}
_HEADER_ROLES: dict[str, Role] = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "ipython": "tool",
}


def _finish(turns: list[ChatMessage]) -> list[ChatMessage]:
    """Drop the empty assistant turn a prompt ends with (the cue to answer); never return no turns."""
    turns = [turn for turn in turns if turn.content or turn.role in ("user", "assistant")]
    if turns and turns[-1].role == "assistant" and not turns[-1].content:
        turns.pop()
    if not any(turn.role == "user" for turn in turns):
        turns.append(ChatMessage("user", ""))
    return turns


def _llama3(prompt: str) -> list[ChatMessage]:
    parts = _LLAMA3_HEADER.split(_LLAMA3_MARKS.sub("", prompt))
    turns = [ChatMessage("user", parts[0].strip())] if parts[0].strip() else []
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        turns.append(ChatMessage(_HEADER_ROLES.get(role.lower(), "user"), content.strip()))
    return turns


def _inst(prompt: str) -> list[ChatMessage]:
    turns: list[ChatMessage] = []
    position = 0
    for match in _INST.finditer(prompt):
        between = _SENTENCE_MARKS.sub("", prompt[position : match.start()]).strip()
        if between:
            turns.append(ChatMessage("assistant" if turns else "system", between))
        user = match.group(1)
        system = _LLAMA2_SYS.search(user)
        if system:
            turns.append(ChatMessage("system", system.group(1).strip()))
            user = _LLAMA2_SYS.sub("", user)
        turns.append(ChatMessage("user", user.strip()))
        position = match.end()
    tail = _SENTENCE_MARKS.sub("", prompt[position:]).strip()
    turns.append(ChatMessage("assistant", tail))
    return turns


def _chatml(prompt: str) -> list[ChatMessage]:
    return [
        ChatMessage(_HEADER_ROLES.get(role.lower(), "user"), content.strip())
        for role, content in _CHATML.findall(prompt)
    ]


def _transcript(prompt: str) -> list[ChatMessage] | None:
    """A "User: ...\\nBot:" transcript, if the prompt is one (starts with a label, or ends on the cue)."""
    labels = list(_LABEL.finditer(prompt))
    if not labels:
        return None
    starts = prompt[: labels[0].start()].strip() == ""
    last_role = _LABEL_ROLES[labels[-1].group(1).lower()]
    ends_on_cue = last_role == "assistant" and prompt[labels[-1].end() :].strip() == ""
    if not (starts or ends_on_cue):
        return None
    turns: list[ChatMessage] = []
    if not starts:  # an instruction before the transcript: its own turn, a system one if users speak later
        has_user = any(_LABEL_ROLES[label.group(1).lower()] == "user" for label in labels)
        turns.append(ChatMessage("system" if has_user else "user", prompt[: labels[0].start()].strip()))
    for label, following in zip(labels, [*labels[1:], None], strict=True):
        end = following.start() if following else len(prompt)
        turns.append(ChatMessage(_LABEL_ROLES[label.group(1).lower()], prompt[label.end() : end].strip()))
    return turns


def grounding(documents: Sequence[Any]) -> str:
    """Grounding documents (Cohere, Jamba) as instructions the local model can read."""
    listing = "\n".join(
        f"Document {index}: {json.dumps(document)}" for index, document in enumerate(documents)
    )
    return "Answer using these documents where they are relevant:\n" + listing


def prompt_messages(prompt: str) -> list[ChatMessage]:
    """The chat turns a raw prompt stands for."""
    if _LLAMA3_HEADER.search(prompt):
        return _finish(_llama3(prompt))
    if _INST.search(prompt):
        return _finish(_inst(prompt))
    if "<|im_start|>" in prompt:
        return _finish(_chatml(prompt))
    transcript = _transcript(prompt)
    if transcript is not None:
        return _finish(transcript)
    return [ChatMessage("user", prompt.strip())]


# -- OpenAI-style messages (Mistral Large chat, Jamba) -------------------------------------------------------


def _content_text(content: Any, path: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = [
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        ]
        return "\n".join(parts)
    raise malformed(f"{path}: expected type: String, found: JSONObject")


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            return {"input": value}
    return value if isinstance(value, dict) else {"input": value}


def openai_messages(items: list[Any], path: str) -> list[ChatMessage]:
    turns: list[ChatMessage] = []
    for index, item in enumerate(items):
        fields = Fields(item, f"{path}/{index}")
        role = fields.one_of("role", ("system", "user", "assistant", "tool"), required=True)
        content = _content_text(fields.body.get("content"), fields.at("content"))
        calls = []
        for number, call in enumerate(fields.array("tool_calls") or []):
            function = Fields(call, f"{fields.at('tool_calls')}/{number}").child("function")
            name = function.string("name", required=True) or ""
            calls.append(
                ToolCall(
                    str(call.get("id") or f"call_{number}"), name, _arguments(function.body.get("arguments"))
                )
            )
        turns.append(ChatMessage(role, content, tuple(calls), fields.string("tool_call_id")))
    return turns


def openai_tools(items: list[Any] | None, path: str) -> list[ToolSpec]:
    specs = []
    for index, item in enumerate(items or []):
        function = Fields(item, f"{path}/{index}").child("function")
        name = function.string("name", required=True) or ""
        parameters = function.object("parameters")
        schema = parameters.body if parameters else {"type": "object", "properties": {}}
        specs.append(ToolSpec(name, function.string("description") or "", schema))
    return specs


def _tool_choice(value: Any, tools: list[ToolSpec]) -> tuple[list[ToolSpec], str | None]:
    """The tools left and the generic choice: "none" removes the tools, "required" means "any"."""
    if value == "none":
        return [], None
    if value in ("any", "required"):
        return tools, "any"
    if isinstance(value, dict) and isinstance(value.get("function"), dict):
        return tools, named_tool(str(value["function"].get("name")), tools)
    return tools, None


def openai_options(fields: Fields) -> dict[str, Any]:
    """The GenerationRequest fields an OpenAI-style body sets besides messages and sampling."""
    tools, choice = _tool_choice(
        fields.body.get("tool_choice"), openai_tools(fields.array("tools"), "#/tools")
    )
    stop = fields.body.get("stop")
    response_format = fields.object("response_format")
    return {
        "tools": tools,
        "tool_choice": choice,
        "stop": (stop,) if isinstance(stop, str) else tuple(fields.strings("stop") or ()),
        "json_mode": bool(response_format and response_format.body.get("type") == "json_object"),
    }


def structured_options(fields: Fields, turns: list[ChatMessage]) -> dict[str, Any]:
    """`openai_options` plus the turns, for Bedrock's OpenAI-style bodies: `response_format` json_schema is
    checked against Bedrock's structured-output subset, enforced, and shown to the model."""
    options = openai_options(fields)
    response_format = fields.object("response_format")
    kind = response_format.one_of("type", ("text", "json_object", "json_schema")) if response_format else None
    if kind == "json_schema" and response_format is not None:
        definition = response_format.child("json_schema")
        schema = structured.checked_schema(definition.body.get("schema"), definition.at("schema"))
        structured.refuse_with_tools(bool(options["tools"]), "response_format json_schema")
        told = structured.instruction(schema, definition.string("name"), definition.string("description"))
        turns = structured.with_instruction(turns, told)
        options.update(json_mode=True, json_schema=schema)
    return {**options, "messages": turns}


def openai_tool_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Calls as OpenAI-style dicts; the backend's "call_..." ids already have the OpenAI style."""
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for call in calls
    ]


def openai_reply(result: GenerationResult) -> dict[str, Any]:
    """The assistant message of a finished generation; `tool_calls` only when there are some."""
    message: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.tool_calls:
        message["tool_calls"] = openai_tool_calls(result.tool_calls)
    return message
