from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.embeddings import (
    CohereEmbedFormat,
    TitanEmbedV1Format,
    TitanEmbedV2Format,
)

from .support import model, wire

V1, V2, COHERE = TitanEmbedV1Format(), TitanEmbedV2Format(), CohereEmbedFormat()
V1_MODEL = model("titan-embed-v1", "amazon.titan-embed-text-v1", dimensions=1536)
V2_MODEL = model("titan-embed-v2", "amazon.titan-embed-text-v2:0", dimensions=1024)
COHERE_MODEL = model("cohere-embed", "cohere.embed-english-v3", dimensions=1024)


def unit(size: int, seed: int = 0) -> list[float]:
    vector = np.random.default_rng(seed).standard_normal(size)
    values: list[float] = (vector / np.linalg.norm(vector)).tolist()
    return values


def test_titan_v1() -> None:
    request = V1.parse({"inputText": "hello world"}, V1_MODEL)
    assert (list(request.texts), request.dimensions) == (["hello world"], 1536)
    output = wire(V1.response([unit(1536)], [2], request))
    assert len(output["embedding"]) == 1536 and output["inputTextTokenCount"] == 2
    with pytest.raises(ValidationException, match=r"extraneous key \[dimensions\]"):
        V1.parse({"inputText": "x", "dimensions": 256}, V1_MODEL)


def test_titan_v2_defaults() -> None:
    request = V2.parse({"inputText": "hello"}, V2_MODEL)
    assert (request.dimensions, request.normalize) == (1024, True)
    output = wire(V2.response([unit(1024)], [1], request))
    assert len(output["embedding"]) == 1024
    assert set(output) == {"embedding", "inputTextTokenCount", "embeddingsByType"}
    assert output["embeddingsByType"] == {"float": output["embedding"]}


def test_titan_v2_options_and_binary() -> None:
    request = V2.parse(
        {"inputText": "hi", "dimensions": 256, "normalize": False, "embeddingTypes": ["binary", "float"]},
        V2_MODEL,
    )
    assert (request.dimensions, request.normalize) == (256, False)
    vector = unit(256)
    output = V2.response([vector], [1], request)
    assert output["embeddingsByType"]["binary"] == [1 if value > 0 else 0 for value in vector]
    assert set(output["embeddingsByType"]) == {"binary", "float"}


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({"inputText": "x", "dimensions": 100}, "#/dimensions: 100 is not a valid enum value"),
        (
            {"inputText": "x", "embeddingTypes": ["int8"]},
            "#/embeddingTypes/0: int8 is not a valid enum value",
        ),
        (
            {"inputText": "x", "embeddingTypes": []},
            "#/embeddingTypes: expected minimum item count: 1, found: 0",
        ),
        ({"inputText": ""}, "#/inputText: expected minLength: 1, actual: 0"),
        ({"text": "x"}, "#: extraneous key [text] is not permitted"),
        ({"inputText": "x", "normalize": "yes"}, "#/normalize: expected type: Boolean, found: String"),
    ],
)
def test_titan_v2_malformed(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        V2.parse(bad_body, V2_MODEL)
    assert message in caught.value.message


def test_cohere_floats() -> None:
    request = COHERE.parse({"texts": ["a", "b"], "input_type": "search_document"}, COHERE_MODEL)
    assert (list(request.texts), request.dimensions) == (["a", "b"], 1024)
    assert request.options is not None and request.options["input_type"] == "search_document"
    output = wire(COHERE.response([unit(1024, 1), unit(1024, 2)], [1, 1], request))
    assert output["response_type"] == "embeddings_floats"
    assert len(output["embeddings"]) == 2 and len(output["embeddings"][0]) == 1024
    assert output["texts"] == ["a", "b"] and output["id"]


def test_cohere_by_type_quantisations() -> None:
    request = COHERE.parse(
        {
            "texts": ["a"],
            "input_type": "search_query",
            "embedding_types": ["float", "int8", "uint8", "binary", "ubinary"],
        },
        COHERE_MODEL,
    )
    vector = unit(1024)
    output = wire(COHERE.response([vector], [1], request))
    assert output["response_type"] == "embeddings_by_type"
    by_type = output["embeddings"]
    assert len(by_type["float"][0]) == 1024
    int8 = by_type["int8"][0]
    assert len(int8) == 1024 and max(abs(value) for value in int8) == 127
    assert all(np.sign(q) == np.sign(round(f * 1000)) or q == 0 for q, f in zip(int8, vector, strict=True))
    assert by_type["uint8"][0] == [value + 128 for value in int8]
    ubinary = by_type["ubinary"][0]
    assert len(ubinary) == 128 and all(0 <= value <= 255 for value in ubinary)
    assert by_type["binary"][0] == [value - 128 for value in ubinary]
    first_byte = int("".join("1" if value > 0 else "0" for value in vector[:8]), 2)
    assert ubinary[0] == first_byte


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({"texts": ["a"]}, "#: required key [input_type] not found"),
        ({"input_type": "search_query"}, "#: required key [texts] not found"),
        (
            {"texts": ["a"] * 97, "input_type": "clustering"},
            "#/texts: expected maximum item count: 96, found: 97",
        ),
        (
            {"texts": ["a" * 2049], "input_type": "clustering"},
            "#/texts/0: expected maxLength: 2048, actual: 2049",
        ),
        ({"texts": ["a"], "input_type": "questions"}, "#/input_type: questions is not a valid enum value"),
        (
            {"texts": ["a"], "input_type": "clustering", "embedding_types": ["int4"]},
            "#/embedding_types/0: int4 is not",
        ),
        ({"images": ["data:image/png;base64,AAAA"], "input_type": "image"}, "reads text only"),
    ],
)
def test_cohere_malformed(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        COHERE.parse(bad_body, COHERE_MODEL)
    assert message in caught.value.message
