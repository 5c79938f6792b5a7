"""The Converse API's shapes, translated to and from the generic backend types.

Converse is one request shape for every model, so this is the one translation every catalog entry shares;
the native InvokeModel bodies live in `bedrock_bodies`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from outcrop.backends.base import ChatMessage, GenerationRequest, GenerationResult, ToolCall, ToolSpec
from outcrop.catalog import BedrockModel
from outcrop.protocol.errors import ValidationException

_TEXT_DOCUMENT_FORMATS = ("txt", "md", "csv", "html")


def _block_text(block: dict[str, Any]) -> str:
    """What a local text model can see of a content block."""
    if "text" in block:
        return str(block["text"])
    if "document" in block:
        document = block["document"]
        name = document.get("name", "document")
        source = document.get("source", {})
        if document.get("format") in _TEXT_DOCUMENT_FORMATS and "bytes" in source:
            return f"<document name={name!r}>\n{source['bytes'].decode('utf-8', 'replace')}\n</document>"
        if "text" in source:
            return f"<document name={name!r}>\n{source['text']}\n</document>"
        kind = document.get("format")
        return f"[document {name!r} in {kind} format: this local model reads only text formats]"
    if "image" in block:
        return "[an image was attached; this local model reads text only]"
    if "video" in block or "audio" in block:
        return "[a media attachment was omitted; this local model reads text only]"
    return ""


def _tool_result_text(result: dict[str, Any]) -> str:
    parts = []
    for item in result.get("content", []):
        if "json" in item:
            parts.append(json.dumps(item["json"]))
        else:
            parts.append(_block_text(item))
    text = "\n".join(p for p in parts if p)
    if result.get("status") == "error":
        text = f"Error: {text}"
    return text


def converse_messages(
    messages: list[dict[str, Any]], system: list[dict[str, Any]] | None
) -> list[ChatMessage]:
    """Converse messages and system blocks as generic chat turns; checks the turn order Bedrock enforces."""
    if not messages:
        raise ValidationException(
            "A conversation must start with a user message. Try again with a conversation "
            "that starts with a user message."
        )
    if messages[0]["role"] != "user":
        raise ValidationException(
            "A conversation must start with a user message. Try again with a conversation "
            "that starts with a user message."
        )
    for previous, current in itertools.pairwise(messages):
        if previous["role"] == current["role"]:
            raise ValidationException(
                "A conversation must alternate between user and assistant roles. Make sure "
                "the conversation alternates between user and assistant roles and try again."
            )
    out: list[ChatMessage] = []
    system_text = "\n\n".join(b["text"] for b in system or [] if "text" in b)
    if system_text:
        out.append(ChatMessage("system", system_text))
    for message in messages:
        if not message.get("content"):
            raise ValidationException(
                "The content field in the Message object is empty. Add a ContentBlock object "
                "to the content field and try again."
            )
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message["content"]:
            if "toolUse" in block:
                use = block["toolUse"]
                calls.append(ToolCall(use["toolUseId"], use["name"], dict(use.get("input") or {})))
            elif "toolResult" in block:
                result = block["toolResult"]
                out.append(ChatMessage("tool", _tool_result_text(result), tool_call_id=result["toolUseId"]))
            else:
                text = _block_text(block)
                if text:
                    texts.append(text)
        if message["role"] == "assistant":
            out.append(ChatMessage("assistant", "\n".join(texts), tool_calls=tuple(calls)))
        elif texts:
            out.append(ChatMessage("user", "\n".join(texts)))
    return out


def converse_tools(tool_config: dict[str, Any] | None) -> tuple[list[ToolSpec], str | None]:
    if not tool_config:
        return [], None
    tools = []
    for tool in tool_config.get("tools", []):
        spec = tool.get("toolSpec")
        if spec is None:
            continue
        schema = spec.get("inputSchema", {}).get("json") or {"type": "object", "properties": {}}
        tools.append(ToolSpec(spec["name"], spec.get("description", ""), schema))
    choice = tool_config.get("toolChoice") or {}
    tool_choice = None
    if "any" in choice:
        tool_choice = "any"
    elif "tool" in choice:
        tool_choice = choice["tool"]["name"]
        if tool_choice not in {t.name for t in tools}:
            raise ValidationException(
                f"The tool choice names {tool_choice}, which is not in toolConfig.tools."
            )
    return tools, tool_choice


def converse_request(params: dict[str, Any], model: BedrockModel) -> GenerationRequest:
    config = params.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens", model.max_tokens)
    if max_tokens > model.max_tokens:
        raise ValidationException(
            f"The maximum tokens you requested exceeds the model limit of {model.max_tokens}. "
            "Try again with a maximum tokens value that is lower than the model limit."
        )
    extra = params.get("additionalModelRequestFields") or {}
    tools, tool_choice = converse_tools(params.get("toolConfig"))
    messages = converse_messages(params.get("messages") or [], params.get("system"))
    if any(m.tool_calls for m in messages) and not tools:
        raise ValidationException(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    return GenerationRequest(
        messages=messages,
        max_tokens=max_tokens,
        temperature=config.get("temperature"),
        top_p=config.get("topP"),
        top_k=extra.get("top_k") if isinstance(extra.get("top_k"), int) else None,
        stop=tuple(config.get("stopSequences") or ()),
        tools=tools,
        tool_choice=tool_choice,
    )


def usage(result: GenerationResult) -> dict[str, int]:
    return {
        "inputTokens": result.input_tokens,
        "outputTokens": result.output_tokens,
        "totalTokens": result.input_tokens + result.output_tokens,
    }


def converse_output(result: GenerationResult, latency_ms: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if result.text:
        content.append({"text": result.text})
    for call in result.tool_calls:
        content.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}})
    if not content:
        content.append({"text": ""})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": result.stop_reason,
        "usage": usage(result),
        "metrics": {"latencyMs": latency_ms},
    }


def stream_closing_events(
    result: GenerationResult, text_open: bool, latency_ms: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events after the last text delta: close the text block, tool-use blocks, stop and metadata."""
    index = 0
    if text_open:
        yield "contentBlockStop", {"contentBlockIndex": 0}
        index = 1
    for call in result.tool_calls:
        yield (
            "contentBlockStart",
            {"start": {"toolUse": {"toolUseId": call.id, "name": call.name}}, "contentBlockIndex": index},
        )
        yield (
            "contentBlockDelta",
            {"delta": {"toolUse": {"input": json.dumps(call.arguments)}}, "contentBlockIndex": index},
        )
        yield "contentBlockStop", {"contentBlockIndex": index}
        index += 1
    yield "messageStop", {"stopReason": result.stop_reason}
    yield "metadata", {"usage": usage(result), "metrics": {"latencyMs": latency_ms}}
