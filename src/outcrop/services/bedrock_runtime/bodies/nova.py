"""Amazon Nova bodies. Nova's native body is the Converse request with snake_case inference keys and base64
strings for binary data, so it is checked, normalised and handed to the Converse translation."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.services.bedrock_runtime import converse
from outcrop.services.bedrock_runtime.bodies import ChatStreamEncoder
from outcrop.services.bedrock_runtime.bodies.common import Fields, malformed

# Nova 1 documents snake_case inference keys, Nova 2 and Converse camelCase: both are accepted.
_INFERENCE_KEYS = {
    "max_new_tokens": "maxTokens",
    "maxTokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "topP": "topP",
    "stopSequences": "stopSequences",
}


def _block(item: Any, path: str) -> dict[str, Any]:
    """A checked content block, with a document's or image's base64 string decoded to the bytes Converse
    carries."""
    block = Fields(item, path)
    if "toolUse" in block:
        block.child("toolUse").require("toolUseId", "name", "input")
    if "toolResult" in block:
        block.child("toolResult").require("toolUseId", "content")
    return _decoded(_decoded(block.body, "document", path), "image", path)


def _decoded(block: dict[str, Any], kind: str, path: str) -> dict[str, Any]:
    attached = block.get(kind)
    if not isinstance(attached, dict) or not isinstance(attached.get("source"), dict):
        return block
    source = attached["source"]
    if not isinstance(source.get("bytes"), str):
        return block
    try:
        data = base64.b64decode(source["bytes"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise malformed(f"{path}/{kind}/source/bytes: not valid base64") from exc
    return {**block, kind: {**attached, "source": {**source, "bytes": data}}}


def _messages(fields: Fields) -> list[dict[str, Any]]:
    checked = []
    for index, item in enumerate(fields.array("messages", required=True) or []):
        message = Fields(item, f"#/messages/{index}")
        message.one_of("role", ("user", "assistant"), required=True)
        blocks = message.array("content", required=True) or []
        content = [_block(block, f"{message.at('content')}/{n}") for n, block in enumerate(blocks)]
        checked.append({**message.body, "content": content})
    return checked


def _usage(result: GenerationResult) -> dict[str, int]:
    return {**converse.usage(result), "cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0}


class NovaFormat:
    name = "nova"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> GenerationRequest:
        fields = Fields(body)
        fields.one_of("schemaVersion", ("messages-v1",))
        config = fields.object("inferenceConfig") or Fields({}, "#/inferenceConfig")
        for key in ("max_new_tokens", "maxTokens", "top_k", "topK"):
            config.integer(key)
        for key in ("temperature", "top_p", "topP"):
            config.number(key)
        config.strings("stopSequences")
        inference = {
            _INFERENCE_KEYS[key]: value for key, value in config.body.items() if key in _INFERENCE_KEYS
        }
        top_k = config.body.get("top_k", config.body.get("topK"))
        system = fields.array("system")
        tool_config = fields.object("toolConfig")
        for index, tool in enumerate((tool_config.array("tools") if tool_config else None) or []):
            if "toolSpec" in Fields(tool, f"#/toolConfig/tools/{index}"):
                Fields(tool, f"#/toolConfig/tools/{index}").child("toolSpec").require("name")
        params = {
            "messages": _messages(fields),
            "system": [Fields(block, f"#/system/{n}").body for n, block in enumerate(system or [])],
            "inferenceConfig": inference,
            "toolConfig": tool_config.body if tool_config else None,
            "additionalModelRequestFields": {"top_k": top_k},
        }
        return converse.converse_request(params, model)

    def response(
        self, result: GenerationResult, request: GenerationRequest, model: BedrockModel
    ) -> dict[str, Any]:
        output = converse.converse_output(result, 0)
        return {"output": output["output"], "stopReason": output["stopReason"], "usage": _usage(result)}

    def streamer(
        self, request: GenerationRequest, model: BedrockModel, input_tokens: int
    ) -> ChatStreamEncoder:
        return _NovaStream()


class _NovaStream:
    """Converse's stream events, each as a one-key chunk; the metadata chunk carries the usage."""

    def __init__(self) -> None:
        self.text_open = False

    def start(self) -> list[dict[str, Any]]:
        return [{"messageStart": {"role": "assistant"}}]

    def delta(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        self.text_open = True
        return [{"contentBlockDelta": {"delta": {"text": text}, "contentBlockIndex": 0}}]

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        chunks = [
            {name: payload} for name, payload in converse.stream_closing_events(result, self.text_open, 0)
        ]
        chunks[-1] = {"metadata": {"usage": _usage(result)}}
        return chunks
