"""The Converse API's shapes, translated to and from the generic backend types.

Converse is one request shape for every model, so this is the one translation every catalog entry shares;
the native InvokeModel bodies live in `bedrock_bodies`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from outcrop.backends.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Image,
    ToolCall,
    ToolSpec,
)
from outcrop.catalog import BedrockModel
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.attachments import Attachments, Document, in_prompt
from outcrop.services.bedrock_runtime.bodies import structured
from outcrop.services.bedrock_runtime.request_options import (
    ConverseOptions,
    additional_request_fields,
    picked_fields,
)
from outcrop.storage.objects import ObjectStore

_MEDIA_BLOCKS = ("video", "audio")


def _refuse_media(block: dict[str, Any]) -> None:
    for kind in _MEDIA_BLOCKS:
        if kind in block:
            raise ValidationException(
                f"This server's models do not accept {kind} input. Remove the {kind} content block and "
                "try again."
            )


def _tool_result_text(result: dict[str, Any], attachments: Attachments) -> str:
    parts = []
    for item in result.get("content", []):
        _refuse_media(item)
        if "json" in item:
            parts.append(json.dumps(item["json"]))
        elif "document" in item:
            parts.append(attachments.document(item["document"]).prompt())
        elif "image" in item:
            raise ValidationException(
                "Images in tool results are not supported on this server; put the image in a user message."
            )
        elif "text" in item:
            parts.append(str(item["text"]))
    text = "\n".join(p for p in parts if p)
    if result.get("status") == "error":
        text = f"Error: {text}"
    return text


def _guarded_text(block: dict[str, Any]) -> str:
    if "text" not in block:
        raise ValidationException(
            "Only text guardContent blocks are supported on this server; remove the image guardContent block."
        )
    return str(block["text"]["text"])


def converse_messages(
    messages: list[dict[str, Any]],
    system: list[dict[str, Any]] | None,
    attachments: Attachments | None = None,
) -> list[ChatMessage]:
    """Converse messages and system blocks as generic chat turns; checks the turn order Bedrock enforces.
    Documents are read into the turn's text and images kept as images (see `attachments`)."""
    attachments = attachments or Attachments()
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
    system_text = "\n\n".join(
        b["text"] if "text" in b else _guarded_text(b["guardContent"])
        for b in system or []
        if "text" in b or "guardContent" in b
    )
    if system_text:
        out.append(ChatMessage("system", system_text))
    for message in messages:
        if not message.get("content"):
            raise ValidationException(
                "The content field in the Message object is empty. Add a ContentBlock object "
                "to the content field and try again."
            )
        texts: list[str] = []
        documents: list[Document] = []
        images: list[Image] = []
        calls: list[ToolCall] = []
        for block in message["content"]:
            _refuse_media(block)
            if ("document" in block or "image" in block) and message["role"] != "user":
                raise ValidationException(
                    "You can only include images and documents in a message whose role is user."
                )
            if "toolUse" in block:
                use = block["toolUse"]
                calls.append(ToolCall(use["toolUseId"], use["name"], dict(use.get("input") or {})))
            elif "toolResult" in block:
                result = block["toolResult"]
                text = _tool_result_text(result, attachments)
                out.append(ChatMessage("tool", text, tool_call_id=result["toolUseId"]))
            elif "document" in block:
                documents.append(attachments.document(block["document"]))
            elif "image" in block:
                images.append(attachments.image(block["image"]))
            elif block.get("text"):
                texts.append(str(block["text"]))
            elif "guardContent" in block:  # text a guardrail reads (guarded.py); the model reads it too
                texts.append(_guarded_text(block["guardContent"]))
        if documents and not texts:
            raise ValidationException(
                "A message with a document content block must also include a text content block. Add a "
                "text block that says what to do with the document and try again."
            )
        if message["role"] == "assistant":
            out.append(ChatMessage("assistant", "\n".join(texts), tool_calls=tuple(calls)))
        elif texts or documents or images:
            out.append(ChatMessage("user", in_prompt(documents, texts), images=tuple(images)))
    return out


def converse_tools(tool_config: dict[str, Any] | None) -> tuple[list[ToolSpec], str | None]:
    """The tools and tool choice. A tool spec's `strict` needs nothing more: every call is checked against
    its schema on the way out (and grammar-constrained on the local models). A system tool (a model's own
    server-side tool, such as Nova's web grounding) does not exist here and is refused."""
    if not tool_config:
        return [], None
    tools = []
    for tool in tool_config.get("tools", []):
        if "systemTool" in tool:
            name = (tool["systemTool"] or {}).get("name", "")
            raise ValidationException(
                f"The system tool {name} is not available on this server: its models have no built-in "
                "tools. Define the tool as a toolSpec and answer its calls with toolResult blocks."
            )
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


def converse_request(
    params: dict[str, Any], model: BedrockModel, objects: ObjectStore | None = None
) -> GenerationRequest:
    """The generic request of a Converse body whose answer is not Converse's own output (batch records):
    documents with citations enabled are refused there, as their citations would have nowhere to go."""
    request, documents = converse_parts(params, model, objects)
    if any(document.citations for document in documents):
        raise ValidationException(
            "Citations are returned by Converse and ConverseStream on this server. Remove citations from "
            "the document blocks and try again."
        )
    return request


def converse_parts(
    params: dict[str, Any], model: BedrockModel, objects: ObjectStore | None = None
) -> tuple[GenerationRequest, list[Document]]:
    """The generic request and the documents it was given (which the answer may have to cite); documents
    and images in S3 are read from `objects`."""
    config = params.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens", model.max_tokens)
    if max_tokens > model.max_tokens:
        raise ValidationException(
            f"The maximum tokens you requested exceeds the model limit of {model.max_tokens}. "
            "Try again with a maximum tokens value that is lower than the model limit."
        )
    top_k = additional_request_fields(params.get("additionalModelRequestFields"))
    tools, tool_choice = converse_tools(params.get("toolConfig"))
    attachments = Attachments(objects)
    messages = converse_messages(params.get("messages") or [], params.get("system"), attachments)
    if any(m.tool_calls for m in messages) and not tools:
        raise ValidationException(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    schema = _text_format(params.get("outputConfig") or {}, bool(tools), attachments.documents)
    if schema is not None:
        messages = structured.with_instruction(messages, schema[1])
    request = GenerationRequest(
        messages=messages,
        max_tokens=max_tokens,
        temperature=config.get("temperature"),
        top_p=config.get("topP"),
        top_k=top_k or None,
        stop=tuple(config.get("stopSequences") or ()),
        tools=tools,
        tool_choice=tool_choice,
        json_mode=schema is not None,
        json_schema=schema[0] if schema else None,
    )
    return request, attachments.documents


def _text_format(
    output_config: dict[str, Any], has_tools: bool, documents: list[Document]
) -> tuple[dict[str, Any], str] | None:
    """outputConfig: the checked schema a reply must follow and the instruction naming it; effort refused."""
    structured.refuse_effort(output_config.get("effort"), "outputConfig.effort")
    text_format = output_config.get("textFormat")
    if text_format is None:
        return None
    where = "outputConfig.textFormat"
    definition = text_format["structure"].get("jsonSchema") or {}
    schema = structured.schema_from_text(
        definition.get("schema") or "", f"{where}.structure.jsonSchema.schema"
    )
    structured.refuse_with_tools(has_tools, where)
    if any(document.citations for document in documents):
        raise ValidationException(
            f"{where} cannot be combined with citations: a reply that must be JSON cannot carry citations. "
            "Remove citations from the document blocks or the text format and try again."
        )
    return schema, structured.instruction(schema, definition.get("name"), definition.get("description"))


def usage(result: GenerationResult) -> dict[str, int]:
    return {
        "inputTokens": result.input_tokens,
        "outputTokens": result.output_tokens,
        "totalTokens": result.input_tokens + result.output_tokens,
    }


def converse_output(
    result: GenerationResult, latency_ms: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Converse's response; `extra` adds members decided elsewhere (additionalModelResponseFields,
    performanceConfig, serviceTier)."""
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
        **(extra or {}),
    }


def stream_closing_events(
    result: GenerationResult,
    text_open: bool,
    latency_ms: int,
    *,
    stop_reason: str | None = None,
    trace: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    served: dict[str, Any] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events after the last text delta: close the text block, tool-use blocks, stop and metadata
    (a guardrail's intervention sets the stop reason and its trace rides in the metadata; requested
    native fields ride in messageStop, the latency and tier served in the metadata)."""
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
    stop: dict[str, Any] = {"stopReason": stop_reason or result.stop_reason}
    if fields:
        stop["additionalModelResponseFields"] = fields
    yield "messageStop", stop
    metadata: dict[str, Any] = {
        "usage": usage(result),
        "metrics": {"latencyMs": latency_ms},
        **(served or {}),
    }
    if trace is not None:
        metadata["trace"] = trace
    yield "metadata", metadata


def response_fields(
    options: ConverseOptions, result: GenerationResult, request: GenerationRequest, model: BedrockModel
) -> dict[str, Any] | None:
    """additionalModelResponseFields: what the requested pointers find in the native response body this
    model's family gives for the same result (None when nothing was asked or found)."""
    if not options.field_paths:
        return None
    # imported here: the Nova body format reads Converse's shapes, so the registry imports this module
    from outcrop.services.bedrock_runtime.bodies.registry import CHAT_FORMATS

    native = CHAT_FORMATS[model.format].response(result, request, model)
    return picked_fields(native, options.field_paths)


def output_extras(
    options: ConverseOptions, result: GenerationResult, request: GenerationRequest, model: BedrockModel
) -> dict[str, Any]:
    """The members Converse's response adds for these options."""
    fields = response_fields(options, result, request, model)
    return {**({"additionalModelResponseFields": fields} if fields else {}), **options.served()}
