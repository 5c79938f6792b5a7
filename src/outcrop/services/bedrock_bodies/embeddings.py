"""Embedding bodies: Titan Embeddings G1 (v1), Titan Text Embeddings V2 and Cohere Embed.

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
from outcrop.services.bedrock_bodies import EmbeddingRequest
from outcrop.services.bedrock_bodies.common import Fields, malformed

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
