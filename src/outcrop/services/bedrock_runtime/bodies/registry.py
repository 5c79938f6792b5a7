"""The one place that maps a catalog entry's `format` name to its body translation."""

from __future__ import annotations

from collections.abc import Collection

from outcrop.services.bedrock_runtime.bodies import ChatFormat, EmbeddingFormat
from outcrop.services.bedrock_runtime.bodies.ai21 import JambaFormat, Jurassic2Format
from outcrop.services.bedrock_runtime.bodies.anthropic import AnthropicFormat
from outcrop.services.bedrock_runtime.bodies.cohere import CohereCommandFormat, CohereCommandRFormat
from outcrop.services.bedrock_runtime.bodies.completions import DeepSeekFormat, WriterFormat
from outcrop.services.bedrock_runtime.bodies.embeddings import (
    CohereEmbedFormat,
    CohereEmbedV4Format,
    NovaEmbedFormat,
    TitanEmbedImageFormat,
    TitanEmbedV1Format,
    TitanEmbedV2Format,
)
from outcrop.services.bedrock_runtime.bodies.llama import LlamaFormat
from outcrop.services.bedrock_runtime.bodies.mistral import MistralFormat
from outcrop.services.bedrock_runtime.bodies.nova import NovaFormat
from outcrop.services.bedrock_runtime.bodies.openai_chat import OpenAIChatFormat
from outcrop.services.bedrock_runtime.bodies.titan import TitanTextFormat

_CHAT: tuple[ChatFormat, ...] = (
    AnthropicFormat(),
    TitanTextFormat(),
    LlamaFormat(),
    MistralFormat(),
    CohereCommandFormat(),
    CohereCommandRFormat(),
    Jurassic2Format(),
    JambaFormat(),
    NovaFormat(),
    OpenAIChatFormat(),
    DeepSeekFormat(),
    WriterFormat(),
)
_EMBEDDING: tuple[EmbeddingFormat, ...] = (
    TitanEmbedV1Format(),
    TitanEmbedV2Format(),
    TitanEmbedImageFormat(),
    CohereEmbedFormat(),
    CohereEmbedV4Format(),
    NovaEmbedFormat(),
)

CHAT_FORMATS: dict[str, ChatFormat] = {chat_format.name: chat_format for chat_format in _CHAT}
EMBEDDING_FORMATS: dict[str, EmbeddingFormat] = {
    embedding_format.name: embedding_format for embedding_format in _EMBEDDING
}

# The format names per catalog kind, which the catalog checks its [[bedrock]] entries against.
BODY_FORMATS: dict[str, Collection[str]] = {
    "chat": CHAT_FORMATS.keys(),
    "embedding": EMBEDDING_FORMATS.keys(),
}
