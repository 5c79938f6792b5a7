"""Anthropic Claude bodies: the Messages API, and the legacy Text Completions API Claude 2 ids also take.

Content blocks map onto generic turns: text is read, documents (PDF, text, content) are read into text
under their titles, images stay images (for models that can see), tool_use blocks become tool calls and
tool_result blocks tool turns. Responses use Bedrock's id styles (msg_bdrk_..., toolu_bdrk_...) and
Anthropic's model names.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
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
from outcrop.services.bedrock_runtime.attachments import (
    IMAGE_TYPES,
    Document,
    in_prompt,
    read_document,
    text_document,
)
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder, structured
from outcrop.services.bedrock_runtime.bodies.common import (
    Fields,
    NativeRequest,
    echo,
    malformed,
    max_tokens,
    named_tool,
    native_call_id,
    random_id,
)
from outcrop.services.bedrock_runtime.bodies.messages import prompt_messages

_VERSION_SUFFIX = re.compile(r"(?<=\d{8})-v\d+:\d+$")
_TOOL_ID = "toolu_bdrk_01"
_SKIPPED_BLOCKS = ("thinking", "redacted_thinking")
_DOCUMENT_TYPES = {"application/pdf": "pdf", "text/plain": "txt"}


def anthropic_model_name(model: BedrockModel) -> str:
    """Anthropic's name for an id: anthropic.claude-3-haiku-20240307-v1:0 -> claude-3-haiku-20240307."""
    return _VERSION_SUFFIX.sub("", model.model_id.partition(".")[2] or model.model_id)


def _base64(fields: Fields) -> bytes:
    try:
        return base64.b64decode(fields.string("data", required=True) or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise malformed(f"{fields.at('data')}: not valid base64") from exc


def _image(block: dict[str, Any], path: str) -> Image:
    source = Fields(block, path).child("source")
    source.one_of("type", ("base64",), required=True)
    media_type = source.one_of("media_type", tuple(IMAGE_TYPES.values()), required=True)
    return Image(str(media_type), _base64(source))


def _document(block: dict[str, Any], path: str, number: int) -> Document:
    """A document block (a base64 PDF or text file, plain text, or content blocks) read into text."""
    fields = Fields(block, path)
    citations = fields.object("citations")
    if citations is not None and citations.boolean("enabled"):
        raise ValidationException(
            "Citations are not supported on this server: its models cannot attribute their answers to "
            "document passages. Remove citations from the document block and try again."
        )
    name = fields.string("title") or f"document {number}"
    source = fields.child("source")
    kind = source.one_of("type", ("base64", "text", "content"), required=True)
    if kind == "text":
        parsed = text_document(source.string("data", required=True) or "")
    elif kind == "content":
        parsed = text_document(_blocks_text(source.body.get("content"), source.at("content")))
    else:
        media_type = source.one_of("media_type", tuple(_DOCUMENT_TYPES), required=True)
        parsed = read_document(_base64(source), _DOCUMENT_TYPES[str(media_type)], name)
    return Document(name, parsed, fields.string("context"))


def _block_text(block: dict[str, Any], path: str) -> str:
    """The text of a text or document block (system prompts, tool results, document content)."""
    kind = block.get("type")
    if kind == "text":
        return str(Fields(block, path).string("text", required=True))
    if kind == "image":
        raise ValidationException(
            f"{path[2:].replace('/', '.')}: images are read only in user message content on this server."
        )
    if kind == "document":
        return _document(block, path, 1).prompt()
    if kind in _SKIPPED_BLOCKS:
        return ""
    raise ValidationException(
        f"{path[2:].replace('/', '.')}.type: Input tag '{kind}' found using 'type' does not match any of the "
        "expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result'"
    )


def _blocks_text(content: Any, path: str) -> str:
    if isinstance(content, str):
        return content
    blocks = content if isinstance(content, list) else []
    return "\n".join(
        text for index, block in enumerate(blocks) if (text := _block_text(block, f"{path}/{index}"))
    )


def _message_turns(item: Any, index: int, documents: list[Document]) -> list[ChatMessage]:
    """One Anthropic message as generic turns: a user message's tool results come first, as tool turns.
    Its documents are read into its text (numbered across the request when untitled), its images kept."""
    fields = Fields(item, f"#/messages/{index}")
    fields.require("role", "content")
    role = fields.string("role")
    if role == "system":
        raise ValidationException(
            'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
            'not "system" as an input message role.'
        )
    if role not in ("user", "assistant"):
        raise ValidationException(f"messages.{index}.role: Input should be 'user' or 'assistant'")
    content = fields.body["content"]
    blocks = (
        [{"type": "text", "text": content}] if isinstance(content, str) else fields.array("content") or []
    )
    turns: list[ChatMessage] = []
    texts: list[str] = []
    mine: list[Document] = []
    images: list[Image] = []
    calls: list[ToolCall] = []
    for number, block in enumerate(blocks):
        path = f"{fields.at('content')}/{number}"
        kind = Fields(block, path).string("type", required=True)
        if kind in ("image", "document") and role != "user":
            raise ValidationException(f"messages.{index}: {kind} blocks are only allowed in user messages")
        if kind == "tool_use":
            use = Fields(block, path)
            use.require("id", "name", "input")
            calls.append(ToolCall(str(use.string("id")), str(use.string("name")), use.child("input").body))
        elif kind == "tool_result":
            result = Fields(block, path)
            text = _blocks_text(result.body.get("content", ""), result.at("content"))
            text = f"Error: {text}" if result.boolean("is_error") else text
            turns.append(ChatMessage("tool", text, tool_call_id=result.string("tool_use_id", required=True)))
        elif kind == "image":
            images.append(_image(block, path))
        elif kind == "document":
            mine.append(_document(block, path, len(documents) + len(mine) + 1))
        elif text := _block_text(block, path):
            texts.append(text)
    documents += mine
    if role == "assistant":
        turns.append(ChatMessage("assistant", "\n".join(texts), tuple(calls)))
    elif texts or mine or images or not turns:
        turns.append(ChatMessage("user", in_prompt(mine, texts), images=tuple(images)))
    return turns


def _tools(fields: Fields) -> tuple[list[ToolSpec], str | None]:
    tools = []
    for index, item in enumerate(fields.array("tools") or []):
        tool = Fields(item, f"#/tools/{index}")
        schema = tool.object("input_schema")
        tools.append(
            ToolSpec(
                str(tool.string("name", required=True)),
                tool.string("description") or "",
                schema.body if schema else {"type": "object", "properties": {}},
            )
        )
    choice = fields.object("tool_choice")
    kind = choice.one_of("type", ("auto", "any", "tool", "none"), required=True) if choice else "auto"
    if kind == "none":
        return [], None
    if kind == "tool" and choice is not None:
        return tools, named_tool(choice.string("name", required=True) or "", tools)
    return tools, "any" if kind == "any" else None


def _output_format(fields: Fields, has_tools: bool) -> dict[str, Any] | None:
    """Claude's structured outputs: `output_config.format` (or the deprecated `output_format`), a
    json_schema checked as Bedrock checks it; `output_config.effort` is refused (see `structured`)."""
    config = fields.object("output_config")
    if config is not None:
        structured.refuse_effort(config.body.get("effort"), config.at("effort"))
    chosen = config.object("format") if config is not None else None
    chosen = chosen or fields.object("output_format")
    if chosen is None:
        return None
    chosen.one_of("type", ("json_schema",), required=True)
    schema = structured.checked_schema(chosen.child("schema").body, chosen.at("schema"))
    structured.refuse_with_tools(has_tools, chosen.path)
    return schema


class AnthropicFormat:
    name = "anthropic"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        if "prompt" in fields and "messages" not in fields:
            return self._parse_completion(fields, model)
        fields.require("anthropic_version", "max_tokens", "messages")
        fields.string("anthropic_version")
        thinking = fields.object("thinking")
        if thinking is not None and thinking.body.get("type") != "disabled":
            raise ValidationException(
                "thinking: the local model has no reasoning mode, so extended thinking cannot be turned on."
            )
        requested = fields.integer("max_tokens") or 0
        if requested > model.max_tokens:
            raise ValidationException(
                f"max_tokens: {requested} > {model.max_tokens}, which is the maximum allowed number of "
                f"output tokens for {anthropic_model_name(model)}"
            )
        items = fields.array("messages") or []
        if not items:
            raise ValidationException("messages: at least one message is required")
        system = _blocks_text(fields.body.get("system") or "", "#/system")
        turns = [ChatMessage("system", system)] if system else []
        documents: list[Document] = []
        for index, item in enumerate(items):
            turns += _message_turns(item, index, documents)
        tools, tool_choice = _tools(fields)
        if not fields.array("tools") and any(turn.tool_calls or turn.role == "tool" for turn in turns):
            raise ValidationException(
                "Requests which include `tool_use` or `tool_result` blocks must define tools."
            )
        schema = _output_format(fields, bool(tools))
        if schema is not None:
            turns = structured.with_instruction(turns, structured.instruction(schema))
        return NativeRequest(
            messages=turns,
            json_mode=schema is not None,
            json_schema=schema,
            max_tokens=max_tokens(fields, "max_tokens", default=0, model=model, required=True),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
            top_k=fields.integer("top_k"),
            stop=tuple(fields.strings("stop_sequences") or ()),
            tools=tools,
            tool_choice=tool_choice,
            native={"api": "messages"},
        )

    @staticmethod
    def _parse_completion(fields: Fields, model: BedrockModel) -> GenerationRequest:
        """Claude 2's Text Completions body: a "\\n\\nHuman: ...\\n\\nAssistant:" prompt."""
        prompt = fields.string("prompt", required=True) or ""
        return NativeRequest(
            messages=prompt_messages(prompt),
            max_tokens=max_tokens(fields, "max_tokens_to_sample", default=0, model=model, required=True),
            temperature=fields.number("temperature"),
            top_p=fields.number("top_p"),
            top_k=fields.integer("top_k"),
            stop=tuple(fields.strings("stop_sequences") or ()),
            native={"api": "completion"},
        )

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        if echo(request, "api") == "completion":
            return {"type": "completion", **_completion_chunk(result.text, result)}
        content: list[dict[str, Any]] = []
        if result.text or not result.tool_calls:
            content.append({"type": "text", "text": result.text})
        for call in result.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": native_call_id(call, _TOOL_ID, 22),
                    "name": call.name,
                    "input": call.arguments,
                }
            )
        return {
            "id": "msg_bdrk_01" + random_id(22),
            "type": "message",
            "role": "assistant",
            "model": anthropic_model_name(model),
            "content": content,
            "stop_reason": result.stop_reason,
            "stop_sequence": result.stop_sequence,
            "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
        }

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        if echo(request, "api") == "completion":
            return _CompletionStream()
        return _MessagesStream(anthropic_model_name(model), input_tokens)


def _completion_chunk(text: str, result: GenerationResult | None) -> dict[str, Any]:
    if result is None:
        return {"completion": text, "stop_reason": None, "stop": None}
    reason = "max_tokens" if result.stop_reason == "max_tokens" else "stop_sequence"
    return {"completion": text, "stop_reason": reason, "stop": result.stop_sequence}


class _CompletionStream:
    def start(self) -> list[dict[str, Any]]:
        return []

    def delta(self, text: str) -> list[dict[str, Any]]:
        return [_completion_chunk(text, None)] if text else []

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        return [_completion_chunk("", result)]


class _MessagesStream:
    """message_start, a text block opened on the first delta, tool_use blocks at the end, then the stop."""

    def __init__(self, model_name: str, input_tokens: int) -> None:
        self.model_name = model_name
        self.input_tokens = input_tokens
        self.text_open = False

    def start(self) -> list[dict[str, Any]]:
        message: dict[str, Any] = {
            "id": "msg_bdrk_01" + random_id(22),
            "type": "message",
            "role": "assistant",
            "model": self.model_name,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}]

    def _open_text(self) -> list[dict[str, Any]]:
        if self.text_open:
            return []
        self.text_open = True
        return [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]

    def delta(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return [*self._open_text(), delta]

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        index = 0
        if self.text_open or not result.tool_calls:
            chunks += [*self._open_text(), {"type": "content_block_stop", "index": 0}]
            index = 1
        for call in result.tool_calls:
            block = {
                "type": "tool_use",
                "id": native_call_id(call, _TOOL_ID, 22),
                "name": call.name,
                "input": {},
            }
            chunks += [
                {"type": "content_block_start", "index": index, "content_block": block},
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(call.arguments)},
                },
                {"type": "content_block_stop", "index": index},
            ]
            index += 1
        chunks.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": result.stop_reason, "stop_sequence": result.stop_sequence},
                "usage": {"output_tokens": result.output_tokens},
            }
        )
        chunks.append({"type": "message_stop"})
        return chunks
