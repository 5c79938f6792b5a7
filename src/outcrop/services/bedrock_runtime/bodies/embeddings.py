"""Embedding bodies: Titan Embeddings G1 (v1), Titan Text Embeddings V2, Titan Multimodal Embeddings G1,
Cohere Embed v3 and v4, and Nova Multimodal Embeddings (the last three for text).

The service resizes the local model's float vectors to `EmbeddingRequest.dimensions`; the quantised types
a body may ask for (Titan's binary, Cohere's int8/uint8/binary/ubinary) are derived here from those floats.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from outcrop.catalog import BedrockModel
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies import EmbeddingRequest
from outcrop.services.bedrock_runtime.bodies.common import Fields, malformed

Vector = Sequence[float]
_COHERE_MAX_TEXTS = 96
_COHERE_MAX_CHARACTERS = 2048


def _array(vector: Vector) -> npt.NDArray[np.float64]:
    return np.asarray(vector, dtype=np.float64)


def _floats(vector: Vector) -> Any:
    """A float32 array stays one (orjson writes it fast and short, as Bedrock's float32 values read);
    any other sequence becomes a list of floats."""
    if isinstance(vector, np.ndarray):
        return vector.astype(np.float32, copy=False)
    return [float(value) for value in vector]


def _int8(vector: Vector) -> list[int]:
    """Scaled so the largest component is ±127: directions and rankings survive, magnitudes do not."""
    array = _array(vector)
    scale = float(np.abs(array).max(initial=0.0)) or 1.0
    values: list[int] = np.clip(np.rint(array / scale * 127), -128, 127).astype(int).tolist()
    return values


def _uint8(vector: Vector) -> list[int]:
    return [value + 128 for value in _int8(vector)]


def _sign_bits(vector: Vector) -> list[int]:
    """Titan's binary type: one 0/1 per dimension."""
    values: list[int] = (_array(vector) > 0).astype(int).tolist()
    return values


def _packed_bits(vector: Vector) -> list[int]:
    """Cohere's ubinary type: the sign bits packed eight to a byte, most significant first."""
    values: list[int] = np.packbits(_array(vector) > 0).astype(int).tolist()
    return values


def _signed_packed_bits(vector: Vector) -> list[int]:
    """Cohere's binary type: the packed bytes shifted into the signed range."""
    return [value - 128 for value in _packed_bits(vector)]


def _input_text(fields: Fields) -> str:
    text = fields.string("inputText", required=True) or ""
    if not text:
        raise malformed("#/inputText: expected minLength: 1, actual: 0")
    return text


def _types(fields: Fields, key: str, allowed: dict[str, Callable[[Vector], list[Any]]]) -> list[str] | None:
    names = fields.strings(key)
    if names is None:
        return None
    if not names:
        raise malformed(f"{fields.at(key)}: expected minimum item count: 1, found: 0")
    for index, name in enumerate(names):
        if name not in allowed:
            raise malformed(f"{fields.at(key)}/{index}: {name} is not a valid enum value")
    return list(dict.fromkeys(names))


class TitanEmbedV1Format:
    name = "titan-embed-v1"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest:
        fields = Fields(body)
        fields.only(("inputText",))
        return EmbeddingRequest(texts=[_input_text(fields)], dimensions=model.dimensions or 1536)

    def response(
        self, vectors: Sequence[Vector], token_counts: Sequence[int], request: EmbeddingRequest
    ) -> dict[str, Any]:
        return {"embedding": _floats(vectors[0]), "inputTextTokenCount": token_counts[0]}


_TITAN_TYPES: dict[str, Callable[[Vector], list[Any]]] = {"float": _floats, "binary": _sign_bits}


class TitanEmbedV2Format:
    name = "titan-embed-v2"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest:
        fields = Fields(body)
        fields.only(("inputText", "dimensions", "normalize", "embeddingTypes"))
        text = _input_text(fields)
        fields.integer("dimensions")
        dimensions = fields.one_of("dimensions", (1024, 512, 256)) or 1024
        normalize = fields.boolean("normalize")
        types = _types(fields, "embeddingTypes", _TITAN_TYPES) or ["float"]
        return EmbeddingRequest(
            texts=[text],
            dimensions=dimensions,
            normalize=True if normalize is None else normalize,
            options={"embeddingTypes": types},
        )

    def response(
        self, vectors: Sequence[Vector], token_counts: Sequence[int], request: EmbeddingRequest
    ) -> dict[str, Any]:
        types = (request.options or {}).get("embeddingTypes", ["float"])
        return {
            "embedding": _floats(vectors[0]),
            "inputTextTokenCount": token_counts[0],
            "embeddingsByType": {name: _TITAN_TYPES[name](vectors[0]) for name in types},
        }


_COHERE_TYPES: dict[str, Callable[[Vector], list[Any]]] = {
    "float": _floats,
    "int8": _int8,
    "uint8": _uint8,
    "binary": _signed_packed_bits,
    "ubinary": _packed_bits,
}


class CohereEmbedFormat:
    """`input_type` and `truncate` travel in `options` for the embedder; images are refused (text only)."""

    name = "cohere-embed"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest:
        fields = Fields(body)
        if fields.body.get("images"):
            raise ValidationException(
                "Image embeddings are not supported here: the local embedding model reads text only."
            )
        texts = fields.strings("texts", required=True) or []
        if not texts:
            raise malformed("#/texts: expected minimum item count: 1, found: 0")
        if len(texts) > _COHERE_MAX_TEXTS:
            raise malformed(f"#/texts: expected maximum item count: {_COHERE_MAX_TEXTS}, found: {len(texts)}")
        for index, text in enumerate(texts):
            if len(text) > _COHERE_MAX_CHARACTERS:
                raise malformed(
                    f"#/texts/{index}: expected maxLength: {_COHERE_MAX_CHARACTERS}, actual: {len(text)}"
                )
        input_type = fields.one_of(
            "input_type", ("search_document", "search_query", "classification", "clustering"), required=True
        )
        return EmbeddingRequest(
            texts=texts,
            dimensions=model.dimensions or 1024,
            options={
                "input_type": input_type,
                "truncate": fields.one_of("truncate", ("NONE", "START", "END")) or "END",
                "embedding_types": _types(fields, "embedding_types", _COHERE_TYPES),
            },
        )

    def response(
        self, vectors: Sequence[Vector], token_counts: Sequence[int], request: EmbeddingRequest
    ) -> dict[str, Any]:
        types = (request.options or {}).get("embedding_types")
        if types:
            embeddings: Any = {name: [_COHERE_TYPES[name](vector) for vector in vectors] for name in types}
            response_type = "embeddings_by_type"
        else:
            embeddings, response_type = [_floats(vector) for vector in vectors], "embeddings_floats"
        return {
            "embeddings": embeddings,
            "id": str(uuid.uuid4()),
            "response_type": response_type,
            "texts": list(request.texts),
        }


class CohereEmbedV4Format(CohereEmbedFormat):
    """Embed v4: the v3 body plus `output_dimension`; its response is always by type (float by default)."""

    name = "cohere-embed-v4"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest:
        rest = {key: value for key, value in body.items() if key not in ("output_dimension", "max_tokens")}
        request = super().parse(rest, model)
        fields = Fields(body)
        fields.integer("output_dimension")
        fields.integer("max_tokens")
        dimensions = fields.one_of("output_dimension", (256, 512, 1024, 1536)) or model.dimensions or 1536
        options = {**(request.options or {})}
        options["embedding_types"] = options.get("embedding_types") or ["float"]
        return EmbeddingRequest(texts=request.texts, dimensions=dimensions, options=options)


def _text_only(what: str) -> ValidationException:
    return ValidationException(
        f"{what} embeddings are not supported here: the local embedding model reads text only."
    )


class TitanEmbedImageFormat:
    """Titan Multimodal Embeddings G1, for text: `inputText` and `embeddingConfig.outputEmbeddingLength`."""

    name = "titan-embed-image"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest:
        fields = Fields(body)
        fields.only(("inputText", "inputImage", "embeddingConfig"))
        if fields.string("inputImage"):
            raise _text_only("Image")
        config = fields.object("embeddingConfig") or Fields({}, "#/embeddingConfig")
        config.only(("outputEmbeddingLength",))
        config.integer("outputEmbeddingLength")
        dimensions = config.one_of("outputEmbeddingLength", (256, 384, 1024)) or model.dimensions or 1024
        return EmbeddingRequest(texts=[_input_text(fields)], dimensions=dimensions)

    def response(
        self, vectors: Sequence[Vector], token_counts: Sequence[int], request: EmbeddingRequest
    ) -> dict[str, Any]:
        return {"embedding": _floats(vectors[0]), "inputTextTokenCount": token_counts[0], "message": None}


_NOVA_PURPOSES = (
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
)


class NovaEmbedFormat:
    """Nova Multimodal Embeddings, for text: a SINGLE_EMBEDDING task with a `text` value; the image, audio
    and video inputs and segmented (asynchronous) tasks are refused, since the local model reads text."""

    name = "nova-embed"

    def parse(self, body: dict[str, Any], model: BedrockModel) -> EmbeddingRequest:
        fields = Fields(body)
        fields.one_of("schemaVersion", ("nova-multimodal-embed-v1",))
        task = fields.one_of("taskType", ("SINGLE_EMBEDDING", "SEGMENTED_EMBEDDING"), required=True)
        if task != "SINGLE_EMBEDDING":
            raise ValidationException("SEGMENTED_EMBEDDING runs through StartAsyncInvoke, not InvokeModel.")
        params = fields.child("singleEmbeddingParams")
        params.one_of("embeddingPurpose", _NOVA_PURPOSES, required=True)
        params.integer("embeddingDimension")
        dimensions = params.one_of("embeddingDimension", (3072, 1024, 384, 256)) or 3072
        for kind in ("image", "audio", "video"):
            if kind in params:
                raise _text_only(kind.title())
        text = params.child("text")
        text.one_of("truncationMode", ("START", "END", "NONE"), required=True)
        value = text.string("value", required=True) or ""
        if not value:
            raise malformed("#/singleEmbeddingParams/text/value: expected minLength: 1, actual: 0")
        return EmbeddingRequest(texts=[value], dimensions=dimensions)

    def response(
        self, vectors: Sequence[Vector], token_counts: Sequence[int], request: EmbeddingRequest
    ) -> dict[str, Any]:
        return {"embeddings": [{"embeddingType": "TEXT", "embedding": _floats(vectors[0])}]}
